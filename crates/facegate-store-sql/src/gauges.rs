//! [`GaugeSource`]: the job queue's backlog and the connection pool, read when the
//! metrics are collected.

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::model::Timestamp;
use facegate_core::ports::{GaugeSource, Gauges, QueueLevel};

use crate::db::on_db;
use crate::error::StoreError;
use crate::store::{SqlStore, Vectors};

/// The topic name the job queue's levels carry.
pub const JOBS_TOPIC: &str = "jobs";

/// This process's connection pool's occupancy (other replicas have their own).
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

impl<V: Vectors> SqlStore<V> {
    pub fn pool_stats(&self) -> PoolStats {
        let (connections, idle) = self.pool.occupancy();
        PoolStats { connections, idle }
    }

    /// Jobs queued and due at `now` (of every replica where the queue is shared), and the
    /// age of the oldest of them (by creation, so a retried job counts from its first
    /// submission). Jobs waiting out a retry delay are not due yet.
    pub async fn job_backlog(&self, now: Timestamp) -> Result<QueueLevel, StoreError> {
        let row: BacklogRow = on_db!(&self.pool, |pool| sqlx::query_as(
            "SELECT COUNT(*) AS due, MIN(created_at) AS oldest_created_at FROM jobs \
             WHERE state = 'queued' AND run_after <= $1",
        )
        .bind(now)
        .fetch_one(pool)
        .await?);
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
impl<V: Vectors> GaugeSource for SqlStore<V> {
    async fn gauges(&self, now: Timestamp) -> Result<Gauges> {
        let pool = self.pool_stats();
        Ok(Gauges {
            queues: vec![self.job_backlog(now).await?],
            db_pool_connections: u64::from(pool.connections),
            db_pool_idle_connections: pool.idle as u64,
        })
    }
}
