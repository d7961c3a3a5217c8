//! Caches and shared counters of facegate.
//!
//! - [`RedisCache`] and [`RedisRateLimiter`] share one [`RedisClient`] and so their
//!   contents between replicas; when Redis cannot be reached they degrade (misses, counts
//!   per replica) instead of failing requests, and recover by themselves.
//! - [`MemoryCache`] and [`MemoryRateLimiter`] are the in-process defaults.

mod connection;
mod memory;
mod rate_limit;
mod redis_cache;
mod redis_rate_limit;

pub use connection::{ConnectError, RedisClient, RedisOptions};
pub use memory::MemoryCache;
pub use rate_limit::MemoryRateLimiter;
pub use redis_cache::RedisCache;
pub use redis_rate_limit::RedisRateLimiter;
