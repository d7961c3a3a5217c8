//! `facegate serve`: the HTTP API on the embedded default (no external services).

use std::sync::Arc;

use anyhow::Context;
use facegate_blob::ObjectBlobStore;
use facegate_core::ports::SystemClock;
use facegate_core::{FaceService, Ports};
use facegate_http::{AppState, Health};
use facegate_store_embedded::EmbeddedStore;
use facegate_vision::Engine;
use serde_json::json;

use crate::settings::Settings;

/// Everything `serve` runs, built from the settings (also used by the API tests).
#[derive(Debug)]
pub struct App {
    pub router: axum::Router,
    pub health: Arc<Health>,
}

/// Wires the engine, stores and HTTP layer together. Starting the engine loads and warms
/// up every model, so the app is ready when this returns.
pub async fn build(settings: &Settings) -> anyhow::Result<App> {
    let vision = settings.vision.clone();
    let engine = tokio::task::spawn_blocking(move || Engine::start(&vision))
        .await
        .context("the inference engine's start-up panicked")??;
    let store = Arc::new(
        EmbeddedStore::open(&settings.storage.data_dir)
            .await
            .with_context(|| {
                format!(
                    "cannot open the store in {}",
                    settings.storage.data_dir.display()
                )
            })?,
    );
    let blobs = Arc::new(ObjectBlobStore::local(&settings.storage.blob_dir)?);
    let model = engine.model_id().to_string();
    let service = FaceService::new(
        Ports {
            engine: Arc::new(engine),
            references: store.clone(),
            collections: store,
            blobs,
            clock: Arc::new(SystemClock),
        },
        settings.policy(),
    );
    let v = &settings.vision;
    let health = Arc::new(Health::new(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "model_pack": v.pack,
        "model_pack_license": v.pack.licence(),
        "embedding_model": model,
        "flip_tta": v.flip_tta,
        "inference_workers": v.workers,
        "queue_capacity": v.queue_capacity,
        "store": {"kind": "embedded", "data_dir": settings.storage.data_dir},
        "blobs": {"kind": "local", "root": settings.storage.blob_dir},
    })));
    health.set_ready(true);
    let router = facegate_http::router(
        AppState {
            service,
            health: health.clone(),
        },
        &settings.http,
    );
    Ok(App { router, health })
}

pub fn run(settings: &Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = build(settings).await?;
        let listener = tokio::net::TcpListener::bind(&settings.http.bind)
            .await
            .with_context(|| format!("cannot listen on {}", settings.http.bind))?;
        tracing::info!(
            address = %listener.local_addr()?,
            pack = settings.vision.pack.as_str(),
            licence = settings.vision.pack.licence(),
            "facegate is serving"
        );
        axum::serve(listener, app.router)
            .with_graceful_shutdown(shutdown_signal())
            .await?;
        app.health.set_ready(false);
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
