//! Tests of the Kafka adapter against a real broker, with topics and a group of their own
//! per test.
//!
//! The broker's address comes from `FACEGATE_TEST_KAFKA_BROKERS` (`scripts/test-kafka.sh
//! start` prints one). Without it every test is skipped with a message, unless
//! `FACEGATE_REQUIRE_SERVICES=1`, where they fail.

mod admin;
mod consumer;
mod publisher;
mod support;
