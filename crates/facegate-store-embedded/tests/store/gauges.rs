//! The levels read at scrape time: the job backlog and the connection pool.

use facegate_core::ports::{GaugeSource, JobQueue, QueueLevel};
use facegate_store_embedded::JOBS_TOPIC;

use crate::support::accounts::{add_user, job};
use crate::support::{TempDir, open_store};

fn level(lag: u64, oldest_age_seconds: f64) -> QueueLevel {
    QueueLevel {
        topic: JOBS_TOPIC.to_owned(),
        lag,
        oldest_age_seconds,
    }
}

#[tokio::test]
async fn the_backlog_counts_due_queued_jobs_and_ages_the_oldest() {
    let dir = TempDir::new("gauges-backlog");
    let store = open_store(dir.path()).await;
    assert_eq!(store.job_backlog(1_000).await.unwrap(), level(0, 0.0));

    add_user(&store, "u1", 0).await;
    for (id, created_at) in [("j1", 100), ("j2", 200), ("j3", 900)] {
        store.enqueue(&job(id, "u1", created_at)).await.unwrap();
    }
    // j3 is not due before its creation time.
    assert_eq!(store.job_backlog(500).await.unwrap(), level(2, 0.4));
    // A claimed job is no longer waiting.
    let claimed = store.claim(500, 10_000).await.unwrap().unwrap();
    assert_eq!(claimed.id, "j1");
    assert_eq!(store.job_backlog(500).await.unwrap(), level(1, 0.3));
    assert_eq!(store.job_backlog(2_200).await.unwrap(), level(2, 2.0));

    let gauges = store.gauges(2_200).await.unwrap();
    assert_eq!(gauges.queues, [level(2, 2.0)]);
    assert!(gauges.db_pool_connections >= 1, "{gauges:?}");
    assert!(
        gauges.db_pool_idle_connections <= gauges.db_pool_connections,
        "{gauges:?}"
    );
    let pool = store.pool_stats();
    assert!(
        pool.connections >= 1 && pool.idle <= pool.connections as usize,
        "{pool:?}"
    );
}
