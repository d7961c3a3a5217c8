//! [`ApiKeyStore`] on the `api_keys` table.

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::account::ApiKey;
use facegate_core::model::Timestamp;
use facegate_core::ports::ApiKeyStore;

use crate::error::StoreError;
use crate::store::PostgresStore;

const SELECT_KEY: &str = "SELECT id, name, scopes::text AS scopes, prefix, created_by, \
                          created_at, revoked_at FROM api_keys";

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    name: String,
    /// A JSON array of scope names.
    scopes: String,
    prefix: String,
    created_by: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<KeyRow> for ApiKey {
    type Error = StoreError;

    fn try_from(row: KeyRow) -> Result<Self, StoreError> {
        Ok(ApiKey {
            scopes: serde_json::from_str(&row.scopes)?,
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            created_by: row.created_by,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        })
    }
}

async fn insert(store: &PostgresStore, key: &ApiKey, digest: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_keys (id, digest, name, scopes, prefix, created_by, created_at, \
         revoked_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)",
    )
    .bind(&key.id)
    .bind(digest)
    .bind(&key.name)
    .bind(serde_json::to_string(&key.scopes)?)
    .bind(&key.prefix)
    .bind(&key.created_by)
    .bind(key.created_at)
    .bind(key.revoked_at)
    .execute(&store.pool)
    .await?;
    Ok(())
}

async fn by_digest(store: &PostgresStore, digest: &str) -> Result<Option<ApiKey>, StoreError> {
    sqlx::query_as::<_, KeyRow>(&format!("{SELECT_KEY} WHERE digest = $1"))
        .bind(digest)
        .fetch_optional(&store.pool)
        .await?
        .map(ApiKey::try_from)
        .transpose()
}

async fn list(store: &PostgresStore) -> Result<Vec<ApiKey>, StoreError> {
    sqlx::query_as::<_, KeyRow>(&format!(
        "{SELECT_KEY} ORDER BY created_at, id COLLATE \"C\""
    ))
    .fetch_all(&store.pool)
    .await?
    .into_iter()
    .map(ApiKey::try_from)
    .collect()
}

async fn revoke(store: &PostgresStore, id: &str, at: Timestamp) -> Result<bool, StoreError> {
    let revoked =
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(at)
            .bind(id)
            .execute(&store.pool)
            .await?
            .rows_affected();
    Ok(revoked == 1)
}

#[async_trait]
impl ApiKeyStore for PostgresStore {
    /// Fails (as an internal fault) when the id or the digest is already taken.
    async fn insert_api_key(&self, key: &ApiKey, digest: &str) -> Result<()> {
        Ok(insert(self, key, digest).await?)
    }

    async fn api_key_by_digest(&self, digest: &str) -> Result<Option<ApiKey>> {
        Ok(by_digest(self, digest).await?)
    }

    /// Oldest first, revoked ones included.
    async fn api_keys(&self) -> Result<Vec<ApiKey>> {
        Ok(list(self).await?)
    }

    /// A key revoked before keeps its first revocation time.
    async fn revoke_api_key(&self, id: &str, at: Timestamp) -> Result<bool> {
        Ok(revoke(self, id, at).await?)
    }
}
