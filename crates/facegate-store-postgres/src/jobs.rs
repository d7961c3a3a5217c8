//! [`JobQueue`] on the `jobs` table, shared by every replica.
//!
//! Claiming the next job is one `UPDATE` of the row a sub-select picks with `FOR UPDATE
//! SKIP LOCKED`: a row another replica is claiming at that moment is passed over rather
//! than waited for, and a row claimed and committed since the statement began is checked
//! again against the condition (PostgreSQL re-reads a locked row's newest version), so no
//! job is handed to two workers. Claiming one job by id waits for a concurrent claim of
//! it instead, and then finds it leased.

use async_trait::async_trait;
use facegate_core::Result;
use facegate_core::account::{Job, JobResult, JobState};
use facegate_core::model::Timestamp;
use facegate_core::ports::JobQueue;

use crate::error::StoreError;
use crate::store::PostgresStore;

const JOB_COLUMNS: &str = "id, request::text AS request, state, attempts, result::text AS result, \
                           last_error, created_at, updated_at";

/// A job is due when it is queued and past its retry time, or running with an expired
/// lease (`$1` is now). `state <> 'done'` lets the planner use the partial index of
/// unfinished jobs.
const DUE: &str = "state <> 'done' AND ((state = 'queued' AND run_after <= $1) \
                   OR (state = 'running' AND lease_until <= $1))";

#[derive(sqlx::FromRow)]
struct JobRow {
    id: String,
    /// JSON.
    request: String,
    state: String,
    attempts: i32,
    /// JSON.
    result: Option<String>,
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
            request: serde_json::from_str(&row.request)?,
            result: row
                .result
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?,
            attempts: u32::try_from(row.attempts)
                .map_err(|_| StoreError::Corrupt("a negative attempt count".to_owned()))?,
            id: row.id,
            state,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Due at once: `run_after` is the job's creation time. The job's user must exist.
async fn enqueue(store: &PostgresStore, job: &Job) -> Result<(), StoreError> {
    let result = job.result.as_ref().map(serde_json::to_string).transpose()?;
    let attempts = i32::try_from(job.attempts)
        .map_err(|_| StoreError::OutOfRange(format!("{} attempts", job.attempts)))?;
    sqlx::query(
        "INSERT INTO jobs (id, user_id, request, state, attempts, result, last_error, \
         run_after, created_at, updated_at) \
         VALUES ($1, $2, $3::jsonb, $4, $5, $6::jsonb, $7, $8, $8, $9)",
    )
    .bind(&job.id)
    .bind(job.request.user_id())
    .bind(serde_json::to_string(&job.request)?)
    .bind(job.state.as_str())
    .bind(attempts)
    .bind(result)
    .bind(&job.last_error)
    .bind(job.created_at)
    .bind(job.updated_at)
    .execute(&store.pool)
    .await?;
    Ok(())
}

async fn claim(
    store: &PostgresStore,
    now: Timestamp,
    lease_until: Timestamp,
) -> Result<Option<Job>, StoreError> {
    sqlx::query_as::<_, JobRow>(&format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $2, \
         updated_at = $1 \
         WHERE id = (SELECT id FROM jobs WHERE {DUE} \
                     ORDER BY created_at, id COLLATE \"C\" LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING {JOB_COLUMNS}"
    ))
    .bind(now)
    .bind(lease_until)
    .fetch_optional(&store.pool)
    .await?
    .map(Job::try_from)
    .transpose()
}

async fn claim_job(
    store: &PostgresStore,
    id: &str,
    now: Timestamp,
    lease_until: Timestamp,
) -> Result<Option<Job>, StoreError> {
    sqlx::query_as::<_, JobRow>(&format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $2, \
         updated_at = $1 \
         WHERE id = $3 AND {DUE} \
         RETURNING {JOB_COLUMNS}"
    ))
    .bind(now)
    .bind(lease_until)
    .bind(id)
    .fetch_optional(&store.pool)
    .await?
    .map(Job::try_from)
    .transpose()
}

/// A job already done stays as it is (a worker whose lease ran out finishing late); so
/// does a job that is gone (its user was deleted).
async fn finish(
    store: &PostgresStore,
    id: &str,
    result: &JobResult,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE jobs SET state = 'done', result = $1::jsonb, lease_until = NULL, \
         updated_at = $2 WHERE id = $3 AND state <> 'done'",
    )
    .bind(serde_json::to_string(result)?)
    .bind(now)
    .bind(id)
    .execute(&store.pool)
    .await?;
    Ok(())
}

/// Like [`finish`], leaves done and missing jobs alone.
async fn retry(
    store: &PostgresStore,
    id: &str,
    error: &str,
    run_after: Timestamp,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE jobs SET state = 'queued', last_error = $1, run_after = $2, \
         lease_until = NULL, updated_at = $3 WHERE id = $4 AND state <> 'done'",
    )
    .bind(error)
    .bind(run_after)
    .bind(now)
    .bind(id)
    .execute(&store.pool)
    .await?;
    Ok(())
}

async fn get(store: &PostgresStore, id: &str) -> Result<Option<Job>, StoreError> {
    sqlx::query_as::<_, JobRow>(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
        .bind(id)
        .fetch_optional(&store.pool)
        .await?
        .map(Job::try_from)
        .transpose()
}

#[async_trait]
impl JobQueue for PostgresStore {
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
}
