//! The asynchronous jobs' runner: claims the next due job from the queue, runs its
//! use-case, tells the listener (webhooks), marks it done and deletes its upload. Whichever
//! worker drives it (the in-process loop, a Kafka consumer) calls [`JobService::claim`],
//! then [`JobService::run`].

use std::sync::Arc;

use serde::Serialize;

use crate::account::{Job, JobRequest, JobResult, JobState, VerificationStatus};
use crate::error::ErrorCode;
use crate::failure::{Failure, Result};
use crate::ports::{BlobStore, Clock, JobListener, JobQueue};
use crate::scans::{ScanResult, ScanService, ScanStatus};
use crate::verification::VerificationService;

/// Retry behaviour of jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct JobPolicy {
    /// Attempts before a job that keeps failing transiently is given up.
    pub max_attempts: u32,
    /// First retry delay; doubled on each attempt.
    pub retry_base_ms: i64,
    /// How long a worker holds a claimed job before another may take it.
    pub lease_ms: i64,
}

/// Refuses a new job of `user_id` when `max` of theirs are pending already, so that one
/// account cannot fill the queue every account shares.
pub(crate) async fn ensure_room(jobs: &dyn JobQueue, user_id: &str, max: usize) -> Result<()> {
    let pending = jobs.pending_jobs(user_id).await?;
    if pending >= max {
        return Err(Failure::new(
            ErrorCode::RateLimited,
            format!(
                "{pending} verifications or scans of this account are still pending (at most \
                 {max}); wait for them to finish"
            ),
        ));
    }
    Ok(())
}

/// Errors of the job's input: retrying cannot change the outcome.
pub(crate) fn is_permanent(code: ErrorCode) -> bool {
    !matches!(
        code,
        ErrorCode::Overloaded | ErrorCode::ModelUnavailable | ErrorCode::Internal
    )
}

/// What became of a claimed job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    Finished(Box<Job>),
    /// A transient error; the job is due again later.
    Retried {
        id: String,
        error: String,
    },
}

/// The adapters the runner works through.
#[derive(Clone)]
pub struct JobPorts {
    pub queue: Arc<dyn JobQueue>,
    pub blobs: Arc<dyn BlobStore>,
    pub clock: Arc<dyn Clock>,
    pub listener: Arc<dyn JobListener>,
}

debug_ports!(JobPorts);

/// Runs jobs of every kind.
#[derive(Debug, Clone)]
pub struct JobService {
    ports: JobPorts,
    verification: VerificationService,
    scans: ScanService,
    policy: JobPolicy,
}

impl JobService {
    pub fn new(
        ports: JobPorts,
        verification: VerificationService,
        scans: ScanService,
        policy: JobPolicy,
    ) -> Self {
        Self {
            ports,
            verification,
            scans,
            policy,
        }
    }

    async fn process(&self, request: &JobRequest) -> Result<JobResult> {
        match request {
            JobRequest::UserVerification {
                user_id,
                upload_key,
            } => Ok(JobResult::Verification(
                self.verification.process(user_id, upload_key).await?,
            )),
            JobRequest::Scan {
                scan_id, photo_key, ..
            } => Ok(JobResult::Scan(
                self.scans.process(scan_id, photo_key).await?,
            )),
        }
    }

    /// The result of a job given up after its last attempt.
    async fn failed(&self, request: &JobRequest, code: ErrorCode) -> Result<JobResult> {
        Ok(match request {
            JobRequest::UserVerification { .. } => JobResult::Verification(
                self.verification
                    .result(VerificationStatus::Failed, Some(code), 0),
            ),
            JobRequest::Scan { scan_id, .. } => {
                let result = ScanResult::refused(ScanStatus::Failed, code);
                self.scans.complete(scan_id, &result).await?;
                JobResult::Scan(result)
            }
        })
    }

    /// Deletes the uploads older than `min_age_ms` that no pending job consumes (see
    /// [`crate::uploads`]); returns how many.
    pub async fn sweep_uploads(&self, min_age_ms: i64) -> Result<usize> {
        let before = self.ports.clock.now() - min_age_ms;
        crate::uploads::sweep(&*self.ports.queue, &*self.ports.blobs, before).await
    }

    /// Claims the next due job, leased to this worker; `None` when there is none.
    pub async fn claim(&self) -> Result<Option<Job>> {
        let now = self.ports.clock.now();
        self.ports
            .queue
            .claim(now, now + self.policy.lease_ms)
            .await
    }

    /// Runs a claimed job. The listener hears of the result before the job is marked
    /// done, and the upload is deleted after: a crash anywhere repeats the remaining steps
    /// when the job is delivered again.
    pub async fn run(&self, mut job: Job) -> Result<JobOutcome> {
        let result = match self.process(&job.request).await {
            Ok(result) => result,
            Err(e) if job.attempts < self.policy.max_attempts => {
                let backoff = self.policy.retry_base_ms << job.attempts.saturating_sub(1).min(16);
                let now = self.ports.clock.now();
                self.ports
                    .queue
                    .retry(&job.id, &e.message, now + backoff, now)
                    .await?;
                return Ok(JobOutcome::Retried {
                    id: job.id,
                    error: e.message,
                });
            }
            Err(e) => self.failed(&job.request, e.code).await?,
        };
        let now = self.ports.clock.now();
        job.state = JobState::Done;
        job.result = Some(result);
        job.updated_at = now;
        self.ports.listener.job_finished(&job).await?;
        let result = job
            .result
            .as_ref()
            .ok_or_else(|| Failure::internal("no result"))?;
        self.ports.queue.finish(&job.id, result, now).await?;
        self.ports.blobs.delete(job.request.upload_key()).await?;
        Ok(JobOutcome::Finished(Box::new(job)))
    }
}
