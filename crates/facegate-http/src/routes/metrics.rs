//! `GET /metrics`: the Prometheus scrape.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use facegate_core::ports::{Clock, SystemClock};

use crate::metrics::CONTENT_TYPE;
use crate::state::AppState;

/// Every metric in the Prometheus text format. The levels (queue lag, connection pool)
/// are read now; when reading them fails, the last values are served and the failure is
/// logged, so that one slow database does not make the whole instance look down.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    match state.gauges.gauges(SystemClock.now()).await {
        Ok(gauges) => state.metrics.set_gauges(&gauges),
        Err(e) => tracing::warn!(error = %e, "metrics: the gauges could not be read"),
    }
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.metrics.render(),
    )
}
