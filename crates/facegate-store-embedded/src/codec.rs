//! How embeddings are stored: a blob of little-endian f32 beside the model id.

use facegate_core::{Embedding, ModelId};

use crate::error::StoreError;

/// Little-endian f32 bytes of a vector.
pub(crate) fn encode_vector(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The embedding stored as `model` and `blob`. The stored vector is already unit-length;
/// it goes through [`Embedding::from_raw`] again (the only constructor), which also
/// rejects empty, zero or non-finite vectors as corrupt.
pub(crate) fn decode_embedding(model: String, blob: &[u8]) -> Result<Embedding, StoreError> {
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
    use super::*;

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
