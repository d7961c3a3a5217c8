//! Webhooks: register a URL to hear when a result is ready, list and delete them, read
//! their delivery log. Users hear of their own results; API keys with the `admin` scope
//! hear of every user's.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use facegate_core::webhooks::{Delivery, Webhook, WebhookEvent};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::access::Caller;
use crate::error::ApiError;
use crate::json::JsonBody;
use crate::state::AppState;
use facegate_core::time::rfc3339;

/// Deliveries shown by default, and at most.
const DEFAULT_DELIVERIES: usize = 100;
const MAX_DELIVERIES: usize = 1000;

/// A new webhook.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookForm {
    /// An `http://` or `https://` URL; loopback, private and link-local addresses are
    /// refused unless the operator allows them.
    pub url: String,
    /// Any of `verification.completed`, `scan.completed`; every event when left out.
    pub events: Option<Vec<String>>,
}

/// How many deliveries to show.
#[derive(Debug, Deserialize)]
pub struct DeliveriesQuery {
    pub limit: Option<usize>,
}

fn parse_events(names: &[String]) -> Result<Vec<WebhookEvent>, ApiError> {
    names
        .iter()
        .map(|name| {
            WebhookEvent::parse(name).ok_or_else(|| {
                ApiError::validation(format!(
                    "unknown event `{name}`: use verification.completed or scan.completed"
                ))
            })
        })
        .collect()
}

fn delivery_json(delivery: &Delivery) -> Value {
    // The payload as JSON, as the receiver got it; text if it ever were not JSON.
    let payload = serde_json::from_str::<Value>(&delivery.payload)
        .unwrap_or_else(|_| Value::String(delivery.payload.clone()));
    json!({
        "id": delivery.id,
        "event": delivery.event,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "next_attempt_at": rfc3339(delivery.next_attempt_at),
        "created_at": rfc3339(delivery.created_at),
        "delivered_at": delivery.delivered_at.map(rfc3339),
        "payload": payload,
    })
}

/// Register a webhook; its signing secret is shown in this answer only. API keys need
/// the `admin` scope (they hear of every user's results).
#[utoipa::path(post, path = "/api/v1/webhooks", tag = "webhooks", request_body = WebhookForm,
    responses((status = 201, description = "The webhook and its signing secret"),
        (status = 400, description = "Not an http(s) URL, an internal address, or an unknown event"),
        (status = 403, description = "An API key without the admin scope")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(form): JsonBody<WebhookForm>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let events = form.events.as_deref().map(parse_events).transpose()?;
    let (webhook, secret) = state
        .webhooks
        .register(caller.required()?, &form.url, events)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"webhook": webhook, "secret": secret})),
    ))
}

/// The caller's webhooks (secrets are never shown again).
#[utoipa::path(get, path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, description = "Webhooks, oldest first")))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let webhooks: Vec<Webhook> = state.webhooks.list(caller.required()?).await?;
    Ok(Json(json!({"webhooks": webhooks})))
}

/// Delete one of the caller's webhooks and its delivery log.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", tag = "webhooks", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Unknown, or not the caller's")))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.webhooks.delete(caller.required()?, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The delivery log of one of the caller's webhooks, newest first (default 100, at most
/// 1000): state, attempts, the last status or error, and the payload sent.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path), ("limit" = Option<usize>, Query)),
    responses((status = 200, description = "Deliveries, newest first"), (status = 404, description = "Unknown, or not the caller's")))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<DeliveriesQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query
        .limit
        .unwrap_or(DEFAULT_DELIVERIES)
        .clamp(1, MAX_DELIVERIES);
    let deliveries = state
        .webhooks
        .deliveries(caller.required()?, &id, limit)
        .await?;
    Ok(Json(json!({
        "deliveries": deliveries.iter().map(delivery_json).collect::<Vec<_>>(),
    })))
}
