//! The in-process worker of the embedded default: takes jobs from the durable queue in the
//! store, one at a time, until asked to stop.

use std::time::Duration;

use facegate_core::account::JobResult;
use facegate_core::jobs::{JobOutcome, JobService};
use tokio::sync::{Notify, watch};
use tracing::Instrument as _;

/// How often an idle worker looks for due jobs (retries, expired leases) unprompted.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Runs jobs until `stop` turns true; a job in progress is finished first.
pub async fn run(
    jobs: JobService,
    submitted: std::sync::Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let idle = match jobs.claim().await {
            Ok(Some(job)) => {
                let span = tracing::info_span!("job", job_id = job.id.as_str());
                log_outcome(jobs.run(job).instrument(span).await);
                false
            }
            Ok(None) => true,
            Err(e) => {
                tracing::error!(error = %e, "the job queue failed");
                true
            }
        };
        if idle {
            tokio::select! {
                () = submitted.notified() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// Deletes the uploads older than `age` that no pending job consumes, at start and then
/// every `age`, until `stop` turns true.
pub async fn sweep_uploads(jobs: JobService, age: Duration, mut stop: watch::Receiver<bool>) {
    let min_age_ms = i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
    while !*stop.borrow() {
        match jobs.sweep_uploads(min_age_ms).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "deleted uploads no job consumes"),
            Err(e) => tracing::error!(error = %e, "the upload sweep failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(age) => {}
            _ = stop.changed() => {}
        }
    }
}

fn log_outcome(outcome: facegate_core::Result<JobOutcome>) {
    match outcome {
        Ok(JobOutcome::Finished(job)) => {
            let (kind, status, reason) = match &job.result {
                Some(JobResult::Verification(r)) => {
                    ("verification", format!("{:?}", r.status), r.reason.clone())
                }
                Some(JobResult::Scan(r)) => ("scan", format!("{:?}", r.status), r.reason.clone()),
                None => ("unknown", String::new(), None),
            };
            tracing::info!(
                job_id = job.id,
                kind,
                attempts = job.attempts,
                status,
                reason,
                "job finished"
            );
        }
        Ok(JobOutcome::Retried { id, error }) => {
            tracing::warn!(job_id = id, error, "job will be retried");
        }
        Err(e) => tracing::error!(error = %e, "a job could not be completed"),
    }
}
