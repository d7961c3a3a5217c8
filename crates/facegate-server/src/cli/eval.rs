//! `facegate eval`: verification accuracy on a labelled pair list, LFW protocol.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use facegate_core::{Embedding, similarity};
use facegate_vision::{Engine, Pipeline, VisionError};
use image::RgbImage;

use crate::cli::{eval_pad, on_each_image, write_report};
use crate::evaluation::folders::read_folders;
use crate::evaluation::metrics::{SweepPoint, sweep};
use crate::evaluation::pad::Sample;
use crate::evaluation::pairs::{FoldSource, Pair};
use crate::evaluation::report::sweep_table;
use crate::evaluation::{EvalReport, RunInfo, ScoredPairs, labels_and_folds, read_pairs};
use crate::settings::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pair list: `file_x,file_y,Decision[,fold]` (e.g. ../shared/datasets/lfw/pairs.csv).
    #[arg(
        long,
        required_unless_present = "data_dir",
        conflicts_with = "data_dir"
    )]
    pub pairs: Option<PathBuf>,
    /// A folder laid out as `genuine/` (pairs of one person), `impostor/` (pairs of
    /// different people) and optionally `liveness/live/` and `liveness/spoof/`, which are
    /// then rated as `eval-pad` does (docs/ACCURACY.md).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Folder the pair paths are relative to (default: the pair list's folder).
    #[arg(long, conflicts_with = "data_dir")]
    pub images: Option<PathBuf>,
    /// Folder for the JSON report and the ROC curve.
    #[arg(long, visible_alias = "output", default_value = "reports")]
    pub out: PathBuf,
    /// Name of this run, used in the output file names (default: the pack's name).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub sweep: SweepArgs,
    /// Also write every pair's score to `scores-NAME.csv` (file_x, file_y, same, fold,
    /// score; -1 where an image has no face), for score-level analysis elsewhere.
    #[arg(long)]
    pub scores: bool,
    /// The ROC plots are always written; accepted so that the recognition backend's
    /// evaluation command line runs as written.
    #[arg(long = "generate-plots")]
    _generate_plots: bool,
}

/// `--threshold-range A,B --num-points N`: the rates at N thresholds from A to B.
#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
    /// Also report the rates at evenly spread thresholds from A to B (e.g. `0.1,0.9`).
    #[arg(long, value_name = "A,B", value_parser = threshold_range)]
    pub threshold_range: Option<ThresholdRange>,
    /// How many thresholds `--threshold-range` rates, both ends included.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u16).range(2..=1000))]
    pub num_points: u16,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdRange {
    pub from: f32,
    pub to: f32,
}

fn threshold_range(text: &str) -> Result<ThresholdRange, String> {
    let parsed = text
        .split_once(',')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)));
    match parsed {
        Some((from, to)) if from < to => Ok(ThresholdRange { from, to }),
        _ => Err(format!(
            "{text:?} is not a range A,B of two numbers with A < B"
        )),
    }
}

impl SweepArgs {
    /// The rates at each threshold of the range, when one was given.
    pub fn rates(&self, scores: &[f32], labels: &[bool]) -> Option<Vec<SweepPoint>> {
        self.threshold_range
            .map(|r| sweep(scores, labels, r.from, r.to, usize::from(self.num_points)))
    }
}

/// The main face's embedding of one image, and the time its embedding took.
struct ImageResult {
    embedding: Option<Embedding>,
    embed_ms: f64,
}

/// The main face's embedding of one image, or `None` without a face.
fn embed_image(p: &mut Pipeline, image: &RgbImage) -> Result<ImageResult, VisionError> {
    let faces = p.detect_main(image)?;
    let Some(main) = faces.first() else {
        return Ok(ImageResult {
            embedding: None,
            embed_ms: 0.0,
        });
    };
    let started = Instant::now();
    let embedded = p.embed_faces(image, std::slice::from_ref(main))?;
    Ok(ImageResult {
        embedding: embedded.into_iter().next().map(|e| e.embedding),
        embed_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// What embedding every image of a pair list gave.
struct Embedded<'a> {
    embeddings: BTreeMap<&'a str, Embedding>,
    no_face: Vec<String>,
    embed_ms: Vec<f64>,
}

/// Embeds every image on all workers, with a progress bar.
fn embed_images<'a>(
    engine: &Engine,
    root: &Path,
    names: &[&'a str],
) -> anyhow::Result<Embedded<'a>> {
    let outcomes = on_each_image(engine, root, names, embed_image)?;
    let mut embeddings: BTreeMap<&str, Embedding> = BTreeMap::new();
    let mut no_face = Vec::new();
    let mut embed_ms = Vec::new();
    for (name, result) in names.iter().zip(outcomes) {
        match result {
            Ok(ImageResult {
                embedding: Some(e),
                embed_ms: ms,
            }) => {
                embed_ms.push(ms);
                embeddings.insert(name, e);
            }
            Ok(ImageResult {
                embedding: None, ..
            }) => no_face.push((*name).to_owned()),
            Err(e) => {
                tracing::warn!(image = name, error = %e, "image could not be used");
                no_face.push((*name).to_owned());
            }
        }
    }
    Ok(Embedded {
        embeddings,
        no_face,
        embed_ms,
    })
}

/// What a run rates: labelled pairs, liveness samples (from a data folder), the folder
/// their paths are relative to, and where they were read.
struct Inputs {
    pairs: Vec<Pair>,
    folds: FoldSource,
    liveness: Vec<Sample>,
    root: PathBuf,
    source: PathBuf,
}

fn inputs(args: &Args) -> anyhow::Result<Inputs> {
    Ok(match (&args.pairs, &args.data_dir) {
        (Some(path), _) => {
            let list = read_pairs(path)?;
            Inputs {
                pairs: list.pairs,
                folds: list.folds,
                liveness: Vec::new(),
                root: args
                    .images
                    .clone()
                    .or_else(|| path.parent().map(Path::to_path_buf))
                    .unwrap_or_default(),
                source: path.clone(),
            }
        }
        (None, Some(dir)) => {
            let set = read_folders(dir)?;
            Inputs {
                pairs: set.pairs,
                folds: FoldSource::Stratified,
                liveness: set.liveness,
                root: dir.clone(),
                source: dir.clone(),
            }
        }
        (None, None) => anyhow::bail!("give --pairs or --data-dir"),
    })
}

pub fn run(settings: &Settings, args: &Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let Inputs {
        pairs,
        folds: fold_source,
        liveness,
        root,
        source,
    } = inputs(args)?;
    let names: Vec<&str> = {
        let mut set: Vec<&str> = pairs
            .iter()
            .flat_map(|p| [p.left.as_str(), p.right.as_str()])
            .collect();
        set.sort_unstable();
        set.dedup();
        set
    };
    let engine = Engine::start(&settings.vision)?;
    let Embedded {
        embeddings,
        no_face,
        embed_ms,
    } = embed_images(&engine, &root, &names)?;
    let scores = pair_scores(&pairs, &embeddings);
    let (labels, folds) = labels_and_folds(&pairs);
    let v = &settings.vision;
    let run = RunInfo {
        dataset: root.display().to_string(),
        pairs_path: source.display().to_string(),
        folds: fold_source,
        num_images: names.len(),
        no_face,
        config: serde_json::json!({
            "pack": v.pack,
            "model": engine.model_id().to_string(),
            "landmarks": v.landmarks,
            "main_face": v.main_face,
            "flip_tta": v.flip_tta,
            "detection_threshold": v.detection_threshold,
            "detection_size": v.detection_size,
            "main_face_detection_size": v.main_face_detection_size,
            "workers": v.workers,
        }),
        embed_ms_per_face: embed_ms.iter().sum::<f64>() / embed_ms.len().max(1) as f64,
        elapsed_s: started.elapsed().as_secs_f64(),
    };
    let mut report = EvalReport::from_scores(
        run,
        ScoredPairs {
            scores: &scores,
            labels: &labels,
            folds: &folds,
        },
    )?;
    report.threshold_sweep = args.sweep.rates(&scores, &labels);
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| v.pack.as_str().to_owned());
    let mut summary = format!("{}\n", report.summary());
    if let Some(points) = &report.threshold_sweep {
        summary.push_str(&sweep_table(points, "TAR", "FAR"));
    }
    if args.scores {
        write_scores(
            &args.out.join(format!("scores-{name}.csv")),
            &pairs,
            &scores,
        )?;
    }
    let roc = &report.roc;
    write_report(
        &args.out,
        &name,
        &report,
        roc,
        &format!("ROC: {name}"),
        summary,
    )?;
    if !liveness.is_empty() {
        let pad = eval_pad::Run {
            labels: root.join("liveness"),
            root,
            out: args.out.clone(),
            name: format!("{name}-liveness"),
            sweep: args.sweep.clone(),
        };
        eval_pad::evaluate(settings, &engine, &liveness, &pad)?;
    }
    Ok(())
}

/// Each pair's cosine. A pair with an image where no face was found scores -1, so it counts
/// as "different": an error for same-person pairs, as the protocol demands.
fn pair_scores(pairs: &[Pair], embeddings: &BTreeMap<&str, Embedding>) -> Vec<f32> {
    pairs
        .iter()
        .map(|p| {
            match (
                embeddings.get(p.left.as_str()),
                embeddings.get(p.right.as_str()),
            ) {
                (Some(a), Some(b)) => similarity::cosine(a, b).unwrap_or(-1.0),
                _ => -1.0,
            }
        })
        .collect()
}

/// One line per pair: both files, whether they show one person, the 1-based fold and the
/// score.
fn write_scores(path: &Path, pairs: &[Pair], scores: &[f32]) -> anyhow::Result<()> {
    let mut out = String::from("file_x,file_y,same,fold,score\n");
    for (pair, score) in pairs.iter().zip(scores) {
        let fold = pair.fold.map_or(String::new(), |f| (f + 1).to_string());
        writeln!(
            out,
            "{},{},{},{fold},{score}",
            pair.left, pair.right, pair.same
        )?;
    }
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
    std::fs::write(path, out)?;
    Ok(())
}
