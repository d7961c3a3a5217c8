//! Photos turned in the image plane (taken sideways or upside down, heads tilted far over)
//! still verify against an upright photo of the same person: LFW photos of 20 people turned
//! by 90, 180 and 270 degrees and by 45 either way, against another photo of each, with
//! and without the search of turned copies (`vision.turned_faces`).
//!
//! Skips when the models or datasets are missing, unless `FACEGATE_REQUIRE_MODELS=1`.

use std::path::Path;

use facegate_core::similarity::cosine;
use facegate_vision::align::warp;
use facegate_vision::detect::turned::turn_about_centre;
use facegate_vision::embed::EmbedderSpec;
use facegate_vision::{Pipeline, VisionConfig, testing};
use image::RgbImage;

/// The first two photos of the first `count` LFW people with two or more.
fn people(lfw: &Path, count: usize) -> Vec<(RgbImage, RgbImage)> {
    let mut names: Vec<_> = std::fs::read_dir(lfw)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|dir| {
            let mut photos: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            photos.sort();
            let open = |p: &Path| image::open(p).unwrap().into_rgb8();
            (photos.len() >= 2).then(|| (open(&photos[0]), open(&photos[1])))
        })
        .take(count)
        .collect()
}

/// `image` turned by `degrees` about its centre, on a canvas that holds it all.
fn turned(image: &RgbImage, degrees: f64) -> RgbImage {
    match degrees as i32 {
        90 => image::imageops::rotate90(image),
        180 => image::imageops::rotate180(image),
        270 => image::imageops::rotate270(image),
        _ => {
            let (turn, width, height) = turn_about_centre(image, degrees);
            warp(image, &turn, width, height).unwrap()
        }
    }
}

/// How many of `pairs` verify with the first photo turned by `degrees`.
fn verified(
    p: &mut Pipeline,
    pairs: &[(RgbImage, RgbImage)],
    degrees: f64,
    threshold: f32,
) -> usize {
    pairs
        .iter()
        .filter(|(first, second)| {
            let upright = p.embed_main(second).unwrap().main.embedding;
            p.embed_main(&turned(first, degrees))
                .is_ok_and(|found| cosine(&found.main.embedding, &upright).unwrap() >= threshold)
        })
        .count()
}

#[test]
fn turned_photos_verify_against_upright_ones() {
    let (Some(models), Some(datasets)) = (testing::models_dir(), testing::datasets_dir()) else {
        return;
    };
    let config = VisionConfig {
        models_dir: models,
        workers: 1,
        ..VisionConfig::default()
    };
    let threshold = EmbedderSpec::for_model(config.embedding_model()).threshold(false);
    let mut searching = Pipeline::open(&config).unwrap();
    let mut upright_only = Pipeline::open(&VisionConfig {
        turned_faces: false,
        ..config
    })
    .unwrap();
    let pairs = people(&datasets.join("lfw"), 20);
    let (mut with, mut without) = (0, 0);
    for degrees in [0, 90, 180, 270, 45, -45] {
        let found = verified(&mut searching, &pairs, f64::from(degrees), threshold);
        let plain = verified(&mut upright_only, &pairs, f64::from(degrees), threshold);
        eprintln!(
            "turned {degrees} degrees: {found} of {} verify ({plain} without searching turned copies)",
            pairs.len()
        );
        assert!(found >= plain, "{degrees} degrees: {found} < {plain}");
        assert!(
            found * 5 >= pairs.len() * 4,
            "{degrees} degrees: {found} of {}",
            pairs.len()
        );
        with += found;
        without += plain;
    }
    assert!(
        with > without,
        "{with} with turned copies, {without} without"
    );
}
