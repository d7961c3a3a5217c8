//! Refresh tokens: single use, replay detection and family revocation.

conformance!(
    users: a_refresh_token_is_fresh_once_then_replayed_until_its_family_is_revoked,
    unknown_and_expired_refresh_tokens_are_invalid,
);
conformance_concurrent!(users: a_refresh_token_is_fresh_for_one_of_concurrent_callers);
