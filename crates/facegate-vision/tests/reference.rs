//! The Rust face pipeline against the independent Python reference
//! (`scripts/reference/pipeline_reference.py`, numpy + OpenCV + onnxruntime) on real photos.
//!
//! For every photo of `tests/golden/reference.json` and each pack, the main face must agree
//! with the reference: box corners within 2 px (or 1% of the longer image side), each of
//! the five landmarks within 1.5 px, and cosine >= 0.99 between the embeddings, plain and
//! with flip-TTA. Bit-exact agreement is not expected: the reference decodes with libjpeg
//! and resizes and warps with OpenCV's fixed-point kernels.
//!
//! Run with `cargo test -p facegate-vision --test reference --release -- --nocapture` to
//! see the per-image figures. Skips when the models or datasets are missing, unless
//! `FACEGATE_REQUIRE_MODELS=1`.

use std::collections::BTreeMap;
use std::path::Path;

use facegate_core::FaceDetection;
use facegate_vision::{EmbeddingModel, MainFace, Pack, Pipeline, VisionConfig, testing};
use serde::Deserialize;

const BOX_TOLERANCE_PX: f32 = 2.0;
const BOX_TOLERANCE_FRACTION: f32 = 0.01;
const LANDMARK_TOLERANCE_PX: f32 = 1.5;
const MIN_COSINE: f32 = 0.99;
const MIN_IMAGES: usize = 8;

#[derive(Debug, Deserialize)]
struct Golden {
    main_face: String,
    images: Vec<GoldenImage>,
}

#[derive(Debug, Deserialize)]
struct GoldenImage {
    /// Relative to the datasets folder.
    path: String,
    width: u32,
    height: u32,
    packs: BTreeMap<String, GoldenFace>,
}

#[derive(Debug, Deserialize)]
struct GoldenFace {
    face_count: usize,
    padded_retry: bool,
    #[serde(rename = "box")]
    bbox: [f32; 4],
    score: f32,
    landmarks: [[f32; 2]; 5],
    embedding: Vec<f32>,
    embedding_flip: Vec<f32>,
}

fn golden() -> Golden {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/reference.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let golden: Golden =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        golden.main_face, "centered",
        "the reference ranks faces as the pipeline does"
    );
    assert!(
        golden.images.len() >= MIN_IMAGES,
        "the golden file holds only {} images",
        golden.images.len()
    );
    golden
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "embedding dimensions differ");
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn box_difference(face: &FaceDetection, want: &[f32; 4]) -> f32 {
    let b = face.bbox;
    [b.x1, b.y1, b.x2, b.y2]
        .iter()
        .zip(want)
        .map(|(got, want)| (got - want).abs())
        .fold(0.0, f32::max)
}

fn landmark_difference(face: &FaceDetection, want: &[[f32; 2]; 5]) -> f32 {
    face.landmarks
        .0
        .iter()
        .zip(want)
        .map(|(p, w)| (p.x - w[0]).hypot(p.y - w[1]))
        .fold(0.0, f32::max)
}

fn open_pipeline(pack: Pack, models_dir: &Path, flip_tta: bool) -> Pipeline {
    Pipeline::open(&VisionConfig {
        pack,
        models_dir: models_dir.to_path_buf(),
        main_face: MainFace::Centered,
        flip_tta,
        // The Python reference embeds with fr_feature; MobileFaceNet's conversion is
        // checked against the TFLite interpreter at setup time.
        embedding: (pack == Pack::Open).then_some(EmbeddingModel::FrFeature),
        // The reference runs RFB-320 alone.
        detector_fallback: false,
        workers: 1,
        ..VisionConfig::default()
    })
    .unwrap_or_else(|e| panic!("opening pack {}: {e}", pack.as_str()))
}

fn check_pack(pack: Pack) {
    let (Some(models), Some(datasets)) = (testing::models_dir(), testing::datasets_dir()) else {
        return;
    };
    let golden = golden();
    let mut plain = open_pipeline(pack, &models, false);
    let mut flipped = open_pipeline(pack, &models, true);
    let mut failures = Vec::new();
    eprintln!(
        "pack {}: image | faces rust/py | pad py | box diff px (tol) | max landmark diff px | cos plain | cos flip",
        pack.as_str()
    );
    for img in &golden.images {
        let want = img
            .packs
            .get(pack.as_str())
            .unwrap_or_else(|| panic!("{}: no reference for pack {}", img.path, pack.as_str()));
        let path = datasets.join(&img.path);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let image = plain
            .decode(&bytes)
            .unwrap_or_else(|e| panic!("{}: {e}", img.path));
        assert_eq!(
            image.dimensions(),
            (img.width, img.height),
            "{}: decoded size differs from the reference",
            img.path
        );
        let faces = plain
            .detect(&image)
            .unwrap_or_else(|e| panic!("{}: {e}", img.path));
        let Some(main) = faces.first().copied() else {
            failures.push(format!("{}: no face found", img.path));
            continue;
        };
        let embed = |pipeline: &mut Pipeline| {
            pipeline
                .embed_faces(&image, &[main])
                .unwrap_or_else(|e| panic!("{}: {e}", img.path))
                .remove(0)
                .embedding
        };
        let cos_plain = cosine(embed(&mut plain).vector(), &want.embedding);
        let cos_flip = cosine(embed(&mut flipped).vector(), &want.embedding_flip);
        let box_tol =
            BOX_TOLERANCE_PX.max(BOX_TOLERANCE_FRACTION * img.width.max(img.height) as f32);
        let box_diff = box_difference(&main, &want.bbox);
        let lm_diff = landmark_difference(&main, &want.landmarks);
        eprintln!(
            "  {} | {}/{} | {} | {box_diff:.3} ({box_tol:.1}) | {lm_diff:.3} | {cos_plain:.5} | {cos_flip:.5} | score {:.4}/{:.4}",
            img.path,
            faces.len(),
            want.face_count,
            want.padded_retry,
            main.score,
            want.score,
        );
        if box_diff > box_tol {
            failures.push(format!("{}: box differs by {box_diff:.2} px", img.path));
        }
        if lm_diff > LANDMARK_TOLERANCE_PX {
            failures.push(format!(
                "{}: a landmark differs by {lm_diff:.2} px",
                img.path
            ));
        }
        if cos_plain < MIN_COSINE {
            failures.push(format!("{}: embedding cosine {cos_plain:.4}", img.path));
        }
        if cos_flip < MIN_COSINE {
            failures.push(format!(
                "{}: flip-TTA embedding cosine {cos_flip:.4}",
                img.path
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "pack {} deviates from the Python reference:\n{}",
        pack.as_str(),
        failures.join("\n")
    );
}

#[test]
fn insightface_pack_matches_the_python_reference() {
    check_pack(Pack::Insightface);
}

#[test]
fn open_pack_matches_the_python_reference() {
    check_pack(Pack::Open);
}
