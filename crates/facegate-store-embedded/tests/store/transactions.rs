//! Transactions: per user, in a half-open time range, oldest first.

conformance!(accounts: transactions_are_listed_per_user_in_a_half_open_range);
