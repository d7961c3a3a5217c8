//! A face that the main-face path finds (verify, identify) is found by the every-face path
//! too (enrollment, indexing, `detect`): on two cfp-dev profile photos where the open pack's
//! single detector pass finds nothing, `detect` falls back to the main-face path's searches.
//!
//! Skips when the models or datasets are missing, unless `FACEGATE_REQUIRE_MODELS=1`.

use facegate_vision::{Pack, Pipeline, VisionConfig, testing};

#[test]
fn every_face_detection_finds_the_profiles_that_verification_finds() {
    let (Some(models), Some(datasets)) = (testing::models_dir(), testing::datasets_dir()) else {
        return;
    };
    let mut pipeline = Pipeline::open(&VisionConfig {
        models_dir: models,
        pack: Pack::Open,
        ..VisionConfig::default()
    })
    .unwrap();
    for photo in [
        "085_Carlos_Tevez/profile_01.jpg",
        "213_Jean_Chretian/profile_01.jpg",
    ] {
        let image = image::open(datasets.join("cfp-dev").join(photo))
            .unwrap()
            .into_rgb8();
        let main = pipeline.main_face(&image).unwrap();
        let all = pipeline.detect(&image).unwrap();
        assert_eq!(all.len(), 1, "{photo}: {all:?}");
        assert!(
            all[0].bbox.iou(&main.bbox) > 0.9,
            "{photo}: {all:?} against {main:?}"
        );
    }
}
