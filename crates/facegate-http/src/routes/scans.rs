//! Facial scans and the leaderboard.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use facegate_core::scans::{LeaderboardEntry, Scan};
use serde::Deserialize;
use serde_json::{Value, json};

use super::first_image;
use crate::access::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::upload::Upload;
use facegate_core::time::rfc3339;

/// Default length of the leaderboard.
const DEFAULT_LEADERBOARD: usize = 10;

/// How many leaderboard entries to show.
#[derive(Debug, Deserialize)]
pub struct LeaderboardQuery {
    pub limit: Option<usize>,
}

fn scan_json(scan: &Scan) -> Value {
    json!({
        "scan_id": scan.id,
        "state": scan.state,
        "score": scan.result.as_ref().and_then(|r| r.symmetry).map(|s| s.score),
        "result": scan.result,
        "created_at": rfc3339(scan.created_at),
        "completed_at": scan.completed_at.map(rfc3339),
    })
}

/// Upload a photo for a facial symmetry scan; answers the scan to follow.
#[utoipa::path(post, path = "/api/v1/scans", tag = "scans",
    request_body(content = super::accounts::SelfieForm, content_type = "multipart/form-data"),
    responses((status = 202, description = "Queued: follow GET /api/v1/scans/{id}")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    mut upload: Upload,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let user_id = caller.user_id()?.to_owned();
    let photo = first_image(&mut upload, &["file", "image", "selfie"])?;
    let scan = state.scans.submit(&user_id, photo).await?;
    state.jobs_submitted.notify_one();
    let mut body = scan_json(&scan);
    body["status_url"] = json!(format!("/api/v1/scans/{}", scan.id));
    Ok((StatusCode::ACCEPTED, Json(body)))
}

/// A scan and, once done, its symmetry score (0..100) with both of its cues.
#[utoipa::path(get, path = "/api/v1/scans/{id}", tag = "scans", params(("id" = String, Path)),
    responses((status = 200, description = "The scan"), (status = 404, description = "Unknown, or not the caller's")))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let scan = state.scans.scan(caller.required()?, &id).await?;
    Ok(Json(scan_json(&scan)))
}

/// Users ranked by their best symmetry score.
#[utoipa::path(get, path = "/api/v1/leaderboard", tag = "scans", params(("limit" = Option<usize>, Query)),
    responses((status = 200, description = "Best first")))]
pub async fn leaderboard(
    State(state): State<AppState>,
    Query(query): Query<LeaderboardQuery>,
) -> Result<Json<Value>, ApiError> {
    let entries: Vec<LeaderboardEntry> = state
        .scans
        .leaderboard(query.limit.unwrap_or(DEFAULT_LEADERBOARD))
        .await?;
    Ok(Json(json!({"entries": entries})))
}
