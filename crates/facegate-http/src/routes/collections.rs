//! Photo collections (FacePass): index event photos per session, search with a selfie.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use facegate_core::service::BatchPhoto;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{facepass, first_image};
use crate::access::RateCharge;
use crate::error::ApiError;
use crate::json::JsonBody;
use crate::state::AppState;
use crate::upload::Upload;
use facegate_core::time::rfc3339;

/// Default number of photos a search returns.
const DEFAULT_SEARCH_LIMIT: usize = 50;

/// A photo to index.
#[derive(Debug, ToSchema)]
#[expect(
    dead_code,
    reason = "documents the request body in the OpenAPI document"
)]
pub struct IndexForm {
    #[schema(format = Binary)]
    file: String,
    session_id: String,
    /// Indexing the same `photo_id` again in a session changes nothing.
    photo_id: String,
}

/// A selfie search.
#[derive(Debug, ToSchema)]
#[expect(
    dead_code,
    reason = "documents the request body in the OpenAPI document"
)]
pub struct SearchForm {
    /// The selfie (`selfie` is accepted too).
    #[schema(format = Binary)]
    file: String,
    session_id: String,
    threshold: Option<f32>,
    /// At most this many photos (default 50).
    limit: Option<usize>,
}

/// Photos to index from object storage.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchForm {
    pub session_id: String,
    pub photos: Vec<BatchPhotoForm>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BatchPhotoForm {
    pub photo_id: String,
    /// Object-store key of the photo (`s3_key`, FacePass's name, is accepted too).
    #[serde(alias = "s3_key")]
    pub key: String,
}

/// Index every face of one photo into a session.
#[utoipa::path(post, path = "/api/v1/index", tag = "collections",
    request_body(content = IndexForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "Indexed"), (status = 200, description = "Already indexed: the stored result")))]
pub async fn index(
    State(state): State<AppState>,
    mut upload: Upload,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let image = first_image(&mut upload, &["file", "image"])?;
    let session_id = upload.text("session_id")?.to_owned();
    let photo_id = upload.text("photo_id")?.to_owned();
    let outcome = state
        .service
        .index_photo(&session_id, &photo_id, image)
        .await?;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let faces: Vec<Value> = outcome
        .photo
        .faces
        .iter()
        .map(|f| json!({"face_index": f.face_index, "bbox": f.bbox, "detection_score": f.detection_score}))
        .collect();
    let mut body = json!({
        "session_id": outcome.photo.session_id,
        "photo_id": outcome.photo.photo_id,
        "face_count": faces.len(),
        "faces": faces,
        "created": outcome.created,
        "indexed_at": rfc3339(outcome.photo.indexed_at),
    });
    facepass::index(&mut body, &outcome.photo.faces);
    Ok((status, Json(body)))
}

/// Index photos by object-store key; each photo succeeds or fails on its own.
#[utoipa::path(post, path = "/api/v1/index/batch", tag = "collections",
    request_body = BatchForm,
    responses((status = 200, description = "Per-photo results")))]
pub async fn index_batch(
    State(state): State<AppState>,
    charge: Option<Extension<RateCharge>>,
    JsonBody(form): JsonBody<BatchForm>,
) -> Result<Response, ApiError> {
    // The request counted one against the index limit; each further photo counts too
    // (a batch over the size limit is refused below, uncounted).
    let photos = form.photos.len();
    let more = u32::try_from(photos.saturating_sub(1)).unwrap_or(u32::MAX);
    if let Some(Extension(charge)) = charge
        && more > 0
        && state.service.check_batch_size(photos).is_ok()
        && let Err(refused) = charge.count(&state, more).await
    {
        return Ok(refused);
    }
    let photos = form
        .photos
        .into_iter()
        .map(|p| BatchPhoto {
            photo_id: p.photo_id,
            key: p.key,
        })
        .collect();
    let items = state.service.index_batch(&form.session_id, photos).await?;
    let failed = items.iter().filter(|i| i.error.is_some()).count();
    let mut body = json!({
        "session_id": form.session_id,
        "indexed": items.len() - failed,
        "failed": failed,
    });
    facepass::batch(&mut body, &items);
    body["items"] = json!(items);
    Ok(Json(body).into_response())
}

/// Delete a session and everything indexed in it.
#[utoipa::path(delete, path = "/api/v1/index/{session_id}", tag = "collections",
    params(("session_id" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, description = "Unknown session")))]
pub async fn delete_session(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let deleted = state.service.delete_session(&session_id).await?;
    Ok(Json(
        json!({"session_id": session_id, "deleted_photos": deleted}),
    ))
}

/// Find the photos of a session in which the selfie's person appears.
#[utoipa::path(post, path = "/api/v1/search", tag = "collections",
    request_body(content = SearchForm, content_type = "multipart/form-data"),
    responses((status = 200, description = "Matching photos, best first"), (status = 404, description = "Unknown or empty session")))]
pub async fn search(
    State(state): State<AppState>,
    mut upload: Upload,
) -> Result<Json<Value>, ApiError> {
    let selfie = first_image(&mut upload, &["file", "selfie", "image"])?;
    let session_id = upload.text("session_id")?.to_owned();
    let threshold = upload.parse::<f32>("threshold")?;
    let limit = upload
        .parse::<usize>("limit")?
        .unwrap_or(DEFAULT_SEARCH_LIMIT);
    let found = state
        .service
        .search(&session_id, selfie, threshold, limit)
        .await?;
    Ok(Json(facepass::search(&found)))
}

/// How many photos and faces a session holds.
#[utoipa::path(get, path = "/api/v1/search/status/{session_id}", tag = "collections",
    params(("session_id" = String, Path)),
    responses((status = 200, description = "Session status")))]
pub async fn status(
    State(state): State<AppState>,
    Path(session_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let status = state.service.session_status(&session_id).await?;
    Ok(Json(facepass::status(&status)))
}
