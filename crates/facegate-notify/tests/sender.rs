//! The sender against a real local receiver: headers and signature, statuses, redirects
//! not followed, timeouts, internal names refused, and TLS wired in.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use facegate_core::ports::WebhookSender;
use facegate_core::webhooks::{Delivery, DeliveryState, WebhookEvent};
use facegate_notify::{HttpWebhookSender, SenderConfig, signature};

type Seen = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A receiver on 127.0.0.1:0: `/ok` answers 204, `/moved` redirects to `/ok`, `/slow`
/// answers after two seconds. Every request is recorded.
async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = |seen: Seen, answer: fn() -> axum::response::Response| {
        move |headers: HeaderMap, body: Bytes| async move {
            seen.lock()
                .unwrap()
                .push((headers, String::from_utf8(body.to_vec()).unwrap()));
            answer()
        }
    };
    let app = Router::new()
        .route(
            "/ok",
            post(record(seen.clone(), || {
                StatusCode::NO_CONTENT.into_response()
            })),
        )
        .route(
            "/moved",
            post(record(seen.clone(), || {
                (StatusCode::FOUND, [(header::LOCATION, "/ok")]).into_response()
            })),
        )
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                StatusCode::OK
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("127.0.0.1:{port}"), seen)
}

fn sender(allow_private_targets: bool) -> HttpWebhookSender {
    HttpWebhookSender::new(SenderConfig {
        timeout: Duration::from_millis(500),
        allow_private_targets,
    })
    .unwrap()
}

fn delivery() -> Delivery {
    Delivery {
        id: "job-1:hook-1".to_owned(),
        webhook_id: "hook-1".to_owned(),
        user_id: "u1".to_owned(),
        event: WebhookEvent::VerificationCompleted,
        payload: r#"{"event":"verification.completed","job_id":"job-1"}"#.to_owned(),
        state: DeliveryState::Pending,
        attempts: 1,
        last_status: None,
        last_error: None,
        next_attempt_at: 0,
        created_at: 0,
        delivered_at: None,
    }
}

const SECRET: &str = "whsec_sender-test";

#[tokio::test]
async fn a_delivery_is_posted_with_its_headers_and_a_valid_signature() {
    let (host, seen) = receiver().await;
    let status = sender(true)
        .send(&format!("http://{host}/ok"), SECRET, &delivery())
        .await
        .unwrap();
    assert_eq!(status, 204);
    let seen = seen.lock().unwrap();
    let (headers, body) = &seen[0];
    let get = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(body, &delivery().payload);
    assert_eq!(get("content-type"), "application/json");
    assert_eq!(
        get("user-agent"),
        concat!("facegate/", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(get("x-facegate-event"), "verification.completed");
    assert_eq!(get("x-facegate-delivery"), "job-1:hook-1");
    let timestamp: i64 = get("x-facegate-timestamp").parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - timestamp).abs() <= 5, "{timestamp} vs {now}");
    assert_eq!(
        get("x-facegate-signature"),
        signature(SECRET, timestamp, body)
    );
}

#[tokio::test]
async fn redirects_are_answered_not_followed() {
    let (host, seen) = receiver().await;
    let status = sender(true)
        .send(&format!("http://{host}/moved"), SECRET, &delivery())
        .await
        .unwrap();
    assert_eq!(status, 302);
    assert_eq!(seen.lock().unwrap().len(), 1, "the redirect was followed");
}

#[tokio::test]
async fn a_slow_receiver_times_out() {
    let (host, _) = receiver().await;
    let err = sender(true)
        .send(&format!("http://{host}/slow"), SECRET, &delivery())
        .await
        .unwrap_err();
    assert!(err.message.contains("no answer within 500 ms"), "{err}");
}

#[tokio::test]
async fn names_resolving_to_internal_addresses_are_refused_unless_allowed() {
    let (host, seen) = receiver().await;
    let port = host.rsplit(':').next().unwrap();
    let url = format!("http://localhost:{port}/ok");
    let err = sender(false)
        .send(&url, SECRET, &delivery())
        .await
        .unwrap_err();
    assert!(
        err.message.contains("does not resolve to a public address"),
        "{err}"
    );
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(
        sender(true).send(&url, SECRET, &delivery()).await.unwrap(),
        204
    );
}

#[tokio::test]
async fn https_targets_go_through_tls() {
    let (host, seen) = receiver().await;
    // The receiver speaks plain HTTP: the TLS handshake fails, rather than the client
    // panicking for want of a crypto provider or sending in the clear.
    let err = sender(true)
        .send(&format!("https://{host}/ok"), SECRET, &delivery())
        .await
        .unwrap_err();
    // rustls' own complaint: the answer was not a TLS record.
    assert!(
        err.message.starts_with("cannot connect") && err.message.contains("corrupt message"),
        "{err}"
    );
    assert!(seen.lock().unwrap().is_empty());
}
