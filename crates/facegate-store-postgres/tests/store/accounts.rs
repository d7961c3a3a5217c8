//! API keys, transactions, the audit log and scans.

conformance!(
    accounts: api_keys_are_stored_looked_up_and_revoked,
    transactions_are_listed_per_user_in_a_half_open_range,
    recent_audit_entries_come_newest_first,
);
conformance!(
    scans: a_scan_is_stored_and_completed,
    the_leaderboard_ranks_users_by_their_best_score,
);
