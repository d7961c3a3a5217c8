//! [`AuditLog`] on the `audit_log` table.

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::account::AuditEntry;
use facegate_core::ports::AuditLog;

use crate::error::StoreError;
use crate::store::EmbeddedStore;

#[derive(sqlx::FromRow)]
struct EntryRow {
    at: i64,
    actor: String,
    action: String,
    target: String,
    status: u16,
    request_id: String,
}

impl From<EntryRow> for AuditEntry {
    fn from(row: EntryRow) -> Self {
        AuditEntry {
            at: row.at,
            actor: row.actor,
            action: row.action,
            target: row.target,
            status: row.status,
            request_id: row.request_id,
        }
    }
}

async fn record(store: &EmbeddedStore, entry: &AuditEntry) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, action, target, status, request_id) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(entry.at)
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.target)
    .bind(entry.status)
    .bind(&entry.request_id)
    .execute(&store.pool)
    .await?;
    Ok(())
}

/// Entries of the same time come in the reverse order they were recorded.
async fn recent(store: &EmbeddedStore, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
    let rows = sqlx::query_as::<_, EntryRow>(
        "SELECT at, actor, action, target, status, request_id FROM audit_log \
         ORDER BY at DESC, id DESC LIMIT ?",
    )
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&store.pool)
    .await?;
    Ok(rows.into_iter().map(AuditEntry::from).collect())
}

#[async_trait]
impl AuditLog for EmbeddedStore {
    async fn record(&self, entry: &AuditEntry) -> Result<()> {
        Ok(record(self, entry).await?)
    }

    async fn recent(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        Ok(recent(self, limit).await?)
    }
}
