//! `facegate worker`: the asynchronous workers without the HTTP API, for replicas that
//! scale apart from the API (Kafka verification requests, queued jobs, webhooks); it serves
//! only the probes and `/metrics` on `http.bind`.

use anyhow::Context;

use crate::app;
use crate::cli::serve::shutdown_signal;
use crate::settings::Settings;

pub fn run(settings: &Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = app::build(settings).await?;
        let listener = tokio::net::TcpListener::bind(&settings.http.bind)
            .await
            .with_context(|| format!("cannot listen on {}", settings.http.bind))?;
        tracing::info!(
            address = %listener.local_addr()?,
            kafka = settings.kafka.is_some(),
            pack = settings.vision.pack.as_str(),
            "facegate worker is running"
        );
        app.work(listener, shutdown_signal()).await?;
        tracing::info!("facegate worker stopped");
        Ok(())
    })
}
