//! [`UserStore`] on the `users` and `user_faces` tables; refresh tokens are in
//! [`crate::refresh_tokens`].

use async_trait::async_trait;
use facegate_core::account::{JobRequest, RefreshToken, RefreshUse, Role, User, UserFace};
use facegate_core::model::Timestamp;
use facegate_core::ports::{Clock, SystemClock, UserStore};
use facegate_core::{FaceDetection, Result};
use sqlx::types::Json;

use crate::db::on_db;
use crate::embedding::{BindEmbedding, EmbeddingRow, StoredEmbedding};
use crate::error::StoreError;
use crate::refresh_tokens;
use crate::store::{SqlStore, Vectors};

const USER_COLUMNS: &str = "id, username, role, verified_at, created_at";

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    username: String,
    role: String,
    verified_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;

    fn try_from(row: UserRow) -> Result<Self, StoreError> {
        let role = Role::parse(&row.role)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown role {:?}", row.role)))?;
        Ok(User {
            id: row.id,
            username: row.username,
            role,
            verified: row.verified_at.is_some(),
            verified_at: row.verified_at,
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct UserWithHashRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

#[derive(sqlx::FromRow)]
struct UserFaceRow {
    user_id: String,
    face: Json<FaceDetection>,
    quality: f32,
    created_at: i64,
    #[sqlx(flatten)]
    embedding: EmbeddingRow,
}

/// `user.verified` is not stored: a user is verified when `verified_at` is set. A taken
/// id (rather than username) is a fault.
async fn insert<V>(
    store: &SqlStore<V>,
    user: &User,
    password_hash: &str,
) -> Result<bool, StoreError> {
    let inserted = on_db!(&store.pool, |pool| sqlx::query(
        "INSERT INTO users (id, username, role, password_hash, verified_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING",
    )
    .bind(&user.id)
    .bind(&user.username)
    .bind(user.role.as_str())
    .bind(password_hash)
    .bind(user.verified_at)
    .bind(user.created_at)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(inserted == 1)
}

async fn by_name<V>(
    store: &SqlStore<V>,
    username: &str,
) -> Result<Option<(User, String)>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1");
    let row: Option<UserWithHashRow> = on_db!(&store.pool, |pool| sqlx::query_as(&sql)
        .bind(username)
        .fetch_optional(pool)
        .await?);
    row.map(|row| Ok((User::try_from(row.user)?, row.password_hash)))
        .transpose()
}

async fn get<V>(store: &SqlStore<V>, id: &str) -> Result<Option<User>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    let row: Option<UserRow> = on_db!(&store.pool, |pool| sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?);
    row.map(User::try_from).transpose()
}

/// Ids in byte order among users created at the same time.
async fn list<V>(store: &SqlStore<V>) -> Result<Vec<User>, StoreError> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id{}",
        store.pool.dialect().byte_order
    );
    let rows: Vec<UserRow> = on_db!(&store.pool, |pool| sqlx::query_as(&sql)
        .fetch_all(pool)
        .await?);
    rows.into_iter().map(User::try_from).collect()
}

/// The user is verified as of the face's `created_at`. A user that does not exist fails
/// the foreign key.
async fn set_face<V>(store: &SqlStore<V>, face: &UserFace) -> Result<(), StoreError> {
    let columns = store.pool.dialect().embedding_columns;
    let excluded = columns
        .split(", ")
        .map(|column| format!("excluded.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    let upsert = format!(
        "INSERT INTO user_faces (user_id, face, quality, created_at, {columns}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id) DO UPDATE SET \
         (face, quality, created_at, {columns}) = \
         (excluded.face, excluded.quality, excluded.created_at, {excluded})"
    );
    let embedding = || StoredEmbedding::seal(&*store.sealer, &face.embedding);
    on_db!(&store.pool, |pool| {
        let mut tx = pool.begin().await?;
        sqlx::query(&upsert)
            .bind(&face.user_id)
            .bind(Json(&face.face))
            .bind(face.quality)
            .bind(face.created_at)
            .bind_embedding(embedding()?)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE users SET verified_at = $1 WHERE id = $2")
            .bind(face.created_at)
            .bind(&face.user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    });
    Ok(())
}

async fn face<V>(store: &SqlStore<V>, user_id: &str) -> Result<Option<UserFace>, StoreError> {
    let sql = format!(
        "SELECT user_id, face, quality, created_at, {} FROM user_faces WHERE user_id = $1",
        store.pool.dialect().embedding_columns
    );
    let row: Option<UserFaceRow> = on_db!(&store.pool, |pool| sqlx::query_as(&sql)
        .bind(user_id)
        .fetch_optional(pool)
        .await?);
    row.map(|row| {
        Ok(UserFace {
            embedding: row.embedding.open(&*store.sealer)?,
            face: row.face.0,
            user_id: row.user_id,
            quality: row.quality,
            created_at: row.created_at,
        })
    })
    .transpose()
}

/// Deletes the user's unfinished jobs and their scans first, keeping the keys of the
/// uploads and scan photos they hold, then their hooks, revokes the API keys they made
/// (and those keys made), and deletes the user (the rest cascades).
/// The user is locked first where the dialect locks rows ([`crate::Dialect::lock_user`]),
/// so a job enqueued meanwhile (its foreign key check waits for the lock) cannot slip
/// past; in SQLite the first write locks the database. When the user does not exist the
/// transaction rolls back (there were no jobs anyway).
async fn delete<V>(store: &SqlStore<V>, user_id: &str) -> Result<Option<Vec<String>>, StoreError> {
    let lock_user = store.pool.dialect().lock_user;
    let revoked_at = SystemClock.now();
    let deleted: Option<(Vec<Json<JobRequest>>, Vec<String>)> = on_db!(&store.pool, |pool| {
        let mut tx = pool.begin().await?;
        if let Some(lock_user) = lock_user {
            sqlx::query(lock_user)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        let requests = sqlx::query_scalar(
            "DELETE FROM jobs WHERE user_id = $1 AND state <> 'done' RETURNING request",
        )
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut photos: Vec<String> =
            sqlx::query_scalar("DELETE FROM scans WHERE user_id = $1 RETURNING photo_key")
                .bind(user_id)
                .fetch_all(&mut *tx)
                .await?;
        // Liveness sessions' audit frames.
        let audits: Vec<Option<String>> = sqlx::query_scalar(
            "DELETE FROM liveness_sessions WHERE user_id = $1 RETURNING audit_key",
        )
        .bind(user_id)
        .fetch_all(&mut *tx)
        .await?;
        photos.extend(audits.into_iter().flatten());
        // Their hooks (with their deliveries); deliveries about them cascade from `users`.
        sqlx::query("DELETE FROM webhooks WHERE owner = 'user:' || $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        // The API keys they made, and those their keys made: a key acts for its maker.
        sqlx::query(
            "WITH RECURSIVE made(id) AS ( \
               SELECT id FROM api_keys WHERE created_by = 'user:' || $1 \
               UNION SELECT k.id FROM api_keys AS k JOIN made ON k.created_by = 'key:' || made.id) \
             UPDATE api_keys SET revoked_at = $2 \
             WHERE revoked_at IS NULL AND id IN (SELECT id FROM made)",
        )
        .bind(user_id)
        .bind(revoked_at)
        .execute(&mut *tx)
        .await?;
        let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            None
        } else {
            tx.commit().await?;
            Some((requests, photos))
        }
    });
    // A pending scan's photo is both its job's upload and its scan's photo: name it once.
    Ok(deleted.map(|(requests, photos)| {
        let keys: std::collections::BTreeSet<String> = requests
            .iter()
            .map(|request| request.upload_key().to_owned())
            .chain(photos)
            .collect();
        keys.into_iter().collect()
    }))
}

#[async_trait]
impl<V: Vectors> UserStore for SqlStore<V> {
    async fn insert_user(&self, user: &User, password_hash: &str) -> Result<bool> {
        Ok(insert(self, user, password_hash).await?)
    }

    async fn user_by_name(&self, username: &str) -> Result<Option<(User, String)>> {
        Ok(by_name(self, username).await?)
    }

    async fn user(&self, id: &str) -> Result<Option<User>> {
        Ok(get(self, id).await?)
    }

    /// Oldest first.
    async fn users(&self) -> Result<Vec<User>> {
        Ok(list(self).await?)
    }

    async fn set_user_face(&self, face: &UserFace) -> Result<()> {
        Ok(set_face(self, face).await?)
    }

    async fn user_face(&self, user_id: &str) -> Result<Option<UserFace>> {
        Ok(face(self, user_id).await?)
    }

    async fn delete_user(&self, user_id: &str) -> Result<Option<Vec<String>>> {
        Ok(delete(self, user_id).await?)
    }

    /// A user that does not exist fails the foreign key.
    async fn insert_refresh_token(&self, token: &RefreshToken) -> Result<()> {
        Ok(refresh_tokens::insert(self, token).await?)
    }

    async fn use_refresh_token(&self, digest: &str, now: Timestamp) -> Result<RefreshUse> {
        Ok(refresh_tokens::use_token(self, digest, now).await?)
    }

    async fn revoke_refresh_family(&self, family: &str) -> Result<()> {
        Ok(refresh_tokens::revoke_family(self, family).await?)
    }
}
