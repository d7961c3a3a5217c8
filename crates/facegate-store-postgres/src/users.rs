//! [`UserStore`] on the `users` and `user_faces` tables; refresh tokens are in
//! [`crate::refresh_tokens`].

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::account::{JobRequest, RefreshToken, RefreshUse, Role, User, UserFace};
use facegate_core::model::Timestamp;
use facegate_core::ports::UserStore;
use pgvector::Vector;

use crate::codec::{StoredEmbedding, decode};
use crate::error::StoreError;
use crate::refresh_tokens;
use crate::store::PostgresStore;

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
    face: String,
    quality: f32,
    created_at: i64,
    model: String,
    embedding: Vector,
}

impl TryFrom<UserFaceRow> for UserFace {
    type Error = StoreError;

    fn try_from(row: UserFaceRow) -> Result<Self, StoreError> {
        Ok(UserFace {
            face: serde_json::from_str(&row.face)?,
            embedding: decode(row.model, row.embedding)?,
            user_id: row.user_id,
            quality: row.quality,
            created_at: row.created_at,
        })
    }
}

/// `user.verified` is not stored: a user is verified when `verified_at` is set. A taken
/// id (rather than username) is a fault.
async fn insert(
    store: &PostgresStore,
    user: &User,
    password_hash: &str,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO users (id, username, role, password_hash, verified_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING",
    )
    .bind(&user.id)
    .bind(&user.username)
    .bind(user.role.as_str())
    .bind(password_hash)
    .bind(user.verified_at)
    .bind(user.created_at)
    .execute(&store.pool)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

async fn by_name(
    store: &PostgresStore,
    username: &str,
) -> Result<Option<(User, String)>, StoreError> {
    let row = sqlx::query_as::<_, UserWithHashRow>(&format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE username = $1"
    ))
    .bind(username)
    .fetch_optional(&store.pool)
    .await?;
    row.map(|row| Ok((User::try_from(row.user)?, row.password_hash)))
        .transpose()
}

async fn get(store: &PostgresStore, id: &str) -> Result<Option<User>, StoreError> {
    sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(&store.pool)
        .await?
        .map(User::try_from)
        .transpose()
}

/// Ids in byte order among users created at the same time, as the embedded store sorts
/// them.
async fn list(store: &PostgresStore) -> Result<Vec<User>, StoreError> {
    sqlx::query_as::<_, UserRow>(&format!(
        "SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id COLLATE \"C\""
    ))
    .fetch_all(&store.pool)
    .await?
    .into_iter()
    .map(User::try_from)
    .collect()
}

/// The user is verified as of the face's `created_at`. A user that does not exist fails
/// the foreign key.
async fn set_face(store: &PostgresStore, face: &UserFace) -> Result<(), StoreError> {
    let json = serde_json::to_string(&face.face)?;
    let embedding = StoredEmbedding::new(&face.embedding)?;
    let mut tx = store.pool.begin().await?;
    sqlx::query(
        "INSERT INTO user_faces (user_id, face, quality, created_at, model, embedding, dim) \
         VALUES ($1, $2::jsonb, $3, $4, $5, $6, $7) ON CONFLICT (user_id) DO UPDATE SET \
         face = excluded.face, quality = excluded.quality, created_at = excluded.created_at, \
         model = excluded.model, embedding = excluded.embedding, dim = excluded.dim",
    )
    .bind(&face.user_id)
    .bind(json)
    .bind(face.quality)
    .bind(face.created_at)
    .bind(embedding.model)
    .bind(embedding.vector)
    .bind(embedding.dim)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE users SET verified_at = $1 WHERE id = $2")
        .bind(face.created_at)
        .bind(&face.user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn face(store: &PostgresStore, user_id: &str) -> Result<Option<UserFace>, StoreError> {
    sqlx::query_as::<_, UserFaceRow>(
        "SELECT user_id, face::text AS face, quality, created_at, model, embedding \
         FROM user_faces WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(&store.pool)
    .await?
    .map(UserFace::try_from)
    .transpose()
}

/// Deletes the user's unfinished jobs and their scans first, keeping the keys of the
/// uploads and scan photos they hold, then their hooks and the user (the rest cascades).
/// The user's row is locked first, so a job enqueued meanwhile (its foreign key check
/// waits for the lock) cannot slip past; when the user does not exist the transaction
/// rolls back.
async fn delete(store: &PostgresStore, user_id: &str) -> Result<Option<Vec<String>>, StoreError> {
    let mut tx = store.pool.begin().await?;
    let found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await?;
    if found.is_none() {
        return Ok(None);
    }
    let requests: Vec<String> = sqlx::query_scalar(
        "DELETE FROM jobs WHERE user_id = $1 AND state <> 'done' RETURNING request::text",
    )
    .bind(user_id)
    .fetch_all(&mut *tx)
    .await?;
    let photos: Vec<String> =
        sqlx::query_scalar("DELETE FROM scans WHERE user_id = $1 RETURNING photo_key")
            .bind(user_id)
            .fetch_all(&mut *tx)
            .await?;
    // Their hooks (with their deliveries); deliveries about them cascade from `users`.
    sqlx::query("DELETE FROM webhooks WHERE owner = 'user:' || $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let mut uploads = Vec::new();
    for request in &requests {
        let request: JobRequest = serde_json::from_str(request)?;
        uploads.extend(request.upload_key().map(str::to_owned));
    }
    uploads.extend(photos);
    tx.commit().await?;
    Ok(Some(uploads))
}

#[async_trait]
impl UserStore for PostgresStore {
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
