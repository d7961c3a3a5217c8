//! How embeddings are stored: a blob of little-endian f32 beside the model id, sealed by
//! the store's [`Sealer`] when encryption at rest is on. Every table with an embedding has
//! the columns [`EMBEDDING_COLUMNS`] and goes through [`StoredEmbedding`].

use facegate_core::ports::Sealer;
use facegate_core::{Embedding, ModelId};
use sqlx::Sqlite;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;

use crate::error::StoreError;

/// The columns of an embedding, in the order [`StoredEmbedding::bind`] binds them.
pub(crate) const EMBEDDING_COLUMNS: &str = "model, embedding, key_id";

/// An embedding as its row holds it.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct StoredEmbedding {
    model: String,
    /// Plain ([`encode_vector`]) when `key_id` is `None`, else sealed with that key.
    embedding: Vec<u8>,
    key_id: Option<String>,
}

impl StoredEmbedding {
    /// Sealed with the sealer's current key, or plain when encryption is off.
    pub(crate) fn seal(sealer: &dyn Sealer, embedding: &Embedding) -> Result<Self, StoreError> {
        let plain = encode_vector(embedding.vector());
        let key_id = sealer.key_id().map(str::to_owned);
        let blob = match key_id {
            Some(_) => sealer.seal(&plain).map_err(StoreError::Seal)?,
            None => plain,
        };
        Ok(Self {
            model: embedding.model().0.clone(),
            embedding: blob,
            key_id,
        })
    }

    /// Binds the values of [`EMBEDDING_COLUMNS`], in that order.
    pub(crate) fn bind<'q>(
        self,
        query: Query<'q, Sqlite, SqliteArguments<'q>>,
    ) -> Query<'q, Sqlite, SqliteArguments<'q>> {
        query
            .bind(self.model)
            .bind(self.embedding)
            .bind(self.key_id)
    }

    /// The embedding, opened with `sealer` when it was sealed.
    pub(crate) fn open(self, sealer: &dyn Sealer) -> Result<Embedding, StoreError> {
        let Some(key_id) = self.key_id else {
            return decode_embedding(self.model, &self.embedding);
        };
        let plain = sealer.open(&self.embedding).map_err(StoreError::Seal)?;
        // A sealer passes through what it does not recognise as its envelope; a sealed
        // blob coming back unchanged was not opened (encryption off, or another key).
        if plain == self.embedding {
            return Err(StoreError::Unsealed { key_id });
        }
        decode_embedding(self.model, &plain)
    }
}

/// Little-endian f32 bytes of a vector.
fn encode_vector(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The embedding stored as `model` and `blob`. The stored vector is already unit-length;
/// it goes through [`Embedding::from_raw`] again (the only constructor), which also
/// rejects empty, zero or non-finite vectors as corrupt.
fn decode_embedding(model: String, blob: &[u8]) -> Result<Embedding, StoreError> {
    let (chunks, rest) = blob.as_chunks::<4>();
    if !rest.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "embedding blob of {} bytes is not a whole number of f32",
            blob.len()
        )));
    }
    let vector = chunks.iter().map(|b| f32::from_le_bytes(*b)).collect();
    Embedding::from_raw(ModelId(model), vector)
        .ok_or_else(|| StoreError::Corrupt("embedding is empty, zero or not finite".to_owned()))
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

    #[test]
    fn seals_only_when_encryption_is_on() {
        let plain = StoredEmbedding::seal(&NoEncryption, &unit()).unwrap();
        assert_eq!(plain.key_id, None);
        assert_eq!(plain.embedding, encode_vector(unit().vector()));

        let sealed = StoredEmbedding::seal(&Prefixing, &unit()).unwrap();
        assert_eq!(sealed.model, "m@1");
        assert_eq!(sealed.key_id.as_deref(), Some("k1"));
        assert!(sealed.embedding.starts_with(b"sealed:"));
        let opened = sealed.open(&Prefixing).unwrap();
        assert_eq!(opened.vector(), unit().vector());

        // Plain rows read with encryption on, without going through the sealer.
        assert_eq!(plain.open(&Prefixing).unwrap().vector(), unit().vector());
    }

    #[test]
    fn a_sealed_blob_the_sealer_does_not_open_is_an_error() {
        let sealed = StoredEmbedding::seal(&Prefixing, &unit()).unwrap();
        assert!(matches!(
            sealed.open(&NoEncryption),
            Err(StoreError::Unsealed { key_id }) if key_id == "k1"
        ));
    }

    #[test]
    fn round_trips_a_unit_vector() {
        let embedding = Embedding::from_raw(ModelId("m@1".into()), vec![0.6, -0.8, 0.0]).unwrap();
        let blob = encode_vector(embedding.vector());
        assert_eq!(blob.len(), 12);
        assert_eq!(&blob[..4], &0.6_f32.to_le_bytes());
        let decoded = decode_embedding("m@1".into(), &blob).unwrap();
        assert_eq!(decoded.model(), embedding.model());
        let similarity = facegate_core::similarity::cosine(&decoded, &embedding).unwrap();
        assert!((similarity - 1.0).abs() < 1e-6);
    }

    #[test]
    fn rejects_broken_blobs() {
        assert!(matches!(
            decode_embedding("m".into(), &[0, 0, 128]),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            decode_embedding("m".into(), &[]),
            Err(StoreError::Corrupt(_))
        ));
        let zeros = encode_vector(&[0.0, 0.0]);
        assert!(matches!(
            decode_embedding("m".into(), &zeros),
            Err(StoreError::Corrupt(_))
        ));
        let nan = encode_vector(&[f32::NAN, 1.0]);
        assert!(matches!(
            decode_embedding("m".into(), &nan),
            Err(StoreError::Corrupt(_))
        ));
    }
}
