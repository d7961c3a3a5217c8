//! Comparing embeddings and deciding "same" or "different".

use serde::{Deserialize, Serialize};

use crate::face::{Embedding, ModelId};

/// Comparing two embeddings failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimilarityError {
    #[error("embeddings come from different models ({left} vs {right}) and cannot be compared")]
    ModelMismatch { left: ModelId, right: ModelId },
    #[error("embeddings have different dimensions ({left} vs {right})")]
    DimensionMismatch { left: usize, right: usize },
}

/// Cosine similarity of two unit embeddings of the same model, in -1..1.
pub fn cosine(a: &Embedding, b: &Embedding) -> Result<f32, SimilarityError> {
    if a.model() != b.model() {
        return Err(SimilarityError::ModelMismatch {
            left: a.model().clone(),
            right: b.model().clone(),
        });
    }
    if a.dim() != b.dim() {
        return Err(SimilarityError::DimensionMismatch {
            left: a.dim(),
            right: b.dim(),
        });
    }
    Ok(dot(a.vector(), b.vector()))
}

/// Cosine similarity as a use-case outcome: embeddings of different models are the
/// client-visible `embedding_model_mismatch`.
pub fn compare(a: &Embedding, b: &Embedding) -> crate::failure::Result<f32> {
    cosine(a, b).map_err(|e| {
        crate::failure::Failure::new(
            crate::error::ErrorCode::EmbeddingModelMismatch,
            e.to_string(),
        )
    })
}

/// Dot product; equal to the cosine for unit vectors.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A cosine-similarity threshold: pairs at or above it are the same person.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold(pub f32);

/// The outcome of a 1:1 comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Same,
    Different,
}

impl Threshold {
    pub fn decide(self, similarity: f32) -> Decision {
        if similarity >= self.0 {
            Decision::Same
        } else {
            Decision::Different
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emb(model: &str, v: Vec<f32>) -> Embedding {
        Embedding::from_raw(ModelId(model.into()), v).unwrap()
    }

    #[test]
    fn cosine_of_same_model() {
        let s = cosine(&emb("m", vec![1.0, 0.0]), &emb("m", vec![1.0, 1.0])).unwrap();
        assert!((s - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    }

    #[test]
    fn refuses_different_models_and_dimensions() {
        let err = cosine(&emb("a", vec![1.0]), &emb("b", vec![1.0])).unwrap_err();
        assert!(matches!(err, SimilarityError::ModelMismatch { .. }));
        let err = cosine(&emb("a", vec![1.0]), &emb("a", vec![1.0, 0.0])).unwrap_err();
        assert!(matches!(err, SimilarityError::DimensionMismatch { .. }));
    }

    #[test]
    fn threshold_is_inclusive() {
        assert_eq!(Threshold(0.3).decide(0.3), Decision::Same);
        assert_eq!(Threshold(0.3).decide(0.299), Decision::Different);
    }
}
