//! [`ReferenceStore`] on the `face_references` table.

use async_trait::async_trait;
use facegate_core::model::{Reference, StaleReference, SubjectMatch, SubjectSummary};
use facegate_core::ports::ReferenceStore;
use facegate_core::{Embedding, ModelId, Result};
use pgvector::Vector;

use crate::codec::{StoredEmbedding, decode, dim, distance_and_filter};
use crate::error::StoreError;
use crate::nearest::{Ranked, best_per_group};
use crate::store::PostgresStore;

const SELECT_REFERENCE: &str = "SELECT id, subject, face::text AS face, quality, created_at, \
                                model, embedding FROM face_references";

#[derive(sqlx::FromRow)]
struct ReferenceRow {
    id: String,
    subject: String,
    face: String,
    quality: f32,
    created_at: i64,
    model: String,
    embedding: Vector,
}

impl TryFrom<ReferenceRow> for Reference {
    type Error = StoreError;

    fn try_from(row: ReferenceRow) -> Result<Self, StoreError> {
        Ok(Reference {
            face: serde_json::from_str(&row.face)?,
            embedding: decode(row.model, row.embedding)?,
            id: row.id,
            subject: row.subject,
            quality: row.quality,
            created_at: row.created_at,
            crop: None,
        })
    }
}

#[derive(sqlx::FromRow)]
struct Hit {
    subject: String,
    id: String,
    distance: f64,
}

impl Ranked for Hit {
    fn group(&self) -> &str {
        &self.subject
    }

    fn distance(&self) -> f64 {
        self.distance
    }
}

async fn insert(store: &PostgresStore, reference: &Reference) -> Result<(), StoreError> {
    let face = serde_json::to_string(&reference.face)?;
    let embedding = StoredEmbedding::new(&reference.embedding)?;
    sqlx::query(
        "INSERT INTO face_references \
         (id, subject, face, quality, created_at, model, embedding, dim, face_crop) \
         VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&reference.id)
    .bind(&reference.subject)
    .bind(face)
    .bind(reference.quality)
    .bind(reference.created_at)
    .bind(embedding.model)
    .bind(embedding.vector)
    .bind(embedding.dim)
    .bind(reference.crop.as_deref())
    .execute(&store.pool)
    .await?;
    Ok(())
}

async fn stale(
    store: &PostgresStore,
    current: &ModelId,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<StaleReference>, StoreError> {
    let rows: Vec<(String, String, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT id, model, face_crop FROM face_references \
         WHERE model <> $1 AND id COLLATE \"C\" > $2 ORDER BY id COLLATE \"C\" LIMIT $3",
    )
    .bind(&current.0)
    .bind(after.unwrap_or(""))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&store.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, model, crop)| StaleReference {
            id,
            model: ModelId(model),
            crop,
        })
        .collect())
}

async fn replace_embedding(
    store: &PostgresStore,
    id: &str,
    embedding: &Embedding,
) -> Result<bool, StoreError> {
    let stored = StoredEmbedding::new(embedding)?;
    let updated = sqlx::query(
        "UPDATE face_references SET model = $1, embedding = $2, dim = $3 WHERE id = $4",
    )
    .bind(stored.model)
    .bind(stored.vector)
    .bind(stored.dim)
    .bind(id)
    .execute(&store.pool)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

async fn get(store: &PostgresStore, id: &str) -> Result<Option<Reference>, StoreError> {
    sqlx::query_as::<_, ReferenceRow>(&format!("{SELECT_REFERENCE} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&store.pool)
        .await?
        .map(Reference::try_from)
        .transpose()
}

async fn delete(store: &PostgresStore, id: &str) -> Result<bool, StoreError> {
    let removed = sqlx::query("DELETE FROM face_references WHERE id = $1")
        .bind(id)
        .execute(&store.pool)
        .await?
        .rows_affected();
    Ok(removed == 1)
}

/// By name in byte order (`COLLATE "C"`), as the embedded store sorts them whatever the
/// database's collation.
async fn subjects(store: &PostgresStore) -> Result<Vec<SubjectSummary>, StoreError> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT subject, COUNT(*), MIN(created_at) FROM face_references \
         GROUP BY subject ORDER BY subject COLLATE \"C\"",
    )
    .fetch_all(&store.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, references, created_at)| SubjectSummary {
            name,
            references: references as usize,
            created_at,
        })
        .collect())
}

async fn of_subject(store: &PostgresStore, subject: &str) -> Result<Vec<Reference>, StoreError> {
    sqlx::query_as::<_, ReferenceRow>(&format!(
        "{SELECT_REFERENCE} WHERE subject = $1 ORDER BY created_at, id COLLATE \"C\""
    ))
    .bind(subject)
    .fetch_all(&store.pool)
    .await?
    .into_iter()
    .map(Reference::try_from)
    .collect()
}

async fn delete_subject(store: &PostgresStore, subject: &str) -> Result<usize, StoreError> {
    let removed = sqlx::query("DELETE FROM face_references WHERE subject = $1")
        .bind(subject)
        .execute(&store.pool)
        .await?
        .rows_affected();
    Ok(removed as usize)
}

async fn identify(
    store: &PostgresStore,
    probe: &Embedding,
    limit: usize,
) -> Result<Vec<SubjectMatch>, StoreError> {
    let (distance, filter) = distance_and_filter(dim(probe)?);
    let select = format!(
        "SELECT subject, id, {distance} AS distance FROM face_references \
         WHERE {filter} ORDER BY {distance} LIMIT $3"
    );
    let vector = Vector::from(probe.vector().to_vec());
    let (vector, model) = (&vector, &probe.model().0);
    let query = |rows| sqlx::query_as(&select).bind(vector).bind(model).bind(rows);
    let hits: Vec<Hit> = best_per_group(&store.pool, query, f32::NEG_INFINITY, limit).await?;
    Ok(hits
        .into_iter()
        .map(|hit| SubjectMatch {
            similarity: hit.similarity(),
            subject: hit.subject,
            reference_id: hit.id,
        })
        .collect())
}

#[async_trait]
impl ReferenceStore for PostgresStore {
    /// Fails (as an internal fault) when the id is already taken.
    async fn insert_reference(&self, reference: &Reference) -> Result<()> {
        Ok(insert(self, reference).await?)
    }

    async fn reference(&self, id: &str) -> Result<Option<Reference>> {
        Ok(get(self, id).await?)
    }

    async fn delete_reference(&self, id: &str) -> Result<bool> {
        Ok(delete(self, id).await?)
    }

    /// Every subject, by name.
    async fn subjects(&self) -> Result<Vec<SubjectSummary>> {
        Ok(subjects(self).await?)
    }

    /// Oldest first.
    async fn subject_references(&self, subject: &str) -> Result<Vec<Reference>> {
        Ok(of_subject(self, subject).await?)
    }

    async fn delete_subject(&self, subject: &str) -> Result<usize> {
        Ok(delete_subject(self, subject).await?)
    }

    /// References of another embedding model (or dimension) than the probe's are skipped:
    /// they live in another space. No threshold is applied here.
    async fn identify(&self, probe: &Embedding, limit: usize) -> Result<Vec<SubjectMatch>> {
        Ok(identify(self, probe, limit).await?)
    }

    async fn stale_references(
        &self,
        current: &ModelId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StaleReference>> {
        Ok(stale(self, current, after, limit).await?)
    }

    async fn replace_embedding(&self, id: &str, embedding: &Embedding) -> Result<bool> {
        Ok(replace_embedding(self, id, embedding).await?)
    }
}
