//! [`LivenessSessionStore`] on the `liveness_sessions` table.

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::challenge::Movement;
use facegate_core::liveness_sessions::{LivenessSession, SessionResult};
use facegate_core::model::Timestamp;
use facegate_core::ports::LivenessSessionStore;
use sqlx::types::Json;

use crate::db::on_db;
use crate::error::StoreError;
use crate::store::{SqlStore, Vectors};

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: String,
    user_id: String,
    nonce_digest: String,
    challenge: Json<Vec<Movement>>,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    result: Option<Json<SessionResult>>,
    audit_key: Option<String>,
    spent_at: Option<i64>,
}

impl From<SessionRow> for LivenessSession {
    fn from(row: SessionRow) -> Self {
        LivenessSession {
            id: row.id,
            user_id: row.user_id,
            nonce_digest: row.nonce_digest,
            challenge: row.challenge.0,
            created_at: row.created_at,
            expires_at: row.expires_at,
            used_at: row.used_at,
            result: row.result.map(|Json(mut result)| {
                result.audit_key = row.audit_key;
                result
            }),
            spent_at: row.spent_at,
        }
    }
}

async fn insert<V>(store: &SqlStore<V>, s: &LivenessSession) -> Result<(), StoreError> {
    on_db!(&store.pool, |pool| sqlx::query(
        "INSERT INTO liveness_sessions \
         (id, user_id, nonce_digest, challenge, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&s.id)
    .bind(&s.user_id)
    .bind(&s.nonce_digest)
    .bind(Json(&s.challenge))
    .bind(s.created_at)
    .bind(s.expires_at)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

async fn get<V>(store: &SqlStore<V>, id: &str) -> Result<Option<LivenessSession>, StoreError> {
    let row: Option<SessionRow> = on_db!(&store.pool, |pool| sqlx::query_as(
        "SELECT id, user_id, nonce_digest, challenge, created_at, expires_at, used_at, \
         result, audit_key, spent_at FROM liveness_sessions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?);
    Ok(row.map(LivenessSession::from))
}

/// Sets `column` to `at` where it is still unset; whether it was.
async fn mark_once<V>(
    store: &SqlStore<V>,
    column: &str,
    id: &str,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let sql =
        format!("UPDATE liveness_sessions SET {column} = $1 WHERE id = $2 AND {column} IS NULL");
    let updated = on_db!(&store.pool, |pool| sqlx::query(&sql)
        .bind(at)
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(updated == 1)
}

async fn complete<V>(
    store: &SqlStore<V>,
    id: &str,
    result: &SessionResult,
) -> Result<(), StoreError> {
    on_db!(&store.pool, |pool| sqlx::query(
        "UPDATE liveness_sessions SET result = $1, audit_key = $2 WHERE id = $3",
    )
    .bind(Json(result))
    .bind(&result.audit_key)
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

#[async_trait]
impl<V: Vectors> LivenessSessionStore for SqlStore<V> {
    /// The session's user must exist.
    async fn insert_liveness_session(&self, session: &LivenessSession) -> Result<()> {
        Ok(insert(self, session).await?)
    }

    async fn liveness_session(&self, id: &str) -> Result<Option<LivenessSession>> {
        Ok(get(self, id).await?)
    }

    async fn start_liveness_session(&self, id: &str, at: Timestamp) -> Result<bool> {
        Ok(mark_once(self, "used_at", id, at).await?)
    }

    async fn complete_liveness_session(&self, id: &str, result: &SessionResult) -> Result<()> {
        Ok(complete(self, id, result).await?)
    }

    async fn spend_liveness_session(&self, id: &str, at: Timestamp) -> Result<bool> {
        Ok(mark_once(self, "spent_at", id, at).await?)
    }
}
