//! [`CollectionStore`] on the `photos` and `faces` tables and one vector index per session.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use facegate_core::model::{IndexedFace, IndexedPhoto, PhotoMatch, SessionStatus};
use facegate_core::ports::{CollectionStore, Sealer};
use facegate_core::{BoundingBox, Embedding, Result};
use futures_util::TryStreamExt;
use sqlx::{SqliteConnection, SqlitePool};

use crate::codec::{EMBEDDING_COLUMNS, StoredEmbedding};
use crate::error::StoreError;
use crate::index::VectorIndex;
use crate::store::EmbeddedStore;

/// Rows grouped by photo id, keyed by face index.
pub(crate) type FaceIndex = VectorIndex<String, u32, FaceMeta>;

/// What a match reports of a face besides its similarity.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FaceMeta {
    bbox: BoundingBox,
    detection_score: f32,
}

impl From<&IndexedFace> for FaceMeta {
    fn from(face: &IndexedFace) -> Self {
        Self {
            bbox: face.bbox,
            detection_score: face.detection_score,
        }
    }
}

#[derive(sqlx::FromRow)]
struct FaceRow {
    face_index: u32,
    x1: f32,
    y1: f32,
    x2: f32,
    y2: f32,
    detection_score: f32,
    #[sqlx(flatten)]
    embedding: StoredEmbedding,
}

impl FaceRow {
    fn open(self, sealer: &dyn Sealer) -> Result<IndexedFace, StoreError> {
        Ok(IndexedFace {
            face_index: self.face_index,
            bbox: BoundingBox::new(self.x1, self.y1, self.x2, self.y2),
            detection_score: self.detection_score,
            embedding: self.embedding.open(sealer)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SessionFaceRow {
    session_id: String,
    photo_id: String,
    #[sqlx(flatten)]
    face: FaceRow,
}

/// The columns of [`FaceRow`].
fn face_columns() -> String {
    format!("face_index, x1, y1, x2, y2, detection_score, {EMBEDDING_COLUMNS}")
}

/// Every stored face embedding, one index per session, for the indexes built at open.
pub(crate) async fn load_sessions(
    pool: &SqlitePool,
    sealer: &dyn Sealer,
) -> Result<HashMap<String, FaceIndex>, StoreError> {
    let mut sessions: HashMap<String, FaceIndex> = HashMap::new();
    let query = format!("SELECT session_id, photo_id, {} FROM faces", face_columns());
    let mut rows = sqlx::query_as::<_, SessionFaceRow>(&query).fetch(pool);
    while let Some(row) = rows.try_next().await? {
        let face = row.face.open(sealer)?;
        sessions.entry(row.session_id).or_default().insert(
            row.photo_id,
            face.face_index,
            FaceMeta::from(&face),
            &face.embedding,
        );
    }
    Ok(sessions)
}

/// One photo with its faces; two statements, so call it inside a transaction.
async fn load_photo(
    conn: &mut SqliteConnection,
    sealer: &dyn Sealer,
    session_id: &str,
    photo_id: &str,
) -> Result<Option<IndexedPhoto>, StoreError> {
    let indexed_at: Option<i64> =
        sqlx::query_scalar("SELECT indexed_at FROM photos WHERE session_id = ? AND photo_id = ?")
            .bind(session_id)
            .bind(photo_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(indexed_at) = indexed_at else {
        return Ok(None);
    };
    let faces = sqlx::query_as::<_, FaceRow>(&format!(
        "SELECT {} FROM faces WHERE session_id = ? AND photo_id = ? ORDER BY face_index",
        face_columns()
    ))
    .bind(session_id)
    .bind(photo_id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|row| row.open(sealer))
    .collect::<Result<_, _>>()?;
    Ok(Some(IndexedPhoto {
        session_id: session_id.to_owned(),
        photo_id: photo_id.to_owned(),
        faces,
        indexed_at,
    }))
}

async fn insert(
    store: &EmbeddedStore,
    photo: &IndexedPhoto,
) -> Result<(IndexedPhoto, bool), StoreError> {
    let embeddings = photo
        .faces
        .iter()
        .map(|face| StoredEmbedding::seal(&*store.sealer, &face.embedding))
        .collect::<Result<Vec<_>, _>>()?;
    let insert_face = format!(
        "INSERT INTO faces (session_id, photo_id, face_index, x1, y1, x2, y2, \
         detection_score, {EMBEDDING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    );
    let _writing = store.writes.lock().await;
    let mut tx = store.pool.begin().await?;
    // ON CONFLICT keeps the first record even against another process writing the file.
    let inserted = sqlx::query(
        "INSERT INTO photos (session_id, photo_id, indexed_at) VALUES (?, ?, ?) \
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
        let stored = load_photo(&mut tx, &*store.sealer, &photo.session_id, &photo.photo_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a conflicting photo vanished".to_owned()))?;
        tx.commit().await?;
        return Ok((stored, false));
    }
    for (face, embedding) in photo.faces.iter().zip(embeddings) {
        let insert = sqlx::query(&insert_face)
            .bind(&photo.session_id)
            .bind(&photo.photo_id)
            .bind(face.face_index)
            .bind(face.bbox.x1)
            .bind(face.bbox.y1)
            .bind(face.bbox.x2)
            .bind(face.bbox.y2)
            .bind(face.detection_score);
        embedding.bind(insert).execute(&mut *tx).await?;
    }
    tx.commit().await?;

    let session = store
        .sessions
        .write()
        .entry(photo.session_id.clone())
        .or_default()
        .clone();
    let mut index = session.write();
    for face in &photo.faces {
        index.insert(
            photo.photo_id.clone(),
            face.face_index,
            FaceMeta::from(face),
            &face.embedding,
        );
    }
    Ok((photo.clone(), true))
}

async fn get(
    store: &EmbeddedStore,
    session_id: &str,
    photo_id: &str,
) -> Result<Option<IndexedPhoto>, StoreError> {
    let mut tx = store.pool.begin().await?;
    let photo = load_photo(&mut tx, &*store.sealer, session_id, photo_id).await?;
    tx.commit().await?;
    Ok(photo)
}

async fn status(store: &EmbeddedStore, session_id: &str) -> Result<SessionStatus, StoreError> {
    let (photos, faces, last): (i64, i64, Option<i64>) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM photos WHERE session_id = ?1), \
                (SELECT COUNT(*) FROM faces WHERE session_id = ?1), \
                (SELECT MAX(indexed_at) FROM photos WHERE session_id = ?1)",
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

async fn delete(store: &EmbeddedStore, session_id: &str) -> Result<usize, StoreError> {
    let _writing = store.writes.lock().await;
    // Faces go with their photos (ON DELETE CASCADE).
    let removed = sqlx::query("DELETE FROM photos WHERE session_id = ?")
        .bind(session_id)
        .execute(&store.pool)
        .await?
        .rows_affected();
    store.sessions.write().remove(session_id);
    Ok(removed as usize)
}

/// An exact scan of the session, off the async workers (100k faces take milliseconds).
async fn search(
    store: &EmbeddedStore,
    session_id: &str,
    probe: &Embedding,
    threshold: f32,
    limit: usize,
) -> Result<Vec<PhotoMatch>, StoreError> {
    let Some(index) = store.sessions.read().get(session_id).map(Arc::clone) else {
        return Ok(Vec::new());
    };
    let probe = probe.clone();
    let hits =
        tokio::task::spawn_blocking(move || index.read().search(&probe, threshold, limit)).await?;
    Ok(hits
        .into_iter()
        .map(|hit| PhotoMatch {
            photo_id: hit.group,
            face_index: hit.key,
            similarity: hit.score,
            detection_confidence: hit.value.detection_score,
            bbox: hit.value.bbox,
        })
        .collect())
}

#[async_trait]
impl CollectionStore for EmbeddedStore {
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
