//! Enrolled references: storage, identification, deletion and re-embedding.

conformance!(
    references:
    references_are_stored_and_read_back,
    identify_returns_one_entry_per_subject_best_first,
    deleting_references_and_subjects,
    identify_skips_other_models_and_dimensions,
    a_subject_with_many_references_does_not_hide_the_others,
    references_are_reembedded,
);
