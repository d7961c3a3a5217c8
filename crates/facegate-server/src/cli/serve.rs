//! The long-running roles: `facegate serve` (the HTTP API, with the job workers unless
//! `worker.in_process` is off) and `facegate worker` (Kafka verification requests, queued
//! jobs and webhooks, serving only the probes and `/metrics` on `http.bind`).

use anyhow::Context;

use crate::app;
use crate::settings::Settings;

/// Which long-running role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Api,
    Worker,
}

/// `facegate serve`.
pub fn run(settings: &Settings) -> anyhow::Result<()> {
    start(settings, Role::Api)
}

/// `facegate worker`.
pub fn work(settings: &Settings) -> anyhow::Result<()> {
    start(settings, Role::Worker)
}

fn start(settings: &Settings, role: Role) -> anyhow::Result<()> {
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
            role = ?role,
            pack = settings.vision.pack.as_str(),
            licence = settings.vision.pack.licence(),
            kafka = settings.kafka.is_some(),
            "facegate is serving"
        );
        match role {
            Role::Api => app.serve(listener, shutdown_signal()).await?,
            Role::Worker => app.work(listener, shutdown_signal()).await?,
        }
        tracing::info!("facegate stopped");
        Ok(())
    })
}

/// Resolves on Ctrl-C or SIGTERM; in-flight requests then finish before exit.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
