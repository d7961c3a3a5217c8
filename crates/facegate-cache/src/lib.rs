//! Caches and shared counters of facegate. [`MemoryRateLimiter`] counts requests in this
//! process; a Redis adapter of the same port shares the counts between replicas.

mod rate_limit;

pub use rate_limit::MemoryRateLimiter;
