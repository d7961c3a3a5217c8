//! The HTTP API of facegate: routes, error rendering, uploads and middleware. Handlers
//! parse input, call a [`facegate_core::FaceService`] use-case and map the outcome.

pub mod access;
pub mod error;
pub mod json;
pub mod metrics;
pub mod routes;
pub mod state;
pub mod stats;
pub mod tracing_context;
pub mod upload;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::{MethodRouter, delete, get, post};
use facegate_core::account::Scope;
use serde::{Deserialize, Serialize};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use access::RateLimits;
pub use state::{AppState, Health};

use access::{Gate, Limit, LimitBy, Need};

/// Settings of the HTTP layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on.
    pub bind: String,
    /// Largest request body; uploads are refused before decoding beyond it. JSON bodies
    /// carry base64, a third larger than the image.
    pub body_limit_bytes: usize,
    /// Origins allowed by CORS; empty allows none (same-origin only).
    pub cors_allowed_origins: Vec<String>,
    /// Photo-collection search without credentials (a public "find me" page).
    pub public_search: bool,
    /// Take the client IP for rate limits from the last `X-Forwarded-For` hop (set only
    /// behind a proxy that writes it).
    pub trust_forwarded_for: bool,
    pub rate_limits: RateLimits,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: "0.0.0.0:8080".to_owned(),
            body_limit_bytes: 14 * 1024 * 1024,
            cors_allowed_origins: Vec::new(),
            public_search: false,
            trust_forwarded_for: false,
            rate_limits: RateLimits::default(),
        }
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The API routes, each group behind its [`Gate`]: every endpoint declares what it needs.
fn api(state: &AppState, config: &HttpConfig) -> Router<AppState> {
    use routes::{accounts, admin, collections, faces, references, scans, transactions};
    let limits = config.rate_limits;
    let trust = config.trust_forwarded_for;
    let gated = |route: MethodRouter<AppState>, need: Need, limit: Option<Limit>| {
        route.route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), Gate { need, limit }, trust),
            access::enforce,
        ))
    };
    let indexing = Some(Limit {
        name: "index",
        by: LimitBy::Caller,
        per_minute: limits.index_per_key_per_minute,
    });
    let searching = Some(Limit {
        name: "search",
        by: LimitBy::ClientIp,
        per_minute: limits.search_per_ip_per_minute,
    });
    let signing_in = Some(Limit {
        name: "auth",
        by: LimitBy::ClientIp,
        per_minute: limits.auth_per_ip_per_minute,
    });
    let verify = |r| gated(r, Need::Scope(Scope::Verify), None);
    let index = |r| gated(r, Need::Scope(Scope::Index), indexing);
    let read = |r| gated(r, Need::Scope(Scope::Search), None);
    let search = |r| gated(r, Need::Scope(Scope::Search), searching);
    let public_search = if config.public_search {
        Need::Public
    } else {
        Need::Scope(Scope::Search)
    };
    let user = |r| gated(r, Need::User, None);
    let admin = |r| gated(r, Need::Scope(Scope::Admin), None);
    let anyone = |r| gated(r, Need::Public, signing_in);
    Router::new()
        .route("/detect", verify(post(faces::detect)))
        .route("/embed", verify(post(faces::embed)))
        .route("/verify", verify(post(faces::verify)))
        .route("/liveness", verify(post(faces::liveness)))
        .route("/analyze", verify(post(faces::analyze)))
        .route("/reference", index(post(references::enroll)))
        .route(
            "/reference/{id}",
            read(get(references::get_reference)).merge(index(delete(references::delete_reference))),
        )
        .route("/subjects", read(get(references::list_subjects)))
        .route(
            "/subjects/{name}",
            read(get(references::get_subject)).merge(index(delete(references::delete_subject))),
        )
        .route("/identify", search(post(references::identify)))
        .route("/index", index(post(collections::index)))
        .route("/index/batch", index(post(collections::index_batch)))
        .route(
            "/index/{session_id}",
            index(delete(collections::delete_session)),
        )
        .route(
            "/search",
            gated(post(collections::search), public_search, searching),
        )
        .route(
            "/search/status/{session_id}",
            read(get(collections::status)),
        )
        .route("/auth/register", anyone(post(accounts::register)))
        .route("/auth/token", anyone(post(accounts::token)))
        .route("/auth/logout", anyone(post(accounts::logout)))
        .route("/auth/check", user(get(accounts::check)))
        .route("/auth/verify", user(post(accounts::verify)))
        .route(
            "/users/me",
            user(get(accounts::me)).merge(user(delete(accounts::forget_me))),
        )
        .route("/jobs/{id}", gated(get(accounts::job), Need::Caller, None))
        .route("/scans", user(post(scans::create)))
        .route("/scans/{id}", gated(get(scans::get), Need::Caller, None))
        .route(
            "/leaderboard",
            gated(get(scans::leaderboard), Need::Caller, None),
        )
        .route("/transactions", user(post(transactions::create)))
        .route("/transactions/report", user(post(transactions::report)))
        .route(
            "/admin/api-keys",
            admin(post(admin::create_key)).merge(admin(get(admin::list_keys))),
        )
        .route("/admin/api-keys/{id}", admin(delete(admin::revoke_key)))
        .route(
            "/admin/users",
            admin(get(admin::list_users)).merge(admin(post(admin::create_user))),
        )
        .route("/admin/users/{id}", admin(delete(admin::delete_user)))
        .route("/admin/stats", admin(get(admin::stats)))
        .route("/admin/audit", admin(get(admin::audit)))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::authenticate,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            stats::record,
        ))
}

/// Builds the whole API.
pub fn router(state: AppState, config: &HttpConfig) -> Router {
    use routes::{docs, health};
    let api = api(&state, config);
    let tracked = axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track);
    let origins: Vec<HeaderValue> = config
        .cors_allowed_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-api-key"),
        ])
        .max_age(Duration::from_mins(10));
    Router::new()
        .nest("/api/v1", api)
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/health/detailed", get(health::detailed))
        .route("/metrics", get(routes::metrics::metrics))
        .route("/openapi.json", get(docs::openapi))
        .route("/docs", get(docs::docs))
        // After every route: a route layer sees the matched template.
        .route_layer(tracked)
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(axum::middleware::from_fn(error::render_errors))
        .layer(cors)
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(axum::middleware::from_fn(tracing_context::echo_traceparent))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let span = tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id, trace_id = tracing::field::Empty);
            tracing_context::continue_trace(&span, req.headers());
            span
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
