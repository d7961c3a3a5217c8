//! [`AuditLog`] on the `audit_log` table.

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::account::AuditEntry;
use facegate_core::ports::AuditLog;

use crate::error::StoreError;
use crate::store::PostgresStore;

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
            status: u16::try_from(row.status)
                .map_err(|_| StoreError::Corrupt(format!("audit status {}", row.status)))?,
            at: row.at,
            actor: row.actor,
            action: row.action,
            target: row.target,
            request_id: row.request_id,
        })
    }
}

async fn record(store: &PostgresStore, entry: &AuditEntry) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, status, request_id) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(entry.at)
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(i32::from(entry.status))
    .bind(&entry.request_id)
    .execute(&store.pool)
    .await?;
    Ok(())
}

/// Entries of the same time come in the reverse order they were recorded (by their
/// identity column; entries recorded by concurrent transactions may commit in another
/// order than they drew their ids).
async fn recent(store: &PostgresStore, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
    sqlx::query_as::<_, EntryRow>(
        "SELECT at, actor, action, target, status, request_id FROM audit_log \
         ORDER BY at DESC, id DESC LIMIT $1",
    )
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&store.pool)
    .await?
    .into_iter()
    .map(AuditEntry::try_from)
    .collect()
}

#[async_trait]
impl AuditLog for PostgresStore {
    async fn record(&self, entry: &AuditEntry) -> Result<()> {
        Ok(record(self, entry).await?)
    }

    async fn recent(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        Ok(recent(self, limit).await?)
    }
}
