//! Who may call what: credentials (bearer token, `X-API-Key`, or an API key as the bearer
//! token) resolved once per request, each route group's requirement and rate limit, and the
//! audit log of changes.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use facegate_core::account::{AuditEntry, Principal, PrincipalKind, Scope};
use facegate_core::ports::RateDecision;
use facegate_core::{ErrorCode, Failure};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;
use crate::stats::route_of;

/// Requests per minute allowed by the rate limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// Enrollment and indexing, per API key or user.
    pub index_per_key_per_minute: u32,
    /// Search and identification, per client IP.
    pub search_per_ip_per_minute: u32,
    /// Registration and token requests, per client IP (password guessing).
    pub auth_per_ip_per_minute: u32,
    /// Uploads stored for a job (verifications, scans), per user.
    pub uploads_per_user_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            index_per_key_per_minute: 100,
            search_per_ip_per_minute: 1000,
            auth_per_ip_per_minute: 60,
            uploads_per_user_per_minute: 30,
        }
    }
}

/// What a route group needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Anyone.
    Public,
    /// A user's bearer token (the route acts on that user's account).
    User,
    /// Any valid credentials; the use-case decides what the caller may see.
    Caller,
    /// A token whose role grants the scope, or an API key that carries it.
    Scope(Scope),
}

/// Whom a rate limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitBy {
    /// The API key or user (the client IP for anonymous callers).
    Caller,
    ClientIp,
}

/// A rate limit of a route group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub name: &'static str,
    pub by: LimitBy,
    pub per_minute: u32,
}

/// The requirement and rate limit of a route group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    pub need: Need,
    pub limit: Option<Limit>,
}

/// The client's address as the rate limits see it (see [`client_ip`]), for use-cases that
/// count per address.
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

/// The caller of a request; `None` when no credentials were sent.
#[derive(Debug, Clone)]
pub struct Caller(pub Option<Principal>);

impl Caller {
    /// The principal, or `unauthorized`.
    pub fn required(&self) -> Result<&Principal, ApiError> {
        self.0.as_ref().ok_or_else(|| {
            ApiError(Failure::new(
                ErrorCode::Unauthorized,
                "send a bearer token (Authorization: Bearer ...) or an API key (X-API-Key)",
            ))
        })
    }

    /// The calling user's id, or `forbidden` for API keys.
    pub fn user_id(&self) -> Result<&str, ApiError> {
        self.required()?.user_id().ok_or_else(|| {
            ApiError(Failure::new(
                ErrorCode::Forbidden,
                "this endpoint acts on a user account: use a user's bearer token",
            ))
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or(Caller(None)))
    }
}

const API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// The bearer token of the `Authorization` header, if one was sent.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| {
            // Authentication schemes are case-insensitive (RFC 9110, section 11.1).
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token)
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Some)
        .ok_or_else(|| {
            ApiError(Failure::new(
                ErrorCode::InvalidToken,
                "the Authorization header must be `Bearer <token>`",
            ))
        })
}

async fn resolve(state: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
    if let Some(key) = headers.get(API_KEY) {
        let key = key.to_str().map_err(|_| {
            ApiError(Failure::new(
                ErrorCode::InvalidApiKey,
                "the API key is not valid",
            ))
        })?;
        return Ok(Some(state.accounts.authenticate_key(key.trim()).await?));
    }
    match bearer(headers)? {
        Some(credential) => Ok(Some(state.accounts.authenticate_bearer(credential).await?)),
        None => Ok(None),
    }
}

/// The audit log's actor for a request without valid credentials.
const ANONYMOUS: &str = "anonymous";

/// Resolves the credentials of every API request and records changes (every request
/// that is not a read) in the audit log, refused ones included, except a caller's without
/// valid credentials.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let route = route_of(&request);
    // Inside the nested API router, `uri()` lost the `/api/v1` prefix.
    let target = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().path(), |u| u.path())
        .to_owned();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let (actor, response) = match resolve(&state, request.headers()).await {
        Ok(principal) => {
            let actor = principal
                .as_ref()
                .map_or_else(|| ANONYMOUS.to_owned(), Principal::actor);
            request.extensions_mut().insert(Caller(principal));
            (actor, next.run(request).await)
        }
        Err(e) => (ANONYMOUS.to_owned(), e.into_response()),
    };
    // Anonymous refusals (no or bad credentials, unknown users, limits) are counted by the
    // request metrics only: one row each would let anyone fill the log.
    let anonymous_refusal = actor == ANONYMOUS && response.status().is_client_error();
    if !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) && !anonymous_refusal {
        let entry = AuditEntry {
            at: now_ms(),
            actor,
            action: route,
            target,
            status: response.status().as_u16(),
            request_id,
        };
        if let Err(e) = state.audit.record(&entry).await {
            tracing::error!(error = %e, request_id = entry.request_id, "audit entry not recorded");
        }
    }
    response
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The client's address: the socket peer, or the last `X-Forwarded-For` hop when the
/// service runs behind a proxy that sets it (`http.trust_forwarded_for`).
fn client_ip(request: &Request, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for
        && let Some(ip) = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return Some(ip);
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

fn check_need(need: Need, caller: &Caller) -> Result<(), ApiError> {
    match need {
        Need::Public => Ok(()),
        Need::Caller => caller.required().map(|_| ()),
        Need::User => caller.user_id().map(|_| ()),
        Need::Scope(scope) => {
            if caller.required()?.has(scope) {
                Ok(())
            } else {
                Err(ApiError(Failure::new(
                    ErrorCode::Forbidden,
                    format!("this endpoint needs the `{}` scope", scope.as_str()),
                )))
            }
        }
    }
}

fn rate_headers(response: &mut Response, decision: &RateDecision) {
    let reset_secs = (decision.reset_ms + 999) / 1000;
    let headers = response.headers_mut();
    for (name, value) in [
        ("ratelimit-limit", i64::from(decision.limit)),
        ("ratelimit-remaining", i64::from(decision.remaining)),
        ("ratelimit-reset", reset_secs),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
    if !decision.allowed {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(reset_secs.max(1)));
    }
}

/// Enforces a route group's [`Gate`]: the caller's rights first, then the rate limit.
pub async fn enforce(
    State((state, gate, trust_forwarded_for)): State<(AppState, Gate, bool)>,
    mut request: Request,
    next: Next,
) -> Response {
    let ip = client_ip(&request, trust_forwarded_for)
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    request.extensions_mut().insert(ClientAddr(ip.clone()));
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or(Caller(None));
    if let Err(e) = check_need(gate.need, &caller) {
        return e.into_response();
    }
    let Some(limit) = gate.limit else {
        return next.run(request).await;
    };
    let who = match (limit.by, &caller.0) {
        (LimitBy::Caller, Some(p)) => match &p.kind {
            PrincipalKind::User { id, .. } => format!("user:{id}"),
            PrincipalKind::ApiKey { id, .. } => format!("key:{id}"),
        },
        _ => format!("ip:{ip}"),
    };
    let charge = RateCharge {
        bucket: format!("{}:{who}", limit.name),
        per_minute: limit.per_minute,
    };
    match charge.count(&state, 1).await {
        Err(refused) => refused,
        Ok(decision) => {
            let mut request = request;
            request.extensions_mut().insert(charge);
            let mut response = next.run(request).await;
            if let Some(decision) = decision {
                rate_headers(&mut response, &decision);
            }
            response
        }
    }
}

/// The rate-limit bucket a request was counted in, for a handler whose request counts as
/// more than one (a batch counts each of its photos).
#[derive(Debug, Clone)]
pub struct RateCharge {
    bucket: String,
    per_minute: u32,
}

impl RateCharge {
    /// Counts `cost` hits against the limit: the decision (`None` when the limiter is out
    /// of order: a limiter fault must not take the API down, so the request is served
    /// uncounted), or the `429 rate_limited` answer when they would go past it.
    pub async fn count(
        &self,
        state: &AppState,
        cost: u32,
    ) -> Result<Option<RateDecision>, Response> {
        let bucket = &self.bucket;
        match state
            .limiter
            .hit_many(bucket, cost, self.per_minute, 60_000)
            .await
        {
            Ok(decision) if !decision.allowed => {
                let mut response = ApiError(Failure::new(
                    ErrorCode::RateLimited,
                    format!(
                        "rate limit of {} per minute reached ({} left, {cost} asked); retry later",
                        self.per_minute, decision.remaining
                    ),
                ))
                .into_response();
                rate_headers(&mut response, &decision);
                Err(response)
            }
            Ok(decision) => Ok(Some(decision)),
            Err(e) => {
                tracing::warn!(error = %e, bucket, "rate limiter unavailable; request not counted");
                Ok(None)
            }
        }
    }
}
