//! What every handler can reach.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use facegate_core::FaceService;

/// Shared state of the HTTP server.
#[derive(Debug, Clone)]
pub struct AppState {
    pub service: FaceService,
    pub health: Arc<Health>,
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
