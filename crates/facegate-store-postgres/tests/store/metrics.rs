//! The inventory and the gauges.

use facegate_store_postgres::JOBS_TOPIC;

use crate::support::open_store;

#[tokio::test]
async fn the_backlog_and_the_pool_are_read_directly_too() {
    let Some((_db, store)) = open_store("gauges-direct").await else {
        return;
    };
    let backlog = store.job_backlog(1_000).await.unwrap();
    assert_eq!((backlog.topic.as_str(), backlog.lag), (JOBS_TOPIC, 0));
    let pool = store.pool_stats();
    assert!(
        pool.connections >= 1 && pool.idle <= pool.connections as usize,
        "{pool:?}"
    );
}
