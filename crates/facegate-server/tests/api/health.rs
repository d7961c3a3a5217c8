//! Probes, the OpenAPI document and the docs page.

use facegate_vision::testing::models_dir;
use reqwest::StatusCode;

use crate::helpers::{TestApp, expect_json, settings, temp_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_probes_openapi_and_docs_answer() {
    let Some(models) = models_dir() else {
        return;
    };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&models, dir.path())).await;

    assert_eq!(app.get_ok("/health").await["status"], "ok");
    assert_eq!(app.get_ok("/health/live").await["status"], "alive");
    assert_eq!(app.get_ok("/health/ready").await["status"], "ready");
    let detailed = app.get_ok("/health/detailed").await;
    assert_eq!(detailed["ready"], true, "{detailed}");
    assert_eq!(detailed["model_pack"], "insightface", "{detailed}");
    assert_eq!(detailed["inference_workers"], 1, "{detailed}");
    let threshold = detailed["policy"]["threshold"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&threshold), "{detailed}");

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

    let docs = app.get("/docs").await;
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

    app.stop().await;
}
