//! The in-process worker of the embedded default: takes jobs from the durable queue in the
//! store, one at a time, until asked to stop.

use std::time::Duration;

use facegate_core::verification::{JobOutcome, VerificationService};
use tokio::sync::{Notify, watch};

/// How often an idle worker looks for due jobs (retries, expired leases) unprompted.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Runs jobs until `stop` turns true; a job in progress is finished first.
pub async fn run(
    verification: VerificationService,
    submitted: std::sync::Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let idle = match verification.run_next().await {
            Ok(Some(JobOutcome::Finished(job))) => {
                let result = job.result.as_ref();
                tracing::info!(
                    job_id = job.id,
                    attempts = job.attempts,
                    status = ?result.map(|r| r.status),
                    reason = result.and_then(|r| r.reason.as_deref()),
                    "verification job finished"
                );
                false
            }
            Ok(Some(JobOutcome::Retried { id, error })) => {
                tracing::warn!(job_id = id, error, "verification job will be retried");
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
