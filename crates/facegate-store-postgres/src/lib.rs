//! The PostgreSQL store of facegate: every record port of [`facegate_core::ports`] in
//! PostgreSQL, with embeddings in pgvector `vector` columns searched through HNSW indexes
//! (cosine). Several replicas may share one database.
//!
//! [`PostgresStore`] implements, with the semantics of the embedded store, the references
//! and photo collections ([`facegate_core::ports::ReferenceStore`],
//! [`facegate_core::ports::CollectionStore`]), users with their faces and refresh tokens,
//! API keys, the job queue, scans, transactions, the audit log, webhooks and their
//! delivery queue, the inventory and the metrics gauges. Storing a photo twice keeps the
//! first, a search returns at most one match per photo (its best face) at or above the
//! threshold, best first, identification one entry per subject (its best reference), and
//! embeddings of another model or dimension than the probe's are never compared. Unlike
//! the embedded store's exact scan, the HNSW search is approximate.
//!
//! Queues shared by replicas: claiming a job or a webhook delivery locks the row it picks
//! with `FOR UPDATE SKIP LOCKED` in the statement that leases it, so no two workers of any
//! process get the same one; using a refresh token is one conditional `UPDATE`, so a token
//! is fresh for one caller only.
//!
//! Encryption at rest: pgvector compares and indexes plain vectors only, so embeddings
//! cannot go through the [`facegate_core::ports::Sealer`]; the store refuses to open with
//! a sealer that has a key ([`StoreError::EncryptionUnsupported`]). Everything else it
//! holds is plain too: users' face embeddings and webhook signing secrets, which the
//! embedded store seals, are stored unencrypted here. Keep them encrypted with the
//! embedded store, or encrypt the PostgreSQL volume (disk or tablespace encryption).

mod api_keys;
mod audit;
mod codec;
mod collections;
mod error;
mod gauges;
mod inventory;
mod jobs;
mod nearest;
mod references;
mod refresh_tokens;
mod scans;
mod store;
mod transactions;
mod users;
mod webhooks;

pub use error::StoreError;
pub use gauges::{JOBS_TOPIC, PoolStats};
pub use store::{MIGRATOR, PostgresStore};
