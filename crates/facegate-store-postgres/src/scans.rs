//! [`ScanStore`] on the `scans` table.

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::account::JobState;
use facegate_core::model::Timestamp;
use facegate_core::ports::ScanStore;
use facegate_core::scans::{LeaderboardEntry, Scan, ScanResult};

use crate::error::StoreError;
use crate::store::PostgresStore;

#[derive(sqlx::FromRow)]
struct ScanRow {
    id: String,
    user_id: String,
    photo_key: String,
    state: String,
    /// JSON.
    result: Option<String>,
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
            result: row
                .result
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?,
            id: row.id,
            user_id: row.user_id,
            photo_key: row.photo_key,
            created_at: row.created_at,
            completed_at: row.completed_at,
        })
    }
}

async fn insert(store: &PostgresStore, scan: &Scan) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO scans (id, user_id, photo_key, state, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&scan.id)
    .bind(&scan.user_id)
    .bind(&scan.photo_key)
    .bind(scan.state.as_str())
    .bind(scan.created_at)
    .execute(&store.pool)
    .await?;
    Ok(())
}

async fn get(store: &PostgresStore, id: &str) -> Result<Option<Scan>, StoreError> {
    sqlx::query_as::<_, ScanRow>(
        "SELECT id, user_id, photo_key, state, result::text AS result, created_at, \
         completed_at FROM scans WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&store.pool)
    .await?
    .map(Scan::try_from)
    .transpose()
}

async fn complete(
    store: &PostgresStore,
    id: &str,
    result: &ScanResult,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE scans SET state = 'done', score = $1, result = $2::jsonb, completed_at = $3 \
         WHERE id = $4",
    )
    .bind(result.symmetry.map(|s| s.score))
    .bind(serde_json::to_string(result)?)
    .bind(at)
    .bind(id)
    .execute(&store.pool)
    .await?;
    Ok(())
}

/// Ties on the best score go to whoever scored first; ties on both to the username in
/// byte order (the embedded store leaves those in no particular order).
async fn leaderboard(
    store: &PostgresStore,
    limit: usize,
) -> Result<Vec<LeaderboardEntry>, StoreError> {
    let rows: Vec<(String, f32, i64)> = sqlx::query_as(
        "SELECT u.username, MAX(s.score) AS best, COUNT(*) FROM scans s \
         JOIN users u ON u.id = s.user_id WHERE s.score IS NOT NULL \
         GROUP BY u.id, u.username \
         ORDER BY best DESC, MIN(s.completed_at), u.username COLLATE \"C\" LIMIT $1",
    )
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&store.pool)
    .await?;
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, (username, best, scans))| LeaderboardEntry {
            rank: i + 1,
            username,
            best_score: best,
            scans: usize::try_from(scans).unwrap_or(0),
        })
        .collect())
}

#[async_trait]
impl ScanStore for PostgresStore {
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
