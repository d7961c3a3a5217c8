//! Offline evaluation on the LFW verification protocol: pair lists, metrics, report and ROC plot.
//!
//! Self-contained: it takes per-pair similarity scores and knows nothing of how they were
//! computed. A run is: [`read_pairs`], score every pair, [`labels_and_folds`],
//! [`EvalReport::from_scores`], then [`EvalReport::summary`], JSON via serde, and
//! [`write_roc_png`] with [`EvalReport::roc`].

pub mod composite;
pub mod folders;
pub mod metrics;
pub mod pad;
pub mod pairs;
pub mod report;
pub mod roc_plot;

// Only the entry points of a run are re-exported: in a binary crate an unused `pub use` is a
// warning. The rest (metrics functions, constants) is reachable through the modules.
pub use pairs::{labels_and_folds, read_pairs};
pub use report::{EvalReport, RunInfo, ScoredPairs};
pub use roc_plot::write_roc_png;
