//! [`JobQueue`] on the `jobs` table, shared by every replica of a PostgreSQL store.
//!
//! Claiming the next job is one `UPDATE` of the row a sub-select picks. SQLite runs a
//! writing statement under the database's write lock from its first step, so the choice
//! and the lease are atomic against every other connection and process. PostgreSQL's
//! sub-select ends with `FOR UPDATE SKIP LOCKED` ([`crate::Dialect::skip_locked`]): a row
//! another replica is claiming at that moment is passed over rather than waited for, and a
//! row claimed and committed since the statement began is checked again against the
//! condition (PostgreSQL re-reads a locked row's newest version), so no job is handed to
//! two workers. Claiming one job by id waits for a concurrent claim of it instead, and
//! then finds it leased.

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::account::{Job, JobRequest, JobResult, JobState};
use facegate_core::model::Timestamp;
use facegate_core::ports::JobQueue;
use sqlx::types::Json;

use crate::db::on_db;
use crate::error::{StoreError, from_i32, to_i32};
use crate::store::{SqlStore, Vectors};

const JOB_COLUMNS: &str =
    "id, request, state, attempts, result, last_error, created_at, updated_at";

/// A job is due when it is queued and past its retry time, or running with an expired
/// lease (`$1` is now). `state <> 'done'` lets the planner use the partial index of
/// unfinished jobs.
/// How far back a user's last claim or finish counts when users take turns.
const RECENTLY_MS: i64 = 60_000;

const DUE: &str = "state <> 'done' AND ((state = 'queued' AND run_after <= $1) \
                   OR (state = 'running' AND lease_until <= $1))";

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    request: Json<JobRequest>,
    state: String,
    attempts: i32,
    result: Option<Json<JobResult>>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;

    fn try_from(row: JobRow) -> Result<Self, StoreError> {
        let state = JobState::parse(&row.state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown job state {:?}", row.state)))?;
        Ok(Job {
            request: row.request.0,
            result: row.result.map(|result| result.0),
            attempts: from_i32(row.attempts, "attempt count")?,
            id: row.id,
            state,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Due at once: `run_after` is the job's creation time. The job's user must exist.
async fn enqueue<V>(store: &SqlStore<V>, job: &Job) -> Result<(), StoreError> {
    let attempts = to_i32(job.attempts, "attempts")?;
    on_db!(&store.pool, |pool| sqlx::query(
        "INSERT INTO jobs (id, user_id, request, state, attempts, result, last_error, \
         run_after, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
    )
    .bind(&job.id)
    .bind(job.request.user_id())
    .bind(Json(&job.request))
    .bind(job.state.as_str())
    .bind(attempts)
    .bind(job.result.as_ref().map(Json))
    .bind(&job.last_error)
    .bind(job.created_at)
    .bind(job.updated_at)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

/// Leases the job `target` picks (a condition on `id`; `$1` is now, `$3` is `id` when
/// given): running, one more attempt, held until `lease_until`.
async fn lease<V>(
    store: &SqlStore<V>,
    target: &str,
    id: Option<&str>,
    now: Timestamp,
    lease_until: Timestamp,
) -> Result<Option<Job>, StoreError> {
    let sql = format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $2, \
         updated_at = $1 WHERE {target} RETURNING {JOB_COLUMNS}"
    );
    let row: Option<JobRow> = on_db!(&store.pool, |pool| {
        let query = sqlx::query_as(&sql).bind(now).bind(lease_until);
        match id {
            Some(id) => query.bind(id),
            None => query,
        }
        .fetch_optional(pool)
        .await?
    });
    row.map(Job::try_from).transpose()
}

/// The oldest due job (by creation).
async fn claim<V>(
    store: &SqlStore<V>,
    now: Timestamp,
    lease_until: Timestamp,
) -> Result<Option<Job>, StoreError> {
    let dialect = store.pool.dialect();
    // Users take turns: the due job of the user served least recently (claims and
    // finishes of the last minute) goes first, then the oldest; so one user's backlog
    // does not hold up another's job.
    let next_due = format!(
        "id = (SELECT j.id FROM jobs AS j WHERE {DUE} \
               ORDER BY COALESCE((SELECT max(e.updated_at) FROM jobs AS e \
                                  WHERE e.user_id = j.user_id AND e.state <> 'queued' \
                                    AND e.updated_at > $1 - {RECENTLY_MS}), 0), \
                        j.created_at, j.id{} LIMIT 1{})",
        dialect.byte_order, dialect.skip_locked,
    );
    lease(store, &next_due, None, now, lease_until).await
}

async fn claim_job<V>(
    store: &SqlStore<V>,
    id: &str,
    now: Timestamp,
    lease_until: Timestamp,
) -> Result<Option<Job>, StoreError> {
    let target = format!("id = $3 AND {DUE}");
    lease(store, &target, Some(id), now, lease_until).await
}

/// A job already done stays as it is (a worker whose lease ran out finishing late); so
/// does a job that is gone (its user was deleted).
async fn finish<V>(
    store: &SqlStore<V>,
    id: &str,
    result: &JobResult,
    now: Timestamp,
) -> Result<(), StoreError> {
    on_db!(&store.pool, |pool| sqlx::query(
        "UPDATE jobs SET state = 'done', result = $1, lease_until = NULL, updated_at = $2 \
         WHERE id = $3 AND state <> 'done'",
    )
    .bind(Json(result))
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

/// Like [`finish`], leaves done and missing jobs alone.
async fn retry<V>(
    store: &SqlStore<V>,
    id: &str,
    error: &str,
    run_after: Timestamp,
    now: Timestamp,
) -> Result<(), StoreError> {
    on_db!(&store.pool, |pool| sqlx::query(
        "UPDATE jobs SET state = 'queued', last_error = $1, run_after = $2, \
         lease_until = NULL, updated_at = $3 WHERE id = $4 AND state <> 'done'",
    )
    .bind(error)
    .bind(run_after)
    .bind(now)
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected());
    Ok(())
}

async fn get<V>(store: &SqlStore<V>, id: &str) -> Result<Option<Job>, StoreError> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
    let row: Option<JobRow> = on_db!(&store.pool, |pool| sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await?);
    row.map(Job::try_from).transpose()
}

async fn pending<V>(store: &SqlStore<V>, user_id: &str) -> Result<usize, StoreError> {
    let pending: i64 = on_db!(&store.pool, |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM jobs WHERE user_id = $1 AND state <> 'done'"
    )
    .bind(user_id)
    .fetch_one(pool)
    .await?);
    Ok(usize::try_from(pending).unwrap_or(0))
}

#[async_trait]
impl<V: Vectors> JobQueue for SqlStore<V> {
    async fn enqueue(&self, job: &Job) -> Result<()> {
        Ok(enqueue(self, job).await?)
    }

    /// Oldest (by creation) first.
    async fn claim(&self, now: Timestamp, lease_until: Timestamp) -> Result<Option<Job>> {
        Ok(claim(self, now, lease_until).await?)
    }

    async fn claim_job(
        &self,
        id: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<Job>> {
        Ok(claim_job(self, id, now, lease_until).await?)
    }

    async fn finish(&self, id: &str, result: &JobResult, now: Timestamp) -> Result<()> {
        Ok(finish(self, id, result, now).await?)
    }

    async fn retry(
        &self,
        id: &str,
        error: &str,
        run_after: Timestamp,
        now: Timestamp,
    ) -> Result<()> {
        Ok(retry(self, id, error, run_after, now).await?)
    }

    async fn job(&self, id: &str) -> Result<Option<Job>> {
        Ok(get(self, id).await?)
    }

    async fn pending_jobs(&self, user_id: &str) -> Result<usize> {
        Ok(pending(self, user_id).await?)
    }
}
