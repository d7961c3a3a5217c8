//! The PostgreSQL store of facegate: every record port of [`facegate_core::ports`] in
//! PostgreSQL, with embeddings in pgvector `vector` columns searched through HNSW indexes
//! (cosine). Several replicas may share one database.
//!
//! [`PostgresStore`] is the SQL store of `facegate-store-sql` on PostgreSQL, with
//! [`Pgvector`] as its vector search: the statements and their semantics are the embedded
//! store's, written once there. This crate holds what is PostgreSQL's own: the migrations,
//! the connection and pgvector's searches. Unlike the embedded store's exact scan, the
//! HNSW search is approximate.
//!
//! Queues shared by replicas: claiming a job or a webhook delivery locks the row it picks
//! with `FOR UPDATE SKIP LOCKED` in the statement that leases it, so no two workers of any
//! process get the same one; using a refresh token is one conditional `UPDATE`, so a token
//! is fresh for one caller only.
//!
//! Encryption at rest: pgvector compares and indexes plain vectors only, so embeddings
//! cannot go through the [`facegate_core::ports::Sealer`]; the store refuses to open with
//! a sealer that has a key ([`StoreError::EncryptionUnsupported`]). Everything else it
//! holds is plain too: users' face embeddings, reference crops and webhook signing
//! secrets, which the embedded store seals, are stored unencrypted here. Keep them
//! encrypted with the embedded store, or encrypt the PostgreSQL volume (disk or tablespace
//! encryption).

mod nearest;
mod search;
mod store;

pub use facegate_store_sql::{JOBS_TOPIC, PoolStats, StoreError};
pub use search::Pgvector;
pub use store::{MIGRATOR, PostgresStore, connect, from_pool};
