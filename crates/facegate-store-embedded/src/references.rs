//! [`ReferenceStore`] on the `face_references` table and the references' vector index.

use async_trait::async_trait;
use facegate_core::model::{Reference, SubjectMatch, SubjectSummary};
use facegate_core::ports::ReferenceStore;
use facegate_core::{Embedding, Result};
use futures_util::TryStreamExt;
use sqlx::SqlitePool;

use crate::codec::{decode_embedding, encode_vector};
use crate::error::StoreError;
use crate::index::VectorIndex;
use crate::store::EmbeddedStore;

/// Rows grouped by subject, keyed by reference id.
pub(crate) type ReferenceIndex = VectorIndex<String, String, ()>;

const SELECT_REFERENCE: &str =
    "SELECT id, subject, face, quality, model, embedding, created_at FROM face_references";

#[derive(sqlx::FromRow)]
struct ReferenceRow {
    id: String,
    subject: String,
    face: String,
    quality: f32,
    model: String,
    embedding: Vec<u8>,
    created_at: i64,
}

impl TryFrom<ReferenceRow> for Reference {
    type Error = StoreError;

    fn try_from(row: ReferenceRow) -> Result<Self, StoreError> {
        Ok(Reference {
            face: serde_json::from_str(&row.face)?,
            embedding: decode_embedding(row.model, &row.embedding)?,
            id: row.id,
            subject: row.subject,
            quality: row.quality,
            created_at: row.created_at,
        })
    }
}

/// Every stored reference embedding, for the index built at open.
pub(crate) async fn load_references(pool: &SqlitePool) -> Result<ReferenceIndex, StoreError> {
    let mut index = ReferenceIndex::default();
    let mut rows = sqlx::query_as::<_, (String, String, String, Vec<u8>)>(
        "SELECT id, subject, model, embedding FROM face_references",
    )
    .fetch(pool);
    while let Some((id, subject, model, blob)) = rows.try_next().await? {
        let embedding = decode_embedding(model, &blob)?;
        index.insert(subject, id, (), &embedding);
    }
    Ok(index)
}

async fn insert(store: &EmbeddedStore, reference: &Reference) -> Result<(), StoreError> {
    let face = serde_json::to_string(&reference.face)?;
    let _writing = store.writes.lock().await;
    sqlx::query(
        "INSERT INTO face_references (id, subject, face, quality, model, embedding, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&reference.id)
    .bind(&reference.subject)
    .bind(face)
    .bind(reference.quality)
    .bind(&reference.embedding.model().0)
    .bind(encode_vector(reference.embedding.vector()))
    .bind(reference.created_at)
    .execute(&store.pool)
    .await?;
    store.references.write().insert(
        reference.subject.clone(),
        reference.id.clone(),
        (),
        &reference.embedding,
    );
    Ok(())
}

async fn get(store: &EmbeddedStore, id: &str) -> Result<Option<Reference>, StoreError> {
    sqlx::query_as::<_, ReferenceRow>(&format!("{SELECT_REFERENCE} WHERE id = ?"))
        .bind(id)
        .fetch_optional(&store.pool)
        .await?
        .map(Reference::try_from)
        .transpose()
}

async fn delete(store: &EmbeddedStore, id: &str) -> Result<bool, StoreError> {
    let _writing = store.writes.lock().await;
    let subject: Option<String> =
        sqlx::query_scalar("DELETE FROM face_references WHERE id = ? RETURNING subject")
            .bind(id)
            .fetch_optional(&store.pool)
            .await?;
    let Some(subject) = subject else {
        return Ok(false);
    };
    store.references.write().remove(&subject, &id.to_owned());
    Ok(true)
}

async fn subjects(store: &EmbeddedStore) -> Result<Vec<SubjectSummary>, StoreError> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT subject, COUNT(*), MIN(created_at) FROM face_references \
         GROUP BY subject ORDER BY subject",
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

async fn of_subject(store: &EmbeddedStore, subject: &str) -> Result<Vec<Reference>, StoreError> {
    sqlx::query_as::<_, ReferenceRow>(&format!(
        "{SELECT_REFERENCE} WHERE subject = ? ORDER BY created_at, id"
    ))
    .bind(subject)
    .fetch_all(&store.pool)
    .await?
    .into_iter()
    .map(Reference::try_from)
    .collect()
}

async fn delete_subject(store: &EmbeddedStore, subject: &str) -> Result<usize, StoreError> {
    let _writing = store.writes.lock().await;
    let removed = sqlx::query("DELETE FROM face_references WHERE subject = ?")
        .bind(subject)
        .execute(&store.pool)
        .await?
        .rows_affected();
    store.references.write().remove_group(&subject.to_owned());
    Ok(removed as usize)
}

/// An exact scan, off the async workers (100k references take milliseconds).
async fn identify(
    store: &EmbeddedStore,
    probe: &Embedding,
    limit: usize,
) -> Result<Vec<SubjectMatch>, StoreError> {
    let index = store.references.clone();
    let probe = probe.clone();
    let hits =
        tokio::task::spawn_blocking(move || index.read().search(&probe, f32::NEG_INFINITY, limit))
            .await?;
    Ok(hits
        .into_iter()
        .map(|hit| SubjectMatch {
            subject: hit.group,
            reference_id: hit.key,
            similarity: hit.score,
        })
        .collect())
}

#[async_trait]
impl ReferenceStore for EmbeddedStore {
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
}
