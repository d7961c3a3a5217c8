//! Nearest-first searches that keep the best row of each group: one match per photo (its
//! best face) and one per subject (its best reference).
//!
//! The query is ordered by distance to the probe with a `LIMIT` of a few times the groups
//! wanted, and run again with a larger limit when its rows held too few groups. The limit
//! lets the planner choose: the HNSW index for a large session (or many references), the
//! session's primary key and an exact sort for a small one. Statements are not prepared
//! once for all (`persistent(false)`): PostgreSQL then plans each with its actual
//! parameters, the session's size and the limit included.
//!
//! pgvector's iterative index scans (`hnsw.iterative_scan = strict_order`, pgvector >= 0.8)
//! keep the index walk going past `hnsw.ef_search` rows while the filters (model, session)
//! drop rows, and return rows in order of distance, so the first row under the threshold
//! ends the search. A walk gives up after `hnsw.max_scan_tuples` rows (20,000 by default).
//! HNSW is approximate: a true neighbour may be missed (docs/BENCHMARKS.md gives the
//! recall measured); rows of other dimensions than the indexed one are scanned exactly.

use std::collections::HashSet;

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::{FromRow, PgPool, Postgres};

use facegate_store_sql::StoreError;

/// Candidates the graph search keeps: at least 100, or the rows asked for, up to pgvector's
/// maximum (1,000). pgvector's default of 40 found 96% of the true top 10 in 100,000
/// face-like vectors, 100 found 99.7% in about twice the time (5 -> 10 ms; see
/// docs/BENCHMARKS.md): a photo of the user missed costs more than 5 ms.
const MIN_EF_SEARCH: usize = 100;
const MAX_EF_SEARCH: usize = 1_000;

/// Rows asked for per group wanted at first, and at least.
const ROWS_PER_GROUP: usize = 2;
const MIN_ROWS: usize = 32;
/// How much the limit grows when the rows held too few groups.
const GROWTH: usize = 4;

/// A row of a nearest-first search.
pub(crate) trait Ranked {
    /// Rows of one group count once: the first (nearest) one.
    fn group(&self) -> &str;
    /// The cosine distance to the probe (1 - cosine similarity).
    fn distance(&self) -> f64;

    fn similarity(&self) -> f32 {
        (1.0 - self.distance()) as f32
    }
}

/// The nearest row of each group with a similarity of at least `threshold`, nearest first,
/// at most `limit` rows. `query(n)` selects the `n` rows nearest to the probe, nearest
/// first.
pub(crate) async fn best_per_group<'q, R>(
    pool: &PgPool,
    query: impl Fn(i64) -> QueryAs<'q, Postgres, R, PgArguments>,
    threshold: f32,
    limit: usize,
) -> Result<Vec<R>, StoreError>
where
    R: for<'r> FromRow<'r, PgRow> + Ranked + Send + Unpin,
{
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut rows_wanted = limit.saturating_mul(ROWS_PER_GROUP).max(MIN_ROWS);
    loop {
        let ef_search = rows_wanted.clamp(MIN_EF_SEARCH, MAX_EF_SEARCH);
        let mut tx = pool.begin().await?;
        // Local to the transaction, so pooled connections keep their defaults.
        sqlx::query(
            "SELECT set_config('hnsw.iterative_scan', 'strict_order', true), \
                    set_config('hnsw.ef_search', $1, true)",
        )
        .bind(ef_search.to_string())
        .execute(&mut *tx)
        .await?;
        let rows = query(i64::try_from(rows_wanted).unwrap_or(i64::MAX))
            .persistent(false)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;

        let exhausted = rows.len() < rows_wanted;
        let mut seen = HashSet::new();
        let mut best = Vec::new();
        for row in rows {
            if row.similarity() < threshold {
                return Ok(best);
            }
            if seen.insert(row.group().to_owned()) {
                best.push(row);
                if best.len() == limit {
                    return Ok(best);
                }
            }
        }
        if exhausted {
            return Ok(best);
        }
        rows_wanted = rows_wanted.saturating_mul(GROWTH);
    }
}
