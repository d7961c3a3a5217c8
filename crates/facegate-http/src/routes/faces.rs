//! Stateless face endpoints: detect, embed, verify, liveness, analyze.

use axum::Json;
use axum::extract::State;
use facegate_core::Probe;
use facegate_core::service::{Liveness, Verification};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::first_image;
use crate::error::ApiError;
use crate::state::AppState;
use crate::upload::Upload;

/// An image upload: multipart field `file` (or `image`), or JSON `{"image": "<base64>"}`.
#[derive(Debug, ToSchema)]
#[expect(
    dead_code,
    reason = "documents the request body in the OpenAPI document"
)]
pub struct ImageForm {
    /// JPEG, PNG, WebP, HEIC or AVIF; at most 10 MB, 12000 px per side and 50 MP by default.
    #[schema(format = Binary)]
    file: String,
}

/// Two images, or an image and an enrolled reference or subject.
#[derive(Debug, ToSchema)]
#[expect(
    dead_code,
    reason = "documents the request body in the OpenAPI document"
)]
pub struct VerifyForm {
    /// The probe image (`image_a` is accepted too).
    #[schema(format = Binary)]
    file_a: String,
    /// The second image (`image_b`), or pass `reference_id` or `subject` instead.
    #[schema(format = Binary)]
    file_b: Option<String>,
    reference_id: Option<String>,
    subject: Option<String>,
    /// Cosine threshold; the model's calibrated default when absent.
    threshold: Option<f32>,
}

/// Every face in the image (main face first) with box, score and five landmarks.
#[utoipa::path(post, path = "/api/v1/detect", tag = "faces",
    request_body(content = ImageForm, content_type = "multipart/form-data"),
    responses((status = 200, description = "Faces found"), (status = 422, description = "Invalid image")))]
pub async fn detect(
    State(state): State<AppState>,
    mut upload: Upload,
) -> Result<Json<Value>, ApiError> {
    let image = first_image(&mut upload, &["file", "image"])?;
    let detected = state.service.detect(image).await?;
    Ok(Json(json!({
        "width": detected.width,
        "height": detected.height,
        "face_count": detected.faces.len(),
        "faces": detected.faces,
    })))
}

/// The embedding (`get_vector`) of the main face: 512 floats, L2-normalised.
#[utoipa::path(post, path = "/api/v1/embed", tag = "faces",
    request_body(content = ImageForm, content_type = "multipart/form-data"),
    responses((status = 200, description = "Embedding of the main face"), (status = 422, description = "No face or invalid image")))]
pub async fn embed(
    State(state): State<AppState>,
    mut upload: Upload,
) -> Result<Json<Value>, ApiError> {
    let image = first_image(&mut upload, &["file", "image"])?;
    let (face, face_count) = state.service.embed(image).await?;
    Ok(Json(json!({
        "model": face.embedding.model(),
        "dim": face.embedding.dim(),
        "embedding": face.embedding.vector(),
        "face": face.face,
        "quality": face.quality,
        "face_count": face_count,
    })))
}

/// 1:1 verification: image vs image, or image vs an enrolled reference or subject.
#[utoipa::path(post, path = "/api/v1/verify", tag = "faces",
    request_body(content = VerifyForm, content_type = "multipart/form-data"),
    responses((status = 200, description = "Similarity and decision"), (status = 404, description = "Unknown reference or subject")))]
pub async fn verify(
    State(state): State<AppState>,
    mut upload: Upload,
) -> Result<Json<Verification>, ApiError> {
    let a = Probe::Image(first_image(
        &mut upload,
        &["file_a", "image_a", "file", "image"],
    )?);
    let b = if let Some(bytes) = upload
        .take_image("file_b")
        .or_else(|| upload.take_image("image_b"))
    {
        Probe::Image(bytes)
    } else if let Some(id) = upload.opt_text("reference_id") {
        Probe::Reference(id.to_owned())
    } else if let Some(subject) = upload.opt_text("subject") {
        Probe::Subject(subject.to_owned())
    } else {
        return Err(ApiError::validation(
            "send a second image (`file_b`), a `reference_id` or a `subject`",
        ));
    };
    let threshold = upload.parse::<f32>("threshold")?;
    Ok(Json(state.service.verify(a, b, threshold).await?))
}

/// Passive liveness (anti-spoofing) of the main face.
#[utoipa::path(post, path = "/api/v1/liveness", tag = "faces",
    request_body(content = ImageForm, content_type = "multipart/form-data"),
    responses((status = 200, description = "Liveness score of the main face")))]
pub async fn liveness(
    State(state): State<AppState>,
    mut upload: Upload,
) -> Result<Json<Liveness>, ApiError> {
    let image = first_image(&mut upload, &["file", "image"])?;
    Ok(Json(state.service.liveness(image).await?))
}

/// Quality, liveness, age, gender, expression, head pose and eye state of every face.
#[utoipa::path(post, path = "/api/v1/analyze", tag = "faces",
    request_body(content = ImageForm, content_type = "multipart/form-data"),
    responses((status = 200, description = "Analysis of every face")))]
pub async fn analyze(
    State(state): State<AppState>,
    mut upload: Upload,
) -> Result<Json<Value>, ApiError> {
    let image = first_image(&mut upload, &["file", "image"])?;
    let faces = state.service.analyze(image).await?;
    Ok(Json(json!({"face_count": faces.len(), "faces": faces})))
}
