//! The PostgreSQL store of facegate: references and photo collections in PostgreSQL, with
//! embeddings in pgvector `vector` columns searched through HNSW indexes (cosine).
//!
//! [`PostgresStore`] implements [`facegate_core::ports::ReferenceStore`] and
//! [`facegate_core::ports::CollectionStore`] with the semantics of the embedded store:
//! storing a photo twice keeps the first, a search returns at most one match per photo (its
//! best face) at or above the threshold, best first, identification one entry per subject
//! (its best reference), and embeddings of another model or dimension than the probe's are
//! never compared. Unlike the embedded store's exact scan, the HNSW search is approximate.
//!
//! Encryption at rest: pgvector compares and indexes plain vectors only, so embeddings
//! cannot go through the [`facegate_core::ports::Sealer`]; the store refuses to open with
//! a sealer that has a key ([`StoreError::EncryptionUnsupported`]). Keep embeddings
//! encrypted with the embedded store, or encrypt the PostgreSQL volume.
//!
//! Users, API keys, jobs, scans and webhooks are not ported yet.

mod codec;
mod collections;
mod error;
mod nearest;
mod references;
mod store;

pub use error::StoreError;
pub use store::{MIGRATOR, PostgresStore};
