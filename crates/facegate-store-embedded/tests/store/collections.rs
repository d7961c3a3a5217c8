//! Photo collections: indexing, idempotency, search, status and deletion.

conformance!(
    collections:
    search_is_per_session_one_match_per_photo,
    search_honours_threshold_and_limit,
    status_counts_photos_and_faces,
    inserting_the_same_photo_again_keeps_the_first,
    deleting_a_session_removes_its_photos_and_faces,
    search_skips_faces_of_other_models,
    a_photo_with_many_faces_does_not_hide_the_others,
);

/// Concurrent callers of one store: the embedded store serves one process, its vector
/// index lives in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts_of_one_photo_store_it_once() {
    let dir = crate::support::TempDir::new("concurrent-inserts");
    let store = crate::support::open_store(dir.path()).await;
    facegate_core::conformance::collections::concurrent_inserts_of_one_photo_store_it_once(&[
        &store,
    ])
    .await;
}
