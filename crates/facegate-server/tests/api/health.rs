//! Probes, the OpenAPI document and the docs page.

use facegate_vision::testing::models_dir;
use reqwest::StatusCode;

use crate::helpers::{
    Fixtures, TestApp, expect_json, production, settings, temp_dir, within_one_rate_window,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_probes_openapi_and_docs_answer() {
    let Some(models) = models_dir() else {
        return;
    };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&models, dir.path())).await;

    // The recognition backend's shape: status, an RFC 3339 timestamp, the version.
    let health = app.get_ok("/health").await;
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"), "{health}");
    let timestamp = health["timestamp"].as_str().unwrap_or_default();
    assert!(
        chrono::DateTime::parse_from_rfc3339(timestamp).is_ok(),
        "{health}"
    );
    assert_eq!(app.get_ok("/health/live").await["status"], "alive");
    assert_eq!(app.get_ok("/health/ready").await["status"], "ready");
    let detailed = app.get_ok("/health/detailed").await;
    assert_eq!(detailed["ready"], true, "{detailed}");
    assert_eq!(detailed["model_pack"], "insightface", "{detailed}");
    assert_eq!(detailed["inference_workers"], 1, "{detailed}");
    let threshold = detailed["policy"]["threshold"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&threshold), "{detailed}");
    assert_eq!(detailed["status"], "ok", "{detailed}");
    let kinds = (
        &detailed["store"]["kind"],
        &detailed["blobs"]["kind"],
        &detailed["kafka"]["enabled"],
        &detailed["cache"]["kind"],
    );
    if production() {
        assert_eq!(
            kinds,
            (
                &"postgres".into(),
                &"object_store".into(),
                &true.into(),
                &"redis".into()
            ),
            "{detailed}"
        );
        assert_eq!(detailed["cache"]["degraded"], false, "{detailed}");
    } else {
        assert_eq!(
            kinds,
            (
                &"embedded".into(),
                &"local".into(),
                &false.into(),
                &"none".into()
            ),
            "{detailed}"
        );
    }

    let response = app.get("/openapi.json").await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let openapi = expect_json(response, StatusCode::OK).await;
    assert!(
        openapi["openapi"].as_str().unwrap().starts_with("3."),
        "{openapi}"
    );
    let paths = openapi["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/search",
        "/api/v1/index",
        "/api/v1/index/batch",
        "/api/v1/reference",
        "/api/v1/identify",
        "/api/v1/verify",
        "/health/ready",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from /openapi.json"
        );
    }
    assert!(paths["/api/v1/search"]["post"].is_object());

    for page in ["/docs", "/redoc"] {
        let docs = app.get(page).await;
        assert_eq!(docs.status(), StatusCode::OK);
        assert!(
            docs.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = docs.text().await.unwrap();
        assert!(html.to_ascii_lowercase().contains("<html"), "{html}");
        assert!(html.contains("openapi.json"), "the page loads the document");
    }

    app.stop().await;
}

/// Redis only speeds things up: with it unreachable the service starts, says it is
/// degraded, and still indexes, searches and limits rates (per replica).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_the_service_works_degraded() {
    let Some(fx) = Fixtures::get() else { return };
    if !production() {
        return;
    }
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    // Nothing listens on port 1.
    s.cache.redis_url = Some("redis://127.0.0.1:1/0".into());
    s.http.rate_limits.index_per_key_per_minute = 2;
    let app = TestApp::spawn(&s).await;
    let detailed = app.get_ok("/health/detailed").await;
    assert_eq!(detailed["status"], "degraded", "{detailed}");
    assert_eq!(detailed["cache"]["degraded"], true, "{detailed}");
    assert_eq!(app.get_ok("/health/ready").await["status"], "ready");

    let person = "Alan_Greenspan";
    within_one_rate_window(20).await;
    for n in 0..2 {
        let (status, body) = app
            .index("s", &format!("p{n}"), fx.lfw.photo(person, n))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = app.index("s", "p2", fx.lfw.photo(person, 2)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(app.session_status("s").await["indexed_photos"], 2);
    let found = app.search_ids("s", fx.lfw.photo(person, 3)).await;
    assert_eq!(found.len(), 2, "{found:?}");
    app.stop().await;
}
