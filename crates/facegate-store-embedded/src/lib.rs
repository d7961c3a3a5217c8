//! The default store of facegate: records in SQLite (through sqlx) and an in-process exact
//! vector index rebuilt from them at start. Nothing external is needed.
//!
//! [`EmbeddedStore`] implements the record ports of [`facegate_core::ports`]: references,
//! photo collections, users, API keys, the job queue, transactions, the audit log and the
//! inventory. Writes of embeddings go to SQLite first, in a transaction, and then to the
//! in-memory index, so a restart loses nothing. Searches compare a probe only with
//! embeddings of the same model id and dimension; other rows are skipped. Embeddings are
//! sealed at rest by the [`facegate_core::ports::Sealer`] the store is opened with.

mod api_keys;
mod audit;
mod codec;
mod collections;
mod error;
mod gauges;
mod index;
mod inventory;
mod jobs;
mod references;
mod refresh_tokens;
mod scans;
mod store;
mod transactions;
mod users;
mod webhooks;

pub use error::StoreError;
pub use gauges::{JOBS_TOPIC, PoolStats};
pub use store::{DATABASE_FILE, EmbeddedStore, MIGRATOR};
