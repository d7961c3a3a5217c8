//! [`ApiKeyStore`] on the `api_keys` table.

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::account::{ApiKey, Scope};
use facegate_core::model::Timestamp;
use facegate_core::ports::ApiKeyStore;
use sqlx::types::Json;

use crate::db::on_db;
use crate::error::StoreError;
use crate::store::{SqlStore, Vectors};

const SELECT_KEY: &str =
    "SELECT id, name, scopes, prefix, created_by, created_at, revoked_at FROM api_keys";

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    name: String,
    scopes: Json<Vec<Scope>>,
    prefix: String,
    created_by: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl From<KeyRow> for ApiKey {
    fn from(row: KeyRow) -> Self {
        ApiKey {
            scopes: row.scopes.0,
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            created_by: row.created_by,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        }
    }
}

async fn insert<V>(store: &SqlStore<V>, key: &ApiKey, digest: &str) -> Result<(), StoreError> {
    on_db!(&store.pool, |pool| sqlx::query(
        "INSERT INTO api_keys (id, digest, name, scopes, prefix, created_by, created_at, \
         revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&key.id)
    .bind(digest)
    .bind(&key.name)
    .bind(Json(&key.scopes))
    .bind(&key.prefix)
    .bind(&key.created_by)
    .bind(key.created_at)
    .bind(key.revoked_at)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

async fn by_digest<V>(store: &SqlStore<V>, digest: &str) -> Result<Option<ApiKey>, StoreError> {
    let sql = format!("{SELECT_KEY} WHERE digest = $1");
    let row: Option<KeyRow> = on_db!(&store.pool, |pool| sqlx::query_as(&sql)
        .bind(digest)
        .fetch_optional(pool)
        .await?);
    Ok(row.map(ApiKey::from))
}

async fn list<V>(store: &SqlStore<V>) -> Result<Vec<ApiKey>, StoreError> {
    let sql = format!(
        "{SELECT_KEY} ORDER BY created_at, id{}",
        store.pool.dialect().byte_order
    );
    let rows: Vec<KeyRow> = on_db!(&store.pool, |pool| sqlx::query_as(&sql)
        .fetch_all(pool)
        .await?);
    Ok(rows.into_iter().map(ApiKey::from).collect())
}

async fn revoke<V>(store: &SqlStore<V>, id: &str, at: Timestamp) -> Result<bool, StoreError> {
    let revoked = on_db!(&store.pool, |pool| sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
    )
    .bind(at)
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(revoked == 1)
}

#[async_trait]
impl<V: Vectors> ApiKeyStore for SqlStore<V> {
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
