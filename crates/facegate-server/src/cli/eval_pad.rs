//! `facegate eval-pad`: the passive liveness check on a labelled set of live and spoof
//! images (APCER, BPCER, AUC, per attack type), with a JSON report and a ROC plot.

use std::path::{Path, PathBuf};
use std::time::Instant;

use facegate_vision::{Engine, Pipeline, VisionError};
use image::RgbImage;
use serde::Serialize;

use crate::cli::eval::SweepArgs;
use crate::cli::{on_each_image, write_report};
use crate::evaluation::metrics::SweepPoint;
use crate::evaluation::pad::{PadMetrics, Sample, pad_metrics, read_labels};
use crate::evaluation::report::sweep_table;
use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Label list: `file,label[,attack]` with `live` or `spoof` labels (e.g.
    /// ../shared/datasets/pad/nuaa-train-sample/labels.csv).
    #[arg(long)]
    pub labels: PathBuf,
    /// Folder the file paths are relative to (default: the label list's folder).
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Folder for the JSON report and the ROC curve.
    #[arg(long, default_value = "reports")]
    pub out: PathBuf,
    /// Name of this run, used in the output file names.
    #[arg(long, default_value = "pad")]
    pub name: String,
    #[command(flatten)]
    pub sweep: SweepArgs,
}

/// Where one evaluation reads and writes.
#[derive(Debug)]
pub struct Run {
    /// Where the labels came from, for the report.
    pub labels: PathBuf,
    /// Folder the sample paths are relative to.
    pub root: PathBuf,
    pub out: PathBuf,
    pub name: String,
    pub sweep: SweepArgs,
}

/// What became of one image: its live probability, or why it has none.
enum Outcome {
    Scored { score: f32, ms: f64 },
    Refused(VisionError),
}

/// The live probability of an image's main face, or why it has none.
fn score_image(p: &mut Pipeline, image: &RgbImage) -> Result<Outcome, VisionError> {
    let Some(face) = p.detect_main(image)?.first().copied() else {
        return Ok(Outcome::Refused(VisionError::NoFace));
    };
    let started = Instant::now();
    Ok(match p.liveness(image, &face) {
        Ok(score) => Outcome::Scored {
            score,
            ms: started.elapsed().as_secs_f64() * 1e3,
        },
        Err(e @ VisionError::InsufficientContext { .. }) => Outcome::Refused(e),
        Err(e) => return Err(e),
    })
}

/// An image that could not be scored, and why.
#[derive(Debug, Serialize)]
struct Unscored {
    file: String,
    live: bool,
    code: &'static str,
}

#[derive(Debug, Serialize)]
struct PadReport {
    labels: String,
    config: serde_json::Value,
    /// Mean time of the check (both networks) per face, on one worker thread.
    liveness_ms_per_face: f64,
    /// Non-responses, apart from the error rates.
    unscored: Vec<Unscored>,
    /// Every image's live probability (`null`: unscored), in the label list's order.
    scores: Vec<Option<f32>>,
    metrics: PadMetrics,
    /// The rates at each threshold of `--threshold-range` (TAR: live accepted, FAR: APCER).
    #[serde(skip_serializing_if = "Option::is_none")]
    threshold_sweep: Option<Vec<SweepPoint>>,
    elapsed_s: f64,
}

/// What every image of a label list gave.
struct Scored {
    /// In the label list's order; `None`: no response.
    scores: Vec<Option<f32>>,
    unscored: Vec<Unscored>,
    /// The check's time per scored face, in milliseconds.
    times: Vec<f64>,
}

/// Scores every image on all workers.
fn score_all(engine: &Engine, root: &Path, samples: &[Sample]) -> anyhow::Result<Scored> {
    let files: Vec<&str> = samples.iter().map(|s| s.file.as_str()).collect();
    let outcomes = on_each_image(engine, root, &files, score_image)?;
    let (mut scores, mut unscored, mut times) = (Vec::new(), Vec::new(), Vec::new());
    for (sample, outcome) in samples.iter().zip(outcomes) {
        match outcome {
            Ok(Outcome::Scored { score, ms }) => {
                scores.push(Some(score));
                times.push(ms);
            }
            Ok(Outcome::Refused(e)) | Err(e) => {
                scores.push(None);
                unscored.push(Unscored {
                    file: sample.file.clone(),
                    live: sample.live,
                    code: e.code().as_str(),
                });
            }
        }
    }
    Ok(Scored {
        scores,
        unscored,
        times,
    })
}

pub fn run(settings: &Settings, args: &Args) -> anyhow::Result<()> {
    let samples = read_labels(&args.labels)?;
    let root = args
        .images
        .clone()
        .or_else(|| args.labels.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let engine = Engine::start(&settings.vision)?;
    let run = Run {
        labels: args.labels.clone(),
        root,
        out: args.out.clone(),
        name: args.name.clone(),
        sweep: args.sweep.clone(),
    };
    evaluate(settings, &engine, &samples, &run)
}

/// Scores `samples`, writes the JSON report and the ROC plot, and prints the summary.
pub fn evaluate(
    settings: &Settings,
    engine: &Engine,
    samples: &[Sample],
    run: &Run,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let Scored {
        scores,
        unscored,
        times,
    } = score_all(engine, &run.root, samples)?;
    let threshold = settings.liveness_threshold(None);
    let metrics = pad_metrics(samples, &scores, threshold);
    let (scored, live): (Vec<f32>, Vec<bool>) = scores
        .iter()
        .zip(samples)
        .filter_map(|(score, sample)| Some(((*score)?, sample.live)))
        .unzip();
    let v = &settings.vision;
    let report = PadReport {
        labels: run.labels.display().to_string(),
        config: serde_json::json!({
            "pack": v.pack,
            "main_face": v.main_face,
            "detection_threshold": v.detection_threshold,
            "min_context": facegate_vision::liveness::MIN_CONTEXT,
            "min_face_px": facegate_vision::liveness::MIN_FACE,
            "workers": v.workers,
        }),
        liveness_ms_per_face: times.iter().sum::<f64>() / times.len().max(1) as f64,
        unscored,
        scores,
        metrics,
        threshold_sweep: run.sweep.rates(&scored, &live),
        elapsed_s: started.elapsed().as_secs_f64(),
    };
    let mut text = format!("{}\n", summary(&report));
    if let Some(points) = &report.threshold_sweep {
        text.push_str(&sweep_table(points, "1-BPCER", "APCER"));
    }
    let title = format!("PAD ROC: {} (FAR = APCER, TAR = 1 - BPCER)", run.name);
    let stem = format!("pad-{}", run.name);
    write_report(&run.out, &stem, &report, &report.metrics.roc, &title, text)
}

fn summary(r: &PadReport) -> String {
    let m = &r.metrics;
    let t = m.at_threshold;
    let mut lines = vec![
        format!(
            "{} live, {} spoof images; not scored (no face, too little context): {:.2}% of \
             live (BPNRR), {:.2}% of spoof (APNRR); the rates below are over the scored",
            m.live,
            m.spoof,
            m.bpnrr * 100.0,
            m.apnrr * 100.0
        ),
        format!("AUC {:.4}", m.auc),
        format!(
            "at threshold {:.3}: APCER {:.2}%  BPCER {:.2}%",
            t.threshold,
            t.apcer * 100.0,
            t.bpcer * 100.0
        ),
    ];
    for point in &m.bpcer_at_apcer {
        lines.push(format!(
            "BPCER at APCER {:.0}%: {:.2}% (threshold {:.3})",
            point.apcer_target * 100.0,
            point.bpcer * 100.0,
            point.threshold
        ));
    }
    for attack in &m.per_attack {
        lines.push(format!(
            "attack {}: {} images, APCER {:.2}%",
            attack.attack,
            attack.count,
            attack.apcer * 100.0
        ));
    }
    lines.push(format!(
        "liveness check: {:.1} ms per face (both networks, one thread)",
        r.liveness_ms_per_face
    ));
    lines.join("\n")
}
