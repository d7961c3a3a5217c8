//! The gateway system's documented paths (`/api/<service>/.../`), replayed in its order:
//! readiness, register, a token, check it, verify the user by photo (asynchronously),
//! create a transaction, report them, and the vector of an image.

use reqwest::StatusCode;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::accounts::{PASSWORD, UserSession};
use crate::helpers::{Fixtures, TestApp, bare_client, expect_json, image_part, settings, temp_dir};

async fn post_json(app: &TestApp, path: &str, body: &Value, expected: StatusCode) -> Value {
    let response = bare_client()
        .post(app.url(path))
        .json(body)
        .send()
        .await
        .unwrap();
    expect_json(response, expected).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_paths_work_as_documented() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;

    let ready = bare_client()
        .get(app.url("/api/api-gateway/healthz/ready/"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    let account = json!({"username": "grace", "password": PASSWORD});
    let registered = post_json(
        &app,
        "/api/auth-service/register/",
        &account,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(registered["username"], "grace", "{registered}");
    let tokens = post_json(&app, "/api/auth-service/auth/", &account, StatusCode::OK).await;
    let refresh = json!({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]});
    let refreshed = post_json(&app, "/api/auth-service/auth/", &refresh, StatusCode::OK).await;
    let grace = UserSession {
        app: &app,
        token: refreshed["access_token"].as_str().unwrap().to_owned(),
        refresh: refreshed["refresh_token"].as_str().unwrap().to_owned(),
    };
    let checked = expect_json(
        grace
            .get("/api/auth-service/check_token/")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(checked["valid"], true, "{checked}");

    let person = "Alan_Greenspan";
    let form = Form::new().part("file", image_part(fx.lfw.photo(person, 0)));
    let queued = expect_json(
        grace
            .post("/api/auth-service/verify/")
            .multipart(form)
            .send()
            .await
            .unwrap(),
        StatusCode::ACCEPTED,
    )
    .await;
    let job = grace.wait_job(queued["job_id"].as_str().unwrap()).await;
    assert_eq!(job["result"]["status"], "verified", "{job}");

    let created = expect_json(
        grace
            .post_json(
                "/api/transaction-service/create/",
                &json!({"amount": "12.50", "currency": "EUR", "description": "lunch"}),
            )
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["amount_cents"], 1250, "{created}");
    let report = expect_json(
        grace
            .post_json("/api/transaction-service/report/", &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report["count"], 1, "{report}");

    let form = Form::new().part("file", image_part(fx.lfw.photo(person, 1)));
    let vector = expect_json(
        app.client
            .get(app.url("/api/face-verification-service/get_vector/"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert!(
        vector["embedding"]
            .as_array()
            .is_some_and(|v| v.len() >= 128),
        "{vector}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_paths_are_served_only_when_configured() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.http.compat = Vec::new();
    let app = TestApp::spawn(&s).await;
    for path in [
        "/api/api-gateway/healthz/ready/",
        "/api/v1/health",
        "/api/v1/metrics",
    ] {
        let response = bare_client().get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let native = bare_client().get(app.url("/health")).send().await.unwrap();
    assert_eq!(native.status(), StatusCode::OK);
    app.stop().await;
}
