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
/// processes would be; for photo collections, one store, since the embedded store's vector
/// index lives in its process.
macro_rules! conformance_concurrent {
    (collections: $($check:ident),+ $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            let dir = crate::support::TempDir::new(stringify!($check));
            let store = crate::support::open_store(dir.path()).await;
            facegate_core::conformance::collections::$check(&[&store]).await;
        }
    )+};
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

/// Every check of `facegate_core::conformance`.
mod conformance {
    facegate_core::conformance_checks!(conformance, conformance_concurrent);
}

mod encryption;
mod gauges;
mod lifecycle;
mod support;
mod webhooks;
