//! What every handler can reach.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use facegate_core::FaceService;
use facegate_core::accounts::AccountService;
use facegate_core::liveness_sessions::LivenessSessionService;
use facegate_core::ports::{AuditLog, GaugeSource, InventorySource, RateLimiter};
use facegate_core::scans::ScanService;
use facegate_core::transactions::TransactionService;
use facegate_core::verification::VerificationService;
use facegate_core::webhooks::WebhookService;
use tokio::sync::Notify;

use crate::metrics::PrometheusMetrics;
use crate::stats::RequestStats;

/// Shared state of the HTTP server.
#[derive(Clone)]
pub struct AppState {
    pub service: FaceService,
    pub accounts: AccountService,
    pub verification: VerificationService,
    pub transactions: TransactionService,
    pub scans: ScanService,
    pub sessions: LivenessSessionService,
    pub webhooks: WebhookService,
    pub audit: Arc<dyn AuditLog>,
    pub inventory: Arc<dyn InventorySource>,
    pub limiter: Arc<dyn RateLimiter>,
    pub health: Arc<Health>,
    pub stats: Arc<RequestStats>,
    /// Shared with the use-cases and the engine, which record into it.
    pub metrics: Arc<PrometheusMetrics>,
    /// The levels `/metrics` reads when scraped.
    pub gauges: Arc<dyn GaugeSource>,
    /// Woken when a job is queued, so the worker need not poll.
    pub jobs_submitted: Arc<Notify>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("service", &self.service)
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}

/// Readiness and the facts `/health/detailed` shows.
pub struct Health {
    ready: AtomicBool,
    /// Static facts about this instance: version, model pack and licence, stores.
    pub details: serde_json::Value,
    /// Backends whose state changes at run time (a cache that went away), by name.
    checks: Vec<(String, HealthCheck)>,
}

/// Reports a backend's state: its details and whether the instance runs degraded
/// because of it (still working, only slower or per replica).
pub type HealthCheck = Box<dyn Fn() -> (bool, serde_json::Value) + Send + Sync>;

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("ready", &self.is_ready())
            .field("details", &self.details)
            .field(
                "checks",
                &self.checks.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Health {
    pub fn new(details: serde_json::Value) -> Self {
        Self {
            ready: AtomicBool::new(false),
            details,
            checks: Vec::new(),
        }
    }

    /// Adds a run-time check, shown under `name` in `/health/detailed`.
    #[must_use]
    pub fn with_check(mut self, name: &str, check: HealthCheck) -> Self {
        self.checks.push((name.to_owned(), check));
        self
    }

    /// The details with every check's current report; `status` is `degraded` when a
    /// check says so.
    pub fn report(&self) -> serde_json::Value {
        let mut details = self.details.clone();
        if let Some(map) = details.as_object_mut() {
            let mut degraded = false;
            for (name, check) in &self.checks {
                let (is_degraded, report) = check();
                degraded |= is_degraded;
                map.insert(name.clone(), report);
            }
            if degraded {
                map.insert("status".into(), serde_json::json!("degraded"));
            }
        }
        details
    }

    /// Marks the instance ready: call once a real inference has succeeded.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}
