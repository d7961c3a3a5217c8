//! The store the settings choose: the embedded SQLite store by default, PostgreSQL with
//! pgvector when `database.url` is set. Both implement every store port.

use std::fmt::Debug;
use std::sync::Arc;

use anyhow::Context;
use facegate_core::ports::{
    ApiKeyStore, AuditLog, CollectionStore, GaugeSource, InventorySource, JobQueue,
    LivenessSessionStore, ReferenceStore, ScanStore, Sealer, TransactionStore, UserStore,
    WebhookStore,
};
use serde_json::json;

use crate::settings::Settings;

/// Every store port in one object.
pub trait Store:
    ReferenceStore
    + CollectionStore
    + UserStore
    + ApiKeyStore
    + JobQueue
    + ScanStore
    + LivenessSessionStore
    + TransactionStore
    + WebhookStore
    + AuditLog
    + InventorySource
    + GaugeSource
    + Debug
{
}

impl<T> Store for T where
    T: ReferenceStore
        + CollectionStore
        + UserStore
        + ApiKeyStore
        + JobQueue
        + ScanStore
        + LivenessSessionStore
        + TransactionStore
        + WebhookStore
        + AuditLog
        + InventorySource
        + GaugeSource
        + Debug
{
}

/// The opened store and what `/health/detailed` says about it.
#[derive(Debug)]
pub struct Opened {
    pub store: Arc<dyn Store>,
    pub details: serde_json::Value,
}

/// Opens (and migrates) the configured store.
pub async fn open(settings: &Settings, sealer: Arc<dyn Sealer>) -> anyhow::Result<Opened> {
    if let Some(url) = settings.database.url()? {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(settings.database.max_connections)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(&url)
            .await
            .context("cannot connect to PostgreSQL (database.url)")?;
        let store = facegate_store_postgres::from_pool(pool, sealer.as_ref())
            .await
            .context("cannot open the PostgreSQL store")?;
        return Ok(Opened {
            store: Arc::new(store),
            details: json!({
                "kind": "postgres",
                "max_connections": settings.database.max_connections,
            }),
        });
    }
    let dir = &settings.storage.data_dir;
    let store = facegate_store_embedded::open(dir, sealer)
        .await
        .with_context(|| format!("cannot open the store in {}", dir.display()))?;
    Ok(Opened {
        store: Arc::new(store),
        details: json!({"kind": "embedded", "data_dir": dir}),
    })
}
