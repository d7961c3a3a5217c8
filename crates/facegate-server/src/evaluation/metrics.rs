//! Verification metrics over pair scores: LFW 10-fold accuracy, ROC, AUC and TAR at FAR.
//!
//! A score is a similarity (higher means more likely the same person) and a pair is accepted as
//! "same" when `score >= threshold`. A NaN score counts as `-inf`: it is rejected by every finite
//! threshold. Every function sorts once (`O(n log n)`) and then sweeps the sorted scores.
//!
//! The slices `scores`, `labels` (`true` = same person) and `folds` must have the same length;
//! the functions panic otherwise, as that is a bug in the caller.

use std::collections::BTreeSet;

use serde::Serialize;

/// Result of the LFW 10-fold protocol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldResult {
    /// Mean of the per-fold accuracies.
    pub mean: f64,
    /// Population standard deviation of the per-fold accuracies (`numpy.std` default).
    pub std: f64,
    /// Threshold chosen on the other folds, per fold in ascending fold order.
    pub thresholds: Vec<f32>,
    /// Accuracy on each fold at its threshold, in ascending fold order.
    pub accuracies: Vec<f64>,
}

/// One point of a ROC curve: accepting every pair with `score >= threshold` gives these rates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RocPoint {
    pub threshold: f32,
    /// False accept rate: fraction of different-person pairs accepted.
    pub far: f64,
    /// True accept rate: fraction of same-person pairs accepted.
    pub tar: f64,
}

/// The operating point with the highest TAR whose FAR does not exceed a target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TarAtFar {
    pub far_target: f64,
    pub threshold: f32,
    pub tar: f64,
    /// The FAR actually reached at `threshold` (at most `far_target`).
    pub far_actual: f64,
}

/// LFW protocol: for each fold, picks the accuracy-maximising threshold on the other folds (as
/// [`best_threshold`] does) and measures the accuracy on the fold itself.
///
/// Folds are the distinct values of `folds`, in ascending order; they need not be 0..10. With
/// fewer than two folds the training set of a fold is empty and its threshold rejects everything.
/// Empty input gives zero mean and std and empty vectors.
pub fn ten_fold_accuracy(scores: &[f32], labels: &[bool], folds: &[usize]) -> FoldResult {
    assert_eq!(scores.len(), labels.len(), "one label per score");
    assert_eq!(scores.len(), folds.len(), "one fold per score");
    let mut sorted: Vec<(f32, bool, usize)> = scores
        .iter()
        .zip(labels)
        .zip(folds)
        .map(|((&s, &same), &fold)| (key(s), same, fold))
        .collect();
    sort_descending(&mut sorted, |p| p.0);

    let fold_ids: BTreeSet<usize> = folds.iter().copied().collect();
    let mut thresholds = Vec::with_capacity(fold_ids.len());
    let mut accuracies = Vec::with_capacity(fold_ids.len());
    for &fold in &fold_ids {
        let train = sorted
            .iter()
            .filter(|p| p.2 != fold)
            .map(|&(s, same, _)| (s, same));
        let (threshold, _) = best_split(&groups(train));
        let (correct, total) = sorted.iter().filter(|p| p.2 == fold).fold(
            (0_usize, 0_usize),
            |(correct, total), &(s, same, _)| {
                (correct + usize::from((s >= threshold) == same), total + 1)
            },
        );
        thresholds.push(threshold);
        accuracies.push(ratio(correct, total));
    }

    let (mean, std) = mean_and_std(&accuracies);
    FoldResult {
        mean,
        std,
        thresholds,
        accuracies,
    }
}

/// The threshold that maximises accuracy over all pairs, and that accuracy.
///
/// Candidates are the midpoints between consecutive distinct scores (plus one above the highest
/// score and the lowest score itself), so the decision boundary sits halfway between the two
/// closest scores it separates. On ties the highest threshold wins (fewer false accepts).
/// Empty input gives `(f32::INFINITY, 0.0)`.
pub fn best_threshold(scores: &[f32], labels: &[bool]) -> (f32, f64) {
    let sorted = sorted_pairs(scores, labels);
    let (threshold, correct) = best_split(&groups(sorted.into_iter()));
    (threshold, ratio(correct, scores.len()))
}

/// The ROC curve at every distinct score, by descending threshold.
///
/// The first point accepts nothing (threshold just above the highest score, FAR 0, TAR 0); the
/// last accepts everything (threshold = lowest score, FAR 1, TAR 1). A rate whose denominator is
/// zero (no same-person or no different-person pairs) is reported as 0.
pub fn roc(scores: &[f32], labels: &[bool]) -> Vec<RocPoint> {
    let groups = groups(sorted_pairs(scores, labels).into_iter());
    let n_pos: usize = groups.iter().map(|g| g.pos).sum();
    let n_neg: usize = groups.iter().map(|g| g.neg).sum();
    let start = groups.first().map_or(f32::INFINITY, |g| g.score.next_up());

    let mut points = Vec::with_capacity(groups.len() + 1);
    points.push(RocPoint {
        threshold: start,
        far: 0.0,
        tar: 0.0,
    });
    let (mut tp, mut fp) = (0, 0);
    for g in &groups {
        tp += g.pos;
        fp += g.neg;
        points.push(RocPoint {
            threshold: g.score,
            far: ratio(fp, n_neg),
            tar: ratio(tp, n_pos),
        });
    }
    points
}

/// Area under a ROC curve by the trapezoidal rule. Tied scores give a diagonal segment, i.e. half
/// credit, as `sklearn.metrics.roc_auc_score` does.
pub fn auc(roc: &[RocPoint]) -> f64 {
    roc.windows(2)
        .map(|w| (w[1].far - w[0].far) * (w[0].tar + w[1].tar) / 2.0)
        .sum()
}

/// TAR at the lowest threshold (among the scores) whose FAR is at most `far`.
///
/// The FAR is the fraction of different-person pairs with `score >= threshold`. When even the
/// highest score breaks the target, the threshold accepts nothing and TAR is 0.
pub fn tar_at_far(scores: &[f32], labels: &[bool], far: f64) -> TarAtFar {
    let curve = roc(scores, labels);
    // FAR never decreases as the threshold goes down, so the last point within the target is the
    // lowest threshold; the first point (FAR 0) always qualifies.
    let point = curve
        .iter()
        .take_while(|p| p.far <= far)
        .last()
        .copied()
        .unwrap_or(curve[0]);
    TarAtFar {
        far_target: far,
        threshold: point.threshold,
        tar: point.tar,
        far_actual: point.far,
    }
}

/// Same-person and different-person counts at one distinct score.
#[derive(Debug, Clone, Copy)]
struct Group {
    score: f32,
    pos: usize,
    neg: usize,
}

/// NaN sorts and compares as `-inf`; -0.0 becomes 0.0 so that `total_cmp`, like `>=`, cannot
/// tell them apart.
fn key(score: f32) -> f32 {
    if score.is_nan() {
        f32::NEG_INFINITY
    } else {
        score + 0.0
    }
}

fn sort_descending<T>(items: &mut [T], score: impl Fn(&T) -> f32) {
    items.sort_unstable_by(|a, b| score(b).total_cmp(&score(a)));
}

fn sorted_pairs(scores: &[f32], labels: &[bool]) -> Vec<(f32, bool)> {
    assert_eq!(scores.len(), labels.len(), "one label per score");
    let mut sorted: Vec<(f32, bool)> = scores
        .iter()
        .zip(labels)
        .map(|(&s, &same)| (key(s), same))
        .collect();
    sort_descending(&mut sorted, |p| p.0);
    sorted
}

/// Collapses pairs sorted by descending score into one group per distinct score.
fn groups(sorted: impl Iterator<Item = (f32, bool)>) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for (score, same) in sorted {
        let group = match out.last_mut() {
            Some(g) if g.score.total_cmp(&score).is_eq() => g,
            _ => {
                out.push(Group {
                    score,
                    pos: 0,
                    neg: 0,
                });
                out.last_mut().expect("just pushed")
            }
        };
        if same {
            group.pos += 1;
        } else {
            group.neg += 1;
        }
    }
    out
}

/// The threshold with the most correct decisions over `groups` (descending), and that count.
fn best_split(groups: &[Group]) -> (f32, usize) {
    let n_neg: usize = groups.iter().map(|g| g.neg).sum();
    let Some(first) = groups.first() else {
        return (f32::INFINITY, 0);
    };
    // Accepting nothing gets every different-person pair right.
    let mut best = (first.score.next_up(), n_neg);
    let (mut tp, mut fp) = (0, 0);
    for (i, g) in groups.iter().enumerate() {
        tp += g.pos;
        fp += g.neg;
        let correct = tp + (n_neg - fp);
        if correct > best.1 {
            let threshold = groups
                .get(i + 1)
                .map_or(g.score, |next| midpoint(g.score, next.score));
            best = (threshold, correct);
        }
    }
    best
}

/// A threshold in `(lo, hi]`, as close to halfway as `f32` allows.
fn midpoint(hi: f32, lo: f32) -> f32 {
    let mid = f64::midpoint(f64::from(hi), f64::from(lo)) as f32;
    if mid > lo && mid <= hi {
        mid
    } else {
        // Adjacent floats (the midpoint rounds to `lo`) or `lo = -inf`.
        lo.next_up()
    }
}

/// The rates at one threshold of a [`sweep`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SweepPoint {
    pub threshold: f32,
    /// Share of positive pairs (same person; live images) accepted.
    pub tar: f64,
    /// Share of negative pairs (different people; spoofs) accepted.
    pub far: f64,
    /// Share of all decided correctly.
    pub accuracy: f64,
}

/// The rates at `points` thresholds evenly spread from `from` to `to`, both included.
pub fn sweep(
    scores: &[f32],
    labels: &[bool],
    from: f32,
    to: f32,
    points: usize,
) -> Vec<SweepPoint> {
    assert_eq!(scores.len(), labels.len(), "one label per score");
    let n_pos = labels.iter().filter(|&&l| l).count();
    let n_neg = labels.len() - n_pos;
    let step = if points > 1 {
        (to - from) / (points - 1) as f32
    } else {
        0.0
    };
    (0..points)
        .map(|i| {
            let threshold = from + step * i as f32;
            let (mut tp, mut fp) = (0, 0);
            for (&score, &positive) in scores.iter().zip(labels) {
                if score >= threshold {
                    if positive {
                        tp += 1;
                    } else {
                        fp += 1;
                    }
                }
            }
            SweepPoint {
                threshold,
                tar: ratio(tp, n_pos),
                far: ratio(fp, n_neg),
                accuracy: ratio(tp + n_neg - fp, labels.len()),
            }
        })
        .collect()
}

fn ratio(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

fn mean_and_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-12;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < EPS
    }

    /// Accuracy of `score >= threshold` decisions, the slow obvious way.
    fn accuracy_at(scores: &[f32], labels: &[bool], threshold: f32) -> f64 {
        let correct = scores
            .iter()
            .zip(labels)
            .filter(|&(&s, &same)| (key(s) >= threshold) == same)
            .count();
        correct as f64 / scores.len() as f64
    }

    /// Best accuracy over every threshold that can make a difference: each score, and above all.
    fn brute_force_best(scores: &[f32], labels: &[bool]) -> f64 {
        scores
            .iter()
            .map(|&s| key(s))
            .chain([f32::INFINITY])
            .map(|t| accuracy_at(scores, labels, t))
            .fold(0.0, f64::max)
    }

    /// Deterministic pseudo-random scores: positives centred higher than negatives, with ties.
    fn synthetic(n: usize, seed: u64) -> (Vec<f32>, Vec<bool>) {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u32
        };
        let mut scores = Vec::with_capacity(n);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let same = next() % 2 == 0;
            // Quantised to 1/64 so that ties occur.
            let noise = (next() % 64) as f32 / 64.0;
            scores.push(if same { 0.3 + noise * 0.6 } else { noise * 0.6 });
            labels.push(same);
        }
        (scores, labels)
    }

    #[test]
    fn separable_scores_are_perfect() {
        let scores = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1];
        let labels = [true, true, true, false, false, false];
        let (threshold, accuracy) = best_threshold(&scores, &labels);
        assert!(close(accuracy, 1.0));
        assert!((threshold - 0.5).abs() < 1e-6, "threshold {threshold}");
        assert!(close(auc(&roc(&scores, &labels)), 1.0));

        let folds = [0, 1, 2, 0, 1, 2];
        let result = ten_fold_accuracy(&scores, &labels, &folds);
        assert_eq!(result.accuracies, vec![1.0, 1.0, 1.0]);
        assert!(close(result.mean, 1.0) && close(result.std, 0.0));

        let at = tar_at_far(&scores, &labels, 0.0);
        assert!(close(at.tar, 1.0) && close(at.far_actual, 0.0));
        assert!((at.threshold - 0.7).abs() < 1e-6);
    }

    #[test]
    fn interleaved_case_has_hand_computed_auc_and_threshold() {
        // Positives beat negatives in 3 + 2 + 2 = 7 of the 9 (positive, negative) pairs.
        let scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4];
        let labels = [true, false, true, true, false, false];
        let curve = roc(&scores, &labels);
        let rates: Vec<(f64, f64)> = curve.iter().map(|p| (p.far, p.tar)).collect();
        let third = 1.0 / 3.0;
        let expected = [
            (0.0, 0.0),
            (0.0, third),
            (third, third),
            (third, 2.0 * third),
            (third, 1.0),
            (2.0 * third, 1.0),
            (1.0, 1.0),
        ];
        assert_eq!(rates.len(), expected.len());
        for (got, want) in rates.iter().zip(expected) {
            assert!(
                close(got.0, want.0) && close(got.1, want.1),
                "{got:?} vs {want:?}"
            );
        }
        assert!(curve[0].threshold > 0.9);
        assert!((curve[6].threshold - 0.4).abs() < 1e-6);
        assert!(close(auc(&curve), 7.0 / 9.0));

        // Accepting down to 0.6 gets 3 positives and 2 negatives right: 5/6, split at 0.55.
        let (threshold, accuracy) = best_threshold(&scores, &labels);
        assert!(close(accuracy, 5.0 / 6.0));
        assert!(threshold > 0.5 && threshold < 0.6);
        assert!((threshold - 0.55).abs() < 1e-6, "threshold {threshold}");
    }

    #[test]
    fn equally_good_thresholds_resolve_to_the_highest() {
        // Splitting at 0.85 or at 0.65 both get 3 of 4 right.
        let (threshold, accuracy) =
            best_threshold(&[0.9, 0.8, 0.7, 0.6], &[true, false, true, false]);
        assert!(close(accuracy, 0.75));
        assert!((threshold - 0.85).abs() < 1e-6, "threshold {threshold}");
    }

    #[test]
    fn ties_between_classes_give_half_credit() {
        let curve = roc(&[0.5, 0.5], &[true, false]);
        assert_eq!(curve.len(), 2);
        assert!(close(auc(&curve), 0.5));
    }

    #[test]
    fn ten_fold_trains_on_the_other_folds_and_uses_population_std() {
        // Fold 0 alone puts the threshold at 0.5; fold 1 alone at 0.25.
        let scores = [0.9, 0.1, 0.3, 0.2];
        let labels = [true, false, true, false];
        let folds = [0, 0, 1, 1];
        let result = ten_fold_accuracy(&scores, &labels, &folds);
        assert_eq!(result.thresholds.len(), 2);
        assert!((result.thresholds[0] - 0.25).abs() < 1e-6);
        assert!((result.thresholds[1] - 0.5).abs() < 1e-6);
        // Fold 1 at 0.5 rejects its positive (0.3): accuracy 1/2.
        assert_eq!(result.accuracies, vec![1.0, 0.5]);
        assert!(close(result.mean, 0.75));
        // Population std of [1.0, 0.5]; the sample std would be 0.354.
        assert!(close(result.std, 0.25));
    }

    #[test]
    fn fold_ids_need_not_be_contiguous() {
        let scores = [0.9, 0.1, 0.3, 0.2];
        let labels = [true, false, true, false];
        let a = ten_fold_accuracy(&scores, &labels, &[0, 0, 1, 1]);
        let b = ten_fold_accuracy(&scores, &labels, &[3, 3, 7, 7]);
        assert_eq!(a, b);
    }

    #[test]
    fn tar_at_far_picks_the_lowest_threshold_within_the_target() {
        // Ten negatives at 0.0, 0.1, ..., 0.9 and five positives in between.
        let mut scores: Vec<f32> = (0..10u8).map(|i| f32::from(i) / 10.0).collect();
        let mut labels = vec![false; 10];
        scores.extend([0.95, 0.85, 0.55, 0.35, 0.01]);
        labels.extend([true; 5]);

        // One false accept allowed: accept down to 0.85 (negative 0.9 in, 0.8 out).
        let at = tar_at_far(&scores, &labels, 0.1);
        assert!((at.threshold - 0.85).abs() < 1e-6, "{at:?}");
        assert!(close(at.tar, 0.4) && close(at.far_actual, 0.1));
        assert!(close(at.far_target, 0.1));

        let at = tar_at_far(&scores, &labels, 0.25);
        assert!((at.threshold - 0.8).abs() < 1e-6, "{at:?}");
        assert!(close(at.tar, 0.4) && close(at.far_actual, 0.2));

        let at = tar_at_far(&scores, &labels, 0.0);
        assert!((at.threshold - 0.95).abs() < 1e-6, "{at:?}");
        assert!(close(at.tar, 0.2) && close(at.far_actual, 0.0));

        let at = tar_at_far(&scores, &labels, 1.0);
        assert!(close(at.tar, 1.0) && close(at.far_actual, 1.0));
        assert!(at.threshold.abs() < 1e-6);
    }

    #[test]
    fn tar_at_far_matches_a_direct_count_on_random_scores() {
        let (scores, labels) = synthetic(500, 7);
        let n_neg = labels.iter().filter(|&&l| !l).count() as f64;
        let n_pos = labels.iter().filter(|&&l| l).count() as f64;
        for target in [1e-2, 5e-2, 0.3] {
            let at = tar_at_far(&scores, &labels, target);
            let accepted = |t: f32, same: bool| {
                scores
                    .iter()
                    .zip(&labels)
                    .filter(|&(&s, &l)| l == same && s >= t)
                    .count() as f64
            };
            assert!(close(at.far_actual, accepted(at.threshold, false) / n_neg));
            assert!(close(at.tar, accepted(at.threshold, true) / n_pos));
            assert!(at.far_actual <= target);
            // The next lower distinct score must break the target, or we stopped too early.
            let next_lower = scores
                .iter()
                .copied()
                .filter(|&s| s < at.threshold)
                .fold(f32::NEG_INFINITY, f32::max);
            if next_lower > f32::NEG_INFINITY {
                assert!(accepted(next_lower, false) / n_neg > target);
            }
        }
    }

    #[test]
    fn best_threshold_matches_brute_force() {
        for seed in 1..=5 {
            let (scores, labels) = synthetic(300, seed);
            let (threshold, accuracy) = best_threshold(&scores, &labels);
            assert!(
                close(accuracy, brute_force_best(&scores, &labels)),
                "seed {seed}"
            );
            assert!(close(accuracy_at(&scores, &labels, threshold), accuracy));
        }
    }

    #[test]
    fn ten_fold_thresholds_are_optimal_on_the_training_folds() {
        let (scores, labels) = synthetic(400, 42);
        let folds: Vec<usize> = (0..scores.len()).map(|i| i * 10 / scores.len()).collect();
        let result = ten_fold_accuracy(&scores, &labels, &folds);
        assert_eq!(result.accuracies.len(), 10);
        for fold in 0..10 {
            let pick = |in_fold: bool| -> (Vec<f32>, Vec<bool>) {
                (0..scores.len())
                    .filter(|&i| (folds[i] == fold) == in_fold)
                    .map(|i| (scores[i], labels[i]))
                    .unzip()
            };
            let (train_s, train_l) = pick(false);
            let (test_s, test_l) = pick(true);
            let t = result.thresholds[fold];
            assert!(close(
                accuracy_at(&train_s, &train_l, t),
                brute_force_best(&train_s, &train_l)
            ));
            assert!(close(
                result.accuracies[fold],
                accuracy_at(&test_s, &test_l, t)
            ));
        }
        let mean = result.accuracies.iter().sum::<f64>() / 10.0;
        assert!(close(result.mean, mean));
        assert!(result.std > 0.0);
    }

    #[test]
    fn nan_and_missing_face_scores_count_as_rejections() {
        let scores = [0.9, f32::NAN, -1.0, 0.1, 0.2, 0.15];
        let labels = [true, true, true, false, false, false];
        let (threshold, accuracy) = best_threshold(&scores, &labels);
        // Best is accepting only 0.9 (4/6); accepting everything, NaN included, gets only 3/6.
        assert!(close(accuracy, 4.0 / 6.0), "{threshold} {accuracy}");
        assert!((threshold - 0.55).abs() < 1e-6);
        assert!(close(accuracy_at(&scores, &labels, threshold), 4.0 / 6.0));
        let curve = roc(&scores, &labels);
        let last = curve.last().unwrap();
        assert!(close(last.far, 1.0) && close(last.tar, 1.0));
        assert_eq!(last.threshold.to_bits(), f32::NEG_INFINITY.to_bits());
        let a = auc(&curve);
        assert!(a.is_finite() && (0.0..=1.0).contains(&a));
        let folds = [0, 1, 0, 1, 0, 1];
        let result = ten_fold_accuracy(&scores, &labels, &folds);
        assert!(result.mean.is_finite());
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        assert_eq!(best_threshold(&[], &[]), (f32::INFINITY, 0.0));
        let empty = ten_fold_accuracy(&[], &[], &[]);
        assert!(empty.accuracies.is_empty() && close(empty.mean, 0.0));
        assert_eq!(roc(&[], &[]).len(), 1);
        assert!(close(auc(&roc(&[], &[])), 0.0));
        let at = tar_at_far(&[], &[], 0.01);
        assert!(close(at.tar, 0.0));
        // Only positives: FAR is reported as 0 everywhere.
        let at = tar_at_far(&[0.5, 0.6], &[true, true], 0.0);
        assert!(close(at.tar, 1.0));
    }

    #[test]
    fn midpoint_stays_strictly_above_the_lower_score() {
        let lo = 0.5_f32;
        let hi = lo.next_up();
        let m = midpoint(hi, lo);
        assert!(m > lo && m <= hi);
        assert_eq!(
            midpoint(1.0, f32::NEG_INFINITY).to_bits(),
            f32::MIN.to_bits()
        );
    }

    #[test]
    fn a_sweep_rates_each_threshold_of_the_range() {
        let scores = [0.9, 0.6, 0.4, 0.2];
        let labels = [true, true, false, false];
        let points = sweep(&scores, &labels, 0.1, 0.7, 4);
        let thresholds: Vec<f32> = points.iter().map(|p| p.threshold).collect();
        assert_eq!(thresholds.len(), 4);
        assert!((thresholds[3] - 0.7).abs() < 1e-6, "{thresholds:?}");
        // 0.1 accepts all; 0.3 rejects 0.2; 0.5 rejects both negatives; 0.7 rejects 0.6.
        let rates: Vec<(f64, f64, f64)> =
            points.iter().map(|p| (p.tar, p.far, p.accuracy)).collect();
        assert_eq!(
            rates,
            [
                (1.0, 1.0, 0.5),
                (1.0, 0.5, 0.75),
                (1.0, 0.0, 1.0),
                (0.5, 0.0, 0.75)
            ]
        );
    }
}
