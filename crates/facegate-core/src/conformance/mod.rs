//! Behaviour every store adapter must show, run by each adapter's own tests against a real
//! instance of its backend (`features = ["testing"]`).
//!
//! One `pub async fn` per behaviour, given a fresh, empty store (the caller opens it, so
//! each backend decides how: a new folder, a new database). A failed expectation panics.
//! [`fixtures`] builds the records, for the adapters' own tests too.

pub mod accounts;
pub mod collections;
pub mod fixtures;
pub mod jobs;
pub mod liveness_sessions;
pub mod metrics;
pub mod references;
pub mod scans;
pub mod users;
pub mod webhooks;

/// Expands, in the caller's crate, `$run!(module: check, ...)` for every check of one
/// store and `$run_concurrent!(module: check, ...)` for every check of concurrent callers
/// (`&[&store, &store]`). Each store's tests invoke it once with their own two macros, so
/// a check listed here runs on every store; the test below keeps the list complete.
#[macro_export]
macro_rules! conformance_checks {
    ($run:ident, $run_concurrent:ident) => {
        $run!(
            accounts: api_keys_are_stored_looked_up_and_revoked,
            transactions_are_listed_per_user_in_a_half_open_range,
            recent_audit_entries_come_newest_first,
            deleting_a_user_revokes_the_keys_they_created,
        );
        $run!(
            collections: search_is_per_session_one_match_per_photo,
            search_honours_threshold_and_limit,
            status_counts_photos_and_faces,
            inserting_the_same_photo_again_keeps_the_first,
            deleting_a_session_removes_its_photos_and_faces,
            search_skips_faces_of_other_models,
            a_photo_with_many_faces_does_not_hide_the_others,
        );
        $run_concurrent!(collections: concurrent_inserts_of_one_photo_store_it_once);
        $run!(
            jobs: jobs_are_claimed_oldest_first_once_due,
            users_take_turns,
            an_expired_lease_is_claimed_again,
            a_job_is_claimed_by_id_only_when_due,
            a_retried_job_waits_until_it_is_due,
            a_finished_job_keeps_its_result_and_is_never_claimed_again,
            pending_jobs_are_counted_per_user,
            uploads_no_pending_job_consumes_are_swept,
        );
        $run_concurrent!(jobs: concurrent_claimers_never_share_a_job);
        $run!(liveness_sessions: a_session_is_started_once_judged_and_spent_once);
        $run!(
            metrics: the_inventory_counts_every_record,
            the_gauges_count_due_queued_jobs_and_age_the_oldest,
        );
        $run!(
            references: references_are_stored_and_read_back,
            identify_returns_one_entry_per_subject_best_first,
            deleting_references_and_subjects,
            identify_skips_other_models_and_dimensions,
            a_subject_with_many_references_does_not_hide_the_others,
            references_are_reembedded,
        );
        $run!(
            scans: a_scan_is_stored_and_completed,
            the_leaderboard_ranks_users_by_their_best_score,
            leaderboard_ties_go_to_whoever_reached_the_score_first,
        );
        $run!(
            users: users_are_stored_and_looked_up,
            a_stored_face_marks_the_user_verified,
            deleting_a_user_removes_everything_of_theirs,
            a_refresh_token_is_fresh_once_then_replayed_until_its_family_is_revoked,
            unknown_and_expired_refresh_tokens_are_invalid,
        );
        $run_concurrent!(users: a_refresh_token_is_fresh_for_one_of_concurrent_callers);
        $run!(
            webhooks: hooks_are_listed_by_owner_and_deleted_only_by_it,
            a_user_s_events_reach_their_hooks_and_unrevoked_keys_hooks,
            enqueueing_the_same_delivery_again_keeps_the_first,
            a_claimed_delivery_is_leased_retried_and_delivered,
            a_failed_delivery_is_never_claimed_again,
            the_delivery_log_is_newest_first_and_limited,
            deleting_a_hook_or_a_user_removes_their_deliveries,
        );
        $run_concurrent!(webhooks: concurrent_claimers_never_share_a_delivery);
    };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Every `pub async fn` of the check modules, as `module::check`.
    fn defined() -> BTreeSet<String> {
        let sources = [
            ("accounts", include_str!("accounts.rs")),
            ("collections", include_str!("collections.rs")),
            ("jobs", include_str!("jobs.rs")),
            ("liveness_sessions", include_str!("liveness_sessions.rs")),
            ("metrics", include_str!("metrics.rs")),
            ("references", include_str!("references.rs")),
            ("scans", include_str!("scans.rs")),
            ("users", include_str!("users.rs")),
            ("webhooks", include_str!("webhooks.rs")),
        ];
        sources
            .iter()
            .flat_map(|(module, source)| {
                source.lines().filter_map(move |line| {
                    let name = line.strip_prefix("pub async fn ")?;
                    let end = name.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
                    Some(format!("{module}::{}", &name[..end]))
                })
            })
            .collect()
    }

    /// A check added to a module but not to [`conformance_checks!`] would run on no store.
    #[test]
    fn every_check_is_listed_once() {
        let mut listed = Vec::new();
        macro_rules! collect {
            ($module:ident: $($check:ident),+ $(,)?) => {
                $(listed.push(format!("{}::{}", stringify!($module), stringify!($check)));)+
            };
        }
        crate::conformance_checks!(collect, collect);
        let unique: BTreeSet<String> = listed.iter().cloned().collect();
        assert_eq!(unique.len(), listed.len(), "a check is listed twice");
        assert_eq!(unique, defined());
    }
}
