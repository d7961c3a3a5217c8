//! W3C trace context in and out. A request's span continues the caller's trace named by
//! its `traceparent` header; the trace of any span can be handed on as a `traceparent`
//! value (Kafka headers, webhook requests) and picked up again on the other side.
//!
//! This goes through the global propagator and the `tracing-opentelemetry` layer, both
//! installed by the binary only when traces are exported: without them every function
//! here does nothing and returns `None`.

use std::collections::HashMap;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::Context;
use opentelemetry::global;
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The W3C header naming the trace and the caller's span.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Makes `span`, not yet entered, a child of the remote span that `headers` name, and
/// records the trace id in its `trace_id` field (when it declares one) so that logs can be
/// matched with traces. Without a valid `traceparent`, `span` starts a new trace.
pub fn continue_trace(span: &Span, headers: &HeaderMap) {
    let parent = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)));
    adopt(span, parent);
}

/// As [`continue_trace`], from a `traceparent` value carried elsewhere (a Kafka header).
pub fn continue_traceparent(span: &Span, traceparent: &str) {
    let carrier = HashMap::from([(TRACEPARENT.as_str().to_owned(), traceparent.to_owned())]);
    let parent = global::get_text_map_propagator(|p| p.extract(&carrier));
    adopt(span, parent);
}

fn adopt(span: &Span, parent: Context) {
    if parent.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer is installed: nothing to continue then.
        let _ = span.set_parent(parent);
    }
    let own = span.context();
    let context = own.span().span_context().clone();
    if context.is_valid() {
        span.record("trace_id", tracing::field::display(context.trace_id()));
    }
}

/// The `traceparent` value naming `span`, to hand its trace on; `None` without export.
pub fn inject_traceparent(span: &Span) -> Option<String> {
    let mut carrier = HashMap::new();
    let cx = span.context();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    carrier.remove(TRACEPARENT.as_str())
}

/// Writes `traceparent` (and `tracestate`) of `span` into outgoing request headers.
pub fn inject_headers(span: &Span, headers: &mut HeaderMap) {
    let cx = span.context();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut HeaderInjector(headers)));
}

/// Middleware inside the request span: answers with the `traceparent` of that span, so a
/// client can find its request's trace.
pub async fn echo_traceparent(request: Request, next: Next) -> Response {
    let span = Span::current();
    let mut response = next.run(request).await;
    if let Some(value) = inject_traceparent(&span).and_then(|v| HeaderValue::from_str(&v).ok()) {
        response.headers_mut().insert(TRACEPARENT, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const CALLER: &str = "00f067aa0ba902b7";

    /// Runs `f` under a subscriber with an OpenTelemetry layer (no exporter).
    fn traced<T>(f: impl FnOnce() -> T) -> T {
        global::set_text_map_propagator(TraceContextPropagator::new());
        let provider = SdkTracerProvider::builder().build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f)
    }

    fn parts(traceparent: &str) -> Vec<String> {
        traceparent.split('-').map(str::to_owned).collect()
    }

    #[test]
    fn a_request_span_continues_the_callers_trace() {
        let mut headers = HeaderMap::new();
        let sent = format!("00-{TRACE_ID}-{CALLER}-01");
        headers.insert(TRACEPARENT, HeaderValue::from_str(&sent).unwrap());
        let out = traced(|| {
            let span = tracing::info_span!("request", trace_id = tracing::field::Empty);
            continue_trace(&span, &headers);
            inject_traceparent(&span).expect("an exported span has a traceparent")
        });
        let out = parts(&out);
        assert_eq!(out[1], TRACE_ID);
        assert_ne!(
            out[2], CALLER,
            "the span is the caller's child, not the caller"
        );
        assert_eq!(out[3], "01", "the caller's sampling decision is kept");
    }

    #[test]
    fn a_traceparent_value_round_trips_and_garbage_starts_a_new_trace() {
        let (kept, fresh) = traced(|| {
            let consumer = tracing::info_span!("job");
            continue_traceparent(&consumer, &format!("00-{TRACE_ID}-{CALLER}-01"));
            let other = tracing::info_span!("job");
            continue_traceparent(&other, "not a traceparent");
            (
                inject_traceparent(&consumer).unwrap(),
                inject_traceparent(&other).unwrap(),
            )
        });
        assert_eq!(parts(&kept)[1], TRACE_ID);
        assert_ne!(parts(&fresh)[1], TRACE_ID);
        let mut headers = HeaderMap::new();
        traced(|| {
            let span = tracing::info_span!("webhook");
            continue_traceparent(&span, &kept);
            inject_headers(&span, &mut headers);
        });
        let sent = headers[TRACEPARENT].to_str().unwrap();
        assert_eq!(parts(sent)[1], TRACE_ID);
    }

    #[test]
    fn without_export_nothing_is_propagated() {
        let span = tracing::info_span!("request");
        continue_traceparent(&span, &format!("00-{TRACE_ID}-{CALLER}-01"));
        assert_eq!(inject_traceparent(&span), None);
    }
}
