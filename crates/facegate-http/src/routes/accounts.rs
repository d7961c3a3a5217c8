//! Accounts: registration, tokens, the caller's own account and face verification jobs.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use facegate_core::account::{Job, Role, TokenPair, User};
use facegate_core::accounts::TokenCheck;
use facegate_core::{ErrorCode, Failure};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::access::{Caller, bearer};
use crate::error::ApiError;
use crate::json::JsonBody;
use crate::state::AppState;
use crate::upload::Upload;
use facegate_core::time::rfc3339;

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterForm {
    pub username: String,
    pub password: String,
    /// Only `client` may be asked for; other roles are given by an admin.
    pub role: Option<String>,
}

/// A token request: a username and password, or a refresh token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenForm {
    /// `password` (default when a password is sent) or `refresh_token`.
    pub grant_type: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub refresh_token: Option<String>,
}

/// A refresh token to revoke.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutForm {
    pub refresh_token: String,
}

/// A selfie for face verification.
#[derive(Debug, ToSchema)]
#[expect(
    dead_code,
    reason = "documents the request body in the OpenAPI document"
)]
pub struct SelfieForm {
    /// The selfie (`selfie` and `image` are accepted too).
    #[schema(format = Binary)]
    file: Option<String>,
    /// A live liveness session of the caller, standing in for the selfie (spent once).
    liveness_session_id: Option<String>,
}

/// A user as the API shows it.
pub fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "verified": user.verified,
        "verified_at": user.verified_at.map(rfc3339),
        "created_at": rfc3339(user.created_at),
    })
}

/// Create an account (role `client`).
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "accounts", request_body = RegisterForm,
    responses((status = 201, description = "Registered"), (status = 409, description = "Username not available"),
        (status = 403, description = "A role other than client was asked for")))]
pub async fn register(
    State(state): State<AppState>,
    JsonBody(form): JsonBody<RegisterForm>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if form
        .role
        .as_deref()
        .is_some_and(|r| r != Role::Client.as_str())
    {
        return Err(ApiError(Failure::new(
            ErrorCode::Forbidden,
            "registration creates client accounts; other roles are given by an admin",
        )));
    }
    let user = state
        .accounts
        .register(&form.username, &form.password)
        .await?;
    Ok((StatusCode::CREATED, Json(user_json(&user))))
}

/// Tokens for a username and password, or new tokens for a refresh token (which is used
/// up: refresh tokens rotate).
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "accounts", request_body = TokenForm,
    responses((status = 200, description = "An access token and a refresh token"),
        (status = 401, description = "Wrong credentials or refresh token")))]
pub async fn token(
    State(state): State<AppState>,
    JsonBody(form): JsonBody<TokenForm>,
) -> Result<Json<TokenPair>, ApiError> {
    let grant = form.grant_type.clone().unwrap_or_else(|| {
        if form.refresh_token.is_some() {
            "refresh_token"
        } else {
            "password"
        }
        .to_owned()
    });
    let pair = match (grant.as_str(), form) {
        (
            "password",
            TokenForm {
                username: Some(username),
                password: Some(password),
                ..
            },
        ) => state.accounts.login(&username, &password).await?,
        (
            "refresh_token",
            TokenForm {
                refresh_token: Some(token),
                ..
            },
        ) => state.accounts.refresh(&token).await?,
        ("password" | "refresh_token", _) => {
            return Err(ApiError::validation(
                "send `username` and `password`, or `refresh_token`",
            ));
        }
        (other, _) => {
            return Err(ApiError::validation(format!(
                "grant_type `{other}` is not supported: use `password` or `refresh_token`"
            )));
        }
    };
    Ok(Json(pair))
}

/// Revoke a refresh token and every token rotated from the same login.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts", request_body = LogoutForm,
    responses((status = 204, description = "Revoked"), (status = 401, description = "Unknown token")))]
pub async fn logout(
    State(state): State<AppState>,
    JsonBody(form): JsonBody<LogoutForm>,
) -> Result<StatusCode, ApiError> {
    state.accounts.logout(&form.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the bearer token is valid, whose it is, its role and expiry.
#[utoipa::path(get, path = "/api/v1/auth/check", tag = "accounts",
    responses((status = 200, description = "The token is valid"), (status = 401, description = "Missing, expired or invalid token")))]
pub async fn check(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<TokenCheck>, ApiError> {
    let token = bearer(&headers)?.ok_or_else(|| {
        ApiError(Failure::new(
            ErrorCode::Unauthorized,
            "send the token as Authorization: Bearer ...",
        ))
    })?;
    Ok(Json(state.accounts.check_token(token).await?))
}

/// The caller's account, with whether it is face-verified.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "accounts",
    responses((status = 200, description = "The account")))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let user = state.accounts.user(caller.user_id()?).await?;
    Ok(Json(user_json(&user)))
}

/// Delete the caller's account and everything stored about it.
#[utoipa::path(delete, path = "/api/v1/users/me", tag = "accounts",
    responses((status = 204, description = "Forgotten")))]
pub async fn forget_me(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    state.accounts.delete_user(caller.user_id()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn job_json(job: &Job) -> Value {
    json!({
        "job_id": job.id,
        "kind": job.request,
        "state": job.state,
        "attempts": job.attempts,
        "result": job.result,
        "created_at": rfc3339(job.created_at),
        "updated_at": rfc3339(job.updated_at),
    })
}

/// Upload a selfie to verify the caller's face; answers a job to follow. The first
/// verification stores the face; later ones must match it.
#[utoipa::path(post, path = "/api/v1/auth/verify", tag = "accounts",
    request_body(content = SelfieForm, content_type = "multipart/form-data"),
    responses((status = 202, description = "Queued: follow GET /api/v1/jobs/{id}")))]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    mut upload: Upload,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let user_id = caller.user_id()?.to_owned();
    let names = ["file", "selfie", "image"];
    let selfie = super::take_selfie(&mut upload, &names).ok_or_else(|| {
        ApiError::validation(format!(
            "a selfie is required in the field `{}`, or a live session in `liveness_session_id`",
            names.join("` or `")
        ))
    })?;
    let job = state.verification.submit(&user_id, selfie).await?;
    state.jobs_submitted.notify_one();
    let mut body = job_json(&job);
    body["status_url"] = json!(format!("/api/v1/jobs/{}", job.id));
    Ok((StatusCode::ACCEPTED, Json(body)))
}

/// An asynchronous job and, once done, its result.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, description = "The job"), (status = 404, description = "Unknown, or not the caller's")))]
pub async fn job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let job = state.verification.job(caller.required()?, &id).await?;
    Ok(Json(job_json(&job)))
}
