//! The MiniFASNet port against independent results: the upstream repository's three sample
//! photos with their published verdicts (`../shared/models/minifasnet`), and NUAA webcam
//! frames and printed-photo attacks (`../shared/datasets/pad/nuaa-train-sample`), where
//! the reference implementation separates the two completely.
//!
//! Skips when the models or datasets are missing, unless `FACEGATE_REQUIRE_MODELS=1`.

use std::path::Path;

use facegate_vision::liveness::THRESHOLD;
use facegate_vision::{Pipeline, VisionConfig, VisionError, testing};

fn pipeline(models: &Path) -> Pipeline {
    Pipeline::open(&VisionConfig {
        models_dir: models.to_path_buf(),
        workers: 1,
        ..VisionConfig::default()
    })
    .expect("the pipeline opens")
}

/// The live probability of the main face of `path`; `None` when the image cannot tell.
fn score(p: &mut Pipeline, path: &Path) -> Result<Option<f32>, VisionError> {
    let image = p.decode(&std::fs::read(path).expect("the image"))?;
    let faces = p.detect_main(&image)?;
    let face = faces.first().ok_or(VisionError::NoFace)?;
    p.liveness_if_scorable(&image, face)
}

#[test]
fn the_published_sample_verdicts_hold() {
    let (Some(models), Some(datasets)) = (testing::models_dir(), testing::datasets_dir()) else {
        return;
    };
    let samples = datasets.join("../models/minifasnet");
    let mut p = pipeline(&models);
    // image_T1: "real 0.99"; image_F1: a print, "fake 0.73"; image_F2: a screen, fake.
    for (file, live) in [
        ("image_T1.jpg", true),
        ("image_F1.jpg", false),
        ("image_F2.jpg", false),
    ] {
        // A spoof may also be refused unscored (the screen fills the frame).
        let s = score(&mut p, &samples.join(file)).unwrap();
        eprintln!("{file}: {s:?}");
        assert_eq!(
            s.is_some_and(|s| s >= THRESHOLD),
            live,
            "{file} scored {s:?}"
        );
    }
    let live = score(&mut p, &samples.join("image_T1.jpg")).unwrap();
    assert!(live.is_some_and(|s| s > 0.95), "{live:?}");
    let print = score(&mut p, &samples.join("image_F1.jpg")).unwrap();
    assert!(print.is_some(), "the print is scored");
}

#[test]
fn nuaa_frames_are_told_apart() {
    let (Some(models), Some(datasets)) = (testing::models_dir(), testing::datasets_dir()) else {
        return;
    };
    let root = datasets.join("pad/nuaa-train-sample");
    let labels = std::fs::read_to_string(root.join("labels.csv")).expect("labels.csv");
    let mut p = pipeline(&models);
    let (mut live, mut spoof, mut unscored) = (Vec::new(), Vec::new(), 0);
    // Every third frame: consecutive frames are near-duplicates.
    for line in labels.lines().skip(1).step_by(3) {
        let fields: Vec<&str> = line.split(',').collect();
        match score(&mut p, &root.join(fields[0])).unwrap() {
            Some(s) if fields[1] == "live" => live.push(s),
            Some(s) => spoof.push(s),
            None => unscored += 1,
        }
    }
    let total = live.len() + spoof.len() + unscored;
    let rejected = live.iter().filter(|s| **s < THRESHOLD).count();
    let accepted = spoof.iter().filter(|s| **s >= THRESHOLD).count();
    eprintln!(
        "{total} frames: {} live ({rejected} rejected), {} spoof ({accepted} accepted), \
         {unscored} without enough context",
        live.len(),
        spoof.len()
    );
    assert!(unscored * 4 < total, "{unscored} of {total} unscored");
    assert_eq!(accepted, 0, "printed photos accepted as live");
    assert!(
        rejected * 50 <= live.len(),
        "{rejected} of {} live frames rejected",
        live.len()
    );
    let lowest_live = live.iter().copied().fold(f32::INFINITY, f32::min);
    let highest_spoof = spoof.iter().copied().fold(0.0, f32::max);
    assert!(
        lowest_live > highest_spoof,
        "{lowest_live} <= {highest_spoof}"
    );
}
