//! What every handler can reach.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use facegate_core::FaceService;
use facegate_core::accounts::AccountService;
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
#[derive(Debug)]
pub struct Health {
    ready: AtomicBool,
    /// Static facts about this instance: version, model pack and licence, stores.
    pub details: serde_json::Value,
}

impl Health {
    pub fn new(details: serde_json::Value) -> Self {
        Self {
            ready: AtomicBool::new(false),
            details,
        }
    }

    /// Marks the instance ready: call once a real inference has succeeded.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}
