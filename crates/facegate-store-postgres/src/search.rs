//! [`Pgvector`]: the PostgreSQL store's [`Vectors`], nearest-first searches of the rows
//! themselves through pgvector's HNSW indexes (cosine).

use async_trait::async_trait;
use facegate_core::Embedding;
use facegate_core::model::{PhotoMatch, SubjectMatch};
use facegate_store_sql::{FaceBox, StoreError, Vectors, stored_dim};
use pgvector::Vector;
use sqlx::PgPool;

use crate::nearest::{Ranked, best_per_group};

/// Searches embeddings where they are stored; every write is the database's alone.
#[derive(Debug, Clone)]
pub struct Pgvector {
    pool: PgPool,
}

impl Pgvector {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The cosine distance of column `embedding` to the probe bound as `$1`, and the filter
/// that keeps the rows comparable with it (parameter `$2` is the model id). The dimension
/// is written into the SQL, not bound: the planner uses a partial index only when it can
/// see at planning time that the query implies the index's `WHERE dim = 512`, and the
/// expression must be the index's `embedding::vector(512)`.
fn distance_and_filter(probe: &Embedding) -> Result<(String, String), StoreError> {
    let dim = stored_dim(probe)?;
    Ok((
        format!("(embedding::vector({dim}) <=> $1)"),
        format!("model = $2 AND dim = {dim}"),
    ))
}

#[derive(sqlx::FromRow)]
struct ReferenceHit {
    subject: String,
    id: String,
    distance: f64,
}

impl Ranked for ReferenceHit {
    fn group(&self) -> &str {
        &self.subject
    }

    fn distance(&self) -> f64 {
        self.distance
    }
}

#[derive(sqlx::FromRow)]
struct FaceHit {
    photo_id: String,
    #[sqlx(flatten)]
    face: FaceBox,
    distance: f64,
}

impl Ranked for FaceHit {
    fn group(&self) -> &str {
        &self.photo_id
    }

    fn distance(&self) -> f64 {
        self.distance
    }
}

#[async_trait]
impl Vectors for Pgvector {
    async fn identify(
        &self,
        probe: &Embedding,
        limit: usize,
    ) -> Result<Vec<SubjectMatch>, StoreError> {
        let (distance, filter) = distance_and_filter(probe)?;
        let select = format!(
            "SELECT subject, id, {distance} AS distance FROM face_references \
             WHERE {filter} ORDER BY {distance} LIMIT $3"
        );
        let vector = Vector::from(probe.vector().to_vec());
        let (vector, model) = (&vector, &probe.model().0);
        let query = |rows| sqlx::query_as(&select).bind(vector).bind(model).bind(rows);
        let hits: Vec<ReferenceHit> =
            best_per_group(&self.pool, query, f32::NEG_INFINITY, limit).await?;
        Ok(hits
            .into_iter()
            .map(|hit| SubjectMatch {
                similarity: hit.similarity(),
                subject: hit.subject,
                reference_id: hit.id,
            })
            .collect())
    }

    async fn search(
        &self,
        session_id: &str,
        probe: &Embedding,
        threshold: f32,
        limit: usize,
    ) -> Result<Vec<PhotoMatch>, StoreError> {
        let (distance, filter) = distance_and_filter(probe)?;
        let select = format!(
            "SELECT photo_id, face_index, x1, y1, x2, y2, detection_score, \
             {distance} AS distance FROM faces WHERE session_id = $3 AND {filter} \
             ORDER BY {distance} LIMIT $4"
        );
        let vector = Vector::from(probe.vector().to_vec());
        let (vector, model) = (&vector, &probe.model().0);
        let query = |rows| {
            sqlx::query_as(&select)
                .bind(vector)
                .bind(model)
                .bind(session_id)
                .bind(rows)
        };
        let hits: Vec<FaceHit> = best_per_group(&self.pool, query, threshold, limit).await?;
        hits.into_iter()
            .map(|hit| {
                Ok(PhotoMatch {
                    similarity: hit.similarity(),
                    face_index: hit.face.face_index()?,
                    detection_confidence: hit.face.detection_score(),
                    bbox: hit.face.bbox(),
                    photo_id: hit.photo_id,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use facegate_core::ModelId;
    use facegate_store_sql::MAX_DIM;

    use super::*;

    /// The migrations index the 512-d rows (both embedding models of facegate are 512-d);
    /// rows of other dimensions are searched by an exact scan. The query must have the
    /// indexes' shape for the planner to use them.
    #[test]
    fn queries_of_512_d_probes_have_the_shape_of_the_partial_indexes() {
        let probe = Embedding::from_raw(ModelId("m".into()), vec![1.0; 512]).unwrap();
        let (distance, filter) = distance_and_filter(&probe).unwrap();
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

    #[test]
    fn a_probe_longer_than_pgvector_holds_is_refused() {
        let long = Embedding::from_raw(ModelId("m".into()), vec![1.0; MAX_DIM + 1]).unwrap();
        assert!(matches!(
            distance_and_filter(&long),
            Err(StoreError::OutOfRange(_))
        ));
    }
}
