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
conformance_concurrent!(collections: concurrent_inserts_of_one_photo_store_it_once);
