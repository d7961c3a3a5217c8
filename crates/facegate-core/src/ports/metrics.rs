//! What the use-cases and the face pipeline report while they work ([`Metrics`]), and the
//! levels read when the metrics are collected ([`GaugeSource`]). The core only names what
//! is measured; an adapter decides how it is exposed (Prometheus in `facegate-http`).

use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::failure::Result;
use crate::model::Timestamp;
use crate::similarity::Decision;

/// A stage of the face pipeline, or the vector search after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Decode,
    Detect,
    Align,
    Embed,
    Search,
}

impl Stage {
    pub const ALL: [Stage; 5] = [
        Stage::Decode,
        Stage::Detect,
        Stage::Align,
        Stage::Embed,
        Stage::Search,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Detect => "detect",
            Stage::Align => "align",
            Stage::Embed => "embed",
            Stage::Search => "search",
        }
    }
}

/// The use-case a similarity score was decided in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Verify,
    Identify,
    Search,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Verify => "verify",
            MatchOp::Identify => "identify",
            MatchOp::Search => "search",
        }
    }
}

/// Observes the work done. Called on the hot paths (inference threads included): an
/// implementation must be cheap and must never block.
pub trait Metrics: Send + Sync {
    /// One run of a pipeline stage over one image (align and embed: over all the faces
    /// embedded from it, in one batch), or one vector search.
    fn stage(&self, stage: Stage, elapsed: Duration);
    /// One photo-collection search, from the use-case's start to its end, failed or not.
    fn search(&self, elapsed: Duration);
    /// One photo indexed (or found already indexed), failed or not.
    fn index(&self, elapsed: Duration);
    /// Embeddings computed.
    fn embeddings(&self, count: u64);
    /// The similarity behind a decision: a verification, the best candidate of an
    /// identification, a match returned by a search.
    fn match_score(&self, op: MatchOp, decision: Decision, similarity: f32);
}

/// Records nothing (the CLI tools and tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl Metrics for NoMetrics {
    fn stage(&self, _: Stage, _: Duration) {}
    fn search(&self, _: Duration) {}
    fn index(&self, _: Duration) {}
    fn embeddings(&self, _: u64) {}
    fn match_score(&self, _: MatchOp, _: Decision, _: f32) {}
}

/// Calls `record` with the time from [`Timer::start`] to the timer's drop, however the
/// scope ends (early returns and `?` included).
pub struct Timer<F: FnOnce(Duration)> {
    started: Instant,
    record: Option<F>,
}

impl<F: FnOnce(Duration)> Timer<F> {
    pub fn start(record: F) -> Self {
        Self {
            started: Instant::now(),
            record: Some(record),
        }
    }
}

impl<F: FnOnce(Duration)> Drop for Timer<F> {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            record(self.started.elapsed());
        }
    }
}

impl<F: FnOnce(Duration)> std::fmt::Debug for Timer<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("started", &self.started)
            .finish_non_exhaustive()
    }
}

/// A work queue's backlog.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueLevel {
    /// The queue's name (`jobs`: the verification jobs).
    pub topic: String,
    /// Items waiting that are due now.
    pub lag: u64,
    /// Age of the oldest of them, in seconds; 0 when none waits.
    pub oldest_age_seconds: f64,
}

/// Levels read when the metrics are collected.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Gauges {
    pub queues: Vec<QueueLevel>,
    /// Connections the record store's pool holds, busy or idle.
    pub db_pool_connections: u64,
    pub db_pool_idle_connections: u64,
}

/// Reads the [`Gauges`] (the store that holds the queue and the connection pool).
#[async_trait]
pub trait GaugeSource: Send + Sync {
    async fn gauges(&self, now: Timestamp) -> Result<Gauges>;
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn a_timer_records_once_when_dropped() {
        let seen = Mutex::new(Vec::new());
        {
            let _timer = Timer::start(|elapsed| seen.lock().unwrap().push(elapsed));
            std::thread::sleep(Duration::from_millis(2));
        }
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.len(), 1);
        assert!(seen[0] >= Duration::from_millis(2), "{seen:?}");
    }

    #[test]
    fn stage_names_are_the_metric_labels() {
        let names: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["decode", "detect", "align", "embed", "search"]);
    }
}
