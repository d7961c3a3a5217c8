//! Errors of the PostgreSQL store.

use facegate_core::Failure;

/// A fault of the PostgreSQL store. Every variant is an internal fault for clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("a stored record cannot be encoded or decoded as JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The store was opened with an encryption key. pgvector compares and indexes plain
    /// vectors only, so embeddings cannot be sealed in this store.
    #[error(
        "encryption at rest of embeddings (key {key_id}) is not supported by the PostgreSQL \
         store: pgvector can only index and compare plain vectors. Use the embedded store, \
         or turn embedding encryption off and encrypt the PostgreSQL volume (disk or \
         tablespace encryption) instead"
    )]
    EncryptionUnsupported { key_id: String },
    /// A value that does not fit its column (a face index above `i32::MAX`, an embedding
    /// longer than pgvector's 16,000 dimensions).
    #[error("value out of range: {0}")]
    OutOfRange(String),
    /// A stored row that cannot be turned back into a record.
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
        let failure = Failure::from(StoreError::EncryptionUnsupported {
            key_id: "k1".into(),
        });
        assert_eq!(failure.code, ErrorCode::Internal);
        assert!(failure.message.contains("key k1"), "{}", failure.message);
        assert!(
            failure.message.contains("embedded store"),
            "{}",
            failure.message
        );
    }
}
