//! Opening the store: the SQLite database, its migrations and the in-memory indexes.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use facegate_core::ports::Sealer;
use facegate_store_sql::{Db, SqlStore, StoreError};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::memory::MemoryIndex;

/// The schema migrations (reversible: `migrations/NNNN_name.{up,down}.sql`). `open` runs
/// them; `facegate migrate` may also run or undo them.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The database file `open` creates in its folder (SQLite adds `-wal` and `-shm` beside it).
pub const DATABASE_FILE: &str = "facegate.sqlite3";

/// Readers run concurrently in WAL mode; SQLite has one writer at a time anyway.
const MAX_CONNECTIONS: u32 = 4;

/// How long a statement waits for another connection's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// References, photo collections and accounts in one SQLite file; embeddings are searched
/// in memory.
pub type EmbeddedStore = SqlStore<MemoryIndex>;

/// Opens the store kept in folder `dir`, creating the folder and its database file
/// [`DATABASE_FILE`] when missing, migrates the schema and loads every embedding into
/// memory. Embeddings are written sealed by `sealer` (plain when its encryption is off);
/// plain ones stored earlier still read, sealed ones need a sealer that opens them, else
/// opening fails with [`StoreError::Unsealed`].
pub async fn open(dir: &Path, sealer: Arc<dyn Sealer>) -> Result<EmbeddedStore, StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(DATABASE_FILE);
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // Every commit reaches the disk before the caller hears of it.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    let pool = SqlitePoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;

    let started = Instant::now();
    let pool = Db::Sqlite(pool);
    let index = MemoryIndex::load(path, &pool, &*sealer).await?;
    let (sessions, faces) = index.sessions_and_faces();
    tracing::info!(
        path = %index.path().display(),
        references = index.references(),
        sessions,
        faces,
        encrypted = sealer.key_id().is_some(),
        load_duration_ms = started.elapsed().as_millis() as u64,
        "embedded store opened"
    );
    Ok(SqlStore::new(pool, sealer, index))
}
