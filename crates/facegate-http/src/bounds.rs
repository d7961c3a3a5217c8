//! Bounds on request bodies across the whole server: how many body bytes may be in flight
//! at once, how long a body may take to arrive, and how large a body without images (JSON)
//! may be.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use facegate_core::{ErrorCode, Failure};
use http_body::{Frame, SizeHint};
use tokio::sync::Semaphore;
use tokio::time::Sleep;

use crate::error::ApiError;

/// Permits count kibibytes, so that the semaphore's `u32` counts cover any setting.
const UNIT: usize = 1024;

/// The server-wide body bounds, shared by every request.
#[derive(Debug)]
pub struct BodyBounds {
    in_flight: Arc<Semaphore>,
    /// Permits that make up the whole budget: no request claims more.
    budget: u32,
    /// What a body of unknown length (chunked) claims: the body limit.
    unknown_length: usize,
    deadline: Duration,
    json_limit: JsonLimit,
}

/// The largest body [`crate::json::JsonBody`] reads, set on each request by
/// [`bound_bodies`].
#[derive(Debug, Clone, Copy)]
pub struct JsonLimit(pub usize);

impl BodyBounds {
    pub fn new(config: &crate::HttpConfig) -> Self {
        let budget = u32::try_from(config.max_body_bytes_in_flight.div_ceil(UNIT).max(1))
            .unwrap_or(u32::MAX);
        Self {
            in_flight: Arc::new(Semaphore::new(budget as usize)),
            budget,
            unknown_length: config.body_limit_bytes,
            deadline: Duration::from_millis(config.body_timeout_ms),
            json_limit: JsonLimit(config.json_body_limit_bytes),
        }
    }
}

/// Reserves the request's declared body size (or the body limit, when no length is
/// declared) against the bytes-in-flight budget until its response is ready, refusing it
/// with `429 overloaded` when the budget is spent; and fails a body that has not fully
/// arrived within the deadline with `408 request_timeout`.
pub async fn bound_bodies(
    State(bounds): State<Arc<BodyBounds>>,
    mut request: Request,
    next: Next,
) -> Response {
    request.extensions_mut().insert(bounds.json_limit);
    let declared = request.body().size_hint().upper();
    if declared == Some(0) {
        return next.run(request).await;
    }
    let claimed = declared
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(bounds.unknown_length)
        .min(bounds.unknown_length);
    let permits = u32::try_from(claimed.div_ceil(UNIT))
        .unwrap_or(u32::MAX)
        .clamp(1, bounds.budget);
    let Ok(_reserved) = bounds.in_flight.clone().try_acquire_many_owned(permits) else {
        return ApiError(Failure::new(
            ErrorCode::Overloaded,
            "too many request bodies are being received; retry shortly",
        ))
        .into_response();
    };
    let timed_out = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| {
        Body::new(BodyWithDeadline {
            body,
            deadline: Box::pin(tokio::time::sleep(bounds.deadline)),
            timed_out: timed_out.clone(),
        })
    });
    let response = next.run(request).await;
    if timed_out.load(Ordering::Relaxed) {
        let message = format!(
            "the request body did not arrive within {} ms",
            bounds.deadline.as_millis()
        );
        return ApiError(Failure::new(ErrorCode::RequestTimeout, message)).into_response();
    }
    response
}

/// A request body that fails once its deadline has passed, recording that it did.
struct BodyWithDeadline {
    body: Body,
    deadline: Pin<Box<Sleep>>,
    timed_out: Arc<AtomicBool>,
}

impl HttpBody for BodyWithDeadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.timed_out.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(axum::Error::new("the request body timed out"))));
        }
        Pin::new(&mut this.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
