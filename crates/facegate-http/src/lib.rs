//! The HTTP API of facegate: routes, error rendering, uploads and middleware. Handlers
//! parse input, call a [`facegate_core::FaceService`] use-case and map the outcome.

pub mod access;
mod api;
pub mod bounds;
pub mod error;
pub mod json;
pub mod metrics;
pub mod routes;
pub mod server;
pub mod state;
pub mod stats;
pub mod tracing_context;
pub mod upload;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use access::RateLimits;
pub use state::{AppState, Health, HealthCheck};

/// Settings of the HTTP layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to listen on.
    pub bind: String,
    /// Largest request body; uploads are refused before decoding beyond it. JSON bodies
    /// carry base64, a third larger than the image.
    pub body_limit_bytes: usize,
    /// Largest JSON body without images (sign-in, keys, webhooks, batches).
    pub json_body_limit_bytes: usize,
    /// Request bodies being received at once, summed over their declared lengths (a body
    /// of unknown length counts as `body_limit_bytes`); beyond it `429 overloaded`.
    pub max_body_bytes_in_flight: usize,
    /// A request whose head (request line and headers) has not arrived within this is
    /// dropped.
    pub header_timeout_ms: u64,
    /// A request whose body has not fully arrived within this, counted from the end of its
    /// head, is answered `408 request_timeout`.
    pub body_timeout_ms: u64,
    /// Origins allowed by CORS; empty allows none (same-origin only).
    pub cors_allowed_origins: Vec<String>,
    /// Photo-collection search without credentials (a public "find me" page).
    pub public_search: bool,
    /// Take the client IP for rate limits from the last `X-Forwarded-For` hop (set only
    /// behind a proxy that writes it).
    pub trust_forwarded_for: bool,
    pub rate_limits: RateLimits,
    /// Other systems' paths served beside the native API, onto the same handlers and
    /// gates (README, "Coming from ..."). None collides with a native path; leave out the
    /// ones no client of yours calls.
    pub compat: Vec<Compat>,
}

/// A system whose documented paths facegate also answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compat {
    /// FacePass's `/api/v1/health` and `/api/v1/metrics`.
    Facepass,
    /// The gateway system's `/api/<service>/.../` paths.
    Gateway,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: "0.0.0.0:8080".to_owned(),
            body_limit_bytes: 14 * 1024 * 1024,
            json_body_limit_bytes: 256 * 1024,
            max_body_bytes_in_flight: 64 * 1024 * 1024,
            header_timeout_ms: 10_000,
            body_timeout_ms: 30_000,
            cors_allowed_origins: Vec::new(),
            public_search: false,
            trust_forwarded_for: false,
            rate_limits: RateLimits::default(),
            compat: vec![Compat::Facepass, Compat::Gateway],
        }
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client request id kept.
const MAX_REQUEST_ID_LEN: usize = 64;

/// Whether a client's request id is kept: 1 to 64 of `A-Z a-z 0-9 . _ : -`.
fn valid_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(b))
}

/// Drops a client's `X-Request-Id` that is too long, has other characters or comes twice,
/// so that the id layer puts a generated one in its place: logs, the audit log and error
/// bodies only ever carry a short, plain id.
async fn sanitize_request_id(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut ids = request.headers().get_all(&REQUEST_ID).iter();
    let keep = match (ids.next(), ids.next()) {
        (Some(id), None) => valid_request_id(id.as_bytes()),
        (None, _) => true,
        (Some(_), Some(_)) => false,
    };
    if !keep {
        request.headers_mut().remove(&REQUEST_ID);
    }
    next.run(request).await
}

/// Builds the whole API.
/// The probes and metrics alone (`/health*`, `/metrics`), for processes that serve no API
/// (`facegate worker`).
pub fn probes_router(state: AppState) -> Router {
    use routes::health;
    Router::new()
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route(
            "/health/detailed",
            api::admin_only(&state, get(health::detailed)),
        )
        .route("/metrics", get(routes::metrics::metrics))
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .with_state(state)
        .layer(axum::middleware::from_fn(error::render_errors))
}

pub fn router(state: AppState, config: &HttpConfig) -> Router {
    use routes::{docs, health};
    let api = api::routes(&state, config);
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
    let mut router = Router::new().nest("/api/v1", api);
    if config.compat.contains(&Compat::Gateway) {
        router = router.nest("/api", api::gateway_routes(&state, config));
    }
    router
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route(
            "/health/detailed",
            api::admin_only(&state, get(health::detailed)),
        )
        .route("/metrics", get(routes::metrics::metrics))
        .route("/openapi.json", get(docs::openapi))
        .route("/docs", get(docs::docs))
        // Where FacePass and the recognition backend serve their ReDoc page.
        .route("/redoc", get(docs::docs))
        .route(
            "/liveness/capture",
            get(routes::liveness_sessions::capture_page),
        )
        // After every route: a route layer sees the matched template.
        .route_layer(tracked)
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(bounds::BodyBounds::new(config)),
            bounds::bound_bodies,
        ))
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
        // Outermost: before an id is set or generated.
        .layer(axum::middleware::from_fn(sanitize_request_id))
}

#[cfg(test)]
mod tests {
    use super::valid_request_id;

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        assert!(valid_request_id(b"abc-1.2:3_x"));
        assert!(valid_request_id(&[b'a'; 64]));
        for odd in [&b""[..], &[b'a'; 65], b"a b", b"<x>", "é".as_bytes()] {
            assert!(!valid_request_id(odd), "{odd:?}");
        }
    }
}
