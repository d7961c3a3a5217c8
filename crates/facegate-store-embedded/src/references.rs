//! [`ReferenceStore`] on the `face_references` table and the references' vector index.

use async_trait::async_trait;
use facegate_core::model::{Reference, StaleReference, SubjectMatch, SubjectSummary};
use facegate_core::ports::{ReferenceStore, Sealer};
use facegate_core::{Embedding, ModelId, Result};
use futures_util::TryStreamExt;
use sqlx::SqlitePool;

use crate::codec::{EMBEDDING_COLUMNS, StoredEmbedding};
use crate::error::StoreError;
use crate::index::VectorIndex;
use crate::store::EmbeddedStore;

/// Rows grouped by subject, keyed by reference id.
pub(crate) type ReferenceIndex = VectorIndex<String, String, ()>;

fn select_reference() -> String {
    format!(
        "SELECT id, subject, face, quality, created_at, {EMBEDDING_COLUMNS} FROM face_references"
    )
}

#[derive(sqlx::FromRow)]
struct ReferenceRow {
    id: String,
    subject: String,
    face: String,
    quality: f32,
    created_at: i64,
    #[sqlx(flatten)]
    embedding: StoredEmbedding,
}

impl ReferenceRow {
    fn open(self, sealer: &dyn Sealer) -> Result<Reference, StoreError> {
        Ok(Reference {
            face: serde_json::from_str(&self.face)?,
            embedding: self.embedding.open(sealer)?,
            id: self.id,
            subject: self.subject,
            quality: self.quality,
            created_at: self.created_at,
            crop: None,
        })
    }
}

#[derive(sqlx::FromRow)]
struct IndexRow {
    id: String,
    subject: String,
    #[sqlx(flatten)]
    embedding: StoredEmbedding,
}

/// Every stored reference embedding, for the index built at open.
pub(crate) async fn load_references(
    pool: &SqlitePool,
    sealer: &dyn Sealer,
) -> Result<ReferenceIndex, StoreError> {
    let mut index = ReferenceIndex::default();
    let query = format!("SELECT id, subject, {EMBEDDING_COLUMNS} FROM face_references");
    let mut rows = sqlx::query_as::<_, IndexRow>(&query).fetch(pool);
    while let Some(row) = rows.try_next().await? {
        let embedding = row.embedding.open(sealer)?;
        index.insert(row.subject, row.id, (), &embedding);
    }
    Ok(index)
}

async fn insert(store: &EmbeddedStore, reference: &Reference) -> Result<(), StoreError> {
    let face = serde_json::to_string(&reference.face)?;
    let embedding = StoredEmbedding::seal(&*store.sealer, &reference.embedding)?;
    let crop = reference
        .crop
        .as_deref()
        .map(|png| store.sealer.seal(png))
        .transpose()
        .map_err(StoreError::Seal)?;
    let query = format!(
        "INSERT INTO face_references (id, subject, face, quality, created_at, face_crop, \
         {EMBEDDING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    );
    let _writing = store.writes.lock().await;
    let insert = sqlx::query(&query)
        .bind(&reference.id)
        .bind(&reference.subject)
        .bind(face)
        .bind(reference.quality)
        .bind(reference.created_at)
        .bind(crop);
    embedding.bind(insert).execute(&store.pool).await?;
    store.references.write().insert(
        reference.subject.clone(),
        reference.id.clone(),
        (),
        &reference.embedding,
    );
    Ok(())
}

async fn get(store: &EmbeddedStore, id: &str) -> Result<Option<Reference>, StoreError> {
    sqlx::query_as::<_, ReferenceRow>(&format!("{} WHERE id = ?", select_reference()))
        .bind(id)
        .fetch_optional(&store.pool)
        .await?
        .map(|row| row.open(&*store.sealer))
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
        "{} WHERE subject = ? ORDER BY created_at, id",
        select_reference()
    ))
    .bind(subject)
    .fetch_all(&store.pool)
    .await?
    .into_iter()
    .map(|row| row.open(&*store.sealer))
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

async fn stale(
    store: &EmbeddedStore,
    current: &ModelId,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<StaleReference>, StoreError> {
    let rows: Vec<(String, String, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT id, model, face_crop FROM face_references \
         WHERE model <> ? AND id > ? ORDER BY id LIMIT ?",
    )
    .bind(&current.0)
    .bind(after.unwrap_or(""))
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&store.pool)
    .await?;
    rows.into_iter()
        .map(|(id, model, crop)| {
            Ok(StaleReference {
                id,
                model: ModelId(model),
                crop: crop
                    .map(|sealed| store.sealer.open(&sealed))
                    .transpose()
                    .map_err(StoreError::Seal)?,
            })
        })
        .collect()
}

async fn replace_embedding(
    store: &EmbeddedStore,
    id: &str,
    embedding: &Embedding,
) -> Result<bool, StoreError> {
    let stored = StoredEmbedding::seal(&*store.sealer, embedding)?;
    let _writing = store.writes.lock().await;
    let update = sqlx::query(
        "UPDATE face_references SET model = ?, embedding = ?, key_id = ? \
         WHERE id = ? RETURNING subject",
    );
    let subject: Option<String> = stored
        .bind(update)
        .bind(id)
        .fetch_optional(&store.pool)
        .await?
        .map(|row| sqlx::Row::get(&row, 0));
    let Some(subject) = subject else {
        return Ok(false);
    };
    let mut index = store.references.write();
    index.remove(&subject, &id.to_owned());
    index.insert(subject, id.to_owned(), (), embedding);
    Ok(true)
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
