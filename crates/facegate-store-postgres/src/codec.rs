//! How embeddings are stored: a pgvector `vector` beside its model id and dimension, and the
//! SQL that compares them with a probe.

use facegate_core::{Embedding, ModelId};
use pgvector::Vector;

use crate::error::StoreError;

/// pgvector's largest `vector`.
const MAX_DIM: usize = 16_000;

/// An embedding as its row holds it: columns `model`, `embedding` and `dim`.
#[derive(Debug)]
pub(crate) struct StoredEmbedding {
    pub model: String,
    pub vector: Vector,
    pub dim: i32,
}

impl StoredEmbedding {
    pub(crate) fn new(embedding: &Embedding) -> Result<Self, StoreError> {
        Ok(Self {
            model: embedding.model().0.clone(),
            vector: Vector::from(embedding.vector().to_vec()),
            dim: dim(embedding)?,
        })
    }
}

/// The embedding's dimension as its column holds it.
pub(crate) fn dim(embedding: &Embedding) -> Result<i32, StoreError> {
    let dim = embedding.dim();
    if dim > MAX_DIM {
        return Err(StoreError::OutOfRange(format!(
            "an embedding of {dim} dimensions is longer than pgvector's {MAX_DIM}"
        )));
    }
    Ok(dim as i32)
}

/// The embedding stored as `model` and `vector`. The stored vector is already unit-length;
/// it goes through [`Embedding::from_raw`] again (the only constructor), which also rejects
/// empty, zero or non-finite vectors as corrupt.
pub(crate) fn decode(model: String, vector: Vector) -> Result<Embedding, StoreError> {
    Embedding::from_raw(ModelId(model), vector.into())
        .ok_or_else(|| StoreError::Corrupt("embedding is empty, zero or not finite".to_owned()))
}

/// The cosine distance of column `embedding` to the probe bound as `$1`, and the filter that
/// keeps the rows comparable with it (parameter `$2` is the model id). The dimension is
/// written into the SQL, not bound: the planner uses a partial index only when it can see
/// at planning time that the query implies the index's `WHERE dim = 512`, and the
/// expression must be the index's `embedding::vector(512)`.
pub(crate) fn distance_and_filter(dim: i32) -> (String, String) {
    (
        format!("(embedding::vector({dim}) <=> $1)"),
        format!("model = $2 AND dim = {dim}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_model_vector_and_dim() {
        let embedding = Embedding::from_raw(ModelId("m@1".into()), vec![0.6, -0.8, 0.0]).unwrap();
        let stored = StoredEmbedding::new(&embedding).unwrap();
        assert_eq!(stored.model, "m@1");
        assert_eq!(stored.dim, 3);
        let decoded = decode(stored.model, stored.vector).unwrap();
        assert_eq!(decoded, embedding);
    }

    #[test]
    fn rejects_what_pgvector_cannot_hold_or_what_is_not_an_embedding() {
        let long = Embedding::from_raw(ModelId("m".into()), vec![1.0; MAX_DIM + 1]).unwrap();
        assert!(matches!(
            StoredEmbedding::new(&long),
            Err(StoreError::OutOfRange(_))
        ));
        assert!(matches!(
            decode("m".into(), Vector::from(vec![0.0, 0.0])),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            decode("m".into(), Vector::from(vec![f32::NAN])),
            Err(StoreError::Corrupt(_))
        ));
    }

    /// The migrations index the 512-d rows (both embedding models of facegate are 512-d);
    /// rows of other dimensions are searched by an exact scan. The query must have the
    /// indexes' shape for the planner to use them.
    #[test]
    fn queries_of_512_d_probes_have_the_shape_of_the_partial_indexes() {
        let (distance, filter) = distance_and_filter(512);
        assert_eq!(distance, "(embedding::vector(512) <=> $1)");
        assert_eq!(filter, "model = $2 AND dim = 512");
        for migration in [
            include_str!("../migrations/0001_references.up.sql"),
            include_str!("../migrations/0002_collections.up.sql"),
        ] {
            assert!(migration.contains("USING hnsw ((embedding::vector(512)) vector_cosine_ops)"));
            assert!(migration.contains("WHERE dim = 512;"));
        }
    }
}
