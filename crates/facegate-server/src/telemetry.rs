//! Logging set-up, and trace export over OTLP when configured.

mod otlp;

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, Registry};

use crate::settings::{LogFormat, LogSettings, TelemetrySettings};

/// Longest wait at exit for the last spans to reach the collector.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Keeps the span export running; dropping it (when `main` returns) flushes the spans
/// still queued.
#[derive(Debug)]
#[must_use = "dropping the guard stops the trace export"]
pub struct Guard(Option<SdkTracerProvider>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = self.0.take()
            && let Err(e) = provider.shutdown_with_timeout(FLUSH_TIMEOUT)
        {
            tracing::warn!(error = %e, "the last spans could not be exported");
        }
    }
}

/// Targets that log below `warn` only when asked by `RUST_LOG`.
const QUIET: &str = "sqlx::postgres::notice=warn";

/// Installs the global subscriber. Logs go to stderr so that CLI output on stdout stays
/// machine-readable. `RUST_LOG` overrides the configured level. With an OTLP endpoint,
/// spans at `info` and above are also exported, whatever the log level.
pub fn init(settings: &LogSettings, telemetry: &TelemetrySettings) -> anyhow::Result<Guard> {
    // PostgreSQL's notices ("relation ... already exists, skipping" on every migration
    // check) are not news at info.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{},{QUIET}", settings.level)));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt: Box<dyn tracing_subscriber::Layer<Registry> + Send + Sync> = match settings.format {
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
        LogFormat::Pretty => fmt.boxed(),
    };
    let provider = telemetry
        .endpoint()
        .map(|endpoint| otlp::provider(telemetry, endpoint))
        .transpose()?;
    let export = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("facegate"))
            .with_filter(LevelFilter::INFO)
    });
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(export)
        .try_init();
    Ok(Guard(provider))
}
