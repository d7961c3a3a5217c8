//! Refresh tokens on the `refresh_tokens` table, for [`facegate_core::ports::UserStore`].

use facegate_core::account::{RefreshToken, RefreshUse};
use facegate_core::model::Timestamp;
use facegate_core::ports::{Clock, SystemClock};

use crate::error::StoreError;
use crate::store::PostgresStore;

#[derive(sqlx::FromRow)]
struct TokenRow {
    digest: String,
    user_id: String,
    family: String,
    expires_at: i64,
}

impl From<TokenRow> for RefreshToken {
    fn from(row: TokenRow) -> Self {
        RefreshToken {
            digest: row.digest,
            user_id: row.user_id,
            family: row.family,
            expires_at: row.expires_at,
        }
    }
}

/// What a token that could not be used was.
#[derive(sqlx::FromRow)]
struct SpentRow {
    family: String,
    expires_at: i64,
    used: bool,
}

pub(crate) async fn insert(store: &PostgresStore, token: &RefreshToken) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO refresh_tokens (digest, user_id, family, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&token.digest)
    .bind(&token.user_id)
    .bind(&token.family)
    .bind(token.expires_at)
    .execute(&store.pool)
    .await?;
    Ok(())
}

/// Marks the token used when it is unused, unrevoked and unexpired; otherwise looks at
/// what it is. An expired token is invalid even if it was used.
///
/// The `UPDATE` is what makes a use atomic: of two replicas presenting the same token at
/// once, the second waits for the first's row lock, then finds the token used (PostgreSQL
/// checks the condition again on the row's new version) and updates nothing.
pub(crate) async fn use_token(
    store: &PostgresStore,
    digest: &str,
    now: Timestamp,
) -> Result<RefreshUse, StoreError> {
    let fresh = sqlx::query_as::<_, TokenRow>(
        "UPDATE refresh_tokens SET used_at = $2 \
         WHERE digest = $1 AND expires_at > $2 AND used_at IS NULL AND revoked_at IS NULL \
         RETURNING digest, user_id, family, expires_at",
    )
    .bind(digest)
    .bind(now)
    .fetch_optional(&store.pool)
    .await?;
    if let Some(token) = fresh {
        return Ok(RefreshUse::Fresh(token.into()));
    }
    let spent = sqlx::query_as::<_, SpentRow>(
        "SELECT family, expires_at, used_at IS NOT NULL OR revoked_at IS NOT NULL AS used \
         FROM refresh_tokens WHERE digest = $1",
    )
    .bind(digest)
    .fetch_optional(&store.pool)
    .await?;
    Ok(match spent {
        Some(spent) if spent.expires_at > now && spent.used => RefreshUse::Replayed {
            family: spent.family,
        },
        _ => RefreshUse::Invalid,
    })
}

/// Tokens already revoked keep their first revocation time.
pub(crate) async fn revoke_family(store: &PostgresStore, family: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL",
    )
    .bind(SystemClock.now())
    .bind(family)
    .execute(&store.pool)
    .await?;
    Ok(())
}
