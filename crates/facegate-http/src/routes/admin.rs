//! Administration: API keys, users, statistics and the audit log.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use facegate_core::account::{ApiKey, AuditEntry, Role, Scope};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::accounts::user_json;
use crate::access::Caller;
use crate::error::ApiError;
use crate::json::JsonBody;
use crate::state::AppState;

/// A new API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyForm {
    pub name: String,
    /// Any of `index`, `search`, `verify`, `admin`.
    pub scopes: Vec<String>,
}

/// A new account with a role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserForm {
    pub username: String,
    pub password: String,
    /// `admin`, `operator` or `client`.
    pub role: String,
}

/// How many audit entries to show.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    pub limit: Option<usize>,
}

fn parse_scopes(names: &[String]) -> Result<Vec<Scope>, ApiError> {
    let mut scopes = Vec::new();
    for name in names {
        let scope = Scope::parse(name).ok_or_else(|| {
            ApiError::validation(format!(
                "unknown scope `{name}`: use index, search, verify or admin"
            ))
        })?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

/// Create an API key; its secret is shown in this answer only.
#[utoipa::path(post, path = "/api/v1/admin/api-keys", tag = "admin", request_body = ApiKeyForm,
    responses((status = 201, description = "The key and its secret")))]
pub async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(form): JsonBody<ApiKeyForm>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let scopes = parse_scopes(&form.scopes)?;
    let (key, secret) = state
        .accounts
        .create_api_key(caller.required()?, &form.name, scopes)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"key": key, "secret": secret})),
    ))
}

/// Every API key (secrets are never shown again).
#[utoipa::path(get, path = "/api/v1/admin/api-keys", tag = "admin",
    responses((status = 200, description = "Keys")))]
pub async fn list_keys(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let keys: Vec<ApiKey> = state.accounts.api_keys().await?;
    Ok(Json(json!({"keys": keys})))
}

/// Revoke an API key; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/admin/api-keys/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, description = "Unknown or already revoked")))]
pub async fn revoke_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.accounts.revoke_api_key(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every account.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin",
    responses((status = 200, description = "Users")))]
pub async fn list_users(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let users = state.accounts.users().await?;
    Ok(Json(
        json!({"users": users.iter().map(user_json).collect::<Vec<_>>()}),
    ))
}

/// Create an account with any role.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin", request_body = UserForm,
    responses((status = 201, description = "Created"), (status = 409, description = "Username not available")))]
pub async fn create_user(
    State(state): State<AppState>,
    JsonBody(form): JsonBody<UserForm>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let role = Role::parse(&form.role)
        .ok_or_else(|| ApiError::validation("role must be `admin`, `operator` or `client`"))?;
    let user = state
        .accounts
        .create_user(&form.username, &form.password, role)
        .await?;
    Ok((StatusCode::CREATED, Json(user_json(&user))))
}

/// Delete an account and everything stored about it (face, tokens, jobs, uploads,
/// transactions).
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 204, description = "Forgotten"), (status = 404, description = "Unknown user")))]
pub async fn delete_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.accounts.delete_user(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stored counts, and requests and latency per route since start.
#[utoipa::path(get, path = "/api/v1/admin/stats", tag = "admin",
    responses((status = 200, description = "Counts and request statistics")))]
pub async fn stats(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let inventory = state.inventory.inventory().await?;
    Ok(Json(json!({
        "counts": inventory,
        "uptime_seconds": state.stats.uptime().as_secs(),
        "requests": state.stats.summary(),
    })))
}

/// The newest audit entries (default 100, at most 1000).
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(("limit" = Option<usize>, Query)),
    responses((status = 200, description = "Entries, newest first")))]
pub async fn audit(
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let entries: Vec<AuditEntry> = state.audit.recent(limit).await?;
    Ok(Json(json!({"entries": entries})))
}
