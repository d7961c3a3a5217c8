//! The face recognition backend's documented requests, replayed as its clients send them:
//! the API key as `Authorization: Bearer <key>`, images in the field `image`, the
//! reference's name in `label`, verification against a `reference_id`.

use reqwest::StatusCode;
use reqwest::multipart::Form;
use serde_json::Value;

use crate::helpers::{
    ADMIN_KEY, Fixtures, TestApp, bare_client, expect_error, expect_json, image_part, settings,
    temp_dir,
};

/// A NUAA webcam frame: a live face with the room around it.
fn live_frame() -> Vec<u8> {
    let dir = facegate_vision::testing::datasets_dir()
        .expect("the datasets")
        .join("pad/nuaa-train-sample/subject_0001");
    std::fs::read(dir.join("live_0001_00_00_01_116.jpg")).unwrap()
}

fn with_key(request: reqwest::RequestBuilder, key: &str) -> reqwest::RequestBuilder {
    request.header("Authorization", format!("Bearer {key}"))
}

async fn post(app: &TestApp, path: &str, form: Form) -> reqwest::Response {
    with_key(bare_client().post(app.url(path)), ADMIN_KEY)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestApp, path: &str) -> Value {
    let response = with_key(bare_client().get(app.url(path)), ADMIN_KEY)
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::OK).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recognition_backend_requests_work_as_written() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let person = "Alan_Greenspan";

    let form = Form::new()
        .text("label", "alan")
        .part("image", image_part(fx.lfw.photo(person, 0)));
    let reference = expect_json(
        post(&app, "/api/v1/reference", form).await,
        StatusCode::CREATED,
    )
    .await;
    let id = reference["id"].as_str().unwrap().to_owned();
    assert_eq!(reference["subject"], "alan", "{reference}");
    assert_eq!(
        get(&app, &format!("/api/v1/reference/{id}")).await["id"],
        id
    );

    let form = Form::new()
        .text("reference_id", id.clone())
        .part("image", image_part(fx.lfw.photo(person, 1)));
    let verified = expect_json(post(&app, "/api/v1/verify", form).await, StatusCode::OK).await;
    assert_eq!(verified["decision"], "same", "{verified}");
    assert!(verified["similarity"].is_f64(), "{verified}");

    let form = Form::new().part("image", image_part(live_frame()));
    let live = expect_json(post(&app, "/api/v1/liveness", form).await, StatusCode::OK).await;
    assert_eq!(live["live"], true, "{live}");
    assert!(live["score"].is_f64(), "{live}");

    assert!(get(&app, "/api/v1/admin/users").await.is_object());
    assert!(get(&app, "/api/v1/admin/stats").await.is_object());
    for page in ["/metrics", "/docs", "/redoc", "/openapi.json"] {
        let response = bare_client().get(app.url(page)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{page}");
    }

    let deleted = with_key(
        bare_client().delete(app.url(&format!("/api/v1/reference/{id}"))),
        ADMIN_KEY,
    )
    .send()
    .await
    .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());

    // An unknown key sent the same way is refused as a key, not read as a token.
    let unknown = with_key(
        bare_client().get(app.url("/api/v1/subjects")),
        "fgk_not-a-key",
    )
    .send()
    .await
    .unwrap();
    expect_error(unknown, StatusCode::UNAUTHORIZED, "invalid_api_key").await;
    app.stop().await;
}
