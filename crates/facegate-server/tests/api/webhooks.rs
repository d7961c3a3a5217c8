//! Webhooks end to end: a user registers a hook on a receiver started here, verifies
//! their face, and the receiver gets the signed result, retried once after a 500; the
//! delivery log says so. Other users' hooks hear nothing; API keys without `admin` may not
//! register; internal targets are refused unless allowed; a slow receiver delays no one
//! else's deliveries.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::accounts::{PERSON, UserSession, sign_up};
use crate::helpers::{Fixtures, TestApp, expect_error, expect_json, settings, temp_dir};

/// Every request a receiver got: its headers and body.
type Requests = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// Serves `app` on `127.0.0.1:0`; answers the URL of its `/hook`.
async fn listen(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}/hook")
}

/// A webhook receiver on `127.0.0.1:0` that answers 500 to its first request and 200
/// afterwards.
async fn receiver() -> (String, Requests) {
    let requests = Requests::default();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = requests.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            let count = count.clone();
            async move {
                let body = String::from_utf8(body.to_vec()).unwrap();
                seen.lock().unwrap().push((headers, body));
                if count.fetch_add(1, Ordering::SeqCst) == 0 {
                    AxumStatus::INTERNAL_SERVER_ERROR
                } else {
                    AxumStatus::OK
                }
            }
        }),
    );
    (listen(app).await, requests)
}

/// `POST /webhooks` as the user; answers the status and body.
async fn register(user: &UserSession<'_>, body: &Value) -> reqwest::Response {
    user.post("/api/v1/webhooks")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Waits until `requests` holds `count` requests (at most 30 s).
async fn wait_for(requests: &Requests, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while requests.lock().unwrap().len() < count {
        assert!(
            Instant::now() < deadline,
            "the receiver got {} requests, not {count}",
            requests.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The header's value as text.
fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The signature a receiver computes: HMAC-SHA256 of `<timestamp>.<body>`.
fn expected_signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One request of a delivery: its headers, a signature that verifies with the hook's
/// secret, and the payload.
fn check_request(
    headers: &HeaderMap,
    body: &str,
    secret: &str,
    delivery_id: &str,
    job_id: &str,
    alice_id: &str,
) {
    assert_eq!(header(headers, "x-facegate-delivery"), delivery_id);
    assert_eq!(
        header(headers, "x-facegate-event"),
        "verification.completed"
    );
    assert_eq!(header(headers, "content-type"), "application/json");
    assert!(header(headers, "user-agent").starts_with("facegate/"));
    let timestamp = header(headers, "x-facegate-timestamp");
    assert_eq!(
        header(headers, "x-facegate-signature"),
        expected_signature(secret, &timestamp, body),
        "the signature does not verify"
    );
    let payload: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        (
            &payload["event"],
            &payload["delivery_id"],
            &payload["job_id"],
            &payload["user_id"]
        ),
        (
            &json!("verification.completed"),
            &json!(delivery_id),
            &json!(job_id),
            &json!(alice_id)
        ),
        "{payload}"
    );
    assert_eq!(payload["result"]["status"], "verified", "{payload}");
    assert_eq!(payload["result"]["type"], "verification", "{payload}");
}

/// The delivery log shows the one delivery settled on its second attempt; Bob sees none
/// of Alice's hook.
async fn check_log(
    alice: &UserSession<'_>,
    bob: &UserSession<'_>,
    hook_id: &str,
    delivery_id: &str,
    job_id: &str,
) {
    let log = expect_json(
        alice
            .get(&format!("/api/v1/webhooks/{hook_id}/deliveries"))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let deliveries = log["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{log}");
    let delivery = &deliveries[0];
    assert_eq!(
        (
            &delivery["id"],
            &delivery["state"],
            &delivery["attempts"],
            &delivery["last_status"]
        ),
        (
            &json!(delivery_id),
            &json!("delivered"),
            &json!(2),
            &json!(200)
        ),
        "{log}"
    );
    assert_eq!(delivery["payload"]["job_id"], job_id, "{log}");
    // Someone else's hook is as good as absent.
    expect_error(
        bob.get(&format!("/api/v1/webhooks/{hook_id}/deliveries"))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        bob.delete(&format!("/api/v1/webhooks/{hook_id}"))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_verification_result_is_delivered_signed_and_retried_after_a_500() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.webhooks.allow_private_targets = true;
    s.webhooks.retry_base_ms = 200;
    let app = TestApp::spawn(&s).await;
    let (url, requests) = receiver().await;
    let (bobs_url, bobs_requests) = receiver().await;
    let alice = sign_up(&app, "alice").await;
    let bob = sign_up(&app, "bob").await;

    let registered = expect_json(
        register(&alice, &json!({"url": url})).await,
        StatusCode::CREATED,
    )
    .await;
    let hook = &registered["webhook"];
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    let secret = registered["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{registered}");
    assert_eq!(
        hook["events"],
        json!(["verification.completed", "scan.completed"]),
        "{registered}"
    );
    let alice_id = alice.me().await["id"].as_str().unwrap().to_owned();
    assert_eq!(hook["owner"], format!("user:{alice_id}"), "{registered}");
    expect_json(
        register(
            &bob,
            &json!({"url": bobs_url, "events": ["verification.completed"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    // Listings never show the secret again.
    let listed = expect_json(
        alice.get("/api/v1/webhooks").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["webhooks"], json!([hook]), "{listed}");
    assert!(!listed.to_string().contains(&secret));

    let job = alice.verify_face(fx.lfw.photo(PERSON, 0)).await;
    assert_eq!(job["result"]["status"], "verified", "{job}");
    let job_id = job["job_id"].as_str().unwrap();

    // The 500, then the retry that succeeds; then nothing more.
    wait_for(&requests, 2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = requests.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "{received:?}");
    let delivery_id = format!("{job_id}:{hook_id}");
    for (headers, body) in &received {
        check_request(headers, body, &secret, &delivery_id, job_id, &alice_id);
    }
    // Bob's hook hears nothing of Alice.
    assert!(bobs_requests.lock().unwrap().is_empty());

    check_log(&alice, &bob, &hook_id, &delivery_id, job_id).await;

    let deleted = alice
        .delete(&format!("/api/v1/webhooks/{hook_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let listed = expect_json(
        alice.get("/api/v1/webhooks").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["webhooks"], json!([]), "{listed}");
    app.stop().await;
}

#[tokio::test]
async fn internal_targets_and_keys_without_admin_are_refused() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let carol = sign_up(&app, "carol").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:8080/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://10.0.0.1/",
        "ftp://hooks.example.com/",
    ] {
        let body = expect_error(
            register(&carol, &json!({"url": url})).await,
            StatusCode::BAD_REQUEST,
            "validation_failed",
        )
        .await;
        assert!(
            body["error"]["message"].as_str().unwrap().contains("url"),
            "{body}"
        );
    }
    expect_error(
        register(
            &carol,
            &json!({"url": "https://hooks.example.com/x", "events": ["job.done"]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;

    // An integration's key hears of every user: only the admin scope may register.
    let key = expect_json(
        app.post_json(
            "/api/v1/admin/api-keys",
            &json!({"name": "search only", "scopes": ["search"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let search_key = key["secret"].as_str().unwrap();
    expect_error(
        crate::helpers::bare_client()
            .post(app.url("/api/v1/webhooks"))
            .header("x-api-key", search_key)
            .json(&json!({"url": "https://hooks.example.com/x"}))
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let admins = expect_json(
        app.post_json(
            "/api/v1/webhooks",
            &json!({"url": "https://hooks.example.com/x", "events": ["scan.completed"]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert!(
        admins["webhook"]["owner"]
            .as_str()
            .unwrap()
            .starts_with("key:"),
        "{admins}"
    );
    // Without credentials there is nothing to register.
    expect_error(
        crate::helpers::bare_client()
            .get(app.url("/api/v1/webhooks"))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    app.stop().await;
}

/// A receiver on `127.0.0.1:0` that takes a minute to answer; answers what it was sent.
async fn slow_receiver() -> (String, Requests) {
    let requests = Requests::default();
    let seen = requests.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let seen = seen.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .push((headers, String::from_utf8(body.to_vec()).unwrap()));
                tokio::time::sleep(Duration::from_mins(1)).await;
                AxumStatus::OK
            }
        }),
    );
    (listen(app).await, requests)
}

/// Deliveries go out side by side, one per hook at a time: while Alice's receiver sits
/// on her first delivery (and her next ones wait for it), Bob's is delivered.
#[tokio::test]
async fn a_slow_receiver_delays_no_one_elses_deliveries() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.webhooks.allow_private_targets = true;
    let app = TestApp::spawn(&s).await;
    let (slow_url, slow) = slow_receiver().await;
    let (fast_url, fast) = receiver().await;
    let alice = sign_up(&app, "alice").await;
    let bob = sign_up(&app, "bob").await;
    for (user, url) in [(&alice, &slow_url), (&bob, &fast_url)] {
        expect_json(
            register(user, &json!({"url": url})).await,
            StatusCode::CREATED,
        )
        .await;
    }
    let selfie = || crate::helpers::image_form("file", fx.lfw.photo(PERSON, 0));
    for _ in 0..3 {
        let verify = alice.post("/api/v1/auth/verify").multipart(selfie());
        expect_json(verify.send().await.unwrap(), StatusCode::ACCEPTED).await;
    }
    wait_for(&slow, 1).await;
    let verify = bob.post("/api/v1/auth/verify").multipart(selfie());
    expect_json(verify.send().await.unwrap(), StatusCode::ACCEPTED).await;
    wait_for(&fast, 1).await;
    assert_eq!(
        slow.lock().unwrap().len(),
        1,
        "Alice's receiver got her next deliveries while it still held the first"
    );
    app.stop().await;
}
