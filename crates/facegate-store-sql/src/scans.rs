//! [`ScanStore`] on the `scans` table.

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::account::JobState;
use facegate_core::model::Timestamp;
use facegate_core::ports::ScanStore;
use facegate_core::scans::{LeaderboardEntry, Scan, ScanResult};
use sqlx::types::Json;

use crate::db::on_db;
use crate::error::StoreError;
use crate::store::{SqlStore, Vectors};

#[derive(sqlx::FromRow)]
struct ScanRow {
    id: String,
    user_id: String,
    photo_key: String,
    state: String,
    result: Option<Json<ScanResult>>,
    created_at: i64,
    completed_at: Option<i64>,
}

impl TryFrom<ScanRow> for Scan {
    type Error = StoreError;

    fn try_from(row: ScanRow) -> Result<Self, StoreError> {
        Ok(Scan {
            state: JobState::parse(&row.state).ok_or_else(|| {
                StoreError::Corrupt(format!("unknown scan state {:?}", row.state))
            })?,
            result: row.result.map(|result| result.0),
            id: row.id,
            user_id: row.user_id,
            photo_key: row.photo_key,
            created_at: row.created_at,
            completed_at: row.completed_at,
        })
    }
}

async fn insert<V>(store: &SqlStore<V>, scan: &Scan) -> Result<(), StoreError> {
    on_db!(&store.pool, |pool| sqlx::query(
        "INSERT INTO scans (id, user_id, photo_key, state, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&scan.id)
    .bind(&scan.user_id)
    .bind(&scan.photo_key)
    .bind(scan.state.as_str())
    .bind(scan.created_at)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

async fn get<V>(store: &SqlStore<V>, id: &str) -> Result<Option<Scan>, StoreError> {
    let row: Option<ScanRow> = on_db!(&store.pool, |pool| sqlx::query_as(
        "SELECT id, user_id, photo_key, state, result, created_at, completed_at \
         FROM scans WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?);
    row.map(Scan::try_from).transpose()
}

async fn complete<V>(
    store: &SqlStore<V>,
    id: &str,
    result: &ScanResult,
    at: Timestamp,
) -> Result<(), StoreError> {
    on_db!(&store.pool, |pool| sqlx::query(
        "UPDATE scans SET state = 'done', score = $1, result = $2, completed_at = $3 \
         WHERE id = $4",
    )
    .bind(result.symmetry.map(|s| s.score))
    .bind(Json(result))
    .bind(at)
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

/// Ties on the best score go to whoever reached it first; ties on both to the username in
/// byte order.
async fn leaderboard<V>(
    store: &SqlStore<V>,
    limit: usize,
) -> Result<Vec<LeaderboardEntry>, StoreError> {
    let sql = format!(
        "SELECT u.username, b.best, b.scans FROM ( \
           SELECT user_id, MAX(score) AS best, COUNT(*) AS scans FROM scans \
           WHERE score IS NOT NULL GROUP BY user_id) AS b \
         JOIN users u ON u.id = b.user_id \
         ORDER BY b.best DESC, \
           (SELECT MIN(s.completed_at) FROM scans s \
            WHERE s.user_id = b.user_id AND s.score = b.best), \
           u.username{} LIMIT $1",
        store.pool.dialect().byte_order
    );
    let rows: Vec<(String, f32, i64)> = on_db!(&store.pool, |pool| sqlx::query_as(&sql)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await?);
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, (username, best_score, scans))| LeaderboardEntry {
            rank: i + 1,
            username,
            best_score,
            scans: usize::try_from(scans).unwrap_or(0),
        })
        .collect())
}

#[async_trait]
impl<V: Vectors> ScanStore for SqlStore<V> {
    /// The scan's user must exist.
    async fn insert_scan(&self, scan: &Scan) -> Result<()> {
        Ok(insert(self, scan).await?)
    }

    async fn scan(&self, id: &str) -> Result<Option<Scan>> {
        Ok(get(self, id).await?)
    }

    async fn complete_scan(&self, id: &str, result: &ScanResult, at: Timestamp) -> Result<()> {
        Ok(complete(self, id, result, at).await?)
    }

    async fn leaderboard(&self, limit: usize) -> Result<Vec<LeaderboardEntry>> {
        Ok(leaderboard(self, limit).await?)
    }
}
