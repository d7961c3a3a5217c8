//! The job queue: claim order, leases, retries, results and concurrent claimers.

use std::collections::HashSet;
use std::sync::Arc;

use facegate_core::account::{JobResult, JobState};
use facegate_core::ports::JobQueue;
use facegate_store_embedded::EmbeddedStore;

use crate::support::accounts::{add_user, job, verified};
use crate::support::{TempDir, open_store};

/// A store with user `u1` and, for each `(id, created_at)`, a queued job of theirs.
async fn with_jobs(dir: &TempDir, jobs: &[(&str, i64)]) -> EmbeddedStore {
    let store = open_store(dir.path()).await;
    add_user(&store, "u1", 0).await;
    for (id, created_at) in jobs {
        store.enqueue(&job(id, "u1", *created_at)).await.unwrap();
    }
    store
}

async fn claimed_id(store: &EmbeddedStore, now: i64, lease_until: i64) -> Option<String> {
    store
        .claim(now, lease_until)
        .await
        .unwrap()
        .map(|job| job.id)
}

#[tokio::test]
async fn jobs_are_claimed_oldest_first_once_due() {
    let dir = TempDir::new("jobs-order");
    let store = with_jobs(&dir, &[("j2", 200), ("j1", 100), ("j3", 300), ("j4", 900)]).await;
    let queued = store.job("j1").await.unwrap().unwrap();
    assert_eq!(queued, job("j1", "u1", 100));

    let claimed = store.claim(500, 10_000).await.unwrap().unwrap();
    assert_eq!(claimed.id, "j1");
    assert_eq!(claimed.state, JobState::Running);
    assert_eq!(claimed.attempts, 1);
    assert_eq!((claimed.created_at, claimed.updated_at), (100, 500));
    assert_eq!(store.job("j1").await.unwrap().unwrap(), claimed);
    assert_eq!(claimed_id(&store, 500, 10_000).await.as_deref(), Some("j2"));
    assert_eq!(claimed_id(&store, 500, 10_000).await.as_deref(), Some("j3"));
    // j4 is not due before its creation time.
    assert_eq!(claimed_id(&store, 500, 10_000).await, None);
    assert_eq!(claimed_id(&store, 900, 10_000).await.as_deref(), Some("j4"));
    assert!(store.job("missing").await.unwrap().is_none());
}

#[tokio::test]
async fn an_expired_lease_is_claimed_again() {
    let dir = TempDir::new("jobs-lease");
    let store = with_jobs(&dir, &[("j1", 0)]).await;
    assert_eq!(
        claimed_id(&store, 1_000, 2_000).await.as_deref(),
        Some("j1")
    );
    assert_eq!(claimed_id(&store, 1_999, 3_000).await, None);

    let again = store.claim(2_000, 4_000).await.unwrap().unwrap();
    assert_eq!((again.id.as_str(), again.attempts), ("j1", 2));
    assert_eq!(claimed_id(&store, 3_999, 5_000).await, None);
    let third = store.claim(4_000, 6_000).await.unwrap().unwrap();
    assert_eq!(third.attempts, 3);
}

#[tokio::test]
async fn a_retried_job_waits_until_it_is_due() {
    let dir = TempDir::new("jobs-retry");
    let store = with_jobs(&dir, &[("j1", 0), ("j2", 10)]).await;
    assert_eq!(claimed_id(&store, 100, 10_000).await.as_deref(), Some("j1"));
    store
        .retry("j1", "object store unavailable", 5_000, 200)
        .await
        .unwrap();
    let waiting = store.job("j1").await.unwrap().unwrap();
    assert_eq!(waiting.state, JobState::Queued);
    assert_eq!(
        waiting.last_error.as_deref(),
        Some("object store unavailable")
    );
    assert_eq!((waiting.attempts, waiting.updated_at), (1, 200));

    // Until j1 is due again only j2 can be claimed, even though j1 is older.
    assert_eq!(
        claimed_id(&store, 4_999, 10_000).await.as_deref(),
        Some("j2")
    );
    assert_eq!(claimed_id(&store, 4_999, 10_000).await, None);
    let again = store.claim(5_000, 10_000).await.unwrap().unwrap();
    assert_eq!((again.id.as_str(), again.attempts), ("j1", 2));
}

#[tokio::test]
async fn a_finished_job_keeps_its_result_and_is_never_claimed_again() {
    let dir = TempDir::new("jobs-finish");
    let store = with_jobs(&dir, &[("j1", 0)]).await;
    assert_eq!(claimed_id(&store, 100, 1_000).await.as_deref(), Some("j1"));
    store.finish("j1", &verified(), 300).await.unwrap();

    let done = store.job("j1").await.unwrap().unwrap();
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.result, Some(verified()));
    assert_eq!((done.attempts, done.updated_at), (1, 300));
    // Its lease is gone: not claimed after the lease would have ended.
    assert_eq!(claimed_id(&store, 5_000, 6_000).await, None);
    // A late retry (or finish) of a worker whose lease ran out leaves it done.
    store.retry("j1", "late", 0, 400).await.unwrap();
    let mut other = verified();
    if let JobResult::Verification(v) = &mut other {
        v.face_count = 3;
    }
    store.finish("j1", &other, 500).await.unwrap();
    assert_eq!(store.job("j1").await.unwrap().unwrap(), done);
    // Finishing or retrying a job that is gone is not an error.
    store.finish("missing", &verified(), 0).await.unwrap();
    store.retry("missing", "e", 0, 0).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_never_share_a_job() {
    const JOBS: usize = 60;
    const CLAIMERS_PER_STORE: usize = 4;
    let dir = TempDir::new("jobs-concurrent");
    let ids: Vec<String> = (0..JOBS).map(|i| format!("j{i:02}")).collect();
    let jobs: Vec<(&str, i64)> = ids.iter().map(|id| (id.as_str(), 0)).collect();
    // Two stores on one file, as two processes would be.
    let first = Arc::new(with_jobs(&dir, &jobs).await);
    let second = Arc::new(open_store(dir.path()).await);

    let mut claimers = Vec::new();
    for store in [&first, &second] {
        for _ in 0..CLAIMERS_PER_STORE {
            let store = Arc::clone(store);
            claimers.push(tokio::spawn(async move {
                let mut claimed = Vec::new();
                while let Some(id) = claimed_id(&store, 1_000, 1_000_000).await {
                    claimed.push(id);
                    tokio::task::yield_now().await;
                }
                claimed
            }));
        }
    }
    let mut claimed = Vec::new();
    for claimer in claimers {
        claimed.extend(claimer.await.unwrap());
    }

    let unique: HashSet<&String> = claimed.iter().collect();
    assert_eq!(claimed.len(), JOBS, "a job was claimed twice");
    assert_eq!(unique.len(), JOBS);
    for id in &ids {
        assert_eq!(first.job(id).await.unwrap().unwrap().attempts, 1, "{id}");
    }
}
