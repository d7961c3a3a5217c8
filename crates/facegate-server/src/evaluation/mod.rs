//! Offline evaluation on the LFW verification protocol: pair lists, metrics, report and ROC plot.
//!
//! Self-contained: it takes per-pair similarity scores and knows nothing of how they were
//! computed.

mod metrics;
mod pairs;
mod report;
mod roc_plot;

pub use metrics::{
    FoldResult, RocPoint, TarAtFar, auc, best_threshold, roc, tar_at_far, ten_fold_accuracy,
};
pub use pairs::{LFW_FOLDS, Pair, labels_and_folds, read_pairs};
pub use report::{EvalReport, FAR_TARGETS, MAX_LISTED_NO_FACE, RunInfo, ScoredPairs};
pub use roc_plot::write_roc_png;
