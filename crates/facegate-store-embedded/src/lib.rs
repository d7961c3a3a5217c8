//! The default store of facegate: records in SQLite (through sqlx) and an in-process exact
//! vector index rebuilt from them at start. Nothing external is needed.
//!
//! [`EmbeddedStore`] implements both [`facegate_core::ports::ReferenceStore`] and
//! [`facegate_core::ports::CollectionStore`]. Writes go to SQLite first, in a transaction,
//! and then to the in-memory index, so a restart loses nothing. Searches compare a probe
//! only with embeddings of the same model id and dimension; other rows are skipped.

mod codec;
mod collections;
mod error;
mod index;
mod references;
mod store;

pub use error::StoreError;
pub use store::{DATABASE_FILE, EmbeddedStore, MIGRATOR};
