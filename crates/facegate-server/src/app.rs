//! The composition root: builds every adapter from the settings and wires them into the
//! use-cases and the HTTP API (used by `serve` and by the API tests).

use std::sync::Arc;

use anyhow::Context;
use facegate_blob::{ObjectBlobStore, ScopedBlobs};
use facegate_cache::{MemoryRateLimiter, RedisCache, RedisClient, RedisRateLimiter};
use facegate_core::account::Role;
use facegate_core::accounts::{AccountPorts, AccountService, AuthPolicy};
use facegate_core::cached::{CachedCollections, CachedEngine};
use facegate_core::challenge::ChallengeRules;
use facegate_core::jobs::{JobPolicy, JobPorts, JobService};
use facegate_core::liveness_sessions::{LivenessSessionService, SessionPolicy, SessionPorts};
use facegate_core::ports::{BlobStore, Clock, Metrics, NoMetrics, SealedBlobs, SystemClock};
use facegate_core::ports::{CollectionStore, FaceEngine, JobListener, RateLimiter, Sealer};
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
use facegate_queue::KafkaPublisher;
use facegate_vision::Engine;
use serde_json::json;
use tokio::sync::{Notify, watch};

use crate::requests::UploadSources;
use crate::settings::Settings;
use crate::store::Store;
use crate::{deliveries, jobs, requests, secrets, store};

/// Everything `serve` runs.
#[derive(Debug)]
pub struct App {
    pub router: axum::Router,
    /// Health and metrics only, for the `worker` role.
    probes: axum::Router,
    pub health: Arc<Health>,
    jobs: JobService,
    jobs_submitted: Arc<Notify>,
    webhooks: WebhookService,
    deliveries_due: Arc<Notify>,
    /// The consumer of Kafka verification requests, where Kafka is configured.
    requests: Option<requests::RequestWorker>,
    /// The in-process workers, the upload sweep among them.
    worker: crate::settings::WorkerSettings,
    /// How long a connection may take to send a request head.
    header_timeout: std::time::Duration,
    /// Webhook deliveries sent at once.
    delivery_lanes: usize,
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
fn details(settings: &Settings, a: &Adapters) -> serde_json::Value {
    let key_id = a.sealer.key_id();
    let v = &settings.vision;
    json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "model_pack": v.pack,
        "model_pack_license": v.pack.licence(),
        "embedding_model": a.engine.model_id().to_string(),
        "flip_tta": v.flip_tta,
        "inference_workers": v.workers,
        "queue_capacity": v.queue_capacity,
        "store": a.store_details,
        "blobs": blob_details(settings),
        "jobs": {"kind": a.store_details["kind"], "in_process": settings.worker.in_process},
        "kafka": settings.kafka.as_ref().map_or_else(
            || json!({"enabled": false}),
            |k| json!({"enabled": true, "brokers": k.brokers}),
        ),
        "rate_limits": {"limits": settings.http.rate_limits},
        "encryption_at_rest": key_id.map_or_else(
            || json!({"enabled": false}),
            |id| json!({"enabled": true, "key_id": id}),
        ),
    })
}

/// Where uploads and photos are kept, without credentials.
fn blob_details(settings: &Settings) -> serde_json::Value {
    match settings.storage.object_store_url() {
        Some(url) => json!({"kind": "object_store", "url": url}),
        None => json!({"kind": "local", "root": settings.storage.blob_dir}),
    }
}

/// The configured object store, sealed when encryption is on.
fn blobs(settings: &Settings, sealer: Arc<dyn Sealer>) -> anyhow::Result<Arc<dyn BlobStore>> {
    let storage = &settings.storage;
    let objects = match storage.object_store_url() {
        Some(url) => {
            // The cloud SDKs' variables (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, ...), then
            // the settings' options over them.
            let mut options: std::collections::BTreeMap<String, String> = std::env::vars()
                .filter(|(k, _)| k.starts_with("AWS_") || k.starts_with("GOOGLE_"))
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect();
            options.extend(storage.object_store_options.clone());
            ObjectBlobStore::from_url(url, options.iter().map(|(k, v)| (k.as_str(), v.as_str())))?
        }
        None => ObjectBlobStore::local(&storage.blob_dir)?,
    };
    Ok(Arc::new(SealedBlobs::new(Arc::new(objects), sealer)))
}

/// Accounts and tokens over the store.
fn accounts(
    settings: &Settings,
    store: Arc<dyn Store>,
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
    )
    .reserving(&auth.admin_username)
    .with_static_keys(&auth.static_api_keys, &auth.static_api_key_scopes))
}

/// The adapters every use-case shares.
struct Adapters {
    engine: Arc<Engine>,
    /// The engine behind the embedding cache, where Redis is configured.
    faces: Arc<dyn FaceEngine>,
    store: Arc<dyn Store>,
    store_details: serde_json::Value,
    /// The store's collections behind the session status cache, where configured.
    collections: Arc<dyn CollectionStore>,
    limiter: Arc<dyn RateLimiter>,
    /// Redis, for `/health/detailed`.
    redis: Option<RedisClient>,
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
    let opened = store::open(settings, sealer.clone()).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut faces: Arc<dyn FaceEngine> = engine.clone();
    let mut collections: Arc<dyn CollectionStore> = opened.store.clone();
    let mut limiter: Arc<dyn RateLimiter> = Arc::new(MemoryRateLimiter::new(clock.clone()));
    let redis = match settings.cache.redis_url() {
        Some(url) => Some(
            RedisClient::connect(url, settings.cache.redis_options()?)
                .await
                .context("invalid cache.redis_url")?,
        ),
        None => None,
    };
    if let Some(client) = &redis {
        let cache = Arc::new(RedisCache::new(client.clone()));
        let c = &settings.cache;
        faces = Arc::new(CachedEngine::new(
            faces,
            settings.vision.pipeline_fingerprint(),
            cache.clone(),
            sealer.clone(),
            c.embedding_ttl_secs * 1000,
        ));
        collections = Arc::new(CachedCollections::new(
            collections,
            cache,
            c.status_ttl_secs * 1000,
        ));
        limiter = Arc::new(RedisRateLimiter::new(client.clone(), clock.clone()));
    }
    Ok(Adapters {
        engine,
        faces,
        collections,
        limiter,
        redis,
        store: opened.store,
        store_details: opened.details,
        blobs: blobs(settings, sealer.clone())?,
        clock,
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
    uploads: &Arc<UploadSources>,
    sessions: &LivenessSessionService,
    listener: Arc<dyn JobListener>,
) -> (VerificationService, ScanService, JobService) {
    let policy = settings.policy();
    let verification = VerificationService::new(
        VerificationPorts {
            engine: a.faces.clone(),
            users: a.store.clone(),
            jobs: a.store.clone(),
            blobs: uploads.clone(),
            clock: a.clock.clone(),
            sessions: sessions.clone(),
        },
        VerificationPolicy {
            threshold: policy.threshold,
            min_quality: policy.min_enroll_quality,
            liveness_threshold: settings.policy.verification_liveness.then(|| {
                settings.liveness_threshold(settings.policy.verification_liveness_threshold)
            }),
            max_pending: settings.worker.max_pending_per_user,
        },
    );
    let scans = ScanService::new(
        ScanPorts {
            engine: a.faces.clone(),
            scans: a.store.clone(),
            jobs: a.store.clone(),
            blobs: uploads.clone(),
            clock: a.clock.clone(),
        },
        settings.worker.max_pending_per_user,
    );
    let worker = &settings.worker;
    let jobs = JobService::new(
        JobPorts {
            queue: a.store.clone(),
            blobs: uploads.clone(),
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

fn transactions(
    settings: &Settings,
    a: &Adapters,
    sessions: LivenessSessionService,
) -> TransactionService {
    TransactionService::new(
        TransactionPorts {
            engine: a.faces.clone(),
            users: a.store.clone(),
            transactions: a.store.clone(),
            clock: a.clock.clone(),
            sessions,
        },
        TransactionPolicy {
            step_up_above_cents: settings.step_up_above_cents(),
            threshold: settings.policy().threshold,
            liveness_threshold: settings
                .liveness_threshold(settings.policy.step_up_liveness_threshold),
        },
    )
}

/// The stateless face operations, enrollment and collections; batches read under the
/// import prefix only.
fn face_service(settings: &Settings, a: &Adapters, metrics: Arc<PrometheusMetrics>) -> FaceService {
    FaceService::new(
        Ports {
            engine: a.faces.clone(),
            references: a.store.clone(),
            collections: a.collections.clone(),
            blobs: Arc::new(ScopedBlobs::new(
                a.blobs.clone(),
                &settings.storage.import_prefix,
            )),
            clock: a.clock.clone(),
            metrics,
        },
        settings.policy(),
    )
}

/// Liveness sessions over the store; audit frames in the (sealed) object store.
fn liveness_sessions(settings: &Settings, a: &Adapters) -> LivenessSessionService {
    let l = &settings.liveness;
    LivenessSessionService::new(
        SessionPorts {
            engine: a.faces.clone(),
            sessions: a.store.clone(),
            blobs: a.blobs.clone(),
            limiter: a.limiter.clone(),
            clock: a.clock.clone(),
        },
        SessionPolicy {
            lifetime_ms: l.session_lifetime_ms,
            max_frames: l.max_frames,
            max_failures: l.max_failures,
            failure_window_ms: l.failure_window_ms,
            stand_in_ms: l.stand_in_ms,
            rules: ChallengeRules {
                frontal_degrees: l.frontal_degrees,
                turn_degrees: l.turn_degrees,
                same_person: settings.policy().threshold,
                same_person_turned: l.turned_match,
                liveness: settings.liveness_threshold(None),
            },
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

/// The instance's details, with the cache's state checked on every request.
fn health(settings: &Settings, a: &Adapters) -> Health {
    let health = Health::new(details(settings, a));
    match a.redis.clone() {
        Some(client) => health.with_check(
            "cache",
            Box::new(move || {
                let h = client.health();
                (h.degraded, json!(h))
            }),
        ),
        None => health.with_check(
            "cache",
            Box::new(|| (false, json!({"kind": "none", "degraded": false}))),
        ),
    }
}

/// Wires the engine, stores and HTTP layer together. Starting the engine loads and warms
/// up every model, so the app is ready when this returns.
pub async fn build(settings: &Settings) -> anyhow::Result<App> {
    // The database, uploads, objects and secrets this process writes are its owner's
    // only: files 0600, folders 0700.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    // One registry: the engine, the use-cases and the HTTP layer record into it.
    let metrics = Arc::new(PrometheusMetrics::new());
    let a = adapters(settings, metrics.clone()).await?;
    let service = face_service(settings, &a, metrics.clone());
    let accounts = accounts(settings, a.store.clone(), a.blobs.clone(), a.clock.clone())?;
    bootstrap(settings, &accounts).await?;
    let webhooks = webhooks(settings, &a)?;
    let deliveries_due = Arc::new(Notify::new());
    let wake = deliveries::WakeDeliveries::new(webhooks.clone(), deliveries_due.clone());
    let mut listeners: Vec<Arc<dyn JobListener>> = vec![Arc::new(wake)];
    let publisher = settings
        .kafka
        .as_ref()
        .map(KafkaPublisher::new)
        .transpose()
        .context("invalid kafka settings")?;
    if let Some(publisher) = &publisher {
        listeners.push(Arc::new(requests::KafkaResults::new(
            publisher.clone(),
            a.store.clone(),
            a.clock.clone(),
        )));
    }
    let uploads = Arc::new(requests::UploadSources::new(
        a.blobs.clone(),
        settings.worker.shared_volume.as_deref(),
    )?);
    let sessions = liveness_sessions(settings, &a);
    let (verification, scans, jobs) = job_services(
        settings,
        &a,
        &uploads,
        &sessions,
        Arc::new(requests::Listeners(listeners)),
    );
    let requests = settings
        .kafka
        .clone()
        .zip(publisher)
        .map(|(kafka, publisher)| {
            requests::RequestWorker::new(
                kafka,
                publisher,
                requests::RequestPorts {
                    users: a.store.clone(),
                    queue: a.store.clone(),
                    uploads: uploads.clone(),
                    clock: a.clock.clone(),
                },
                jobs.clone(),
                settings.worker.lease_ms,
            )
        });
    let health = Arc::new(health(settings, &a));
    health.set_ready(true);
    let jobs_submitted = Arc::new(Notify::new());
    let state = AppState {
        service,
        accounts,
        verification,
        transactions: transactions(settings, &a, sessions.clone()),
        scans,
        sessions,
        webhooks: webhooks.clone(),
        audit: a.store.clone(),
        inventory: a.store.clone(),
        limiter: a.limiter.clone(),
        health: health.clone(),
        stats: Arc::new(RequestStats::default()),
        metrics,
        gauges: a.store.clone(),
        jobs_submitted: jobs_submitted.clone(),
    };
    let probes = facegate_http::probes_router(state.clone());
    let router = facegate_http::router(state, &settings.http);
    Ok(App {
        router,
        probes,
        health,
        jobs,
        jobs_submitted,
        webhooks,
        deliveries_due,
        requests,
        worker: settings.worker.clone(),
        header_timeout: std::time::Duration::from_millis(settings.http.header_timeout_ms),
        delivery_lanes: settings.webhooks.concurrency,
    })
}

impl App {
    /// Starts the job and webhook delivery workers (and the Kafka consumer where
    /// configured) until `stop` turns true.
    fn spawn_workers(
        &self,
        stop: &watch::Receiver<bool>,
        with_kafka: bool,
    ) -> Vec<(&'static str, tokio::task::JoinHandle<()>)> {
        let mut tasks = vec![
            (
                "the job worker",
                tokio::spawn(jobs::run(
                    self.jobs.clone(),
                    self.jobs_submitted.clone(),
                    stop.clone(),
                )),
            ),
            (
                "the upload sweeper",
                tokio::spawn(jobs::sweep_uploads(
                    self.jobs.clone(),
                    std::time::Duration::from_millis(self.worker.upload_sweep_ms.unsigned_abs()),
                    stop.clone(),
                )),
            ),
        ];
        for _ in 0..self.delivery_lanes {
            tasks.push((
                "a webhook delivery worker",
                tokio::spawn(deliveries::run(
                    self.webhooks.clone(),
                    self.deliveries_due.clone(),
                    stop.clone(),
                )),
            ));
        }
        if with_kafka && let Some(requests) = &self.requests {
            tasks.push((
                "the Kafka consumer",
                tokio::spawn(requests.clone().run(stop.clone())),
            ));
        }
        tasks
    }

    /// Serves the API on `listener` until `shutdown` resolves, with the job and webhook
    /// delivery workers beside it unless `worker.in_process` is off; in-flight requests,
    /// the job and the delivery in progress finish first.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let workers = self.worker.in_process.then_some(false);
        let router = self.router.clone();
        self.run(router, listener, shutdown, workers).await
    }

    /// The `worker` role: the Kafka consumer of verification requests (where configured),
    /// the job worker and the webhook delivery worker, with the probes and metrics on
    /// `listener`, until `shutdown` resolves.
    pub async fn work(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let probes = self.probes.clone();
        self.run(probes, listener, shutdown, Some(true)).await
    }

    /// Serves `router` with the workers beside it (`Some(with_kafka)`) or none; then stops
    /// them, waiting for the work in progress.
    async fn run(
        self,
        router: axum::Router,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
        workers: Option<bool>,
    ) -> anyhow::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let workers = workers.map_or_else(Vec::new, |kafka| self.spawn_workers(&stopped, kafka));
        facegate_http::server::serve(listener, router, self.header_timeout, shutdown).await;
        self.health.set_ready(false);
        let _ = stop.send(true);
        join(workers).await
    }
}

async fn join(tasks: Vec<(&'static str, tokio::task::JoinHandle<()>)>) -> anyhow::Result<()> {
    for (name, task) in tasks {
        task.await.with_context(|| format!("{name} panicked"))?;
    }
    Ok(())
}
