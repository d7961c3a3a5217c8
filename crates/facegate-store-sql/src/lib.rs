//! The SQL of facegate's stores, written once for SQLite (the embedded store) and
//! PostgreSQL (the production store).
//!
//! [`SqlStore`] implements every record port of [`facegate_core::ports`] on either
//! database: references, photo collections, users with their faces and refresh tokens,
//! API keys, the job queue, scans, transactions, the audit log, webhooks and their
//! delivery queue, the inventory and the metrics gauges. Its statements are written once
//! and run on the [`SqlPool`] it holds, compiled once per driver; where the two
//! dialects differ, the SQL comes from [`Dialect`]; embeddings are bound and read by
//! [`embedding`], the one place that knows their columns. Searching embeddings is left to
//! the store's [`Vectors`]: an in-process index for the embedded store, pgvector's HNSW
//! indexes for PostgreSQL. Migrations stay with each store, one set per dialect.
//!
//! Semantics both stores share: storing a photo twice keeps the first; a search returns
//! at most one match per photo (its best face) at or above the threshold, best first;
//! identification one entry per subject (its best reference); embeddings of another model
//! or dimension than the probe's are never compared. Claiming a job or a webhook delivery
//! is one `UPDATE` of the row a sub-select picks, so no two workers of any process get the
//! same one; using a refresh token is one conditional `UPDATE`, so a token is fresh for
//! one caller only.

mod api_keys;
mod audit;
mod collections;
mod db;
mod embedding;
mod error;
mod gauges;
mod inventory;
mod jobs;
mod liveness_sessions;
mod references;
mod refresh_tokens;
mod scans;
mod store;
mod transactions;
mod users;
mod webhooks;

pub use collections::{FaceBox, each_face};
pub use db::{Db, Dialect, POSTGRES, SQLITE, SqlConn, SqlPool};
pub use embedding::{MAX_DIM, stored_dim};
pub use error::StoreError;
pub use gauges::{JOBS_TOPIC, PoolStats};
pub use references::each_reference;
pub use store::{SqlStore, Vectors};

/// The tables the statements read and write; each store's migrations create them.
pub const TABLES: [&str; 14] = [
    "api_keys",
    "audit_log",
    "face_references",
    "faces",
    "jobs",
    "liveness_sessions",
    "photos",
    "refresh_tokens",
    "scans",
    "transactions",
    "user_faces",
    "users",
    "webhook_deliveries",
    "webhooks",
];
