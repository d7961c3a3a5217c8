//! The job queue: claim order (users take turns), claims by id, leases, retries, results and concurrent
//! claimers.

use std::collections::HashSet;

use futures_util::future::join_all;

use super::fixtures::{MemoryBlobs, add_user, job, upload_key, verified};
use crate::account::{JobResult, JobState};
use crate::ports::{JobQueue, UserStore};

/// User `u1` and, for each `(id, created_at)`, a queued job of theirs.
async fn with_jobs<S: JobQueue + UserStore + ?Sized>(store: &S, jobs: &[(&str, i64)]) {
    add_user(store, "u1", 0).await;
    for (id, created_at) in jobs {
        store.enqueue(&job(id, "u1", *created_at)).await.unwrap();
    }
}

async fn claimed_id<S: JobQueue + ?Sized>(store: &S, now: i64, lease_until: i64) -> Option<String> {
    store
        .claim(now, lease_until)
        .await
        .unwrap()
        .map(|job| job.id)
}

async fn claimed_by_id<S: JobQueue + ?Sized>(
    store: &S,
    id: &str,
    now: i64,
    lease_until: i64,
) -> Option<(String, u32)> {
    store
        .claim_job(id, now, lease_until)
        .await
        .unwrap()
        .map(|job| (job.id, job.attempts))
}

/// Oldest by creation first (ids break ties), and not before a job's creation time.
pub async fn jobs_are_claimed_oldest_first_once_due<S: JobQueue + UserStore + ?Sized>(store: &S) {
    with_jobs(
        store,
        &[
            ("j2", 200),
            ("j1", 100),
            ("j3", 300),
            ("j4", 900),
            ("j0", 300),
        ],
    )
    .await;
    let queued = store.job("j1").await.unwrap().unwrap();
    assert_eq!(queued, job("j1", "u1", 100));

    let claimed = store.claim(500, 10_000).await.unwrap().unwrap();
    assert_eq!(claimed.id, "j1");
    assert_eq!(claimed.state, JobState::Running);
    assert_eq!(claimed.attempts, 1);
    assert_eq!((claimed.created_at, claimed.updated_at), (100, 500));
    assert_eq!(store.job("j1").await.unwrap().unwrap(), claimed);
    assert_eq!(claimed_id(store, 500, 10_000).await.as_deref(), Some("j2"));
    assert_eq!(claimed_id(store, 500, 10_000).await.as_deref(), Some("j0"));
    assert_eq!(claimed_id(store, 500, 10_000).await.as_deref(), Some("j3"));
    // j4 is not due before its creation time.
    assert_eq!(claimed_id(store, 500, 10_000).await, None);
    assert_eq!(claimed_id(store, 900, 10_000).await.as_deref(), Some("j4"));
    assert!(store.job("missing").await.unwrap().is_none());
}

/// Users take turns: the job of the user served least recently goes first, so one user's
/// backlog does not hold up another's job.
pub async fn users_take_turns<S: JobQueue + UserStore + ?Sized>(store: &S) {
    add_user(store, "u1", 0).await;
    add_user(store, "u2", 0).await;
    for (id, user_id, created_at) in [
        ("a1", "u1", 100),
        ("a2", "u1", 110),
        ("a3", "u1", 120),
        ("b1", "u2", 130),
        ("b2", "u2", 140),
    ] {
        store.enqueue(&job(id, user_id, created_at)).await.unwrap();
    }
    let mut order = Vec::new();
    let mut now = 500;
    while let Some(id) = claimed_id(store, now, now + 10_000).await {
        store.finish(&id, &verified(), now + 50).await.unwrap();
        order.push(id);
        now += 100;
    }
    assert_eq!(order, ["a1", "b1", "a2", "b2", "a3"]);
}

pub async fn an_expired_lease_is_claimed_again<S: JobQueue + UserStore + ?Sized>(store: &S) {
    with_jobs(store, &[("j1", 0)]).await;
    assert_eq!(claimed_id(store, 1_000, 2_000).await.as_deref(), Some("j1"));
    assert_eq!(claimed_id(store, 1_999, 3_000).await, None);

    let again = store.claim(2_000, 4_000).await.unwrap().unwrap();
    assert_eq!((again.id.as_str(), again.attempts), ("j1", 2));
    assert_eq!(claimed_id(store, 3_999, 5_000).await, None);
    let third = store.claim(4_000, 6_000).await.unwrap().unwrap();
    assert_eq!(third.attempts, 3);
}

/// `claim_job` takes a queued job that is due whatever its place in the queue, and leaves
/// alone a job leased to another worker (until its lease ends), one waiting for its retry
/// time, a done one and a missing one.
pub async fn a_job_is_claimed_by_id_only_when_due<S: JobQueue + UserStore + ?Sized>(store: &S) {
    with_jobs(store, &[("j1", 100), ("j2", 200), ("j3", 300)]).await;
    // Not before its creation time; then at once, though j1 and j2 are older.
    assert_eq!(claimed_by_id(store, "j3", 299, 1_000).await, None);
    let claimed = store.claim_job("j3", 300, 1_000).await.unwrap().unwrap();
    assert_eq!(
        (claimed.state, claimed.attempts, claimed.updated_at),
        (JobState::Running, 1, 300)
    );
    assert_eq!(store.job("j3").await.unwrap().unwrap(), claimed);
    // Leased to another worker until 1000, then claimed again.
    assert_eq!(claimed_by_id(store, "j3", 999, 2_000).await, None);
    assert_eq!(claimed_id(store, 999, 2_000).await.as_deref(), Some("j1"));
    assert_eq!(
        claimed_by_id(store, "j3", 1_000, 2_000).await,
        Some(("j3".to_owned(), 2))
    );

    // Waiting for its retry time, then due again.
    store.retry("j3", "transient", 5_000, 1_100).await.unwrap();
    assert_eq!(claimed_by_id(store, "j3", 4_999, 9_000).await, None);
    assert_eq!(
        claimed_by_id(store, "j3", 5_000, 9_000).await,
        Some(("j3".to_owned(), 3))
    );

    // Done: never again, even after its lease would have ended.
    store.finish("j3", &verified(), 5_100).await.unwrap();
    assert_eq!(claimed_by_id(store, "j3", 100_000, 200_000).await, None);
    let done = store.job("j3").await.unwrap().unwrap();
    assert_eq!((done.state, done.attempts), (JobState::Done, 3));
    assert_eq!(
        claimed_by_id(store, "missing", 100_000, 200_000).await,
        None
    );
    // The queue's order is untouched: j1 (its lease ended) and j2 are next.
    assert_eq!(
        claimed_id(store, 100_000, 200_000).await.as_deref(),
        Some("j1")
    );
    assert_eq!(
        claimed_id(store, 100_000, 200_000).await.as_deref(),
        Some("j2")
    );
    assert_eq!(claimed_id(store, 100_000, 200_000).await, None);
}

pub async fn a_retried_job_waits_until_it_is_due<S: JobQueue + UserStore + ?Sized>(store: &S) {
    with_jobs(store, &[("j1", 0), ("j2", 10)]).await;
    assert_eq!(claimed_id(store, 100, 10_000).await.as_deref(), Some("j1"));
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
        claimed_id(store, 4_999, 10_000).await.as_deref(),
        Some("j2")
    );
    assert_eq!(claimed_id(store, 4_999, 10_000).await, None);
    let again = store.claim(5_000, 10_000).await.unwrap().unwrap();
    assert_eq!((again.id.as_str(), again.attempts), ("j1", 2));
}

pub async fn a_finished_job_keeps_its_result_and_is_never_claimed_again<
    S: JobQueue + UserStore + ?Sized,
>(
    store: &S,
) {
    with_jobs(store, &[("j1", 0)]).await;
    assert_eq!(claimed_id(store, 100, 1_000).await.as_deref(), Some("j1"));
    store.finish("j1", &verified(), 300).await.unwrap();

    let done = store.job("j1").await.unwrap().unwrap();
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.result, Some(verified()));
    assert_eq!((done.attempts, done.updated_at), (1, 300));
    // Its lease is gone: not claimed after the lease would have ended.
    assert_eq!(claimed_id(store, 5_000, 6_000).await, None);
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

/// Claimers on every store at once (`stores` share one backend, as replicas would; the
/// first must be fresh) never get the same job, whether they take the next one or one by
/// id.
pub async fn concurrent_claimers_never_share_a_job<S: JobQueue + UserStore + ?Sized>(
    stores: &[&S],
) {
    const JOBS: usize = 40;
    const CLAIMERS_PER_STORE: usize = 4;
    let ids: Vec<String> = (0..JOBS).map(|i| format!("j{i:02}")).collect();
    let jobs: Vec<(&str, i64)> = ids.iter().map(|id| (id.as_str(), 0)).collect();
    with_jobs(stores[0], &jobs).await;

    let claimers = stores.iter().flat_map(|store| {
        (0..CLAIMERS_PER_STORE).map(move |_| async move {
            let mut claimed = Vec::new();
            while let Some(id) = claimed_id(*store, 1_000, 1_000_000).await {
                claimed.push(id);
            }
            claimed
        })
    });
    let claimed: Vec<String> = join_all(claimers).await.into_iter().flatten().collect();
    let unique: HashSet<&String> = claimed.iter().collect();
    assert_eq!(claimed.len(), JOBS, "a job was claimed twice or not at all");
    assert_eq!(unique.len(), JOBS);
    for id in &ids {
        assert_eq!(
            stores[0].job(id).await.unwrap().unwrap().attempts,
            1,
            "{id}"
        );
    }

    // Every claimer asks for the same job by id: one gets it.
    stores[0].enqueue(&job("solo", "u1", 0)).await.unwrap();
    let claims = stores.iter().flat_map(|store| {
        (0..CLAIMERS_PER_STORE).map(move |_| claimed_by_id(*store, "solo", 1_000, 1_000_000))
    });
    let won = join_all(claims).await.into_iter().flatten().count();
    assert_eq!(won, 1, "job solo was claimed {won} times");
}

/// A user's pending jobs are their queued and running ones, not the done ones nor other
/// users'.
pub async fn pending_jobs_are_counted_per_user<S: JobQueue + UserStore + ?Sized>(store: &S) {
    add_user(store, "u1", 0).await;
    add_user(store, "u2", 0).await;
    for (id, user_id) in [("a", "u1"), ("b", "u1"), ("c", "u1"), ("d", "u2")] {
        store.enqueue(&job(id, user_id, 100)).await.unwrap();
    }
    assert_eq!(store.pending_jobs("u1").await.unwrap(), 3);
    let claimed = store.claim_job("a", 200, 10_000).await.unwrap();
    assert!(claimed.is_some());
    store.finish("b", &verified(), 300).await.unwrap();
    assert_eq!(store.pending_jobs("u1").await.unwrap(), 2);
    assert_eq!(store.pending_jobs("u2").await.unwrap(), 1);
    assert_eq!(store.pending_jobs("nobody").await.unwrap(), 0);
}

/// The sweep deletes old uploads that no pending job consumes (none, or a done one), and
/// keeps a queued job's upload, a new upload and objects outside the upload folders.
pub async fn uploads_no_pending_job_consumes_are_swept<S: JobQueue + UserStore + ?Sized>(
    store: &S,
) {
    with_jobs(store, &[("done", 100), ("queued", 200)]).await;
    assert_eq!(claimed_id(store, 300, 1_000).await.as_deref(), Some("done"));
    store.finish("done", &verified(), 400).await.unwrap();
    let blobs = MemoryBlobs::default();
    for id in ["done", "queued", "orphan"] {
        blobs.put_at(&upload_key(id), 500);
    }
    blobs.put_at(&upload_key("new"), 5_000);
    blobs.put_at("scans/lost", 500);
    blobs.put_at("imports/event/a.jpg", 500);

    let swept = crate::uploads::sweep(store, &blobs, 1_000).await;
    assert_eq!(swept.unwrap(), 3);
    let mut kept = vec![
        "imports/event/a.jpg".to_owned(),
        upload_key("new"),
        upload_key("queued"),
    ];
    kept.sort();
    assert_eq!(blobs.keys(), kept);
}
