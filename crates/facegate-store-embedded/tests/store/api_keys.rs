//! API keys: insertion, lookup by digest, listing and revocation.

conformance!(accounts: api_keys_are_stored_looked_up_and_revoked);
