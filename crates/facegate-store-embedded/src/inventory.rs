//! [`InventorySource`]: counts of every table, in one statement (one snapshot).

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::ports::{Inventory, InventorySource};

use crate::error::StoreError;
use crate::store::EmbeddedStore;

#[derive(sqlx::FromRow)]
struct InventoryRow {
    users: u64,
    verified_users: u64,
    api_keys: u64,
    subjects: u64,
    references: u64,
    sessions: u64,
    photos: u64,
    faces: u64,
    transactions: u64,
    jobs_queued: u64,
    jobs_running: u64,
    jobs_done: u64,
}

impl From<InventoryRow> for Inventory {
    fn from(row: InventoryRow) -> Self {
        Inventory {
            users: row.users,
            verified_users: row.verified_users,
            api_keys: row.api_keys,
            subjects: row.subjects,
            references: row.references,
            sessions: row.sessions,
            photos: row.photos,
            faces: row.faces,
            transactions: row.transactions,
            jobs_queued: row.jobs_queued,
            jobs_running: row.jobs_running,
            jobs_done: row.jobs_done,
        }
    }
}

/// API keys count when not revoked; sessions are the distinct sessions with a photo.
async fn inventory(store: &EmbeddedStore) -> Result<Inventory, StoreError> {
    let row = sqlx::query_as::<_, InventoryRow>(
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
    .fetch_one(&store.pool)
    .await?;
    Ok(row.into())
}

#[async_trait]
impl InventorySource for EmbeddedStore {
    async fn inventory(&self) -> Result<Inventory> {
        Ok(inventory(self).await?)
    }
}
