//! The levels read at scrape time: the job backlog and the connection pool.

use facegate_core::ports::QueueLevel;
use facegate_store_embedded::JOBS_TOPIC;

use crate::support::{TempDir, open_store};

#[tokio::test]
async fn the_backlog_and_the_pool_are_read_directly_too() {
    let dir = TempDir::new("gauges-direct");
    let store = open_store(dir.path()).await;
    assert_eq!(
        store.job_backlog(1_000).await.unwrap(),
        QueueLevel {
            topic: JOBS_TOPIC.to_owned(),
            lag: 0,
            oldest_age_seconds: 0.0,
        }
    );
    let pool = store.pool_stats();
    assert!(
        pool.connections >= 1 && pool.idle <= pool.connections as usize,
        "{pool:?}"
    );
}
