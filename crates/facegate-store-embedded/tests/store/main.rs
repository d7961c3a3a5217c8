//! Tests of the embedded store against real SQLite files, one folder per test.

/// One test per conformance check of `facegate_core::conformance::<module>`, each on a
/// fresh store in a folder of its own.
macro_rules! conformance {
    ($module:ident: $($check:ident),+ $(,)?) => {$(
        #[tokio::test]
        async fn $check() {
            let dir = crate::support::TempDir::new(stringify!($check));
            let store = crate::support::open_store(dir.path()).await;
            facegate_core::conformance::$module::$check(&store).await;
        }
    )+};
}

/// Like `conformance!`, for checks of concurrent callers: two stores on one file, as two
/// processes would be.
macro_rules! conformance_concurrent {
    ($module:ident: $($check:ident),+ $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            let dir = crate::support::TempDir::new(stringify!($check));
            let first = crate::support::open_store(dir.path()).await;
            let second = crate::support::open_store(dir.path()).await;
            facegate_core::conformance::$module::$check(&[&first, &second]).await;
        }
    )+};
}

mod api_keys;
mod audit;
mod collections;
mod encryption;
mod gauges;
mod inventory;
mod jobs;
mod lifecycle;
mod references;
mod refresh_tokens;
mod scans;
mod support;
mod transactions;
mod users;
mod webhooks;
