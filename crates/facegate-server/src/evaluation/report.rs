//! The result of one evaluation run, as JSON for the record and as text for the terminal.

use std::fmt::Write as _;

use anyhow::ensure;
use serde::Serialize;

use super::metrics::{self, RocPoint, SweepPoint, TarAtFar};
use super::pairs::FoldSource;

/// FAR targets reported, in the order of [`EvalReport::tar_at_far`].
pub const FAR_TARGETS: [f64; 3] = [1e-2, 1e-3, 1e-4];

/// At most this many images without a face are listed by name.
pub const MAX_LISTED_NO_FACE: usize = 50;

/// Per-pair scores and ground truth, as parallel slices of equal length.
#[derive(Debug, Clone, Copy)]
pub struct ScoredPairs<'a> {
    /// Cosine similarity per pair; a pair with an image without a face should score -1.0.
    pub scores: &'a [f32],
    /// `true` when both images show the same person.
    pub labels: &'a [bool],
    /// 0-based fold per pair.
    pub folds: &'a [usize],
}

/// What the run was: everything in the report that does not come from the scores.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The image folder.
    pub dataset: String,
    /// The pair CSV file.
    pub pairs_path: String,
    /// How the pairs' folds were set.
    pub folds: FoldSource,
    /// Distinct images embedded.
    pub num_images: usize,
    /// Every image where no face was found; the report keeps the count and the first
    /// [`MAX_LISTED_NO_FACE`] names, in this order.
    pub no_face: Vec<String>,
    /// Free-form description of the pipeline variant (models, detector settings, ...).
    pub config: serde_json::Value,
    pub embed_ms_per_face: f64,
    pub elapsed_s: f64,
}

/// Verification results on a pair list.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub dataset: String,
    pub pairs_path: String,
    pub fold_assignment: FoldSource,
    pub num_pairs: usize,
    pub num_same_pairs: usize,
    pub num_images: usize,
    pub no_face_count: usize,
    /// The first [`MAX_LISTED_NO_FACE`] images where no face was found.
    pub no_face_images: Vec<String>,
    /// Mean 10-fold accuracy (threshold chosen on the other nine folds).
    pub accuracy_mean: f64,
    /// Population standard deviation of the fold accuracies.
    pub accuracy_std: f64,
    pub fold_accuracies: Vec<f64>,
    pub fold_thresholds: Vec<f32>,
    pub auc: f64,
    /// One entry per [`FAR_TARGETS`] value, in that order.
    pub tar_at_far: Vec<TarAtFar>,
    /// The accuracy-maximising threshold on all pairs (optimistic: chosen on the test data).
    pub best_threshold: f32,
    pub best_threshold_accuracy: f64,
    pub config: serde_json::Value,
    pub embed_ms_per_face: f64,
    pub elapsed_s: f64,
    /// The rates at each threshold of `--threshold-range`, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_sweep: Option<Vec<SweepPoint>>,
    /// The full ROC curve, for [`super::write_roc_png`]; left out of the JSON (thousands of
    /// points).
    #[serde(skip)]
    pub roc: Vec<RocPoint>,
}

impl EvalReport {
    /// Computes every metric from the scores.
    ///
    /// Fails when the slices differ in length, are empty, hold fewer than two folds, or lack
    /// same-person or different-person pairs.
    pub fn from_scores(run: RunInfo, pairs: ScoredPairs<'_>) -> anyhow::Result<Self> {
        let ScoredPairs {
            scores,
            labels,
            folds,
        } = pairs;
        ensure!(
            scores.len() == labels.len() && scores.len() == folds.len(),
            "scores, labels and folds differ in length ({}, {}, {})",
            scores.len(),
            labels.len(),
            folds.len()
        );
        ensure!(!scores.is_empty(), "no pairs to evaluate");
        let num_same_pairs = labels.iter().filter(|&&same| same).count();
        ensure!(
            num_same_pairs > 0 && num_same_pairs < labels.len(),
            "the pairs need both same-person and different-person pairs \
             ({num_same_pairs} of {} are same-person)",
            labels.len()
        );
        ensure!(
            folds.iter().any(|&f| f != folds[0]),
            "the pairs need at least two folds"
        );

        let folded = metrics::ten_fold_accuracy(scores, labels, folds);
        let (best_threshold, best_threshold_accuracy) = metrics::best_threshold(scores, labels);
        let roc = metrics::roc(scores, labels);
        let tar_at_far = FAR_TARGETS
            .iter()
            .map(|&far| metrics::tar_at_far(scores, labels, far))
            .collect();
        let no_face_count = run.no_face.len();
        let mut no_face_images = run.no_face;
        no_face_images.truncate(MAX_LISTED_NO_FACE);

        Ok(Self {
            dataset: run.dataset,
            pairs_path: run.pairs_path,
            fold_assignment: run.folds,
            num_pairs: scores.len(),
            num_same_pairs,
            num_images: run.num_images,
            no_face_count,
            no_face_images,
            accuracy_mean: folded.mean,
            accuracy_std: folded.std,
            fold_accuracies: folded.accuracies,
            fold_thresholds: folded.thresholds,
            auc: metrics::auc(&roc),
            tar_at_far,
            best_threshold,
            best_threshold_accuracy,
            config: run.config,
            embed_ms_per_face: run.embed_ms_per_face,
            elapsed_s: run.elapsed_s,
            threshold_sweep: None,
            roc,
        })
    }

    /// A readable multi-line summary for the terminal (ends without a newline).
    pub fn summary(&self) -> String {
        const SHOWN_NO_FACE: usize = 5;
        let pct = |x: f64| format!("{:.3}%", x * 100.0);
        // `write!` into a String cannot fail.
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Verification on {} pairs ({} same-person) from {}",
            self.num_pairs, self.num_same_pairs, self.pairs_path
        );
        let _ = write!(
            out,
            "  images: {} in {}; no face found in {}",
            self.num_images, self.dataset, self.no_face_count
        );
        if self.no_face_count > 0 {
            let shown: Vec<&str> = self
                .no_face_images
                .iter()
                .take(SHOWN_NO_FACE)
                .map(String::as_str)
                .collect();
            let more = if self.no_face_count > shown.len() {
                ", ..."
            } else {
                ""
            };
            let _ = write!(out, " ({}{more})", shown.join(", "));
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "  accuracy ({}-fold, {}): {} ± {}",
            self.fold_accuracies.len(),
            match self.fold_assignment {
                FoldSource::Listed => "folds as listed",
                FoldSource::Consecutive => "consecutive folds",
                FoldSource::Stratified => "stratified folds",
            },
            pct(self.accuracy_mean),
            pct(self.accuracy_std)
        );
        let folds: Vec<String> = self
            .fold_accuracies
            .iter()
            .map(|a| format!("{:.2}", a * 100.0))
            .collect();
        let _ = writeln!(out, "  per fold (%): {}", folds.join(" "));
        let thresholds: Vec<String> = self
            .fold_thresholds
            .iter()
            .map(|t| format!("{t:.4}"))
            .collect();
        let _ = writeln!(out, "  fold thresholds: {}", thresholds.join(" "));
        let _ = writeln!(out, "  AUC: {:.6}", self.auc);
        for at in &self.tar_at_far {
            let _ = writeln!(
                out,
                "  TAR @ FAR {:.0e}: {} (threshold {:.4}, actual FAR {})",
                at.far_target,
                pct(at.tar),
                at.threshold,
                pct(at.far_actual)
            );
        }
        let _ = writeln!(
            out,
            "  best threshold on all pairs: {:.4} (accuracy {})",
            self.best_threshold,
            pct(self.best_threshold_accuracy)
        );
        let _ = writeln!(
            out,
            "  embedding: {:.2} ms/face; elapsed: {:.1} s",
            self.embed_ms_per_face, self.elapsed_s
        );
        let _ = write!(out, "  config: {}", self.config);
        out
    }
}

/// A sweep as a table for the terminal: one line per threshold, `tar` and `far` naming
/// the two rates (ends with a newline).
pub fn sweep_table(points: &[SweepPoint], tar: &str, far: &str) -> String {
    let mut out = format!(
        "  {:>9}  {tar:>9}  {far:>9}  {:>9}\n",
        "threshold", "accuracy"
    );
    for p in points {
        let _ = writeln!(
            out,
            "  {:>9.4}  {:>8.3}%  {:>8.3}%  {:>8.3}%",
            p.threshold,
            p.tar * 100.0,
            p.far * 100.0,
            p.accuracy * 100.0
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_info(no_face: usize) -> RunInfo {
        RunInfo {
            dataset: "/data/lfw".into(),
            pairs_path: "/data/pairs.csv".into(),
            folds: FoldSource::Consecutive,
            num_images: 12,
            no_face: (0..no_face).map(|i| format!("P/P_{i:04}.jpg")).collect(),
            config: serde_json::json!({ "detector": "scrfd", "align": true }),
            embed_ms_per_face: 2.5,
            elapsed_s: 10.0,
        }
    }

    /// Two folds; fold 1 has a positive (0.3) below fold 0's threshold (0.5).
    const SCORES: [f32; 4] = [0.9, 0.1, 0.3, 0.2];
    const LABELS: [bool; 4] = [true, false, true, false];
    const FOLDS: [usize; 4] = [0, 0, 1, 1];

    fn scored() -> ScoredPairs<'static> {
        ScoredPairs {
            scores: &SCORES,
            labels: &LABELS,
            folds: &FOLDS,
        }
    }

    #[test]
    fn from_scores_fills_every_metric() {
        let report = EvalReport::from_scores(run_info(2), scored()).unwrap();
        assert_eq!(report.num_pairs, 4);
        assert_eq!(report.num_same_pairs, 2);
        assert_eq!(report.num_images, 12);
        assert_eq!(report.fold_accuracies, vec![1.0, 0.5]);
        assert!((report.accuracy_mean - 0.75).abs() < 1e-12);
        assert!((report.accuracy_std - 0.25).abs() < 1e-12);
        assert_eq!(report.fold_thresholds.len(), 2);
        assert!((report.auc - 1.0).abs() < 1e-12);
        assert!((report.best_threshold_accuracy - 1.0).abs() < 1e-12);
        assert!((report.best_threshold - 0.25).abs() < 1e-6);
        let targets: Vec<f64> = report.tar_at_far.iter().map(|t| t.far_target).collect();
        assert_eq!(targets, FAR_TARGETS);
        assert_eq!(report.roc.len(), 5);
        assert_eq!(report.no_face_count, 2);
    }

    #[test]
    fn no_face_list_is_capped_but_counted() {
        let report = EvalReport::from_scores(run_info(70), scored()).unwrap();
        assert_eq!(report.no_face_count, 70);
        assert_eq!(report.no_face_images.len(), MAX_LISTED_NO_FACE);
        assert_eq!(report.no_face_images[0], "P/P_0000.jpg");
    }

    #[test]
    fn json_has_the_documented_fields_and_no_roc() {
        let report = EvalReport::from_scores(run_info(1), scored()).unwrap();
        let json = serde_json::to_value(&report).unwrap();
        for key in [
            "dataset",
            "pairs_path",
            "num_pairs",
            "num_images",
            "no_face_count",
            "no_face_images",
            "accuracy_mean",
            "accuracy_std",
            "fold_accuracies",
            "fold_thresholds",
            "auc",
            "tar_at_far",
            "best_threshold",
            "best_threshold_accuracy",
            "config",
            "embed_ms_per_face",
            "elapsed_s",
        ] {
            assert!(json.get(key).is_some(), "missing {key}");
        }
        assert!(json.get("roc").is_none());
        assert_eq!(json["config"]["detector"], "scrfd");
        assert_eq!(json["tar_at_far"][2]["far_target"], 1e-4);
    }

    #[test]
    fn summary_shows_the_headline_numbers() {
        let report = EvalReport::from_scores(run_info(7), scored()).unwrap();
        let text = report.summary();
        for needle in [
            "4 pairs (2 same-person)",
            "/data/pairs.csv",
            "no face found in 7 (P/P_0000.jpg",
            ", ...)",
            "accuracy (2-fold, consecutive folds): 75.000% ± 25.000%",
            "per fold (%): 100.00 50.00",
            "AUC: 1.000000",
            "TAR @ FAR 1e-2",
            "TAR @ FAR 1e-4",
            "2.50 ms/face",
            "\"detector\":\"scrfd\"",
        ] {
            assert!(text.contains(needle), "`{needle}` not in:\n{text}");
        }
        assert!(!text.ends_with('\n'));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let cases = [
            (&SCORES[..3], &LABELS[..], &FOLDS[..]),
            (&[][..], &[][..], &[][..]),
            (&SCORES[..], &[true; 4][..], &FOLDS[..]),
            (&SCORES[..], &LABELS[..], &[0; 4][..]),
        ];
        for (scores, labels, folds) in cases {
            let pairs = ScoredPairs {
                scores,
                labels,
                folds,
            };
            assert!(EvalReport::from_scores(run_info(0), pairs).is_err());
        }
    }
}
