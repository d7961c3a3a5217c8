//! `facegate serve`: the HTTP API and the job worker on the embedded default (no external
//! services).

use anyhow::Context;

use crate::app;
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
            pack = settings.vision.pack.as_str(),
            licence = settings.vision.pack.licence(),
            "facegate is serving"
        );
        app.serve(listener, shutdown_signal()).await?;
        tracing::info!("facegate stopped");
        Ok(())
    })
}

/// Resolves on Ctrl-C or SIGTERM; in-flight requests then finish before exit.
pub(crate) async fn shutdown_signal() {
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
