//! Fixed-window rate limits counted in this process.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::model::Timestamp;
use facegate_core::ports::{Clock, RateDecision, RateLimiter};
use parking_lot::Mutex;

/// Windows are aligned to multiples of their length, so every replica (and a Redis
/// adapter keyed by `bucket:window`) agrees on where a window starts.
pub(crate) fn window_start(now: Timestamp, window_ms: i64) -> Timestamp {
    now - now.rem_euclid(window_ms)
}

/// Buckets beyond this many trigger a sweep of the expired ones.
const SWEEP_ABOVE: usize = 10_000;

/// Counts hits per bucket in fixed windows.
pub struct MemoryRateLimiter {
    clock: Arc<dyn Clock>,
    /// Bucket -> (start of its current window, hits in it, window length).
    buckets: Mutex<HashMap<String, (Timestamp, u32, i64)>>,
}

impl std::fmt::Debug for MemoryRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRateLimiter")
            .field("buckets", &self.buckets.lock().len())
            .finish_non_exhaustive()
    }
}

impl MemoryRateLimiter {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            buckets: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn hit_many(
        &self,
        bucket: &str,
        cost: u32,
        limit: u32,
        window_ms: i64,
    ) -> Result<RateDecision> {
        let now = self.clock.now();
        let start = window_start(now, window_ms.max(1));
        let mut buckets = self.buckets.lock();
        if buckets.len() > SWEEP_ABOVE {
            buckets.retain(|_, (s, _, w)| *s + *w > now);
        }
        let entry = buckets
            .entry(bucket.to_owned())
            .or_insert((start, 0, window_ms));
        if entry.0 != start {
            *entry = (start, 0, window_ms);
        }
        let allowed = entry.1.saturating_add(cost) <= limit;
        if allowed {
            entry.1 += cost;
        }
        Ok(RateDecision {
            allowed,
            limit,
            remaining: limit.saturating_sub(entry.1),
            reset_ms: start + window_ms - now,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;

    struct ManualClock(AtomicI64);

    impl Clock for ManualClock {
        fn now(&self) -> Timestamp {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[tokio::test]
    async fn counts_per_bucket_and_resets_with_the_window() {
        let clock = Arc::new(ManualClock(AtomicI64::new(60_000)));
        let limiter = MemoryRateLimiter::new(clock.clone());
        for i in 0..3 {
            let d = limiter.hit("key:a", 3, 60_000).await.unwrap();
            assert!(d.allowed, "hit {i}");
            assert_eq!(d.remaining, 2 - i);
        }
        let over = limiter.hit("key:a", 3, 60_000).await.unwrap();
        assert!(!over.allowed);
        assert_eq!(over.reset_ms, 60_000);
        assert!(limiter.hit("key:b", 3, 60_000).await.unwrap().allowed);
        clock.0.store(119_999, Ordering::SeqCst);
        let late = limiter.hit("key:a", 3, 60_000).await.unwrap();
        assert!(!late.allowed);
        assert_eq!(late.reset_ms, 1);
        clock.0.store(120_000, Ordering::SeqCst);
        assert!(limiter.hit("key:a", 3, 60_000).await.unwrap().allowed);
        // Several hits at once: refused whole, and not counted, past the limit.
        let batch = limiter.hit_many("key:a", 3, 3, 60_000).await.unwrap();
        assert_eq!((batch.allowed, batch.remaining), (false, 2));
        let fits = limiter.hit_many("key:a", 2, 3, 60_000).await.unwrap();
        assert_eq!((fits.allowed, fits.remaining), (true, 0));
    }
}
