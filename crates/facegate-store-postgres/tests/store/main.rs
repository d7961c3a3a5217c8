//! Tests of the PostgreSQL store against a real server, one fresh database per test.
//!
//! The server's URL comes from `FACEGATE_TEST_DATABASE_URL` (`scripts/test-postgres.sh
//! start` prints one). Without it every test is skipped with a message, unless
//! `FACEGATE_REQUIRE_SERVICES=1`, where they fail.

mod collections;
mod lifecycle;
mod references;
mod support;
