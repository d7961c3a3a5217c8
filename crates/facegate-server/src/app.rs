//! The composition root: builds every adapter from the settings and wires them into the
//! use-cases and the HTTP API (used by `serve` and by the API tests).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use facegate_blob::ObjectBlobStore;
use facegate_cache::MemoryRateLimiter;
use facegate_core::account::Role;
use facegate_core::accounts::{AccountPorts, AccountService, AuthPolicy};
use facegate_core::jobs::{JobPolicy, JobPorts, JobService};
use facegate_core::ports::{BlobStore, Clock, Metrics, NoMetrics, SealedBlobs, SystemClock};
use facegate_core::ports::{JobListener, Sealer};
use facegate_core::reembed::{ReembedReport, Reembedder};
use facegate_core::scans::{ScanPorts, ScanService};
use facegate_core::transactions::{TransactionPolicy, TransactionPorts, TransactionService};
use facegate_core::verification::{VerificationPolicy, VerificationPorts, VerificationService};
use facegate_core::webhooks::{WebhookPolicy, WebhookPorts, WebhookService};
use facegate_core::{FaceService, Ports};
use facegate_crypto::{PasswordCost, TokenCredentials};
use facegate_http::metrics::PrometheusMetrics;
use facegate_http::stats::RequestStats;
use facegate_http::{AppState, Health};
use facegate_notify::{HttpWebhookSender, SenderConfig};
use facegate_store_embedded::EmbeddedStore;
use facegate_vision::Engine;
use serde_json::json;
use tokio::sync::{Notify, watch};

use crate::settings::Settings;
use crate::{deliveries, jobs, secrets};

/// Everything `serve` runs.
#[derive(Debug)]
pub struct App {
    pub router: axum::Router,
    pub health: Arc<Health>,
    jobs: JobService,
    jobs_submitted: Arc<Notify>,
    webhooks: WebhookService,
    deliveries_due: Arc<Notify>,
}

/// Ensures the configured admin account and admin API key; with neither key configured
/// nor stored, generates one into the data folder.
async fn bootstrap(settings: &Settings, accounts: &AccountService) -> anyhow::Result<()> {
    if let Some(password) = settings.auth.admin_password()?
        && accounts
            .ensure_user(&settings.auth.admin_username, &password, Role::Admin)
            .await?
    {
        tracing::info!(
            username = settings.auth.admin_username,
            "created the admin account"
        );
    }
    if let Some(key) = settings.auth.admin_api_key()? {
        accounts.ensure_admin_key(&key).await?;
    } else if !accounts.has_admin_key().await? {
        let (path, key) = secrets::new_admin_key(settings)?;
        accounts.ensure_admin_key(&key).await?;
        tracing::warn!(
            path = %path.display(),
            "generated an admin API key (send it as X-API-Key); keep it safe"
        );
    }
    Ok(())
}

/// The facts `/health/detailed` shows about this instance.
fn details(settings: &Settings, model: &str, key_id: Option<&str>) -> serde_json::Value {
    let v = &settings.vision;
    json!({
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
        "jobs": {"kind": "embedded"},
        "rate_limits": {"kind": "memory", "limits": settings.http.rate_limits},
        "encryption_at_rest": key_id.map_or_else(
            || json!({"enabled": false}),
            |id| json!({"enabled": true, "key_id": id}),
        ),
    })
}

/// Accounts and tokens over the store.
fn accounts(
    settings: &Settings,
    store: Arc<EmbeddedStore>,
    blobs: Arc<dyn BlobStore>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<AccountService> {
    let credentials = Arc::new(TokenCredentials::new(
        secrets::jwt_secret(settings)?.as_bytes(),
        PasswordCost::Default,
    )?);
    let auth = &settings.auth;
    Ok(AccountService::new(
        AccountPorts {
            users: store.clone(),
            keys: store,
            credentials,
            blobs,
            clock,
        },
        AuthPolicy {
            access_ttl_secs: auth.access_token_ttl_secs,
            refresh_ttl_secs: auth.refresh_token_ttl_secs,
            min_password_len: auth.min_password_length,
        },
    ))
}

/// The adapters every use-case shares.
struct Adapters {
    engine: Arc<Engine>,
    store: Arc<EmbeddedStore>,
    blobs: Arc<dyn BlobStore>,
    clock: Arc<dyn Clock>,
    sealer: Arc<dyn Sealer>,
}

/// Starts the engine (loading and warming up every model) and opens the stores.
async fn adapters(settings: &Settings, metrics: Arc<dyn Metrics>) -> anyhow::Result<Adapters> {
    let vision = settings.vision.clone();
    let engine = Arc::new(
        tokio::task::spawn_blocking(move || Engine::start_with_metrics(&vision, &metrics))
            .await
            .context("the inference engine's start-up panicked")??,
    );
    let sealer = secrets::sealer(&settings.security)?;
    let store = Arc::new(
        EmbeddedStore::open(&settings.storage.data_dir, sealer.clone())
            .await
            .with_context(|| {
                format!(
                    "cannot open the store in {}",
                    settings.storage.data_dir.display()
                )
            })?,
    );
    let blobs: Arc<dyn BlobStore> = Arc::new(SealedBlobs::new(
        Arc::new(ObjectBlobStore::local(&settings.storage.blob_dir)?),
        sealer.clone(),
    ));
    Ok(Adapters {
        engine,
        store,
        blobs,
        clock: Arc::new(SystemClock),
        sealer,
    })
}

/// Re-embeds every reference of another model from its stored crop (`admin reembed`).
pub async fn reembed(settings: &Settings) -> anyhow::Result<ReembedReport> {
    let a = adapters(settings, Arc::new(NoMetrics)).await?;
    let report = Reembedder::new(a.engine.clone(), a.store.clone(), REEMBED_BATCH)
        .run()
        .await?;
    Ok(report)
}

/// References embedded per engine call by `admin reembed`.
const REEMBED_BATCH: usize = 32;

/// The asynchronous use-cases and the runner of their jobs.
fn job_services(
    settings: &Settings,
    a: &Adapters,
    listener: Arc<dyn JobListener>,
) -> (VerificationService, ScanService, JobService) {
    let policy = settings.policy();
    let verification = VerificationService::new(
        VerificationPorts {
            engine: a.engine.clone(),
            users: a.store.clone(),
            jobs: a.store.clone(),
            blobs: a.blobs.clone(),
            clock: a.clock.clone(),
        },
        VerificationPolicy {
            threshold: policy.threshold,
            min_quality: policy.min_enroll_quality,
            liveness_threshold: settings
                .policy
                .verification_liveness
                .then_some(settings.policy.verification_liveness_threshold),
        },
    );
    let scans = ScanService::new(ScanPorts {
        engine: a.engine.clone(),
        scans: a.store.clone(),
        jobs: a.store.clone(),
        blobs: a.blobs.clone(),
        clock: a.clock.clone(),
    });
    let worker = &settings.worker;
    let jobs = JobService::new(
        JobPorts {
            queue: a.store.clone(),
            blobs: a.blobs.clone(),
            clock: a.clock.clone(),
            listener,
        },
        verification.clone(),
        scans.clone(),
        JobPolicy {
            max_attempts: worker.max_attempts,
            retry_base_ms: worker.retry_base_ms,
            lease_ms: worker.lease_ms,
        },
    );
    (verification, scans, jobs)
}

fn transactions(settings: &Settings, a: &Adapters) -> TransactionService {
    TransactionService::new(
        TransactionPorts {
            engine: a.engine.clone(),
            users: a.store.clone(),
            transactions: a.store.clone(),
            clock: a.clock.clone(),
        },
        TransactionPolicy {
            step_up_above_cents: settings.step_up_above_cents(),
            threshold: settings.policy().threshold,
        },
    )
}

/// Webhooks over the store, sent by the HTTP sender.
fn webhooks(settings: &Settings, a: &Adapters) -> anyhow::Result<WebhookService> {
    let w = &settings.webhooks;
    let sender = HttpWebhookSender::new(SenderConfig {
        timeout: std::time::Duration::from_millis(w.timeout_ms),
        allow_private_targets: w.allow_private_targets,
    })?;
    // Only its `new_secret` is used (the signing secrets).
    let credentials = Arc::new(TokenCredentials::new(
        secrets::jwt_secret(settings)?.as_bytes(),
        PasswordCost::Default,
    )?);
    Ok(WebhookService::new(
        WebhookPorts {
            store: a.store.clone(),
            sender: Arc::new(sender),
            credentials,
            clock: a.clock.clone(),
        },
        WebhookPolicy {
            max_attempts: w.max_attempts,
            retry_base_ms: w.retry_base_ms,
            lease_ms: w.lease_ms,
            allow_private_targets: w.allow_private_targets,
        },
    ))
}

/// Wires the engine, stores and HTTP layer together. Starting the engine loads and warms
/// up every model, so the app is ready when this returns.
pub async fn build(settings: &Settings) -> anyhow::Result<App> {
    // One registry: the engine, the use-cases and the HTTP layer record into it.
    let metrics = Arc::new(PrometheusMetrics::new());
    let a = adapters(settings, metrics.clone()).await?;
    let service = FaceService::new(
        Ports {
            engine: a.engine.clone(),
            references: a.store.clone(),
            collections: a.store.clone(),
            blobs: a.blobs.clone(),
            clock: a.clock.clone(),
            metrics: metrics.clone(),
        },
        settings.policy(),
    );
    let accounts = accounts(settings, a.store.clone(), a.blobs.clone(), a.clock.clone())?;
    bootstrap(settings, &accounts).await?;
    let webhooks = webhooks(settings, &a)?;
    let deliveries_due = Arc::new(Notify::new());
    let listener = deliveries::WakeDeliveries::new(webhooks.clone(), deliveries_due.clone());
    let (verification, scans, jobs) = job_services(settings, &a, Arc::new(listener));
    let model = a.engine.model_id().to_string();
    let health = Arc::new(Health::new(details(settings, &model, a.sealer.key_id())));
    health.set_ready(true);
    let jobs_submitted = Arc::new(Notify::new());
    let router = facegate_http::router(
        AppState {
            service,
            accounts,
            verification,
            transactions: transactions(settings, &a),
            scans,
            webhooks: webhooks.clone(),
            audit: a.store.clone(),
            inventory: a.store.clone(),
            limiter: Arc::new(MemoryRateLimiter::new(a.clock.clone())),
            health: health.clone(),
            stats: Arc::new(RequestStats::default()),
            metrics,
            gauges: a.store,
            jobs_submitted: jobs_submitted.clone(),
        },
        &settings.http,
    );
    Ok(App {
        router,
        health,
        jobs,
        jobs_submitted,
        webhooks,
        deliveries_due,
    })
}

impl App {
    /// Serves the API on `listener` and runs the job and webhook delivery workers beside
    /// it until `shutdown` resolves; in-flight requests, the job and the delivery in
    /// progress finish first.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let sender = tokio::spawn(deliveries::run(
            self.webhooks,
            self.deliveries_due,
            stopped.clone(),
        ));
        let worker = tokio::spawn(jobs::run(self.jobs, self.jobs_submitted, stopped));
        let served = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        self.health.set_ready(false);
        let _ = stop.send(true);
        worker.await.context("the job worker panicked")?;
        sender
            .await
            .context("the webhook delivery worker panicked")?;
        served?;
        Ok(())
    }
}
