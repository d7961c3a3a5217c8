//! The default store of facegate: records in SQLite (through sqlx) and an in-process exact
//! vector index rebuilt from them at start. Nothing external is needed.
//!
//! [`EmbeddedStore`] is the SQL store of `facegate-store-sql` on a SQLite file, with the
//! [`MemoryIndex`] as its vector search. Writes of embeddings go to SQLite first, in a
//! transaction, and then to the in-memory index, so a restart loses nothing. Searches
//! compare a probe only with embeddings of the same model id and dimension; other rows are
//! skipped. Embeddings, reference crops and webhook secrets are sealed at rest by the
//! [`facegate_core::ports::Sealer`] the store is opened with. This crate holds what is
//! SQLite's own: the migrations, the connection settings and the index.

mod index;
mod memory;
mod store;

pub use facegate_store_sql::{JOBS_TOPIC, PoolStats, StoreError};
pub use memory::MemoryIndex;
pub use store::{DATABASE_FILE, EmbeddedStore, MIGRATOR, open};
