//! Scans: storing, completing and the leaderboard.

conformance!(
    scans: a_scan_is_stored_and_completed,
    the_leaderboard_ranks_users_by_their_best_score,
);
