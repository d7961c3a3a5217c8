//! How embeddings are stored, in the columns [`crate::Dialect::embedding_columns`] of every
//! table that has one:
//! - SQLite: `model`, `embedding` (a blob of little-endian f32, sealed by the store's
//!   [`Sealer`] when encryption at rest is on) and `key_id` (the sealing key, or `NULL`);
//! - PostgreSQL: `model`, `embedding` (a pgvector `vector`) and `dim` (its dimension, which
//!   the partial HNSW indexes filter on). Its store is opened without encryption.
//!
//! [`seal_with_key`] and [`open_with_key`] seal bytes beside their key's id, for the
//! embeddings' blobs and the webhook secrets.

use facegate_core::ports::Sealer;
use facegate_core::{Embedding, ModelId};
use pgvector::Vector;
use sqlx::postgres::{PgArguments, PgTypeInfo, PgValueRef};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Postgres, Sqlite, Type};

use crate::error::{StoreError, to_i32};

/// pgvector's largest `vector`; the longest embedding either store keeps.
pub const MAX_DIM: usize = 16_000;

/// The embedding's dimension as its column holds it, or why no store keeps it.
pub fn stored_dim(embedding: &Embedding) -> Result<i32, StoreError> {
    let dim = embedding.dim();
    if dim > MAX_DIM {
        return Err(StoreError::OutOfRange(format!(
            "an embedding of {dim} dimensions is longer than pgvector's {MAX_DIM}"
        )));
    }
    to_i32(dim, "embedding dimension")
}

/// `plain` as a row holds it: sealed with the sealer's current key, beside that key's id;
/// unchanged and without an id when encryption is off.
pub(crate) fn seal_with_key(
    sealer: &dyn Sealer,
    plain: Vec<u8>,
) -> Result<(Vec<u8>, Option<String>), StoreError> {
    match sealer.key_id() {
        Some(key_id) => Ok((
            sealer.seal(&plain).map_err(StoreError::Seal)?,
            Some(key_id.to_owned()),
        )),
        None => Ok((plain, None)),
    }
}

/// The plain bytes of `blob`, stored sealed with `key_id` (plain when `None`).
pub(crate) fn open_with_key(
    sealer: &dyn Sealer,
    blob: Vec<u8>,
    key_id: Option<String>,
) -> Result<Vec<u8>, StoreError> {
    let Some(key_id) = key_id else {
        return Ok(blob);
    };
    let plain = sealer.open(&blob).map_err(StoreError::Seal)?;
    // A sealer passes through what it does not recognise as its envelope; sealed bytes
    // coming back unchanged were not opened (encryption off, or another key).
    if plain == blob {
        return Err(StoreError::Unsealed { key_id });
    }
    Ok(plain)
}

/// An embedding as a statement writes it.
#[derive(Debug)]
pub(crate) struct StoredEmbedding {
    model: String,
    vector: Vec<f32>,
    dim: i32,
    /// SQLite's column: little-endian f32, sealed when `key_id` is set.
    blob: Vec<u8>,
    key_id: Option<String>,
}

impl StoredEmbedding {
    /// Sealed with the sealer's current key, or plain when encryption is off.
    pub(crate) fn seal(sealer: &dyn Sealer, embedding: &Embedding) -> Result<Self, StoreError> {
        let dim = stored_dim(embedding)?;
        let (blob, key_id) = seal_with_key(sealer, encode_vector(embedding.vector()))?;
        Ok(Self {
            model: embedding.model().0.clone(),
            vector: embedding.vector().to_vec(),
            dim,
            blob,
            key_id,
        })
    }
}

/// Binds the values of [`crate::Dialect::embedding_columns`], in that order.
pub(crate) trait BindEmbedding {
    fn bind_embedding(self, embedding: StoredEmbedding) -> Self;
}

impl<'q> BindEmbedding for Query<'q, Sqlite, SqliteArguments<'q>> {
    fn bind_embedding(self, embedding: StoredEmbedding) -> Self {
        self.bind(embedding.model)
            .bind(embedding.blob)
            .bind(embedding.key_id)
    }
}

impl BindEmbedding for Query<'_, Postgres, PgArguments> {
    fn bind_embedding(self, embedding: StoredEmbedding) -> Self {
        self.bind(embedding.model)
            .bind(Vector::from(embedding.vector))
            .bind(embedding.dim)
    }
}

/// The `embedding` column as read: a blob in SQLite, a `vector` in PostgreSQL.
#[derive(Debug)]
pub(crate) enum EmbeddingColumn {
    Blob(Vec<u8>),
    Vector(Vec<f32>),
}

impl Type<Sqlite> for EmbeddingColumn {
    fn type_info() -> SqliteTypeInfo {
        <Vec<u8> as Type<Sqlite>>::type_info()
    }
}

impl<'r> Decode<'r, Sqlite> for EmbeddingColumn {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Self::Blob(<Vec<u8> as Decode<Sqlite>>::decode(value)?))
    }
}

impl Type<Postgres> for EmbeddingColumn {
    fn type_info() -> PgTypeInfo {
        <Vector as Type<Postgres>>::type_info()
    }
}

impl<'r> Decode<'r, Postgres> for EmbeddingColumn {
    fn decode(value: PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Self::Vector(
            <Vector as Decode<Postgres>>::decode(value)?.into(),
        ))
    }
}

/// An embedding as its row holds it (flattened into the rows of every table with one).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EmbeddingRow {
    model: String,
    embedding: EmbeddingColumn,
    /// SQLite's only: the key the blob is sealed with, `NULL` when it is plain.
    #[sqlx(default)]
    key_id: Option<String>,
}

impl EmbeddingRow {
    /// The embedding, opened with `sealer` when it was sealed.
    pub(crate) fn open(self, sealer: &dyn Sealer) -> Result<Embedding, StoreError> {
        let vector = match (self.embedding, self.key_id) {
            (EmbeddingColumn::Vector(vector), _) => vector,
            (EmbeddingColumn::Blob(blob), key_id) => {
                decode_vector(&open_with_key(sealer, blob, key_id)?)?
            }
        };
        // The stored vector is already unit-length; it goes through `Embedding::from_raw`
        // again (the only constructor), which also rejects empty, zero or non-finite
        // vectors as corrupt.
        Embedding::from_raw(ModelId(self.model), vector)
            .ok_or_else(|| StoreError::Corrupt("embedding is empty, zero or not finite".to_owned()))
    }
}

/// Little-endian f32 bytes of a vector.
fn encode_vector(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn decode_vector(blob: &[u8]) -> Result<Vec<f32>, StoreError> {
    let (chunks, rest) = blob.as_chunks::<4>();
    if !rest.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "embedding blob of {} bytes is not a whole number of f32",
            blob.len()
        )));
    }
    Ok(chunks.iter().map(|b| f32::from_le_bytes(*b)).collect())
}

#[cfg(test)]
mod tests {
    use facegate_core::ports::NoEncryption;

    use super::*;

    /// Marks sealed bytes with a prefix: enough to see which path a blob took.
    struct Prefixing;

    impl Sealer for Prefixing {
        fn key_id(&self) -> Option<&str> {
            Some("k1")
        }

        fn seal(&self, plain: &[u8]) -> facegate_core::Result<Vec<u8>> {
            Ok([b"sealed:".as_slice(), plain].concat())
        }

        fn open(&self, data: &[u8]) -> facegate_core::Result<Vec<u8>> {
            Ok(data.strip_prefix(b"sealed:").unwrap_or(data).to_vec())
        }
    }

    fn unit() -> Embedding {
        Embedding::from_raw(ModelId("m@1".into()), vec![0.6, -0.8]).unwrap()
    }

    /// The row SQLite would give back for what `stored` binds.
    fn sqlite_row(stored: StoredEmbedding) -> EmbeddingRow {
        EmbeddingRow {
            model: stored.model,
            embedding: EmbeddingColumn::Blob(stored.blob),
            key_id: stored.key_id,
        }
    }

    #[test]
    fn seals_only_when_encryption_is_on() {
        let plain = StoredEmbedding::seal(&NoEncryption, &unit()).unwrap();
        assert_eq!(plain.key_id, None);
        assert_eq!(plain.blob, encode_vector(unit().vector()));
        assert_eq!(plain.dim, 2);

        let sealed = StoredEmbedding::seal(&Prefixing, &unit()).unwrap();
        assert_eq!(sealed.model, "m@1");
        assert_eq!(sealed.key_id.as_deref(), Some("k1"));
        assert!(sealed.blob.starts_with(b"sealed:"));
        let opened = sqlite_row(sealed).open(&Prefixing).unwrap();
        assert_eq!(opened.vector(), unit().vector());

        // Plain rows read with encryption on, without going through the sealer.
        let plain = sqlite_row(plain).open(&Prefixing).unwrap();
        assert_eq!(plain.vector(), unit().vector());
    }

    #[test]
    fn a_sealed_blob_the_sealer_does_not_open_is_an_error() {
        let sealed = StoredEmbedding::seal(&Prefixing, &unit()).unwrap();
        assert!(matches!(
            sqlite_row(sealed).open(&NoEncryption),
            Err(StoreError::Unsealed { key_id }) if key_id == "k1"
        ));
    }

    #[test]
    fn round_trips_a_unit_vector() {
        let embedding = Embedding::from_raw(ModelId("m@1".into()), vec![0.6, -0.8, 0.0]).unwrap();
        let blob = encode_vector(embedding.vector());
        assert_eq!(blob.len(), 12);
        assert_eq!(&blob[..4], &0.6_f32.to_le_bytes());
        let row = sqlite_row(StoredEmbedding::seal(&NoEncryption, &embedding).unwrap());
        let decoded = row.open(&NoEncryption).unwrap();
        assert_eq!(decoded.model(), embedding.model());
        let similarity = facegate_core::similarity::cosine(&decoded, &embedding).unwrap();
        assert!((similarity - 1.0).abs() < 1e-6);

        let vector = EmbeddingRow {
            model: "m@1".into(),
            embedding: EmbeddingColumn::Vector(embedding.vector().to_vec()),
            key_id: None,
        };
        assert_eq!(vector.open(&NoEncryption).unwrap(), embedding);
    }

    #[test]
    fn rejects_what_a_column_cannot_hold_or_what_is_not_an_embedding() {
        let long = Embedding::from_raw(ModelId("m".into()), vec![1.0; MAX_DIM + 1]).unwrap();
        assert!(matches!(
            StoredEmbedding::seal(&NoEncryption, &long),
            Err(StoreError::OutOfRange(_))
        ));
        let row = |embedding| EmbeddingRow {
            model: "m".into(),
            embedding,
            key_id: None,
        };
        for broken in [
            EmbeddingColumn::Blob(vec![0, 0, 128]),
            EmbeddingColumn::Blob(Vec::new()),
            EmbeddingColumn::Blob(encode_vector(&[0.0, 0.0])),
            EmbeddingColumn::Blob(encode_vector(&[f32::NAN, 1.0])),
            EmbeddingColumn::Vector(vec![0.0, 0.0]),
            EmbeddingColumn::Vector(vec![f32::NAN]),
        ] {
            assert!(matches!(
                row(broken).open(&NoEncryption),
                Err(StoreError::Corrupt(_))
            ));
        }
    }
}
