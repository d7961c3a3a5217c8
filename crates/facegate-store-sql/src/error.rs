//! Errors of the stores.

use std::path::PathBuf;

use facegate_core::Failure;

/// A fault of a store. Every variant is an internal fault for clients.
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
    /// The PostgreSQL store was opened with an encryption key. pgvector compares and
    /// indexes plain vectors only, so embeddings cannot be sealed in that store.
    #[error(
        "encryption at rest of embeddings (key {key_id}) is not supported by the PostgreSQL \
         store: pgvector can only index and compare plain vectors. Use the embedded store, \
         or turn embedding encryption off and encrypt the PostgreSQL volume (disk or \
         tablespace encryption) instead"
    )]
    EncryptionUnsupported { key_id: String },
    #[error("a search task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A value that does not fit its column (a face index above `i32::MAX`, an embedding
    /// longer than pgvector's 16,000 dimensions).
    #[error("value out of range: {0}")]
    OutOfRange(String),
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

/// `value` as the `i32` of an `INTEGER` column.
pub(crate) fn to_i32<T>(value: T, what: &str) -> Result<i32, StoreError>
where
    T: TryInto<i32> + Copy + std::fmt::Display,
{
    value
        .try_into()
        .map_err(|_| StoreError::OutOfRange(format!("{what} {value}")))
}

/// An `INTEGER` column's `i32` as the unsigned value it holds.
pub(crate) fn from_i32<T: TryFrom<i32>>(value: i32, what: &str) -> Result<T, StoreError> {
    T::try_from(value).map_err(|_| StoreError::Corrupt(format!("{what} {value}")))
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

    #[test]
    fn integers_out_of_their_column_range_are_errors() {
        assert_eq!(to_i32(7_u32, "attempts").unwrap(), 7);
        assert!(matches!(
            to_i32(u32::MAX, "attempts"),
            Err(StoreError::OutOfRange(m)) if m == "attempts 4294967295"
        ));
        assert_eq!(from_i32::<u32>(7, "attempts").unwrap(), 7);
        assert!(matches!(
            from_i32::<u32>(-1, "attempts"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
