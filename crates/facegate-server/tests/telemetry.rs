//! Traces over OTLP/HTTP end to end: the real `facegate serve` exports to a small OTLP
//! receiver started here, and a caller's `traceparent` becomes the parent of the request
//! span.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use facegate_vision::testing::{models_dir, png};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;

#[path = "common/server.rs"]
mod server;
use server::{ADMIN_KEY, Server};

const SERVICE: &str = "facegate-telemetry-test";
/// The caller's trace and span of each request (W3C's example ids, then made-up ones).
const HEALTH_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const HEALTH_CALLER: &str = "00f067aa0ba902b7";
const API_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const API_CALLER: &str = "b7ad6b7169203331";

/// Each export request's content type and body.
type Received = Arc<Mutex<Vec<(String, Bytes)>>>;

async fn receive(State(received): State<Received>, headers: HeaderMap, body: Bytes) {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    received.lock().unwrap().push((content_type, body));
}

/// An OTLP/HTTP receiver on a free port: `POST /v1/traces` keeps every body.
async fn start_receiver() -> (String, Received) {
    let received = Received::default();
    let app = axum::Router::new()
        .route("/v1/traces", post(receive))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), received)
}

/// The server process; killed if the test ends before it stopped.
fn traceparent(trace: &str, caller: &str) -> String {
    format!("00-{trace}-{caller}-01")
}

/// The trace id in a `traceparent` response header, and its span id.
fn echoed(response: &reqwest::Response) -> (String, String) {
    let value = response
        .headers()
        .get("traceparent")
        .expect("the response names its trace")
        .to_str()
        .unwrap();
    let parts: Vec<&str> = value.split('-').collect();
    assert_eq!(parts.len(), 4, "{value}");
    (parts[1].to_owned(), parts[2].to_owned())
}

fn string_attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

/// Every exported span with the `service.name` and `service.version` of its resource.
fn exported(received: &Received) -> Vec<(Span, String, String)> {
    let mut spans = Vec::new();
    for (content_type, body) in received.lock().unwrap().iter() {
        assert_eq!(content_type, "application/x-protobuf");
        let request = ExportTraceServiceRequest::decode(body.clone()).expect("an OTLP body");
        for resource_spans in request.resource_spans {
            let attributes = resource_spans.resource.unwrap_or_default().attributes;
            let name = string_attribute(&attributes, "service.name").unwrap_or_default();
            let version = string_attribute(&attributes, "service.version").unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push((span, name.to_owned(), version.to_owned()));
                }
            }
        }
    }
    spans
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// `POST /api/v1/detect` (a real inference) in the API's trace; the echoed trace context.
async fn detect(client: &reqwest::Client, base: &str) -> (String, String) {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png(160, 160))
            .file_name("black.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let response = client
        .post(format!("{base}/api/v1/detect"))
        .header("x-api-key", ADMIN_KEY)
        .header("traceparent", traceparent(API_TRACE, API_CALLER))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let echoed = echoed(&response);
    assert!(
        status.is_success(),
        "{status}: {}",
        response.text().await.unwrap()
    );
    echoed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_spans_continue_the_callers_trace_and_reach_the_collector() {
    let Some(models) = models_dir() else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("facegate-telemetry-")
        .tempdir()
        .unwrap();
    let (collector, received) = start_receiver().await;
    let (mut server, base) = Server::start(
        &models,
        dir.path(),
        &[
            ("FACEGATE__TELEMETRY__OTLP_ENDPOINT", collector),
            ("FACEGATE__TELEMETRY__SERVICE_NAME", SERVICE.to_owned()),
        ],
    );
    // reqwest is built with TLS but no crypto provider of its own (see facegate-notify).
    facegate_notify::install_crypto_provider();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_mins(1))
        .build()
        .unwrap();
    let ready = client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .unwrap();
    assert!(ready.status().is_success(), "{}", ready.status());

    let health = client
        .get(format!("{base}/health"))
        .header("traceparent", traceparent(HEALTH_TRACE, HEALTH_CALLER))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success(), "{}", health.status());
    let (health_trace, health_span) = echoed(&health);
    assert_eq!(health_trace, HEALTH_TRACE);
    assert_ne!(health_span, HEALTH_CALLER);

    let (api_trace, api_span) = detect(&client, &base).await;
    assert_eq!(api_trace, API_TRACE);

    server.stop().await;

    let deadline = Instant::now() + Duration::from_secs(20);
    let find = |trace: &str| {
        exported(&received)
            .into_iter()
            .find(|(span, _, _)| span.name == "request" && hex(&span.trace_id) == trace)
    };
    while find(HEALTH_TRACE).is_none() || find(API_TRACE).is_none() {
        assert!(
            Instant::now() < deadline,
            "the request spans were not exported: {:?}",
            exported(&received)
                .iter()
                .map(|(s, _, _)| (s.name.clone(), hex(&s.trace_id)))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (trace, caller, span_id, path) in [
        (HEALTH_TRACE, HEALTH_CALLER, &health_span, "/health"),
        (API_TRACE, API_CALLER, &api_span, "/api/v1/detect"),
    ] {
        let (span, service, version) = find(trace).unwrap();
        assert_eq!(
            hex(&span.parent_span_id),
            caller,
            "the caller's span is the parent"
        );
        assert_eq!(
            &hex(&span.span_id),
            span_id,
            "the response names the request span"
        );
        assert_eq!(string_attribute(&span.attributes, "path"), Some(path));
        assert_eq!(
            string_attribute(&span.attributes, "trace_id"),
            Some(trace),
            "the logs' trace_id field"
        );
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
        assert_eq!(service, SERVICE);
        assert_eq!(version, env!("CARGO_PKG_VERSION"));
    }
}
