//! [`SqlStore`]: every record port on one SQL database, with embeddings searched by the
//! store's [`Vectors`].

use std::sync::Arc;

use async_trait::async_trait;
use facegate_core::Embedding;
use facegate_core::model::{IndexedPhoto, PhotoMatch, Reference, SubjectMatch};
use facegate_core::ports::Sealer;
use tokio::sync::{Mutex, MutexGuard};

use crate::db::SqlPool;
use crate::error::StoreError;

/// Where a store searches embeddings: the half of references and photo collections that
/// is not SQL. The rows are written by [`SqlStore`]; the embedded store mirrors them in
/// memory through the notifications, PostgreSQL searches its own rows with pgvector and
/// keeps the defaults.
#[async_trait]
pub trait Vectors: Send + Sync + 'static {
    /// Held from a write of embeddings until the index has been told of it, so the index
    /// sees writes in the order the database committed them; `None` where the database is
    /// the index.
    fn write_lock(&self) -> Option<&Mutex<()>> {
        None
    }

    /// A reference was stored.
    fn reference_added(&self, _reference: &Reference) {}

    /// Reference `id` of `subject` now has `embedding`.
    fn reference_replaced(&self, _subject: &str, _id: &str, _embedding: &Embedding) {}

    /// Reference `id` of `subject` was deleted.
    fn reference_removed(&self, _subject: &str, _id: &str) {}

    /// Every reference of `subject` was deleted.
    fn subject_removed(&self, _subject: &str) {}

    /// A photo was stored, with its faces.
    fn photo_added(&self, _photo: &IndexedPhoto) {}

    /// Every photo of a session was deleted.
    fn session_removed(&self, _session_id: &str) {}

    /// The best reference of each subject, nearest first, at most `limit`; references of
    /// another embedding model (or dimension) than the probe's are skipped.
    async fn identify(
        &self,
        probe: &Embedding,
        limit: usize,
    ) -> Result<Vec<SubjectMatch>, StoreError>;

    /// The best face of each photo of the session at or above `threshold`, nearest first,
    /// at most `limit`; faces of another model (or dimension) than the probe's are skipped.
    async fn search(
        &self,
        session_id: &str,
        probe: &Embedding,
        threshold: f32,
        limit: usize,
    ) -> Result<Vec<PhotoMatch>, StoreError>;
}

/// Every record of facegate in one SQL database (references, photo collections, accounts,
/// jobs, scans, webhooks), its embeddings searched by `V`.
pub struct SqlStore<V> {
    pub(crate) pool: SqlPool,
    /// Seals every embedding, reference crop and webhook secret written and opens every
    /// sealed one read.
    pub(crate) sealer: Arc<dyn Sealer>,
    pub(crate) vectors: V,
}

impl<V> std::fmt::Debug for SqlStore<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("pool", &self.pool)
            .field("key_id", &self.sealer.key_id())
            .finish_non_exhaustive()
    }
}

impl<V: Vectors> SqlStore<V> {
    /// The store on a migrated database.
    pub fn new(pool: SqlPool, sealer: Arc<dyn Sealer>, vectors: V) -> Self {
        Self {
            pool,
            sealer,
            vectors,
        }
    }

    /// The connection pool.
    pub fn pool(&self) -> &SqlPool {
        &self.pool
    }

    /// Where embeddings are searched.
    pub fn vectors(&self) -> &V {
        &self.vectors
    }

    /// Closes the database connections, waiting for them to finish; for a clean shutdown.
    /// Calls made afterwards fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The write lock of [`Vectors::write_lock`], when the store has one.
    pub(crate) async fn writing(&self) -> Option<MutexGuard<'_, ()>> {
        match self.vectors.write_lock() {
            Some(lock) => Some(lock.lock().await),
            None => None,
        }
    }
}

impl<V> SqlStore<V> {
    pub(crate) fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.sealer.seal(plain).map_err(StoreError::Seal)
    }
}
