//! Prometheus metrics, declared once in [`PrometheusMetrics`]: it records what the
//! use-cases and the face pipeline report (the core [`Metrics`] port) and every routed
//! HTTP request ([`track`]), reads the [`Gauges`] when scraped and renders all of it in
//! the Prometheus text format for `GET /metrics`. Every name is listed, with its labels,
//! in `docs/OBSERVABILITY.md`.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use facegate_core::Decision;
use facegate_core::ports::{Gauges, MatchOp, Metrics, Stage};
use prometheus_client::encoding::{EncodeLabelSet, prometheus_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of what [`PrometheusMetrics::render`] writes.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Upper bounds, in seconds, of one pipeline stage (0.5 ms to 10 s).
const STAGE_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds, in seconds, of a request or use-case (1 ms to 30 s).
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Upper bounds of a cosine similarity (-1..1): fine where thresholds lie, with one
/// bucket for everything below -0.2.
const SIMILARITY_BUCKETS: [f64; 12] = [-0.2, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

/// The `route` label of a request that matched no route (kept as one value so that
/// scanners cannot create a series per path).
const UNMATCHED_ROUTE: &str = "unmatched";

fn stage_histogram() -> Histogram {
    Histogram::new(STAGE_BUCKETS)
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

fn similarity_histogram() -> Histogram {
    Histogram::new(SIMILARITY_BUCKETS)
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StageLabels {
    stage: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct MatchLabels {
    decision: &'static str,
    operation: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct TopicLabels {
    topic: String,
}

/// Every metric of the service, registered once at construction.
pub struct PrometheusMetrics {
    registry: Registry,
    stage_duration_seconds: Histograms<StageLabels>,
    http_requests: Family<RequestLabels, Counter>,
    http_request_duration_seconds: Histograms<RouteLabels>,
    search_requests: Counter,
    search_duration_seconds: Histogram,
    index_requests: Counter,
    index_duration_seconds: Histogram,
    embeddings: Counter,
    match_similarity: Histograms<MatchLabels>,
    db_pool_connections: Gauge,
    db_pool_idle_connections: Gauge,
    queue_lag: Family<TopicLabels, Gauge>,
    queue_oldest_age_seconds: Family<TopicLabels, Gauge<f64, AtomicU64>>,
}

impl std::fmt::Debug for PrometheusMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusMetrics").finish_non_exhaustive()
    }
}

impl Default for PrometheusMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl PrometheusMetrics {
    pub fn new() -> Self {
        let metrics = Self {
            registry: Registry::default(),
            stage_duration_seconds: Family::new_with_constructor(stage_histogram),
            http_requests: Family::default(),
            http_request_duration_seconds: Family::new_with_constructor(latency_histogram),
            search_requests: Counter::default(),
            search_duration_seconds: latency_histogram(),
            index_requests: Counter::default(),
            index_duration_seconds: latency_histogram(),
            embeddings: Counter::default(),
            match_similarity: Family::new_with_constructor(similarity_histogram),
            db_pool_connections: Gauge::default(),
            db_pool_idle_connections: Gauge::default(),
            queue_lag: Family::default(),
            queue_oldest_age_seconds: Family::default(),
        };
        // Every stage from the start, so that dashboards show zero rather than no data.
        for stage in Stage::ALL {
            metrics.stage_series(stage);
        }
        let mut registry = Registry::default();
        registry.register(
            "facegate_stage_duration_seconds",
            "Time of one pipeline stage over one image (decode, detect, align, embed) or of one vector search (search)",
            metrics.stage_duration_seconds.clone(),
        );
        registry.register(
            "facegate_http_requests",
            "HTTP requests answered, by route template, method and status",
            metrics.http_requests.clone(),
        );
        registry.register(
            "facegate_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method",
            metrics.http_request_duration_seconds.clone(),
        );
        registry.register(
            "facegate_search_requests",
            "Photo-collection searches, failed ones included",
            metrics.search_requests.clone(),
        );
        registry.register(
            "facegate_search_duration_seconds",
            "Time of a whole photo-collection search: embedding the selfie and the vector search",
            metrics.search_duration_seconds.clone(),
        );
        registry.register(
            "facegate_index_requests",
            "Photos indexed (or found already indexed), failed ones included",
            metrics.index_requests.clone(),
        );
        registry.register(
            "facegate_index_duration_seconds",
            "Time to index one photo: detecting and embedding every face, storing them",
            metrics.index_duration_seconds.clone(),
        );
        registry.register(
            "facegate_embeddings",
            "Face embeddings computed",
            metrics.embeddings.clone(),
        );
        registry.register(
            "facegate_match_similarity",
            "Cosine similarity behind a decision, by operation and decision (watch it drift)",
            metrics.match_similarity.clone(),
        );
        registry.register(
            "facegate_db_pool_connections",
            "Connections the database pool holds, busy or idle",
            metrics.db_pool_connections.clone(),
        );
        registry.register(
            "facegate_db_pool_idle_connections",
            "Idle connections of the database pool",
            metrics.db_pool_idle_connections.clone(),
        );
        registry.register(
            "facegate_queue_lag",
            "Items queued and due but not taken yet, by queue",
            metrics.queue_lag.clone(),
        );
        registry.register(
            "facegate_queue_oldest_age_seconds",
            "Age of the oldest item queued and due, by queue (0 when none waits)",
            metrics.queue_oldest_age_seconds.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    fn stage_series(&self, stage: Stage) -> impl std::ops::Deref<Target = Histogram> + '_ {
        self.stage_duration_seconds.get_or_create(&StageLabels {
            stage: stage.as_str(),
        })
    }

    /// One HTTP request answered: `route` is the matched template (`/api/v1/search`).
    pub fn http_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let (route, method) = (route.to_owned(), method.to_owned());
        self.http_request_duration_seconds
            .get_or_create(&RouteLabels {
                route: route.clone(),
                method: method.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.http_requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
    }

    /// Sets the levels read at scrape time.
    pub fn set_gauges(&self, gauges: &Gauges) {
        self.db_pool_connections
            .set(i64::try_from(gauges.db_pool_connections).unwrap_or(i64::MAX));
        self.db_pool_idle_connections
            .set(i64::try_from(gauges.db_pool_idle_connections).unwrap_or(i64::MAX));
        for queue in &gauges.queues {
            let topic = TopicLabels {
                topic: queue.topic.clone(),
            };
            self.queue_lag
                .get_or_create(&topic)
                .set(i64::try_from(queue.lag).unwrap_or(i64::MAX));
            self.queue_oldest_age_seconds
                .get_or_create(&topic)
                .set(queue.oldest_age_seconds);
        }
    }

    /// Every metric in the Prometheus text format (version 0.0.4, [`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        text
    }
}

impl Metrics for PrometheusMetrics {
    fn stage(&self, stage: Stage, elapsed: Duration) {
        self.stage_series(stage).observe(elapsed.as_secs_f64());
    }

    fn search(&self, elapsed: Duration) {
        self.search_requests.inc();
        self.search_duration_seconds.observe(elapsed.as_secs_f64());
    }

    fn index(&self, elapsed: Duration) {
        self.index_requests.inc();
        self.index_duration_seconds.observe(elapsed.as_secs_f64());
    }

    fn embeddings(&self, count: u64) {
        self.embeddings.inc_by(count);
    }

    fn match_score(&self, op: MatchOp, decision: Decision, similarity: f32) {
        let decision = match decision {
            Decision::Same => "same",
            Decision::Different => "different",
        };
        self.match_similarity
            .get_or_create(&MatchLabels {
                decision,
                operation: op.as_str(),
            })
            .observe(f64::from(similarity));
    }
}

/// Records every routed request's route template, method, status and latency (register
/// it with `route_layer`, where the matched route is known).
pub async fn track(
    State(metrics): State<Arc<PrometheusMetrics>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned();
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.http_request(
        &route,
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

#[cfg(test)]
#[expect(
    clippy::float_cmp,
    reason = "sample counts are whole numbers, exact in f64"
)]
mod tests {
    use facegate_core::ports::QueueLevel;
    use prometheus_parse::{HistogramCount, Scrape, Value};

    use super::*;

    fn parse(text: &str) -> Scrape {
        Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("a valid exposition")
    }

    /// The value of the one sample of `metric` with exactly `labels`.
    fn sample<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> &'a Value {
        let found: Vec<_> = scrape
            .samples
            .iter()
            .filter(|s| {
                s.metric == metric
                    && s.labels.len() == labels.len()
                    && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
            })
            .collect();
        assert_eq!(found.len(), 1, "{metric} {labels:?}: {found:?}");
        &found[0].value
    }

    fn scalar(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
        match sample(scrape, metric, labels) {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            other => panic!("{metric} is not a scalar: {other:?}"),
        }
    }

    fn buckets(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Vec<(f64, f64)> {
        match sample(scrape, metric, labels) {
            Value::Histogram(counts) => counts
                .iter()
                .map(|HistogramCount { less_than, count }| (*less_than, *count))
                .collect(),
            other => panic!("{metric} is not a histogram: {other:?}"),
        }
    }

    /// The cumulative count at bucket bound `le`.
    fn at(buckets: &[(f64, f64)], le: f64) -> f64 {
        buckets
            .iter()
            .find(|(bound, _)| {
                (*bound - le).abs() < 1e-9 || (bound.is_infinite() && le.is_infinite())
            })
            .unwrap_or_else(|| panic!("no bucket le={le} in {buckets:?}"))
            .1
    }

    #[test]
    #[expect(
        clippy::too_many_lines,
        reason = "one scenario: record every kind of metric, then check the rendering"
    )]
    fn the_registry_renders_what_was_recorded() {
        let metrics = PrometheusMetrics::new();
        metrics.stage(Stage::Decode, Duration::from_millis(3));
        metrics.stage(Stage::Decode, Duration::from_millis(30));
        metrics.stage(Stage::Embed, Duration::from_millis(7));
        metrics.search(Duration::from_millis(40));
        metrics.index(Duration::from_millis(80));
        metrics.index(Duration::from_millis(90));
        metrics.embeddings(3);
        metrics.embeddings(2);
        metrics.match_score(MatchOp::Verify, Decision::Same, 0.72);
        metrics.match_score(MatchOp::Verify, Decision::Different, -0.05);
        metrics.match_score(MatchOp::Search, Decision::Same, 0.45);
        for status in [200, 200, 429] {
            metrics.http_request("/api/v1/search", "POST", status, Duration::from_millis(45));
        }
        metrics.set_gauges(&Gauges {
            queues: vec![QueueLevel {
                topic: "jobs".into(),
                lag: 3,
                oldest_age_seconds: 12.5,
            }],
            db_pool_connections: 2,
            db_pool_idle_connections: 1,
        });
        let text = metrics.render();
        let scrape = parse(&text);

        let decode = buckets(
            &scrape,
            "facegate_stage_duration_seconds",
            &[("stage", "decode")],
        );
        assert_eq!(decode.len(), STAGE_BUCKETS.len() + 1, "{decode:?}");
        assert_eq!(at(&decode, 0.0025), 0.0);
        assert_eq!(at(&decode, 0.005), 1.0);
        assert_eq!(at(&decode, 0.025), 1.0);
        assert_eq!(at(&decode, 0.05), 2.0);
        assert_eq!(at(&decode, f64::INFINITY), 2.0);
        let stage = |name| [("stage", name)];
        assert_eq!(
            scalar(
                &scrape,
                "facegate_stage_duration_seconds_count",
                &stage("decode")
            ),
            2.0
        );
        let sum = scalar(
            &scrape,
            "facegate_stage_duration_seconds_sum",
            &stage("decode"),
        );
        assert!((sum - 0.033).abs() < 1e-9, "{sum}");
        assert_eq!(
            scalar(
                &scrape,
                "facegate_stage_duration_seconds_count",
                &stage("embed")
            ),
            1.0
        );
        // Stages not run yet are there, at zero.
        for name in ["detect", "align", "search"] {
            assert_eq!(
                scalar(
                    &scrape,
                    "facegate_stage_duration_seconds_count",
                    &stage(name)
                ),
                0.0,
                "{name}"
            );
        }

        assert_eq!(
            sample(&scrape, "facegate_search_requests_total", &[]),
            &Value::Counter(1.0)
        );
        assert_eq!(
            sample(&scrape, "facegate_index_requests_total", &[]),
            &Value::Counter(2.0)
        );
        assert_eq!(
            sample(&scrape, "facegate_embeddings_total", &[]),
            &Value::Counter(5.0)
        );
        let index = buckets(&scrape, "facegate_index_duration_seconds", &[]);
        assert_eq!((at(&index, 0.05), at(&index, 0.1)), (0.0, 2.0));

        let request = |status| {
            [
                ("route", "/api/v1/search"),
                ("method", "POST"),
                ("status", status),
            ]
        };
        assert_eq!(
            sample(&scrape, "facegate_http_requests_total", &request("200")),
            &Value::Counter(2.0)
        );
        assert_eq!(
            sample(&scrape, "facegate_http_requests_total", &request("429")),
            &Value::Counter(1.0)
        );
        let route = [("route", "/api/v1/search"), ("method", "POST")];
        let latency = buckets(&scrape, "facegate_http_request_duration_seconds", &route);
        assert_eq!((at(&latency, 0.025), at(&latency, 0.05)), (0.0, 3.0));

        let similarity = |operation, decision| {
            buckets(
                &scrape,
                "facegate_match_similarity",
                &[("operation", operation), ("decision", decision)],
            )
        };
        let same = similarity("verify", "same");
        assert_eq!((at(&same, 0.7), at(&same, 0.8)), (0.0, 1.0));
        let different = similarity("verify", "different");
        assert_eq!((at(&different, -0.2), at(&different, 0.0)), (0.0, 1.0));
        assert_eq!(at(&similarity("search", "same"), 0.5), 1.0);

        let jobs = [("topic", "jobs")];
        assert_eq!(
            sample(&scrape, "facegate_queue_lag", &jobs),
            &Value::Gauge(3.0)
        );
        assert_eq!(
            sample(&scrape, "facegate_queue_oldest_age_seconds", &jobs),
            &Value::Gauge(12.5)
        );
        assert_eq!(
            sample(&scrape, "facegate_db_pool_connections", &[]),
            &Value::Gauge(2.0)
        );
        assert_eq!(
            sample(&scrape, "facegate_db_pool_idle_connections", &[]),
            &Value::Gauge(1.0)
        );
        // Every family carries its help text.
        assert!(
            scrape.docs.contains_key("facegate_stage_duration_seconds"),
            "{text}"
        );
    }

    #[test]
    fn gauges_follow_the_last_reading() {
        let metrics = PrometheusMetrics::new();
        let reading = |lag| Gauges {
            queues: vec![QueueLevel {
                topic: "jobs".into(),
                lag,
                oldest_age_seconds: 0.0,
            }],
            ..Gauges::default()
        };
        metrics.set_gauges(&reading(7));
        metrics.set_gauges(&reading(2));
        let scrape = parse(&metrics.render());
        assert_eq!(
            sample(&scrape, "facegate_queue_lag", &[("topic", "jobs")]),
            &Value::Gauge(2.0)
        );
    }
}
