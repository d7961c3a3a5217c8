//! Refresh tokens on the `refresh_tokens` table, for [`facegate_core::ports::UserStore`].

use facegate_core::account::{RefreshToken, RefreshUse};
use facegate_core::model::Timestamp;
use facegate_core::ports::{Clock, SystemClock};

use crate::db::on_db;
use crate::error::StoreError;
use crate::store::SqlStore;

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

pub(crate) async fn insert<V>(store: &SqlStore<V>, token: &RefreshToken) -> Result<(), StoreError> {
    on_db!(&store.pool, |pool| sqlx::query(
        "INSERT INTO refresh_tokens (digest, user_id, family, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&token.digest)
    .bind(&token.user_id)
    .bind(&token.family)
    .bind(token.expires_at)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

/// Marks the token used when it is unused, unrevoked and unexpired; otherwise looks at
/// what it is, in the same transaction. An expired token is invalid even if it was used.
///
/// The `UPDATE` is what makes a use atomic, and it comes first: SQLite's transaction takes
/// the write lock up front (rather than failing to upgrade from a read); of two PostgreSQL
/// replicas presenting the same token at once, the second waits for the first's row lock,
/// then finds the token used (PostgreSQL checks the condition again on the row's new
/// version) and updates nothing.
pub(crate) async fn use_token<V>(
    store: &SqlStore<V>,
    digest: &str,
    now: Timestamp,
) -> Result<RefreshUse, StoreError> {
    let (fresh, spent): (Option<TokenRow>, Option<SpentRow>) = on_db!(&store.pool, |pool| {
        let mut tx = pool.begin().await?;
        let fresh = sqlx::query_as(
            "UPDATE refresh_tokens SET used_at = $2 \
             WHERE digest = $1 AND expires_at > $2 AND used_at IS NULL AND revoked_at IS NULL \
             RETURNING digest, user_id, family, expires_at",
        )
        .bind(digest)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let spent = match fresh {
            Some(_) => None,
            None => {
                sqlx::query_as(
                    "SELECT family, expires_at, \
                     used_at IS NOT NULL OR revoked_at IS NOT NULL AS used \
                     FROM refresh_tokens WHERE digest = $1",
                )
                .bind(digest)
                .fetch_optional(&mut *tx)
                .await?
            }
        };
        tx.commit().await?;
        (fresh, spent)
    });
    Ok(match (fresh, spent) {
        (Some(token), _) => RefreshUse::Fresh(token.into()),
        (None, Some(spent)) if spent.expires_at > now && spent.used => RefreshUse::Replayed {
            family: spent.family,
        },
        _ => RefreshUse::Invalid,
    })
}

/// Tokens already revoked keep their first revocation time.
pub(crate) async fn revoke_family<V>(store: &SqlStore<V>, family: &str) -> Result<(), StoreError> {
    on_db!(&store.pool, |pool| sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL",
    )
    .bind(SystemClock.now())
    .bind(family)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}
