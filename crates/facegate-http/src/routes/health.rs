//! Liveness, readiness and instance details.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use crate::state::AppState;

/// The process is up: `{"status": "healthy", "timestamp", "version"}`.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, description = "The service is up")))]
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({
        "status": "healthy",
        "timestamp": facegate_core::time::rfc3339(chrono::Utc::now().timestamp_millis()),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// The process answers (for liveness probes).
#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, description = "Alive")))]
pub async fn live() -> Json<serde_json::Value> {
    Json(json!({"status": "alive"}))
}

/// Ready once a real inference has succeeded at start-up (for readiness probes).
#[utoipa::path(get, path = "/health/ready", tag = "health", responses(
    (status = 200, description = "Ready: models loaded and a forward pass succeeded"),
    (status = 503, description = "Not ready yet")))]
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    if state.health.is_ready() {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "starting"})),
        )
    }
}

/// Version, active model pack and its licence, stores and policy; `status` is `degraded`
/// while a backend that only speeds things up (the cache) is unreachable.
#[utoipa::path(get, path = "/health/detailed", tag = "health", responses((status = 200, description = "Instance details")))]
pub async fn detailed(State(state): State<AppState>) -> Json<serde_json::Value> {
    let mut details = state.health.report();
    if let Some(map) = details.as_object_mut() {
        map.insert("ready".into(), json!(state.health.is_ready()));
        map.insert("policy".into(), json!(state.service.policy()));
    }
    Json(details)
}
