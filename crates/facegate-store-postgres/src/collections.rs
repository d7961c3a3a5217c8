//! [`CollectionStore`] on the `photos` and `faces` tables.

use async_trait::async_trait;
use facegate_core::model::{IndexedFace, IndexedPhoto, PhotoMatch, SessionStatus};
use facegate_core::ports::CollectionStore;
use facegate_core::{BoundingBox, Embedding, Result};
use pgvector::Vector;
use sqlx::PgConnection;

use crate::codec::{StoredEmbedding, decode, dim, distance_and_filter};
use crate::error::StoreError;
use crate::nearest::{Ranked, best_per_group};
use crate::store::PostgresStore;

#[derive(sqlx::FromRow)]
struct FaceRow {
    face_index: i32,
    x1: f32,
    y1: f32,
    x2: f32,
    y2: f32,
    detection_score: f32,
    model: String,
    embedding: Vector,
}

impl TryFrom<FaceRow> for IndexedFace {
    type Error = StoreError;

    fn try_from(row: FaceRow) -> Result<Self, StoreError> {
        Ok(IndexedFace {
            face_index: u32::try_from(row.face_index)
                .map_err(|_| StoreError::Corrupt("a negative face index".to_owned()))?,
            bbox: BoundingBox::new(row.x1, row.y1, row.x2, row.y2),
            detection_score: row.detection_score,
            embedding: decode(row.model, row.embedding)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct Hit {
    photo_id: String,
    face_index: i32,
    x1: f32,
    y1: f32,
    x2: f32,
    y2: f32,
    detection_score: f32,
    distance: f64,
}

impl Ranked for Hit {
    fn group(&self) -> &str {
        &self.photo_id
    }

    fn distance(&self) -> f64 {
        self.distance
    }
}

/// The faces of a photo, column by column, for one `INSERT ... SELECT FROM UNNEST`.
#[derive(Default)]
struct FaceColumns {
    face_index: Vec<i32>,
    x1: Vec<f32>,
    y1: Vec<f32>,
    x2: Vec<f32>,
    y2: Vec<f32>,
    detection_score: Vec<f32>,
    model: Vec<String>,
    embedding: Vec<Vector>,
    dim: Vec<i32>,
}

impl FaceColumns {
    fn new(faces: &[IndexedFace]) -> Result<Self, StoreError> {
        let mut columns = Self::default();
        for face in faces {
            let embedding = StoredEmbedding::new(&face.embedding)?;
            columns.face_index.push(
                i32::try_from(face.face_index).map_err(|_| {
                    StoreError::OutOfRange(format!("face index {}", face.face_index))
                })?,
            );
            columns.x1.push(face.bbox.x1);
            columns.y1.push(face.bbox.y1);
            columns.x2.push(face.bbox.x2);
            columns.y2.push(face.bbox.y2);
            columns.detection_score.push(face.detection_score);
            columns.model.push(embedding.model);
            columns.embedding.push(embedding.vector);
            columns.dim.push(embedding.dim);
        }
        Ok(columns)
    }
}

/// One photo with its faces; two statements, so call it inside a transaction.
async fn load_photo(
    conn: &mut PgConnection,
    session_id: &str,
    photo_id: &str,
) -> Result<Option<IndexedPhoto>, StoreError> {
    let indexed_at: Option<i64> =
        sqlx::query_scalar("SELECT indexed_at FROM photos WHERE session_id = $1 AND photo_id = $2")
            .bind(session_id)
            .bind(photo_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(indexed_at) = indexed_at else {
        return Ok(None);
    };
    let faces = sqlx::query_as::<_, FaceRow>(
        "SELECT face_index, x1, y1, x2, y2, detection_score, model, embedding FROM faces \
         WHERE session_id = $1 AND photo_id = $2 ORDER BY face_index",
    )
    .bind(session_id)
    .bind(photo_id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(IndexedFace::try_from)
    .collect::<Result<_, _>>()?;
    Ok(Some(IndexedPhoto {
        session_id: session_id.to_owned(),
        photo_id: photo_id.to_owned(),
        faces,
        indexed_at,
    }))
}

async fn insert(
    store: &PostgresStore,
    photo: &IndexedPhoto,
) -> Result<(IndexedPhoto, bool), StoreError> {
    let faces = FaceColumns::new(&photo.faces)?;
    let mut tx = store.pool.begin().await?;
    // A concurrent insert of the same photo waits here for the first to commit (or roll
    // back), then inserts nothing and reads the first's record.
    let inserted = sqlx::query(
        "INSERT INTO photos (session_id, photo_id, indexed_at) VALUES ($1, $2, $3) \
         ON CONFLICT (session_id, photo_id) DO NOTHING",
    )
    .bind(&photo.session_id)
    .bind(&photo.photo_id)
    .bind(photo.indexed_at)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !inserted {
        let stored = load_photo(&mut tx, &photo.session_id, &photo.photo_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a conflicting photo vanished".to_owned()))?;
        tx.commit().await?;
        return Ok((stored, false));
    }
    if !photo.faces.is_empty() {
        sqlx::query(
            "INSERT INTO faces (session_id, photo_id, face_index, x1, y1, x2, y2, \
             detection_score, model, embedding, dim) \
             SELECT $1, $2, * FROM UNNEST($3::integer[], $4::real[], $5::real[], $6::real[], \
             $7::real[], $8::real[], $9::text[], $10::vector[], $11::integer[])",
        )
        .bind(&photo.session_id)
        .bind(&photo.photo_id)
        .bind(faces.face_index)
        .bind(faces.x1)
        .bind(faces.y1)
        .bind(faces.x2)
        .bind(faces.y2)
        .bind(faces.detection_score)
        .bind(faces.model)
        .bind(faces.embedding)
        .bind(faces.dim)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok((photo.clone(), true))
}

async fn get(
    store: &PostgresStore,
    session_id: &str,
    photo_id: &str,
) -> Result<Option<IndexedPhoto>, StoreError> {
    // One snapshot for both statements, so a photo deleted in between is not half read.
    let mut tx = store.pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let photo = load_photo(&mut tx, session_id, photo_id).await?;
    tx.commit().await?;
    Ok(photo)
}

async fn status(store: &PostgresStore, session_id: &str) -> Result<SessionStatus, StoreError> {
    let (photos, faces, last): (i64, i64, Option<i64>) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM photos WHERE session_id = $1), \
                (SELECT COUNT(*) FROM faces WHERE session_id = $1), \
                (SELECT MAX(indexed_at) FROM photos WHERE session_id = $1)",
    )
    .bind(session_id)
    .fetch_one(&store.pool)
    .await?;
    Ok(SessionStatus {
        session_id: session_id.to_owned(),
        indexed_photos: photos as usize,
        indexed_faces: faces as usize,
        last_indexed_at: last,
    })
}

async fn delete(store: &PostgresStore, session_id: &str) -> Result<usize, StoreError> {
    // Faces go with their photos (ON DELETE CASCADE).
    let removed = sqlx::query("DELETE FROM photos WHERE session_id = $1")
        .bind(session_id)
        .execute(&store.pool)
        .await?
        .rows_affected();
    Ok(removed as usize)
}

async fn search(
    store: &PostgresStore,
    session_id: &str,
    probe: &Embedding,
    threshold: f32,
    limit: usize,
) -> Result<Vec<PhotoMatch>, StoreError> {
    let (distance, filter) = distance_and_filter(dim(probe)?);
    let select = format!(
        "SELECT photo_id, face_index, x1, y1, x2, y2, detection_score, {distance} AS distance \
         FROM faces WHERE session_id = $3 AND {filter} ORDER BY {distance} LIMIT $4"
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
    let hits: Vec<Hit> = best_per_group(&store.pool, query, threshold, limit).await?;
    hits.into_iter()
        .map(|hit| {
            Ok(PhotoMatch {
                similarity: hit.similarity(),
                face_index: u32::try_from(hit.face_index)
                    .map_err(|_| StoreError::Corrupt("a negative face index".to_owned()))?,
                detection_confidence: hit.detection_score,
                bbox: BoundingBox::new(hit.x1, hit.y1, hit.x2, hit.y2),
                photo_id: hit.photo_id,
            })
        })
        .collect()
}

#[async_trait]
impl CollectionStore for PostgresStore {
    /// When the photo is already stored, returns the stored record unchanged (faces
    /// included) and `false`.
    async fn insert_photo(&self, photo: &IndexedPhoto) -> Result<(IndexedPhoto, bool)> {
        Ok(insert(self, photo).await?)
    }

    async fn photo(&self, session_id: &str, photo_id: &str) -> Result<Option<IndexedPhoto>> {
        Ok(get(self, session_id, photo_id).await?)
    }

    /// An unknown session has zero counts.
    async fn status(&self, session_id: &str) -> Result<SessionStatus> {
        Ok(status(self, session_id).await?)
    }

    async fn delete_session(&self, session_id: &str) -> Result<usize> {
        Ok(delete(self, session_id).await?)
    }

    /// Faces of another embedding model (or dimension) than the probe's are skipped: they
    /// live in another space. An unknown session has no matches.
    async fn search(
        &self,
        session_id: &str,
        probe: &Embedding,
        threshold: f32,
        limit: usize,
    ) -> Result<Vec<PhotoMatch>> {
        Ok(search(self, session_id, probe, threshold, limit).await?)
    }
}
