//! Spans to an OTLP/HTTP collector (protobuf over the blocking reqwest client): the SDK's
//! batch processor exports from a thread of its own, so this works before and after the
//! tokio runtime of `serve` exists.

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};

use crate::settings::TelemetrySettings;

/// Longest wait for the collector on one export.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The tracer provider exporting to `endpoint`; also installs it and the W3C trace-context
/// propagator globally, which `facegate_http::tracing_context` uses.
pub(super) fn provider(
    settings: &TelemetrySettings,
    endpoint: &str,
) -> anyhow::Result<SdkTracerProvider> {
    let url = traces_url(endpoint);
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url.clone())
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot export traces to {url}: {e}"))?;
    let resource = Resource::builder()
        .with_service_name(settings.service_name.clone())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build();
    // A caller's sampling decision (the `traceparent` flags) wins; new traces are sampled.
    let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(settings.sample_ratio)));
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(sampler)
        .with_resource(resource)
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(provider.clone());
    Ok(provider)
}

/// The traces URL under a collector's base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` means it.
fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    }
}

#[cfg(test)]
mod tests {
    use super::traces_url;

    #[test]
    fn the_traces_path_is_appended_once() {
        assert_eq!(
            traces_url("http://jaeger:4318"),
            "http://jaeger:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://jaeger:4318/"),
            "http://jaeger:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }
}
