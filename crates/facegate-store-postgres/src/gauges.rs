//! [`GaugeSource`]: the job queue's backlog and the connection pool, read when the
//! metrics are collected.

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::model::Timestamp;
use facegate_core::ports::{GaugeSource, Gauges, QueueLevel};

use crate::error::StoreError;
use crate::store::PostgresStore;

/// The topic name the job queue's levels carry (as the embedded store's).
pub const JOBS_TOPIC: &str = "jobs";

/// This replica's connection pool's occupancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open, busy or idle.
    pub connections: u32,
    pub idle: usize,
}

#[derive(sqlx::FromRow)]
struct BacklogRow {
    due: i64,
    oldest_created_at: Option<i64>,
}

impl PostgresStore {
    /// This process's pool; other replicas have their own.
    pub fn pool_stats(&self) -> PoolStats {
        PoolStats {
            connections: self.pool.size(),
            idle: self.pool.num_idle(),
        }
    }

    /// Jobs queued and due at `now` (of every replica: the queue is shared), and the age
    /// of the oldest of them (by creation, so a retried job counts from its first
    /// submission). Jobs waiting out a retry delay are not due yet.
    pub async fn job_backlog(&self, now: Timestamp) -> Result<QueueLevel, StoreError> {
        let row = sqlx::query_as::<_, BacklogRow>(
            "SELECT COUNT(*) AS due, MIN(created_at) AS oldest_created_at FROM jobs \
             WHERE state = 'queued' AND run_after <= $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(QueueLevel {
            topic: JOBS_TOPIC.to_owned(),
            lag: u64::try_from(row.due).unwrap_or(0),
            oldest_age_seconds: row
                .oldest_created_at
                .map_or(0.0, |created| (now - created).max(0) as f64 / 1e3),
        })
    }
}

#[async_trait]
impl GaugeSource for PostgresStore {
    async fn gauges(&self, now: Timestamp) -> Result<Gauges> {
        let pool = self.pool_stats();
        Ok(Gauges {
            queues: vec![self.job_backlog(now).await?],
            db_pool_connections: u64::from(pool.connections),
            db_pool_idle_connections: pool.idle as u64,
        })
    }
}
