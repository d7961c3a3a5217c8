//! `facegate worker`: the asynchronous workers without the HTTP API, for replicas that
//! scale apart from the API (Kafka verification requests, queued jobs, webhooks).

use crate::app;
use crate::cli::serve::shutdown_signal;
use crate::settings::Settings;

pub fn run(settings: &Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = app::build(settings).await?;
        tracing::info!(
            kafka = settings.kafka.is_some(),
            pack = settings.vision.pack.as_str(),
            "facegate worker is running"
        );
        app.work(shutdown_signal()).await?;
        tracing::info!("facegate worker stopped");
        Ok(())
    })
}
