//! Tests of the PostgreSQL store against a real server, one fresh database per test.
//!
//! The server's URL comes from `FACEGATE_TEST_DATABASE_URL` (`scripts/test-postgres.sh
//! start` prints one). Without it every test is skipped with a message, unless
//! `FACEGATE_REQUIRE_SERVICES=1`, where they fail.

/// One test per conformance check of `facegate_core::conformance::<module>`, each on a
/// fresh database.
macro_rules! conformance {
    ($module:ident: $($check:ident),+ $(,)?) => {$(
        #[tokio::test]
        async fn $check() {
            let Some((_db, store)) = crate::support::open_store(stringify!($check)).await else {
                return;
            };
            facegate_core::conformance::$module::$check(&store).await;
        }
    )+};
}

/// Like `conformance!`, for checks of concurrent callers: two stores (two pools) on one
/// database, as two replicas would be.
macro_rules! conformance_concurrent {
    ($module:ident: $($check:ident),+ $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            let Some((db, first)) = crate::support::open_store(stringify!($check)).await else {
                return;
            };
            let second = facegate_store_postgres::connect(
                &db.url,
                &facegate_core::ports::NoEncryption,
            )
            .await
            .unwrap();
            facegate_core::conformance::$module::$check(&[&first, &second]).await;
        }
    )+};
}

/// Every check of `facegate_core::conformance`.
mod conformance {
    facegate_core::conformance_checks!(conformance, conformance_concurrent);
}

mod lifecycle;
mod metrics;
mod support;
mod tls;
mod users;
mod webhooks;
