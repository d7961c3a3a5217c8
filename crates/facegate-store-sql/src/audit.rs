//! [`AuditLog`] on the `audit_log` table.

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::account::AuditEntry;
use facegate_core::ports::AuditLog;

use crate::db::on_db;
use crate::error::{StoreError, from_i32};
use crate::store::{SqlStore, Vectors};

#[derive(sqlx::FromRow)]
struct EntryRow {
    at: i64,
    actor: String,
    action: String,
    target: String,
    status: i32,
    request_id: String,
}

impl TryFrom<EntryRow> for AuditEntry {
    type Error = StoreError;

    fn try_from(row: EntryRow) -> Result<Self, StoreError> {
        Ok(AuditEntry {
            status: from_i32(row.status, "audit status")?,
            at: row.at,
            actor: row.actor,
            action: row.action,
            target: row.target,
            request_id: row.request_id,
        })
    }
}

async fn record<V>(store: &SqlStore<V>, entry: &AuditEntry) -> Result<(), StoreError> {
    on_db!(&store.pool, |pool| sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, status, request_id) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(entry.at)
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(i32::from(entry.status))
    .bind(&entry.request_id)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

/// Entries of the same time come in the reverse order they were recorded (by their id;
/// in PostgreSQL, entries recorded by concurrent transactions may commit in another order
/// than they drew their ids).
async fn recent<V>(store: &SqlStore<V>, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
    let rows: Vec<EntryRow> = on_db!(&store.pool, |pool| sqlx::query_as(
        "SELECT at, actor, action, target, status, request_id FROM audit_log \
         ORDER BY at DESC, id DESC LIMIT $1",
    )
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?);
    rows.into_iter().map(AuditEntry::try_from).collect()
}

#[async_trait]
impl<V: Vectors> AuditLog for SqlStore<V> {
    async fn record(&self, entry: &AuditEntry) -> Result<()> {
        Ok(record(self, entry).await?)
    }

    async fn recent(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        Ok(recent(self, limit).await?)
    }
}
