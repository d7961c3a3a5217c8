//! Tests of the embedded store against real SQLite files, one folder per test.

mod collections;
mod lifecycle;
mod references;
mod support;
