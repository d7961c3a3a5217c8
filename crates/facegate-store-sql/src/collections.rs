//! [`CollectionStore`] on the `photos` and `faces` tables; searches are the store's
//! [`Vectors`].

use async_trait::async_trait;
use facegate_core::model::{IndexedFace, IndexedPhoto, PhotoMatch, SessionStatus};
use facegate_core::ports::{CollectionStore, Sealer};
use facegate_core::{BoundingBox, Embedding, Result};
use futures_util::TryStreamExt;

use crate::db::{Db, SqlConn, SqlPool, on_db};
use crate::embedding::{BindEmbedding, EmbeddingRow, StoredEmbedding};
use crate::error::{StoreError, from_i32, to_i32};
use crate::store::{SqlStore, Vectors};

/// A face of a photo as its row holds it, less the embedding; the PostgreSQL store's
/// search reads it too.
#[derive(Debug, sqlx::FromRow)]
pub struct FaceBox {
    face_index: i32,
    x1: f32,
    y1: f32,
    x2: f32,
    y2: f32,
    detection_score: f32,
}

impl FaceBox {
    pub fn face_index(&self) -> Result<u32, StoreError> {
        from_i32(self.face_index, "face index")
    }

    pub fn bbox(&self) -> BoundingBox {
        BoundingBox::new(self.x1, self.y1, self.x2, self.y2)
    }

    pub fn detection_score(&self) -> f32 {
        self.detection_score
    }
}

#[derive(sqlx::FromRow)]
struct FaceRow {
    #[sqlx(flatten)]
    face: FaceBox,
    #[sqlx(flatten)]
    embedding: EmbeddingRow,
}

impl FaceRow {
    fn open(self, sealer: &dyn Sealer) -> Result<IndexedFace, StoreError> {
        Ok(IndexedFace {
            face_index: self.face.face_index()?,
            bbox: self.face.bbox(),
            detection_score: self.face.detection_score,
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

/// The columns of [`FaceRow`] in `pool`'s dialect.
fn face_columns<S, P>(pool: &Db<S, P>) -> String {
    format!(
        "face_index, x1, y1, x2, y2, detection_score, {}",
        pool.dialect().embedding_columns
    )
}

/// Calls `visit(session_id, photo_id, face)` for every stored face, for the indexes built
/// when a store opens.
pub async fn each_face(
    pool: &SqlPool,
    sealer: &dyn Sealer,
    mut visit: impl FnMut(String, String, IndexedFace),
) -> Result<(), StoreError> {
    let sql = format!(
        "SELECT session_id, photo_id, {} FROM faces",
        face_columns(pool)
    );
    on_db!(pool, |pool| {
        let mut rows = sqlx::query_as::<_, SessionFaceRow>(&sql).fetch(pool);
        while let Some(row) = rows.try_next().await? {
            visit(row.session_id, row.photo_id, row.face.open(sealer)?);
        }
    });
    Ok(())
}

/// One photo with its faces; two statements, so call it inside a transaction.
async fn load_photo(
    conn: SqlConn<'_>,
    sealer: &dyn Sealer,
    session_id: &str,
    photo_id: &str,
) -> Result<Option<IndexedPhoto>, StoreError> {
    let faces_sql = format!(
        "SELECT {} FROM faces WHERE session_id = $1 AND photo_id = $2 ORDER BY face_index",
        face_columns(&conn)
    );
    let found: Option<(i64, Vec<FaceRow>)> = on_db!(conn, |conn| {
        let indexed_at: Option<i64> = sqlx::query_scalar(
            "SELECT indexed_at FROM photos WHERE session_id = $1 AND photo_id = $2",
        )
        .bind(session_id)
        .bind(photo_id)
        .fetch_optional(&mut *conn)
        .await?;
        match indexed_at {
            None => None,
            Some(indexed_at) => Some((
                indexed_at,
                sqlx::query_as(&faces_sql)
                    .bind(session_id)
                    .bind(photo_id)
                    .fetch_all(&mut *conn)
                    .await?,
            )),
        }
    });
    let Some((indexed_at, faces)) = found else {
        return Ok(None);
    };
    Ok(Some(IndexedPhoto {
        session_id: session_id.to_owned(),
        photo_id: photo_id.to_owned(),
        faces: faces
            .into_iter()
            .map(|row| row.open(sealer))
            .collect::<Result<_, _>>()?,
        indexed_at,
    }))
}

/// A concurrent insert of the same photo waits for the first to commit (or roll back),
/// then inserts nothing and reads the first's record: `ON CONFLICT` keeps the first record
/// even against another process writing the database.
async fn insert<V: Vectors>(
    store: &SqlStore<V>,
    photo: &IndexedPhoto,
) -> Result<(IndexedPhoto, bool), StoreError> {
    let mut faces = Vec::with_capacity(photo.faces.len());
    for face in &photo.faces {
        let index = to_i32(face.face_index, "face index")?;
        faces.push((face, index));
    }
    let embedding = |face: &IndexedFace| StoredEmbedding::seal(&*store.sealer, &face.embedding);
    let insert_face = format!(
        "INSERT INTO faces (session_id, photo_id, face_index, x1, y1, x2, y2, \
         detection_score, {}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        store.pool.dialect().embedding_columns
    );
    let _writing = store.writing().await;
    let stored = on_db!(&store.pool, |pool| {
        let mut tx = pool.begin().await?;
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
        let stored = if inserted {
            for &(face, index) in &faces {
                sqlx::query(&insert_face)
                    .bind(&photo.session_id)
                    .bind(&photo.photo_id)
                    .bind(index)
                    .bind(face.bbox.x1)
                    .bind(face.bbox.y1)
                    .bind(face.bbox.x2)
                    .bind(face.bbox.y2)
                    .bind(face.detection_score)
                    .bind_embedding(embedding(face)?)
                    .execute(&mut *tx)
                    .await?;
            }
            None
        } else {
            let conn = SqlConn::from(&mut *tx);
            Some(load_photo(conn, &*store.sealer, &photo.session_id, &photo.photo_id).await?)
        };
        tx.commit().await?;
        stored
    });
    match stored {
        None => {
            store.vectors.photo_added(photo);
            Ok((photo.clone(), true))
        }
        Some(stored) => {
            let stored = stored
                .ok_or_else(|| StoreError::Corrupt("a conflicting photo vanished".to_owned()))?;
            Ok((stored, false))
        }
    }
}

/// One snapshot for both statements, so a photo deleted in between is not half read.
async fn get<V>(
    store: &SqlStore<V>,
    session_id: &str,
    photo_id: &str,
) -> Result<Option<IndexedPhoto>, StoreError> {
    let snapshot = store.pool.dialect().read_snapshot;
    on_db!(&store.pool, |pool| {
        let mut tx = pool.begin().await?;
        if let Some(snapshot) = snapshot {
            sqlx::query(snapshot).execute(&mut *tx).await?;
        }
        let photo = load_photo(
            SqlConn::from(&mut *tx),
            &*store.sealer,
            session_id,
            photo_id,
        )
        .await?;
        tx.commit().await?;
        Ok(photo)
    })
}

async fn status<V>(store: &SqlStore<V>, session_id: &str) -> Result<SessionStatus, StoreError> {
    let (photos, faces, last): (i64, i64, Option<i64>) = on_db!(&store.pool, |pool| {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM photos WHERE session_id = $1), \
                    (SELECT COUNT(*) FROM faces WHERE session_id = $1), \
                    (SELECT MAX(indexed_at) FROM photos WHERE session_id = $1)",
        )
        .bind(session_id)
        .fetch_one(pool)
        .await?
    });
    Ok(SessionStatus {
        session_id: session_id.to_owned(),
        indexed_photos: usize::try_from(photos).unwrap_or(0),
        indexed_faces: usize::try_from(faces).unwrap_or(0),
        last_indexed_at: last,
    })
}

async fn delete<V: Vectors>(store: &SqlStore<V>, session_id: &str) -> Result<usize, StoreError> {
    let _writing = store.writing().await;
    // Faces go with their photos (ON DELETE CASCADE).
    let removed = on_db!(&store.pool, |pool| sqlx::query(
        "DELETE FROM photos WHERE session_id = $1"
    )
    .bind(session_id)
    .execute(pool)
    .await?
    .rows_affected());
    store.vectors.session_removed(session_id);
    Ok(usize::try_from(removed).unwrap_or(usize::MAX))
}

#[async_trait]
impl<V: Vectors> CollectionStore for SqlStore<V> {
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
        Ok(self
            .vectors
            .search(session_id, probe, threshold, limit)
            .await?)
    }
}
