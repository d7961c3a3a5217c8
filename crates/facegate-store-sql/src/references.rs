//! [`ReferenceStore`] on the `face_references` table; identification is the store's
//! [`Vectors`].

use async_trait::async_trait;
use facegate_core::model::{Reference, StaleReference, SubjectMatch, SubjectSummary};
use facegate_core::ports::{ReferenceStore, Sealer};
use facegate_core::{Embedding, FaceDetection, ModelId, Result};
use futures_util::TryStreamExt;
use sqlx::types::Json;

use crate::db::{SqlPool, on_db};
use crate::embedding::{BindEmbedding, EmbeddingRow, StoredEmbedding};
use crate::error::StoreError;
use crate::store::{SqlStore, Vectors};

#[derive(sqlx::FromRow)]
struct ReferenceRow {
    id: String,
    subject: String,
    face: Json<FaceDetection>,
    quality: f32,
    created_at: i64,
    #[sqlx(flatten)]
    embedding: EmbeddingRow,
}

impl<V: Vectors> SqlStore<V> {
    fn select_reference(&self, condition: &str) -> String {
        format!(
            "SELECT id, subject, face, quality, created_at, {} FROM face_references {condition}",
            self.pool.dialect().embedding_columns
        )
    }

    fn open_reference(&self, row: ReferenceRow) -> Result<Reference, StoreError> {
        Ok(Reference {
            embedding: row.embedding.open(&*self.sealer)?,
            face: row.face.0,
            id: row.id,
            subject: row.subject,
            quality: row.quality,
            created_at: row.created_at,
            crop: None,
        })
    }
}

#[derive(sqlx::FromRow)]
struct IndexRow {
    id: String,
    subject: String,
    #[sqlx(flatten)]
    embedding: EmbeddingRow,
}

/// Calls `visit(subject, id, embedding)` for every stored reference, for an index built
/// when a store opens.
pub async fn each_reference(
    pool: &SqlPool,
    sealer: &dyn Sealer,
    mut visit: impl FnMut(String, String, Embedding),
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT id, subject, {} FROM face_references",
        pool.dialect().embedding_columns
    );
    on_db!(pool, |pool| {
        let mut rows = sqlx::query_as::<_, IndexRow>(&sql).fetch(pool);
        while let Some(row) = rows.try_next().await? {
            visit(row.subject, row.id, row.embedding.open(sealer)?);
        }
    });
    Ok(())
}

async fn insert<V: Vectors>(store: &SqlStore<V>, reference: &Reference) -> Result<(), StoreError> {
    let embedding = || StoredEmbedding::seal(&*store.sealer, &reference.embedding);
    let crop = reference
        .crop
        .as_deref()
        .map(|png| store.seal(png))
        .transpose()?;
    let sql = format!(
        "INSERT INTO face_references (id, subject, face, quality, created_at, face_crop, {}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        store.pool.dialect().embedding_columns
    );
    let _writing = store.writing().await;
    on_db!(&store.pool, |pool| sqlx::query(&sql)
        .bind(&reference.id)
        .bind(&reference.subject)
        .bind(Json(&reference.face))
        .bind(reference.quality)
        .bind(reference.created_at)
        .bind(&crop)
        .bind_embedding(embedding()?)
        .execute(pool)
        .await?
        .rows_affected());
    store.vectors.reference_added(reference);
    Ok(())
}

async fn get<V: Vectors>(store: &SqlStore<V>, id: &str) -> Result<Option<Reference>, StoreError> {
    let sql = store.select_reference("WHERE id = $1");
    let row: Option<ReferenceRow> = on_db!(&store.pool, |pool| sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?);
    row.map(|row| store.open_reference(row)).transpose()
}

async fn delete<V: Vectors>(store: &SqlStore<V>, id: &str) -> Result<bool, StoreError> {
    let _writing = store.writing().await;
    let subject: Option<String> = on_db!(&store.pool, |pool| sqlx::query_scalar(
        "DELETE FROM face_references WHERE id = $1 RETURNING subject"
    )
    .bind(id)
    .fetch_optional(pool)
    .await?);
    let Some(subject) = subject else {
        return Ok(false);
    };
    store.vectors.reference_removed(&subject, id);
    Ok(true)
}

/// By name in byte order.
async fn subjects<V>(store: &SqlStore<V>) -> Result<Vec<SubjectSummary>, StoreError> {
    let sql = format!(
        "SELECT subject, COUNT(*), MIN(created_at) FROM face_references \
         GROUP BY subject ORDER BY subject{}",
        store.pool.dialect().byte_order
    );
    let rows: Vec<(String, i64, i64)> = on_db!(&store.pool, |pool| sqlx::query_as(&sql)
        .fetch_all(pool)
        .await?);
    Ok(rows
        .into_iter()
        .map(|(name, references, created_at)| SubjectSummary {
            name,
            references: usize::try_from(references).unwrap_or(0),
            created_at,
        })
        .collect())
}

async fn of_subject<V: Vectors>(
    store: &SqlStore<V>,
    subject: &str,
) -> Result<Vec<Reference>, StoreError> {
    let sql = store.select_reference(&format!(
        "WHERE subject = $1 ORDER BY created_at, id{}",
        store.pool.dialect().byte_order
    ));
    let rows: Vec<ReferenceRow> = on_db!(&store.pool, |pool| sqlx::query_as(&sql)
        .bind(subject)
        .fetch_all(pool)
        .await?);
    rows.into_iter()
        .map(|row| store.open_reference(row))
        .collect()
}

async fn delete_subject<V: Vectors>(
    store: &SqlStore<V>,
    subject: &str,
) -> Result<usize, StoreError> {
    let _writing = store.writing().await;
    let removed = on_db!(&store.pool, |pool| sqlx::query(
        "DELETE FROM face_references WHERE subject = $1"
    )
    .bind(subject)
    .execute(pool)
    .await?
    .rows_affected());
    store.vectors.subject_removed(subject);
    Ok(usize::try_from(removed).unwrap_or(usize::MAX))
}

/// By id in byte order, after `after`.
async fn stale<V>(
    store: &SqlStore<V>,
    current: &ModelId,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<StaleReference>, StoreError> {
    let byte_order = store.pool.dialect().byte_order;
    let sql = format!(
        "SELECT id, model, face_crop FROM face_references \
         WHERE model <> $1 AND id{byte_order} > $2 ORDER BY id{byte_order} LIMIT $3"
    );
    let rows: Vec<(String, String, Option<Vec<u8>>)> = on_db!(&store.pool, |pool| {
        sqlx::query_as(&sql)
            .bind(&current.0)
            .bind(after.unwrap_or(""))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await?
    });
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

async fn replace_embedding<V: Vectors>(
    store: &SqlStore<V>,
    id: &str,
    embedding: &Embedding,
) -> Result<bool, StoreError> {
    let stored = || StoredEmbedding::seal(&*store.sealer, embedding);
    let sql = format!(
        "UPDATE face_references SET ({}) = ($1, $2, $3) WHERE id = $4 RETURNING subject",
        store.pool.dialect().embedding_columns
    );
    let _writing = store.writing().await;
    let subject: Option<String> = on_db!(&store.pool, |pool| sqlx::query(&sql)
        .bind_embedding(stored()?)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|row| sqlx::Row::get(&row, 0)));
    let Some(subject) = subject else {
        return Ok(false);
    };
    store.vectors.reference_replaced(&subject, id, embedding);
    Ok(true)
}

#[async_trait]
impl<V: Vectors> ReferenceStore for SqlStore<V> {
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
        Ok(self.vectors.identify(probe, limit).await?)
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
