//! Opening the store: the SQLite database, its migrations and the in-memory indexes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use facegate_core::ports::Sealer;
use parking_lot::RwLock;
use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::collections::{FaceIndex, load_sessions};
use crate::error::StoreError;
use crate::references::{ReferenceIndex, load_references};

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
pub struct EmbeddedStore {
    pub(crate) pool: SqlitePool,
    path: PathBuf,
    /// Seals every embedding written and opens every sealed one read.
    pub(crate) sealer: Arc<dyn Sealer>,
    /// Serialises writers so the in-memory index sees writes in the order SQLite committed
    /// them (otherwise a session deleted between another writer's commit and its index
    /// update would leave rows in memory that are gone from disk). Held across `.await`,
    /// hence tokio's mutex; the index locks below never are.
    pub(crate) writes: tokio::sync::Mutex<()>,
    pub(crate) references: Arc<RwLock<ReferenceIndex>>,
    /// One index per session, so a search locks only its own session.
    pub(crate) sessions: RwLock<HashMap<String, Arc<RwLock<FaceIndex>>>>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.path)
            .field("key_id", &self.sealer.key_id())
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens the store kept in folder `dir`, creating the folder and its database file
    /// [`DATABASE_FILE`] when missing, migrates the schema and loads every embedding into
    /// memory. Embeddings are written sealed by `sealer` (plain when its encryption is
    /// off); plain ones stored earlier still read, sealed ones need a sealer that opens
    /// them, else opening fails with [`StoreError::Unsealed`].
    pub async fn open(dir: &Path, sealer: Arc<dyn Sealer>) -> Result<Self, StoreError> {
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
        let references = load_references(&pool, &*sealer).await?;
        let sessions = load_sessions(&pool, &*sealer).await?;
        tracing::info!(
            path = %path.display(),
            references = references.len(),
            sessions = sessions.len(),
            encrypted = sealer.key_id().is_some(),
            faces = sessions.values().map(FaceIndex::len).sum::<usize>(),
            load_duration_ms = started.elapsed().as_millis() as u64,
            "embedded store opened"
        );
        Ok(Self {
            pool,
            path,
            sealer,
            writes: tokio::sync::Mutex::new(()),
            references: Arc::new(RwLock::new(references)),
            sessions: RwLock::new(
                sessions
                    .into_iter()
                    .map(|(id, index)| (id, Arc::new(RwLock::new(index))))
                    .collect(),
            ),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the database connections, waiting for them to finish; for a clean shutdown.
    /// Calls made afterwards fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
