//! The job queue: claim order, claims by id, leases, retries, results and concurrent
//! claimers.

conformance!(
    jobs: jobs_are_claimed_oldest_first_once_due,
    an_expired_lease_is_claimed_again,
    a_job_is_claimed_by_id_only_when_due,
    a_retried_job_waits_until_it_is_due,
    a_finished_job_keeps_its_result_and_is_never_claimed_again,
);
conformance_concurrent!(jobs: concurrent_claimers_never_share_a_job);
