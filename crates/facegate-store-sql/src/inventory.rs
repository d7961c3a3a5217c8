//! [`InventorySource`]: counts of every table, in one statement (one snapshot).

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::ports::{Inventory, InventorySource};

use crate::db::on_db;
use crate::error::StoreError;
use crate::store::{SqlStore, Vectors};

#[derive(sqlx::FromRow)]
struct InventoryRow {
    users: i64,
    verified_users: i64,
    api_keys: i64,
    subjects: i64,
    references: i64,
    sessions: i64,
    photos: i64,
    faces: i64,
    transactions: i64,
    jobs_queued: i64,
    jobs_running: i64,
    jobs_done: i64,
}

impl From<InventoryRow> for Inventory {
    fn from(row: InventoryRow) -> Self {
        // COUNT(*) is never negative.
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Inventory {
            users: count(row.users),
            verified_users: count(row.verified_users),
            api_keys: count(row.api_keys),
            subjects: count(row.subjects),
            references: count(row.references),
            sessions: count(row.sessions),
            photos: count(row.photos),
            faces: count(row.faces),
            transactions: count(row.transactions),
            jobs_queued: count(row.jobs_queued),
            jobs_running: count(row.jobs_running),
            jobs_done: count(row.jobs_done),
        }
    }
}

/// API keys count when not revoked; sessions are the distinct sessions with a photo.
async fn inventory<V>(store: &SqlStore<V>) -> Result<Inventory, StoreError> {
    let row: InventoryRow = on_db!(&store.pool, |pool| sqlx::query_as(
        "SELECT \
           (SELECT COUNT(*) FROM users) AS users, \
           (SELECT COUNT(*) FROM users WHERE verified_at IS NOT NULL) AS verified_users, \
           (SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL) AS api_keys, \
           (SELECT COUNT(DISTINCT subject) FROM face_references) AS subjects, \
           (SELECT COUNT(*) FROM face_references) AS \"references\", \
           (SELECT COUNT(DISTINCT session_id) FROM photos) AS sessions, \
           (SELECT COUNT(*) FROM photos) AS photos, \
           (SELECT COUNT(*) FROM faces) AS faces, \
           (SELECT COUNT(*) FROM transactions) AS transactions, \
           (SELECT COUNT(*) FROM jobs WHERE state = 'queued') AS jobs_queued, \
           (SELECT COUNT(*) FROM jobs WHERE state = 'running') AS jobs_running, \
           (SELECT COUNT(*) FROM jobs WHERE state = 'done') AS jobs_done",
    )
    .fetch_one(pool)
    .await?);
    Ok(row.into())
}

#[async_trait]
impl<V: Vectors> InventorySource for SqlStore<V> {
    async fn inventory(&self) -> Result<Inventory> {
        Ok(inventory(self).await?)
    }
}
