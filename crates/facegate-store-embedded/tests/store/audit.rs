//! The audit log: newest first, at most `limit`.

conformance!(accounts: recent_audit_entries_come_newest_first);
