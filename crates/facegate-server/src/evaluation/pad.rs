//! Presentation-attack detection (liveness) figures in the ISO/IEC 30107-3 vocabulary:
//! APCER (attacks accepted as live) and BPCER (live faces refused), from labelled scores.
//!
//! A label list is a CSV file with the header `file,label[,attack]`: `label` is `live` or
//! `spoof`, `attack` (or `attack_type`) names the attack type of a spoof (print, screen,
//! mask, ...). Other columns are ignored.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, bail};
use serde::Serialize;

use super::metrics::{RocPoint, auc, roc, tar_at_far};

/// One labelled image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub file: String,
    pub live: bool,
    /// The attack type of a spoof; `None` for live faces and unnamed attacks.
    pub attack: Option<String>,
}

/// Reads a label list.
pub fn read_labels(path: &Path) -> anyhow::Result<Vec<Sample>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read label file {}", path.display()))?;
    parse_labels(&text).with_context(|| format!("invalid label file {}", path.display()))
}

fn parse_labels(text: &str) -> anyhow::Result<Vec<Sample>> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().context("the file is empty")?;
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    if columns.get(..2) != Some(&["file", "label"][..]) {
        bail!("the header must start with `file,label`, found `{header}`");
    }
    let attack_column = columns
        .iter()
        .position(|c| *c == "attack" || *c == "attack_type");
    let mut samples = Vec::new();
    for (index, line) in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let live = match fields.get(1).copied() {
            Some("live") => true,
            Some("spoof") => false,
            other => bail!(
                "line {}: label must be `live` or `spoof`, found {other:?}",
                index + 1
            ),
        };
        let attack = attack_column
            .and_then(|c| fields.get(c))
            .filter(|a| !live && !a.is_empty())
            .map(|a| (*a).to_owned());
        samples.push(Sample {
            file: fields[0].to_owned(),
            live,
            attack,
        });
    }
    if !samples.iter().any(|s| s.live) || samples.iter().all(|s| s.live) {
        bail!("the list needs both live and spoof images");
    }
    Ok(samples)
}

/// The error rates at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorRates {
    pub threshold: f32,
    /// Share of attacks scored at or above the threshold.
    pub apcer: f64,
    /// Share of live faces scored below it.
    pub bpcer: f64,
}

/// BPCER at the lowest threshold whose APCER stays within a target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BpcerAtApcer {
    pub apcer_target: f64,
    pub threshold: f32,
    pub bpcer: f64,
}

/// APCER of one attack type at the operating threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackRate {
    pub attack: String,
    pub count: usize,
    pub apcer: f64,
}

/// The figures of one labelled set. Scores are live probabilities; an image the check
/// gave no score (no face, too little context) is a non-response, counted apart as
/// ISO/IEC 30107-3 does (BPNRR, APNRR), and the error rates are over the responses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PadMetrics {
    pub live: usize,
    pub spoof: usize,
    /// Share of live images given no score.
    pub bpnrr: f64,
    /// Share of attacks given no score.
    pub apnrr: f64,
    pub auc: f64,
    pub at_threshold: ErrorRates,
    pub bpcer_at_apcer: Vec<BpcerAtApcer>,
    pub per_attack: Vec<AttackRate>,
    /// Live = positive: `far` is APCER, `tar` is 1 - BPCER.
    pub roc: Vec<RocPoint>,
}

/// Rates the scores of `samples` (in the same order; `None`: no response) at `threshold`.
pub fn pad_metrics(samples: &[Sample], scores: &[Option<f32>], threshold: f32) -> PadMetrics {
    let count = |live: bool| samples.iter().filter(|s| s.live == live).count();
    let (live, spoof) = (count(true), count(false));
    let (responded, scores): (Vec<&Sample>, Vec<f32>) = samples
        .iter()
        .zip(scores)
        .filter_map(|(sample, score)| score.map(|score| (sample, score)))
        .unzip();
    let labels: Vec<bool> = responded.iter().map(|s| s.live).collect();
    let answered = |want_live: bool| labels.iter().filter(|l| **l == want_live).count();
    let accepted = |want_live: bool| {
        labels
            .iter()
            .zip(&scores)
            .filter(|(l, score)| **l == want_live && **score >= threshold)
            .count()
    };
    let curve = roc(&scores, &labels);
    let mut attacks: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (sample, score) in responded.iter().zip(&scores).filter(|(s, _)| !s.live) {
        let entry = attacks
            .entry(sample.attack.as_deref().unwrap_or("unnamed"))
            .or_default();
        entry.0 += 1;
        entry.1 += usize::from(*score >= threshold);
    }
    PadMetrics {
        live,
        spoof,
        bpnrr: 1.0 - share(answered(true), live),
        apnrr: 1.0 - share(answered(false), spoof),
        auc: auc(&curve),
        at_threshold: ErrorRates {
            threshold,
            apcer: share(accepted(false), answered(false)),
            bpcer: 1.0 - share(accepted(true), answered(true)),
        },
        bpcer_at_apcer: [0.01, 0.05]
            .into_iter()
            .map(|target| {
                let point = tar_at_far(&scores, &labels, target);
                BpcerAtApcer {
                    apcer_target: target,
                    threshold: point.threshold,
                    bpcer: 1.0 - point.tar,
                }
            })
            .collect(),
        per_attack: attacks
            .into_iter()
            .map(|(attack, (count, accepted))| AttackRate {
                attack: attack.to_owned(),
                count,
                apcer: share(accepted, count),
            })
            .collect(),
        roc: curve,
    }
}

fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(text: &str) -> Vec<Sample> {
        parse_labels(text).unwrap()
    }

    #[test]
    fn labels_are_read_with_optional_attack_types() {
        let s = samples("file,label,attack\na.jpg,live,\nb.jpg,spoof,print\nc.jpg,spoof,\n");
        assert_eq!(s.len(), 3);
        assert!(s[0].live && s[0].attack.is_none());
        assert_eq!(s[1].attack.as_deref(), Some("print"));
        assert!(!s[2].live && s[2].attack.is_none());
        assert!(parse_labels("file,label\na.jpg,live\n").is_err());
        assert!(parse_labels("file,label\na.jpg,real\nb.jpg,spoof\n").is_err());
        assert!(parse_labels("path,label\na.jpg,live\nb.jpg,spoof\n").is_err());
    }

    #[test]
    fn rates_count_attacks_accepted_and_live_faces_refused() {
        let s = samples(
            "file,label,attack\nl1,live,\nl2,live,\nl3,live,\nl4,live,\n\
             s1,spoof,print\ns2,spoof,print\ns3,spoof,screen\ns4,spoof,screen\n",
        );
        let scores = [0.9, 0.8, 0.6, 0.3, 0.1, 0.2, 0.7, 0.05].map(Some);
        let m = pad_metrics(&s, &scores, 0.5);
        assert_eq!((m.live, m.spoof), (4, 4));
        assert_eq!((m.bpnrr, m.apnrr), (0.0, 0.0));
        assert!((m.at_threshold.apcer - 0.25).abs() < 1e-9, "{m:?}");
        assert!((m.at_threshold.bpcer - 0.25).abs() < 1e-9, "{m:?}");
        // 14 of the 16 live-spoof pairs are ordered right.
        assert!((m.auc - 14.0 / 16.0).abs() < 1e-9, "{}", m.auc);
        let rates: Vec<(&str, f64)> = m
            .per_attack
            .iter()
            .map(|a| (a.attack.as_str(), a.apcer))
            .collect();
        assert_eq!(rates, [("print", 0.0), ("screen", 0.5)]);
        // Within APCER 1%: no attack may pass, so the threshold sits above 0.7.
        let strict = m.bpcer_at_apcer[0];
        assert!(
            strict.threshold > 0.7 && (strict.bpcer - 0.5).abs() < 1e-9,
            "{strict:?}"
        );

        // Images without a score are non-responses, apart from the error rates.
        let mut partial = scores;
        partial[3] = None;
        partial[6] = None;
        let m = pad_metrics(&s, &partial, 0.5);
        assert!(
            (m.bpnrr - 0.25).abs() < 1e-9 && (m.apnrr - 0.25).abs() < 1e-9,
            "{m:?}"
        );
        assert_eq!((m.at_threshold.apcer, m.at_threshold.bpcer), (0.0, 0.0));
        assert!((m.auc - 1.0).abs() < 1e-9, "{}", m.auc);
    }
}
