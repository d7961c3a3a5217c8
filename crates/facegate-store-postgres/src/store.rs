//! Connecting to the database and migrating its schema.

use std::sync::Arc;

use facegate_core::ports::{NoEncryption, Sealer};
use facegate_store_sql::{Db, SqlStore, StoreError};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;

use crate::search::Pgvector;

/// The schema migrations (reversible: `migrations/NNNN_name.{up,down}.sql`). `connect`
/// runs them; `facegate migrate` may also run or undo them.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Connections `connect` opens at most.
const MAX_CONNECTIONS: u32 = 10;

/// Every record of facegate in PostgreSQL (references, photo collections, accounts, jobs,
/// scans, webhooks); embeddings are searched with pgvector's HNSW indexes.
pub type PostgresStore = SqlStore<Pgvector>;

/// Connects to `url` (`postgres://user:password@host:port/database`) and migrates the
/// schema. See [`from_pool`] for `sealer`.
pub async fn connect(url: &str, sealer: &dyn Sealer) -> Result<PostgresStore, StoreError> {
    refuse_encryption(sealer)?;
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .connect(url)
        .await?;
    from_pool(pool, sealer).await
}

/// The store on an existing pool; migrates the schema. Embeddings are stored as plain
/// pgvector values, which pgvector can index, and webhook secrets and reference crops
/// plain too: a `sealer` with a key (encryption at rest switched on) is refused with
/// [`StoreError::EncryptionUnsupported`] rather than silently storing plain data.
pub async fn from_pool(pool: PgPool, sealer: &dyn Sealer) -> Result<PostgresStore, StoreError> {
    refuse_encryption(sealer)?;
    MIGRATOR.run(&pool).await?;
    tracing::info!(
        max_connections = pool.options().get_max_connections(),
        "postgres store connected"
    );
    let search = Pgvector::new(pool.clone());
    Ok(SqlStore::new(
        Db::Postgres(pool),
        Arc::new(NoEncryption),
        search,
    ))
}

fn refuse_encryption(sealer: &dyn Sealer) -> Result<(), StoreError> {
    match sealer.key_id() {
        Some(key_id) => Err(StoreError::EncryptionUnsupported {
            key_id: key_id.to_owned(),
        }),
        None => Ok(()),
    }
}
