//! Every error code a client can provoke, with its status and body, and refused requests
//! change nothing stored.

use facegate_vision::testing::{png, png_claiming};
use reqwest::StatusCode;
use reqwest::multipart::Form;
use serde_json::json;

use crate::helpers::{
    Fixtures, TestApp, base64, expect_error, expect_json, image_form, image_part, settings,
    temp_dir,
};

const PERSON: &str = "Aaron_Peirsol";
const SESSION: &str = "event";

/// Uploads that fail to decode: name, bytes, status and code.
fn bad_images(jpeg: &[u8]) -> Vec<(&'static str, Vec<u8>, StatusCode, &'static str)> {
    vec![
        (
            "empty file",
            Vec::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_image",
        ),
        (
            "text file",
            b"just some text, not an image\n".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_format",
        ),
        (
            "truncated JPEG",
            jpeg[..jpeg.len() / 2].to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_image",
        ),
        (
            "1x1 PNG",
            png(1, 1),
            StatusCode::UNPROCESSABLE_ENTITY,
            "image_too_small",
        ),
        (
            "PNG claiming 20000x20000",
            png_claiming(20_000, 20_000),
            StatusCode::PAYLOAD_TOO_LARGE,
            "image_too_large",
        ),
    ]
}

/// Each endpoint that takes an image, with `image` in its main image field.
fn image_requests(image: &[u8], good: &[u8]) -> Vec<(&'static str, Form)> {
    vec![
        (
            "/api/v1/reference",
            image_form("file", image.to_vec()).text("subject", "someone"),
        ),
        (
            "/api/v1/index",
            image_form("file", image.to_vec())
                .text("session_id", SESSION)
                .text("photo_id", "refused"),
        ),
        (
            "/api/v1/search",
            image_form("file", image.to_vec()).text("session_id", SESSION),
        ),
        ("/api/v1/identify", image_form("file", image.to_vec())),
        (
            "/api/v1/verify",
            image_form("file_a", image.to_vec()).part("file_b", image_part(good.to_vec())),
        ),
        ("/api/v1/detect", image_form("file", image.to_vec())),
        ("/api/v1/embed", image_form("file", image.to_vec())),
        ("/api/v1/analyze", image_form("file", image.to_vec())),
        ("/api/v1/liveness", image_form("file", image.to_vec())),
    ]
}

/// Requests refused by validation (400 validation_failed): what, path and form.
fn invalid_forms(good: &[u8]) -> Vec<(&'static str, &'static str, Form)> {
    let image = || image_form("file", good.to_vec());
    vec![
        (
            "no image field",
            "/api/v1/reference",
            Form::new().text("subject", "someone"),
        ),
        (
            "no image field",
            "/api/v1/index",
            Form::new()
                .text("session_id", SESSION)
                .text("photo_id", "refused"),
        ),
        (
            "no image field",
            "/api/v1/detect",
            Form::new().text("x", "y"),
        ),
        (
            "no second image, reference or subject",
            "/api/v1/verify",
            image_form("file_a", good.to_vec()),
        ),
        (
            "threshold 5.0",
            "/api/v1/verify",
            image_form("file_a", good.to_vec())
                .part("file_b", image_part(good.to_vec()))
                .text("threshold", "5.0"),
        ),
        (
            "threshold 5.0",
            "/api/v1/identify",
            image().text("threshold", "5.0"),
        ),
        (
            "threshold 5.0",
            "/api/v1/search",
            image().text("session_id", SESSION).text("threshold", "5.0"),
        ),
        (
            "threshold not a number",
            "/api/v1/identify",
            image().text("threshold", "high"),
        ),
        ("limit 0", "/api/v1/identify", image().text("limit", "0")),
        (
            "limit 0",
            "/api/v1/search",
            image().text("session_id", SESSION).text("limit", "0"),
        ),
        (
            "limit -1",
            "/api/v1/search",
            image().text("session_id", SESSION).text("limit", "-1"),
        ),
        (
            "no session_id",
            "/api/v1/index",
            image().text("photo_id", "refused"),
        ),
        (
            "no photo_id",
            "/api/v1/index",
            image().text("session_id", SESSION),
        ),
        (
            "photo_id with a slash",
            "/api/v1/index",
            image().text("session_id", SESSION).text("photo_id", "a/b"),
        ),
        (
            "session_id too long",
            "/api/v1/index",
            image()
                .text("session_id", "s".repeat(129))
                .text("photo_id", "refused"),
        ),
    ]
}

/// Images that cannot be used, on every endpoint that takes one, and as base64.
async fn assert_bad_images_refused(app: &TestApp, good: &[u8]) {
    for (what, bytes, status, code) in bad_images(good) {
        for (path, form) in image_requests(&bytes, good) {
            let response = app.post_form(path, form).await;
            let body = expect_error(response, status, code).await;
            eprintln!("{what} on {path}: {}", body["error"]["message"]);
        }
        // The same as base64 in JSON.
        let response = app
            .post_json("/api/v1/detect", &json!({"image": base64(&bytes)}))
            .await;
        expect_error(response, status, code).await;
    }
}

/// Fields that break the API's rules, wrong content types and malformed bodies.
async fn assert_invalid_requests_refused(app: &TestApp, good: &[u8]) {
    for (what, path, form) in invalid_forms(good) {
        let response = app.post_form(path, form).await;
        let body = expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
        eprintln!("{what} on {path}: {}", body["error"]["message"]);
    }
    for (what, body) in [
        ("invalid base64", json!({"image": "not base64!"})),
        ("no image", json!({"subject": PERSON})),
    ] {
        let response = app.post_json("/api/v1/reference", &body).await;
        let body = expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
        eprintln!("{what}: {}", body["error"]["message"]);
    }

    // Wrong content types and malformed bodies.
    let text = |path: &str| {
        app.client
            .post(app.url(path))
            .header("content-type", "text/plain")
            .body("hello")
    };
    for path in ["/api/v1/detect", "/api/v1/reference", "/api/v1/index/batch"] {
        let response = text(path).send().await.unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    }
    let malformed = app
        .client
        .post(app.url("/api/v1/identify"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    expect_error(malformed, StatusCode::BAD_REQUEST, "validation_failed").await;
    for batch in [
        json!({"session_id": SESSION, "photos": []}),
        json!({"photos": [{"photo_id": "a", "key": "a.jpg"}]}),
        json!({"session_id": "a/b", "photos": [{"photo_id": "a", "key": "a.jpg"}]}),
        json!({"session_id": SESSION, "photos": "a.jpg"}),
    ] {
        let response = app.post_json("/api/v1/index/batch", &batch).await;
        expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    }
    let bad_status = app.get("/api/v1/search/status/bad!id").await;
    expect_error(bad_status, StatusCode::BAD_REQUEST, "validation_failed").await;
}

/// Unknown references, subjects, sessions and routes.
async fn assert_unknown_resources_not_found(app: &TestApp, good: &[u8]) {
    let unknown = "00000000-0000-0000-0000-000000000000";
    for response in [
        app.get(&format!("/api/v1/reference/{unknown}")).await,
        app.delete(&format!("/api/v1/reference/{unknown}")).await,
        app.get("/api/v1/subjects/nobody").await,
        app.delete("/api/v1/subjects/nobody").await,
        app.delete("/api/v1/index/nothing-here").await,
        app.post_form(
            "/api/v1/verify",
            image_form("file_a", good.to_vec()).text("reference_id", unknown),
        )
        .await,
        app.post_form(
            "/api/v1/verify",
            image_form("file_a", good.to_vec()).text("subject", "nobody"),
        )
        .await,
        app.post_form(
            "/api/v1/search",
            image_form("file", good.to_vec()).text("session_id", "nothing-here"),
        )
        .await,
        app.get("/api/v1/no-such-route").await,
        app.get("/no-such-page").await,
    ] {
        expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_has_its_code_status_and_body_and_changes_nothing() {
    let Some(fx) = Fixtures::get() else {
        return;
    };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let good = fx.lfw.photo(PERSON, 0);
    let reference = app.enroll(PERSON, good.clone()).await;
    let (status, _) = app.index(SESSION, "stored", fx.lfw.photo(PERSON, 1)).await;
    assert_eq!(status, StatusCode::CREATED);
    let before = app.snapshot(&[SESSION]).await;

    assert_bad_images_refused(&app, &good).await;
    assert_invalid_requests_refused(&app, &good).await;
    assert_unknown_resources_not_found(&app, &good).await;

    // Nothing refused was stored: the counts are the same, the reference is intact and
    // the photo id of the refused uploads is still free.
    assert_eq!(app.snapshot(&[SESSION]).await, before);
    let id = reference["id"].as_str().unwrap();
    assert_eq!(
        app.get_ok(&format!("/api/v1/reference/{id}")).await["subject"],
        PERSON
    );
    let (status, body) = app.index(SESSION, "refused", good).await;
    assert_eq!(
        (status, &body["created"]),
        (StatusCode::CREATED, &json!(true))
    );

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_and_images_over_the_limits_get_413() {
    let Some(fx) = Fixtures::get() else {
        return;
    };
    let dir = temp_dir();
    let mut settings = settings(&fx.models, dir.path());
    settings.http.body_limit_bytes = 64 * 1024;
    settings.vision.limits.max_bytes = 32 * 1024;
    let app = TestApp::spawn(&settings).await;
    let good = fx.lfw.photo(PERSON, 0);
    assert!(good.len() < settings.vision.limits.max_bytes);
    app.enroll(PERSON, good.clone()).await;
    let before = app.snapshot(&[SESSION]).await;

    // Over the body limit: refused while reading the request.
    let huge = vec![0xA5_u8; 3 * settings.http.body_limit_bytes];
    let over_body = [
        app.post_form(
            "/api/v1/reference",
            image_form("file", huge.clone()).text("subject", "someone"),
        )
        .await,
        app.post_form("/api/v1/detect", image_form("file", huge.clone()))
            .await,
        app.post_json(
            "/api/v1/reference",
            &json!({"image": base64(&huge), "subject": "someone"}),
        )
        .await,
    ];
    for response in over_body {
        // The unread rest of the body makes the connection unusable: it is closed.
        assert_eq!(
            response
                .headers()
                .get("connection")
                .map(reqwest::header::HeaderValue::as_bytes),
            Some(b"close".as_slice()),
            "{response:?}"
        );
        expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "image_too_large").await;
    }
    // Within the body limit but over the image limit: refused before decoding.
    let big = vec![0xA5_u8; settings.vision.limits.max_bytes + 1];
    let response = app
        .post_form(
            "/api/v1/reference",
            image_form("file", big).text("subject", "someone"),
        )
        .await;
    let body = expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "image_too_large").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("bytes"),
        "{body}"
    );

    assert_eq!(app.snapshot(&[SESSION]).await, before);
    // The app still serves normal requests.
    let detected = expect_json(
        app.post_form("/api/v1/detect", image_form("file", good))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(detected["face_count"], 1, "{detected}");

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_inference_queue_answers_429_with_retry_after() {
    let Some(fx) = Fixtures::get() else {
        return;
    };
    let dir = temp_dir();
    let mut settings = settings(&fx.models, dir.path());
    settings.vision.queue_capacity = 1;
    let app = TestApp::spawn(&settings).await;
    // A photo with several faces keeps the one worker busy for a while per request.
    let photo = fx.lfw.photo("Alex_Holmes", 0);
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let request = app
            .client
            .post(app.url("/api/v1/analyze"))
            .multipart(image_form("file", photo.clone()));
        requests.spawn(async move { request.send().await.unwrap() });
    }
    let (mut served, mut refused) = (0, 0);
    while let Some(response) = requests.join_next().await {
        let response = response.unwrap();
        if response.status() == StatusCode::OK {
            served += 1;
            continue;
        }
        refused += 1;
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap()),
            Some("1")
        );
        expect_error(response, StatusCode::TOO_MANY_REQUESTS, "overloaded").await;
    }
    assert!(
        served >= 1 && refused >= 1,
        "{served} served, {refused} refused"
    );
    // Once the queue drains, requests are served again.
    let detected = expect_json(
        app.post_form("/api/v1/detect", image_form("file", photo))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(detected["face_count"].as_u64().unwrap() >= 2, "{detected}");
    app.stop().await;
}
