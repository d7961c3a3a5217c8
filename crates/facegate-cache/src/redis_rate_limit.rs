//! [`RedisRateLimiter`]: fixed windows counted in Redis, so every replica shares them.

use std::sync::Arc;

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::ports::{CacheHealth, Clock, RateDecision, RateLimiter};

use crate::connection::{ConnectError, RedisClient, RedisOptions};
use crate::rate_limit::{MemoryRateLimiter, window_start};

/// Counts `ARGV[2]` hits unless they take the count past the limit `ARGV[3]`, and gives a
/// new window's key its expiry (`ARGV[1]` ms), in one step; answers whether they were
/// counted and the count.
const INCR_SCRIPT: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[2])
if n + cost > tonumber(ARGV[3]) then
  return {0, n}
end
n = redis.call('INCRBY', KEYS[1], cost)
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return {1, n}
";

/// Counts hits per bucket in fixed windows under `rl:<bucket>:<window start>`, aligned
/// like [`MemoryRateLimiter`]'s (replicas' clocks are assumed in step).
///
/// Every hit is also counted in this process; while Redis cannot be reached that count
/// decides, so limits still hold per replica (a window can then let through up to the
/// limit once per replica).
pub struct RedisRateLimiter {
    client: RedisClient,
    clock: Arc<dyn Clock>,
    local: MemoryRateLimiter,
    script: redis::Script,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    pub fn new(client: RedisClient, clock: Arc<dyn Clock>) -> Self {
        Self {
            client,
            local: MemoryRateLimiter::new(clock.clone()),
            clock,
            script: redis::Script::new(INCR_SCRIPT),
        }
    }

    /// [`RedisClient::connect`] and a rate limiter over it.
    pub async fn connect(
        url: &str,
        options: RedisOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConnectError> {
        Ok(Self::new(RedisClient::connect(url, options).await?, clock))
    }

    /// Degraded while the limits are counted per replica.
    pub fn health(&self) -> CacheHealth {
        self.client.health()
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn hit_many(
        &self,
        bucket: &str,
        cost: u32,
        limit: u32,
        window_ms: i64,
    ) -> Result<RateDecision> {
        let window_ms = window_ms.max(1);
        let local = self.local.hit_many(bucket, cost, limit, window_ms).await?;
        let now = self.clock.now();
        let start = window_start(now, window_ms);
        let key = self.client.key(&format!("rl:{bucket}:{start}"));
        // The key outlives its window by up to a window, which covers clocks a little
        // apart.
        let mut invocation = self.script.key(key);
        invocation.arg(window_ms).arg(cost).arg(limit);
        let invocation = &invocation;
        let counted = self
            .client
            .run("rate_limit", |mut c| async move {
                invocation.invoke_async::<(i64, i64)>(&mut c).await
            })
            .await;
        let Some((allowed, count)) = counted else {
            return Ok(local);
        };
        let count = u32::try_from(count.max(0)).unwrap_or(u32::MAX);
        Ok(RateDecision {
            allowed: allowed == 1,
            limit,
            remaining: limit.saturating_sub(count),
            reset_ms: start + window_ms - now,
        })
    }
}
