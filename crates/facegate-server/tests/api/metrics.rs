//! `GET /metrics`: real requests show up, per pipeline stage, route and decision.

use prometheus_parse::{Scrape, Value};
use reqwest::StatusCode;

use crate::helpers::{Fixtures, TestApp, expect_json, image_form, image_part, settings, temp_dir};

const PERSON: &str = "Aaron_Peirsol";
const STRANGER: &str = "Abel_Pacheco";
const STAGES: [&str; 5] = ["decode", "detect", "align", "embed", "search"];

/// Scrapes `/metrics` and parses the text format.
async fn scrape(app: &TestApp) -> (Scrape, String) {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("the text format");
    (scrape, text)
}

/// The one sample of `metric` with exactly `labels`.
fn sample<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Value> {
    let mut found = scrape.samples.iter().filter(|s| {
        s.metric == metric
            && s.labels.len() == labels.len()
            && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
    });
    let first = found.next();
    assert!(found.next().is_none(), "{metric} {labels:?} twice");
    first.map(|s| &s.value)
}

/// A counter, gauge or histogram's count (its `+Inf` bucket); `None` when absent.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    sample(scrape, metric, labels).map(|v| match v {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        Value::Histogram(buckets) => {
            buckets
                .iter()
                .find(|b| b.less_than.is_infinite())
                .expect("a +Inf bucket")
                .count
        }
        Value::Summary(_) => panic!("{metric} is a summary"),
    })
}

/// How many runs of `stage` were observed.
fn stage_count(scrape: &Scrape, stage: &str) -> u64 {
    let count = value(
        scrape,
        "facegate_stage_duration_seconds",
        &[("stage", stage)],
    )
    .unwrap_or_else(|| panic!("no histogram for stage {stage}"));
    count as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario: real requests, then every metric they must have moved"
)]
async fn metrics_count_what_the_requests_did() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let photo = |n| fx.lfw.photo(PERSON, n);

    // Before any request every stage is there at zero: the warm-up is not counted.
    let (before, text) = scrape(&app).await;
    for stage in STAGES {
        assert_eq!(stage_count(&before, stage), 0, "{stage}: {text}");
    }
    assert_eq!(
        value(&before, "facegate_embeddings_total", &[]),
        Some(0.0),
        "{text}"
    );

    // Seven images through the pipeline: enroll, two indexed, a search, a verification of
    // two images and an identification.
    app.enroll(PERSON, photo(0)).await;
    let mut faces_indexed = 0;
    for (photo_id, image) in [("p1", photo(1)), ("p2", fx.lfw.photo(STRANGER, 0))] {
        let (status, body) = app.index("event", photo_id, image).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        faces_indexed += body["face_count"].as_u64().unwrap();
    }
    let (status, search) = app.search("event", photo(2)).await;
    assert_eq!(status, StatusCode::OK, "{search}");
    let search_matches = search["matches"].as_array().unwrap().len();
    assert!(search_matches >= 1, "{search}");
    let verified = expect_json(
        app.post_form(
            "/api/v1/verify",
            image_form("file_a", photo(0)).part("file_b", image_part(fx.lfw.photo(STRANGER, 0))),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(verified["decision"], "different", "{verified}");
    let identified = app.identify(photo(1)).await;
    assert_eq!(identified["matches"][0]["subject"], PERSON, "{identified}");

    let (after, text) = scrape(&app).await;
    let images = 7;
    for stage in ["decode", "detect", "align", "embed"] {
        assert_eq!(stage_count(&after, stage), images, "{stage}: {text}");
    }
    // The collection search and the identification.
    assert_eq!(stage_count(&after, "search"), 2, "{text}");
    let stage_seconds = value(
        &after,
        "facegate_stage_duration_seconds_sum",
        &[("stage", "embed")],
    )
    .unwrap();
    assert!(stage_seconds > 0.0, "{text}");

    // One embedding per enrolled, indexed, searched, verified and identified face.
    let embedded = 1 + faces_indexed + 1 + 2 + 1;
    assert_eq!(
        value(&after, "facegate_embeddings_total", &[]),
        Some(embedded as f64),
        "{text}"
    );
    assert_eq!(
        value(&after, "facegate_search_requests_total", &[]),
        Some(1.0)
    );
    assert_eq!(
        value(&after, "facegate_search_duration_seconds", &[]),
        Some(1.0)
    );
    assert_eq!(
        value(&after, "facegate_index_requests_total", &[]),
        Some(2.0)
    );
    assert_eq!(
        value(&after, "facegate_index_duration_seconds", &[]),
        Some(2.0)
    );

    // HTTP requests by route template, method and status.
    let requests = |route, method, status| {
        value(
            &after,
            "facegate_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(
        requests("/api/v1/search", "POST", "200"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        requests("/api/v1/index", "POST", "201"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        requests("/api/v1/reference", "POST", "201"),
        Some(1.0),
        "{text}"
    );
    // The scrape before this one.
    assert_eq!(requests("/metrics", "GET", "200"), Some(1.0), "{text}");
    assert_eq!(
        value(
            &after,
            "facegate_http_request_duration_seconds",
            &[("route", "/api/v1/search"), ("method", "POST")],
        ),
        Some(1.0),
        "{text}"
    );

    // The similarity behind each decision.
    let similarity = |operation, decision| {
        value(
            &after,
            "facegate_match_similarity",
            &[("operation", operation), ("decision", decision)],
        )
    };
    assert_eq!(similarity("verify", "different"), Some(1.0), "{text}");
    assert_eq!(similarity("verify", "same"), None, "{text}");
    assert_eq!(similarity("identify", "same"), Some(1.0), "{text}");
    assert_eq!(
        similarity("search", "same"),
        Some(search_matches as f64),
        "{text}"
    );

    // Levels read at scrape time: no job waits; the store's pool is open.
    let jobs = [("topic", "jobs")];
    assert_eq!(
        value(&after, "facegate_queue_lag", &jobs),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value(&after, "facegate_queue_oldest_age_seconds", &jobs),
        Some(0.0),
        "{text}"
    );
    let connections = value(&after, "facegate_db_pool_connections", &[]).unwrap();
    let idle = value(&after, "facegate_db_pool_idle_connections", &[]).unwrap();
    assert!(connections >= 1.0 && idle <= connections, "{text}");

    app.stop().await;
}
