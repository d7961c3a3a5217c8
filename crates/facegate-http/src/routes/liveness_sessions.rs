//! Liveness sessions: a drawn challenge of head movements, answered once with frames.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::{Extension, Json};
use facegate_core::liveness_sessions::LivenessSession;
use serde_json::{Value, json};

use crate::access::{Caller, ClientAddr};
use crate::error::ApiError;
use crate::state::AppState;
use crate::upload::Upload;
use facegate_core::time::rfc3339;

fn session_json(session: &LivenessSession) -> Value {
    let result = session.result.as_ref();
    json!({
        "session_id": session.id,
        "challenge": session.challenge,
        "expires_at": rfc3339(session.expires_at),
        "status": result.map_or(json!("pending"), |r| json!(r.verdict)),
        "reasons": result.map(|r| &r.reasons),
        "score": result.and_then(|r| r.score),
        "answered_at": session.used_at.map(rfc3339),
        "spent_at": session.spent_at.map(rfc3339),
    })
}

/// Draw a liveness session for the calling user: a single-use nonce, an expiry and a
/// challenge of head movements to film, in order.
#[utoipa::path(post, path = "/api/v1/liveness/sessions", tag = "liveness",
    responses((status = 201, description = "The session, with its nonce (shown once)"),
        (status = 429, description = "Too many failed sessions of this user or address")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let user_id = caller.user_id()?.to_owned();
    let drawn = state.sessions.create(&user_id, &client).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "session_id": drawn.id,
            "nonce": drawn.nonce,
            "challenge": drawn.challenge,
            "expires_at": rfc3339(drawn.expires_at),
            "frames_url": format!("/api/v1/liveness/sessions/{}/frames", drawn.id),
        })),
    ))
}

/// Answer a session: its `nonce` and the filmed `frames` (repeated multipart field, or a
/// JSON array of base64), in order. Judged once; the result is `live`, `spoof` or
/// `failed` with its reasons.
#[utoipa::path(post, path = "/api/v1/liveness/sessions/{id}/frames", tag = "liveness",
    params(("id" = String, Path)),
    responses((status = 200, description = "The judged session"),
        (status = 409, description = "Answered already"),
        (status = 410, description = "Expired"),
        (status = 429, description = "Too many failed sessions of this user or address")))]
pub async fn answer(
    State(state): State<AppState>,
    caller: Caller,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    Path(id): Path<String>,
    mut upload: Upload,
) -> Result<Json<Value>, ApiError> {
    let user_id = caller.user_id()?.to_owned();
    let nonce = upload.text("nonce")?.to_owned();
    let frames = upload.take_frames();
    let session = state
        .sessions
        .answer(&user_id, &client, &id, &nonce, frames)
        .await?;
    Ok(Json(session_json(&session)))
}

/// A session of the calling user and, once answered, its result.
#[utoipa::path(get, path = "/api/v1/liveness/sessions/{id}", tag = "liveness",
    params(("id" = String, Path)),
    responses((status = 200, description = "The session"),
        (status = 404, description = "Unknown, or not the caller's")))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user_id = caller.user_id()?;
    Ok(Json(session_json(
        &state.sessions.session(user_id, &id).await?,
    )))
}

/// The browser capture page: signs in (or takes an access token in the URL fragment), films
/// the drawn challenge with the camera, posts the frames and shows the verdict. Plain HTML
/// and JavaScript, nothing loaded from elsewhere.
pub async fn capture_page() -> Html<&'static str> {
    Html(include_str!("capture.html"))
}
