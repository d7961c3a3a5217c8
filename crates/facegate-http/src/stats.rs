//! Request counts and latency summaries per route, for `GET /api/v1/admin/stats`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::Mutex;
use serde::Serialize;

use crate::state::AppState;

/// Upper bounds of the latency buckets, in milliseconds.
const BUCKETS_MS: [f64; 14] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 1e4, 3e4,
];

#[derive(Debug, Default)]
struct RouteStats {
    requests: u64,
    client_errors: u64,
    server_errors: u64,
    total_ms: f64,
    /// Requests per bucket of [`BUCKETS_MS`], and one more for slower ones.
    buckets: [u64; BUCKETS_MS.len() + 1],
}

impl RouteStats {
    /// The bucket bound under which `q` of the requests finished (an upper estimate).
    fn quantile_ms(&self, q: f64) -> Option<f64> {
        let rank = (q * self.requests as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(BUCKETS_MS.get(i).copied().unwrap_or(f64::INFINITY));
            }
        }
        None
    }
}

/// A route's figures as the admin API shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteSummary {
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub mean_ms: f64,
    /// Bucket bounds: the true value is at most this.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// Counts and latency histograms keyed by `METHOD /route/{template}`.
#[derive(Debug)]
pub struct RequestStats {
    started: Instant,
    routes: Mutex<BTreeMap<String, RouteStats>>,
}

impl Default for RequestStats {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            routes: Mutex::new(BTreeMap::new()),
        }
    }
}

impl RequestStats {
    pub fn record(&self, route: String, status: u16, elapsed: Duration) {
        let ms = elapsed.as_secs_f64() * 1e3;
        let bucket = BUCKETS_MS
            .iter()
            .position(|b| ms <= *b)
            .unwrap_or(BUCKETS_MS.len());
        let mut routes = self.routes.lock();
        let r = routes.entry(route).or_default();
        r.requests += 1;
        r.client_errors += u64::from((400..500).contains(&status));
        r.server_errors += u64::from(status >= 500);
        r.total_ms += ms;
        r.buckets[bucket] += 1;
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn summary(&self) -> BTreeMap<String, RouteSummary> {
        self.routes
            .lock()
            .iter()
            .map(|(route, r)| {
                (
                    route.clone(),
                    RouteSummary {
                        requests: r.requests,
                        client_errors: r.client_errors,
                        server_errors: r.server_errors,
                        mean_ms: r.total_ms / r.requests.max(1) as f64,
                        p50_ms: r.quantile_ms(0.5),
                        p95_ms: r.quantile_ms(0.95),
                        p99_ms: r.quantile_ms(0.99),
                    },
                )
            })
            .collect()
    }
}

/// The route template a request matched, with its method: `POST /api/v1/search`.
pub fn route_of(request: &Request) -> String {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| request.uri().path(), MatchedPath::as_str);
    format!("{} {path}", request.method())
}

/// Records every matched request's status and latency.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = route_of(&request);
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .stats
        .record(route, response.status().as_u16(), started.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_buckets() {
        let stats = RequestStats::default();
        for ms in [3, 4, 4, 8, 9, 15, 30, 40, 90, 700] {
            stats.record("GET /x".into(), 200, Duration::from_millis(ms));
        }
        stats.record("GET /x".into(), 404, Duration::from_millis(1));
        let s = &stats.summary()["GET /x"];
        assert_eq!(s.requests, 11);
        assert_eq!(s.client_errors, 1);
        assert_eq!(s.p50_ms, Some(10.0));
        assert_eq!(s.p95_ms, Some(1000.0));
    }
}
