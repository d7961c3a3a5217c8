//! A shared byte cache with expiry (Redis in production, in-process by default).

use async_trait::async_trait;
use serde::Serialize;

/// How a cache is doing, for `/health/detailed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheHealth {
    /// The backend: `redis`, `memory` or `none`.
    pub kind: &'static str,
    /// True while the backend cannot be reached (every call is a miss or a no-op).
    pub degraded: bool,
    /// The last error while degraded.
    pub error: Option<String>,
}

impl CacheHealth {
    /// A backend that is working.
    pub fn ok(kind: &'static str) -> Self {
        Self {
            kind,
            degraded: false,
            error: None,
        }
    }
}

/// Bytes by key, each with a time to live.
///
/// Infallible for the caller: a cache is an optimisation, so an unreachable backend
/// answers a miss and ignores writes (it logs that, not on every call, and reports it in
/// [`Cache::health`]). Callers must stay correct without it.
#[async_trait]
pub trait Cache: Send + Sync {
    async fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Stores `value` for `ttl_ms` milliseconds (at least 1), replacing any value.
    async fn set(&self, key: &str, value: &[u8], ttl_ms: u64);
    async fn delete(&self, key: &str);
    fn health(&self) -> CacheHealth;
}

/// No cache: every read misses, writes are dropped.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCache;

#[async_trait]
impl Cache for NoCache {
    async fn get(&self, _key: &str) -> Option<Vec<u8>> {
        None
    }

    async fn set(&self, _key: &str, _value: &[u8], _ttl_ms: u64) {}

    async fn delete(&self, _key: &str) {}

    fn health(&self) -> CacheHealth {
        CacheHealth::ok("none")
    }
}
