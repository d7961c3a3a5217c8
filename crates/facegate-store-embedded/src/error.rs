//! Errors of the embedded store.

use std::path::PathBuf;

use facegate_core::Failure;

/// A fault of the embedded store. Every variant is an internal fault for clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("a stored record cannot be encoded or decoded as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The sealer failed to seal or open an embedding.
    #[error("cannot seal or open an embedding: {0}")]
    Seal(#[source] Failure),
    /// An embedding sealed with `key_id` that the configured sealer did not open: the
    /// store was opened with encryption off, or without that key.
    #[error("an embedding is sealed with key {key_id}, which the configured sealer does not open")]
    Unsealed { key_id: String },
    #[error("a search task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A stored row that cannot be turned back into a record (for example an embedding
    /// blob whose length is not a multiple of 4).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::internal(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use facegate_core::ErrorCode;

    use super::*;

    #[test]
    fn every_store_error_is_internal() {
        let failure = Failure::from(StoreError::Corrupt("embedding".into()));
        assert_eq!(failure.code, ErrorCode::Internal);
        assert_eq!(failure.message, "corrupt stored data: embedding");
        let failure = Failure::from(StoreError::Database(sqlx::Error::RowNotFound));
        assert_eq!(failure.code, ErrorCode::Internal);
    }
}
