//! Enrollment (references and subjects) and 1:N identification.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use facegate_core::model::Reference;
use facegate_core::service::Identification;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::first_image;
use crate::error::ApiError;
use crate::state::AppState;
use crate::upload::Upload;
use facegate_core::time::rfc3339;

/// Default number of candidates `identify` returns.
const DEFAULT_IDENTIFY_LIMIT: usize = 5;

/// An enrollment upload.
#[derive(Debug, ToSchema)]
#[expect(
    dead_code,
    reason = "documents the request body in the OpenAPI document"
)]
pub struct EnrollForm {
    #[schema(format = Binary)]
    file: String,
    /// The subject (person) this reference belongs to (`label` is accepted too).
    subject: String,
    /// Which face to enroll when the photo holds several (0 = main face).
    face_index: Option<usize>,
}

/// A probe for identification.
#[derive(Debug, ToSchema)]
#[expect(
    dead_code,
    reason = "documents the request body in the OpenAPI document"
)]
pub struct IdentifyForm {
    #[schema(format = Binary)]
    file: String,
    /// Candidates to return (default 5).
    limit: Option<usize>,
    threshold: Option<f32>,
}

/// A reference without its embedding.
fn reference_json(r: &Reference) -> Value {
    json!({
        "id": r.id,
        "subject": r.subject,
        "face": r.face,
        "quality": r.quality,
        "model": r.embedding.model(),
        "created_at": rfc3339(r.created_at),
    })
}

/// Enroll a reference image for a subject.
#[utoipa::path(post, path = "/api/v1/reference", tag = "enrollment",
    request_body(content = EnrollForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "Enrolled"),
        (status = 409, description = "duplicate_identity: the face matches another subject"),
        (status = 422, description = "No face, several faces, low quality, or reference_mismatch: the face matches none of the subject's references")))]
pub async fn enroll(
    State(state): State<AppState>,
    mut upload: Upload,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let image = first_image(&mut upload, &["file", "image"])?;
    let subject = upload
        .opt_text("subject")
        .or_else(|| upload.opt_text("label"))
        .ok_or_else(|| ApiError::validation("the field `subject` is required"))?
        .to_owned();
    let face_index = upload.parse::<usize>("face_index")?;
    let enrolled = state.service.enroll(&subject, image, face_index).await?;
    let mut body = reference_json(&enrolled.reference);
    if !enrolled.warnings.is_empty() {
        let warnings: Vec<Value> = enrolled
            .warnings
            .iter()
            .map(|w| json!({"code": w.code.as_str(), "message": w.message}))
            .collect();
        body["warnings"] = json!(warnings);
    }
    Ok((StatusCode::CREATED, Json(body)))
}

/// One reference.
#[utoipa::path(get, path = "/api/v1/reference/{id}", tag = "enrollment",
    params(("id" = String, Path)),
    responses((status = 200, description = "The reference"), (status = 404, description = "Unknown id")))]
pub async fn get_reference(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(reference_json(&state.service.reference(&id).await?)))
}

/// Delete one reference.
#[utoipa::path(delete, path = "/api/v1/reference/{id}", tag = "enrollment",
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Unknown id")))]
pub async fn delete_reference(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.service.delete_reference(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every subject with its number of references.
#[utoipa::path(get, path = "/api/v1/subjects", tag = "enrollment",
    responses((status = 200, description = "Subjects")))]
pub async fn list_subjects(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({"subjects": state.service.subjects().await?})))
}

/// A subject's references.
#[utoipa::path(get, path = "/api/v1/subjects/{name}", tag = "enrollment",
    params(("name" = String, Path)),
    responses((status = 200, description = "The subject's references"), (status = 404, description = "Unknown subject")))]
pub async fn get_subject(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let refs = state.service.subject(&name).await?;
    Ok(Json(json!({
        "subject": name,
        "references": refs.iter().map(reference_json).collect::<Vec<_>>(),
    })))
}

/// Delete a subject and all its references.
#[utoipa::path(delete, path = "/api/v1/subjects/{name}", tag = "enrollment",
    params(("name" = String, Path)),
    responses((status = 200, description = "Deleted"), (status = 404, description = "Unknown subject")))]
pub async fn delete_subject(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let deleted = state.service.delete_subject(&name).await?;
    Ok(Json(
        json!({"subject": name, "deleted_references": deleted}),
    ))
}

/// 1:N: the enrolled subjects that match the main face, or "unknown".
#[utoipa::path(post, path = "/api/v1/identify", tag = "enrollment",
    request_body(content = IdentifyForm, content_type = "multipart/form-data"),
    responses((status = 200, description = "Matches above the threshold, or unknown = true")))]
pub async fn identify(
    State(state): State<AppState>,
    mut upload: Upload,
) -> Result<Json<Identification>, ApiError> {
    let image = first_image(&mut upload, &["file", "image"])?;
    let limit = upload
        .parse::<usize>("limit")?
        .unwrap_or(DEFAULT_IDENTIFY_LIMIT);
    let threshold = upload.parse::<f32>("threshold")?;
    Ok(Json(state.service.identify(image, limit, threshold).await?))
}
