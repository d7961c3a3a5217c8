//! Face attributes from the packaged analysis models: age, gender, expression, head pose
//! and eye state, each with the crop and pre-processing of its `fr_*.js` in the
//! `faceplugin-face-recognition-js` package.
//!
//! Every model takes the detector's box; the JS truncates it to integers first
//! (`parseInt`) and uses `w = |x2 - x1|`, `h = |y2 - y1|`. `cv.imread(canvas)` yields RGBA,
//! so "channel 0" in the JS is red unless a `cvtColor` swaps it.

use std::path::Path;

use facegate_core::BoundingBox;
use image::RgbImage;
use serde::Serialize;

use crate::VisionError;
use crate::crop::{self, Rect};
use crate::imgproc::{self, ChannelOrder, Normalize};
use crate::landmarks68::{Face68, Landmarks68};
use crate::liveness::softmax;
use crate::runtime::{Model, Output, output};

pub const AGE_FILE: &str = "analysis/fr_age.onnx";
pub const GENDER_FILE: &str = "analysis/fr_gender.onnx";
pub const EXPRESSION_FILE: &str = "analysis/fr_expression.onnx";
pub const POSE_FILE: &str = "analysis/fr_pose.onnx";
pub const EYE_FILE: &str = "analysis/fr_eye.onnx";

/// The `ImageNet` mean and standard deviation, scaled to 0..255 input (the JS divides by 255
/// first), in tensor channel order.
const IMAGENET: Normalize = Normalize {
    mean: [0.485 * 255.0, 0.456 * 255.0, 0.406 * 255.0],
    std: [0.229 * 255.0, 0.224 * 255.0, 0.225 * 255.0],
};

/// SSR-Net (age and gender): the box scaled 1.4x about its centre, 64x64.
const SSR_SIZE: u32 = 64;
const SSR_SCALE: f64 = 1.4;
/// SSR-Net's channel order. The JS feeds R,G,B, but the models are the `PyTorch` SSR-Net
/// port (`oukohou/SSR_Net_Pytorch`: same output names, same merge), whose training and
/// inference code read images with `cv2.imread`, i.e. B,G,R, and apply the `ImageNet`
/// statistics in that tensor order. Measured on LFW (51 people, 408 photos, birth years
/// known): B,G,R gives gender AUC 0.92 vs 0.83 for R,G,B, and age MAE 11.2 vs 13.8 years
/// (correlation with the true age 0.63 vs 0.42); on 49 other people (272 photos) gender
/// AUC 0.96 vs 0.83. So we feed B,G,R with the statistics in tensor order.
const SSR_ORDER: ChannelOrder = ChannelOrder::Bgr;
/// The nine SSR-Net outputs in the order the JS concatenates them for `merge*`.
const SSR_OUTPUTS: [&str; 9] = [
    "prob_stage_1",
    "prob_stage_2",
    "prob_stage_3",
    "stage1_delta_k",
    "stage2_delta_k",
    "stage3_delta_k",
    "index_offset_stage1",
    "index_offset_stage2",
    "index_offset_stage3",
];
/// `mergeAge`'s V: the merged stage value times V is the age in years.
const AGE_RANGE: f32 = 101.0;
/// `mergeGender`'s V: the merged value lies in about 0..1.
const GENDER_RANGE: f32 = 1.0;
/// Merged gender values above this are male. Higher means male: on LFW the men's median
/// is 0.95 and the women's 0.28 (the package's own demo,
/// Faceplugin-ltd/FaceRecognition-LivenessDetection-Vue `src/views/demo.vue`, prints
/// `gender > 0.6 ? "Male" : "Female"`). The model leans male, so the balanced threshold
/// is high: chosen on 51 people (408 photos: women 84 % right, men 91 %), then checked on
/// 49 others (272 photos: women 94 %, men 93 %). At 0.5 only 59 % of the women were right.
const MALE_ABOVE: f32 = 0.8;

const EXPRESSION_SIZE: u32 = 224;
const EXPRESSION_GROW: f64 = 1.2;
/// The expression classes in the model's output order, which is FER2013's. Source: the
/// package's demo (Faceplugin-ltd/FaceRecognition-LivenessDetection-Vue,
/// `src/views/demo.vue`) maps `{0: "angry", 1: "disgust", 2: "fear", 3: "smile", 4: "sad",
/// 5: "surprise", 6: "neutral"}`; we say "happy" for class 3 as FER2013 does. Checked by
/// eye on a sample of LFW: smiling and laughing faces were arg-max class 3 (the arg-max
/// of 293 of 408 press photos), straight faces class 6, and classes 0 and 4 serious or
/// frowning faces.
pub const EXPRESSION_LABELS: [&str; 7] = [
    "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral",
];

const POSE_SIZE: u32 = 224;
const POSE_BINS: usize = 66;
/// Hopenet: 66 bins of 3 degrees from -99.
const POSE_BIN_DEGREES: f32 = 3.0;
const POSE_OFFSET_DEGREES: f32 = 99.0;

const EYE_SIZE: u32 = 24;
/// The eye crop's side is the eye's corner-to-corner width times this.
const EYE_PADDING: f32 = 1.6;
/// Index of the "open" class of the eye model's two-way softmax. The package's demo shows
/// `res[0] > res[1] ? "Close" : "Open"`. On LFW class 1 wins for 81 % of the eyes; viewed
/// by eye, faces with both eyes above 0.95 all had wide-open eyes, and the lowest scores
/// went to downcast, squinting or half-closed eyes. The model is noisy: a few open eyes
/// (glasses, dark make-up, a sideways look) also score low.
const EYE_OPEN_CLASS: usize = 1;

/// Female or male, as the gender model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GenderLabel {
    Female,
    Male,
}

impl GenderLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            GenderLabel::Female => "female",
            GenderLabel::Male => "male",
        }
    }
}

/// The gender estimate: the label and a confidence in it in 0.5..1. The merged SSR-Net
/// value is rescaled piecewise-linearly so that the decision point maps to 0.5 (see
/// [`gender_from_merged`]); it is not a calibrated probability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Gender {
    pub label: GenderLabel,
    pub score: f32,
}

/// The most likely expression and the softmax over every class, in the model's order
/// ([`EXPRESSION_LABELS`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expression {
    pub label: String,
    pub scores: Vec<f32>,
}

/// Head rotation in degrees, Hopenet-style. Signs as measured against the detector's
/// landmarks on 408 LFW faces: yaw is positive when the face turns towards the image's
/// left (the nose moves towards the left eye in the image; correlation -0.69 with the
/// nose offset towards the right one), roll is positive when the head tilts clockwise in
/// the image (the right eye in the image lower; within 3 degrees of the eye-line angle on
/// average). Pitch follows the model (300W-LP convention); its sign was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HeadPose {
    pub yaw: f32,
    pub pitch: f32,
    pub roll: f32,
}

/// Whether each eye is open. "Left" is the eye on the image's left (the subject's right
/// eye), as in the JS and in [`facegate_core::Landmarks5`]. Scores are the probability of
/// "open".
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EyeState {
    pub left_open: bool,
    pub right_open: bool,
    pub left_score: f32,
    pub right_score: f32,
}

/// Everything the analysis models say about one face.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaceAttributes {
    /// Estimated age in years.
    pub age: f32,
    pub gender: Gender,
    pub expression: Expression,
    pub pose: HeadPose,
    pub eyes: EyeState,
}

/// The analysis model sessions, owned by one thread (sessions run with `&mut`).
#[derive(Debug)]
pub struct Analyzer {
    age: Model,
    gender: Model,
    expression: Model,
    pose: Model,
    eye: Model,
    landmarks: Landmarks68,
}

impl Analyzer {
    /// Opens the six analysis models (five attribute models and the 68-point landmarks
    /// that place the eye crops), checking each file against the manifest.
    pub fn open(models_dir: &Path, intra_threads: usize) -> Result<Self, VisionError> {
        Ok(Self {
            age: Model::open(models_dir, AGE_FILE, intra_threads)?,
            gender: Model::open(models_dir, GENDER_FILE, intra_threads)?,
            expression: Model::open(models_dir, EXPRESSION_FILE, intra_threads)?,
            pose: Model::open(models_dir, POSE_FILE, intra_threads)?,
            eye: Model::open(models_dir, EYE_FILE, intra_threads)?,
            landmarks: Landmarks68::open(models_dir, intra_threads)?,
        })
    }

    /// Runs every attribute model on the face in `bbox`.
    pub fn analyze(
        &mut self,
        image: &RgbImage,
        bbox: BoundingBox,
    ) -> Result<FaceAttributes, VisionError> {
        Ok(FaceAttributes {
            age: self.age(image, bbox)?,
            gender: self.gender(image, bbox)?,
            expression: self.expression(image, bbox)?,
            pose: self.pose(image, bbox)?,
            eyes: self.eyes(image, bbox)?,
        })
    }

    /// Age in years (`fr_age.js`, but fed B,G,R: see [`SSR_ORDER`]).
    pub fn age(&mut self, image: &RgbImage, bbox: BoundingBox) -> Result<f32, VisionError> {
        let x = run_ssr(&mut self.age, image, bbox)?;
        Ok(ssr_merge(&x, AGE_RANGE))
    }

    /// Gender (`fr_gender.js`, fed B,G,R as the age model); see [`gender_from_merged`].
    pub fn gender(&mut self, image: &RgbImage, bbox: BoundingBox) -> Result<Gender, VisionError> {
        let x = run_ssr(&mut self.gender, image, bbox)?;
        Ok(gender_from_merged(ssr_merge(&x, GENDER_RANGE)))
    }

    /// Expression (`fr_expression.js`): the rect from the box's top-left corner with 1.2x
    /// its size, 224x224, RGB / 255, softmax over the output.
    pub fn expression(
        &mut self,
        image: &RgbImage,
        bbox: BoundingBox,
    ) -> Result<Expression, VisionError> {
        let (w, h) = image.dimensions();
        let face = crop::crop_resized(image, expression_rect(w, h, bbox), EXPRESSION_SIZE);
        let tensor = imgproc::to_chw(&face, ChannelOrder::Rgb, Normalize::uniform(0.0, 255.0));
        let size = EXPRESSION_SIZE as usize;
        let outputs = self.expression.run(&[1, 3, size, size], &tensor)?;
        let logits = &output(&outputs, "output")?.data;
        if logits.is_empty() {
            return Err(VisionError::Inference(
                "expression model output is empty".into(),
            ));
        }
        Ok(expression_from_logits(logits))
    }

    /// Head pose (`fr_pose.js`): the box grown by a quarter of its size on every side,
    /// 224x224, `ImageNet` mean/std. The JS runs `cvtColor(COLOR_BGR2RGB)` on the RGBA
    /// canvas, which swaps red and blue, and then normalises channel 0 with the red
    /// statistics: it feeds B,G,R. Hopenet was trained on RGB, so we feed R,G,B; on 408
    /// LFW faces its yaw then agrees better with the landmarks' nose offset (correlation
    /// -0.69 vs -0.50 for B,G,R).
    pub fn pose(&mut self, image: &RgbImage, bbox: BoundingBox) -> Result<HeadPose, VisionError> {
        let (w, h) = image.dimensions();
        let face = crop::crop_resized(image, pose_rect(w, h, bbox), POSE_SIZE);
        let tensor = imgproc::to_chw(&face, ChannelOrder::Rgb, IMAGENET);
        let size = POSE_SIZE as usize;
        let outputs = self.pose.run(&[1, 3, size, size], &tensor)?;
        let angle = |name: &str| -> Result<f32, VisionError> {
            let logits = &output(&outputs, name)?.data;
            if logits.len() != POSE_BINS {
                return Err(VisionError::Inference(format!(
                    "pose output {name} has {} bins, expected {POSE_BINS}",
                    logits.len()
                )));
            }
            Ok(hopenet_angle(logits))
        };
        Ok(HeadPose {
            yaw: angle("output")?,
            pitch: angle("617")?,
            roll: angle("618")?,
        })
    }

    /// Eye state (`fr_eye.js`): 68 landmarks on the box, a square crop around each eye,
    /// 24x24 grey (with the JS's swapped red/blue weights) / 255.
    pub fn eyes(&mut self, image: &RgbImage, bbox: BoundingBox) -> Result<EyeState, VisionError> {
        let points = self.landmarks.predict(image, bbox)?;
        let (w, h) = image.dimensions();
        let [left, right] = eye_rects(&points, w, h);
        let left_score = self.eye_open_score(image, left)?;
        let right_score = self.eye_open_score(image, right)?;
        Ok(EyeState {
            left_open: left_score > 0.5,
            right_open: right_score > 0.5,
            left_score,
            right_score,
        })
    }

    fn eye_open_score(&mut self, image: &RgbImage, rect: Rect) -> Result<f32, VisionError> {
        let eye = crop::crop_resized(image, rect, EYE_SIZE);
        let tensor: Vec<f32> = eye
            .pixels()
            .map(|&px| imgproc::grey_swapped(px).round() / 255.0)
            .collect();
        let size = EYE_SIZE as usize;
        let outputs = self.eye.run(&[1, 1, size, size], &tensor)?;
        let logits = &output(&outputs, "output")?.data;
        if logits.len() != 2 {
            return Err(VisionError::Inference(format!(
                "eye model has {} classes, expected 2",
                logits.len()
            )));
        }
        Ok(softmax(logits)[EYE_OPEN_CLASS])
    }
}

/// Runs an SSR-Net model (age or gender) and returns its outputs concatenated in the
/// order `merge*` reads them: 3 + 3 + 3 stage probabilities, 3 deltas, 3 + 3 + 3 offsets.
fn run_ssr(
    model: &mut Model,
    image: &RgbImage,
    bbox: BoundingBox,
) -> Result<Vec<f32>, VisionError> {
    let (w, h) = image.dimensions();
    let face = crop::crop_resized(image, crop::scaled_rect(w, h, bbox, SSR_SCALE), SSR_SIZE);
    let tensor = imgproc::to_chw(&face, SSR_ORDER, IMAGENET);
    let size = SSR_SIZE as usize;
    let outputs = model.run(&[1, 3, size, size], &tensor)?;
    ssr_features(&outputs)
}

fn ssr_features(outputs: &[Output]) -> Result<Vec<f32>, VisionError> {
    let mut x = Vec::with_capacity(21);
    for name in SSR_OUTPUTS {
        x.extend_from_slice(&output(outputs, name)?.data);
    }
    if x.len() != 21 {
        return Err(VisionError::Inference(format!(
            "SSR-Net outputs hold {} values, expected 21",
            x.len()
        )));
    }
    Ok(x)
}

/// SSR-Net's soft stagewise regression, as `mergeAge` / `mergeGender` with three stages of
/// three bins, `lambda_local = lambda_d = 1`, and `range` (V) the output range. `x` is laid
/// out as [`ssr_features`] returns it.
pub fn ssr_merge(x: &[f32], range: f32) -> f32 {
    const BINS: usize = 3;
    let s = BINS as f32;
    // Stage k's bins shrink by (1 + delta_k); the denominators accumulate over stages.
    let mut denominator = 1.0;
    let mut total = 0.0;
    for stage in 0..3 {
        denominator *= s * (1.0 + x[9 + stage]);
        let expectation: f32 = (0..BINS)
            .map(|i| (i as f32 + x[12 + 3 * stage + i]) * x[3 * stage + i])
            .sum();
        total += expectation / denominator;
    }
    total * range
}

/// The label for a merged gender value (`mergeGender`, about 0..1, higher is male; see
/// [`MALE_ABOVE`] for the evidence). The value is mapped piecewise-linearly to a male
/// score with the threshold at 0.5 (0 -> 0, threshold -> 0.5, 1 -> 1); the label's score
/// is that male score for a man and its complement for a woman.
pub fn gender_from_merged(value: f32) -> Gender {
    let v = value.clamp(0.0, 1.0);
    let male = if v <= MALE_ABOVE {
        0.5 * v / MALE_ABOVE
    } else {
        0.5 + 0.5 * (v - MALE_ABOVE) / (1.0 - MALE_ABOVE)
    };
    if value > MALE_ABOVE {
        Gender {
            label: GenderLabel::Male,
            score: male,
        }
    } else {
        Gender {
            label: GenderLabel::Female,
            score: 1.0 - male,
        }
    }
}

/// Softmax over the expression logits and the arg-max label. With the documented seven
/// outputs the classes are named; any other count is labelled `class_N`, since we could
/// not know their meaning.
pub fn expression_from_logits(logits: &[f32]) -> Expression {
    let scores = softmax(logits);
    let best = scores
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i);
    let label = if scores.len() == EXPRESSION_LABELS.len() {
        EXPRESSION_LABELS[best].to_owned()
    } else {
        format!("class_{best}")
    };
    Expression { label, scores }
}

/// Hopenet's angle: the softmax expectation over the bins, times 3, minus 99 degrees.
pub fn hopenet_angle(logits: &[f32]) -> f32 {
    let expectation: f32 = softmax(logits)
        .iter()
        .enumerate()
        .map(|(i, p)| i as f32 * p)
        .sum();
    expectation * POSE_BIN_DEGREES - POSE_OFFSET_DEGREES
}

/// The box truncated to integers as the JS does: `(x1, y1, |x2 - x1|, |y2 - y1|)`.
fn int_box(b: BoundingBox) -> (i64, i64, i64, i64) {
    let (x1, y1) = (b.x1.trunc() as i64, b.y1.trunc() as i64);
    let (x2, y2) = (b.x2.trunc() as i64, b.y2.trunc() as i64);
    (x1, y1, (x2 - x1).abs(), (y2 - y1).abs())
}

/// `alignExpressionImage`: `Rect(x1, y1, min(int(1.2 w), W - 1), min(int(1.2 h), H - 1))`,
/// kept inside the image (`OpenCV` would throw where the JS lets it overflow).
pub fn expression_rect(width: u32, height: u32, bbox: BoundingBox) -> Rect {
    let (x, y, w, h) = int_box(bbox);
    let rw = ((w as f64 * EXPRESSION_GROW).trunc()).min(f64::from(width) - 1.0);
    let rh = ((h as f64 * EXPRESSION_GROW).trunc()).min(f64::from(height) - 1.0);
    crop::clamp_rect(width, height, x as f64, y as f64, rw, rh)
}

/// `predictPose`'s crop: the integer box grown by `int(w/4)`, `int(h/4)` on each side,
/// `Rect(max(x1', 0), max(y1', 0), min(x2' - x1', W), min(y2' - y1', H))`, kept inside the
/// image.
pub fn pose_rect(width: u32, height: u32, bbox: BoundingBox) -> Rect {
    let (x1, y1, w, h) = int_box(bbox);
    let (x2, y2) = (bbox.x2.trunc() as i64, bbox.y2.trunc() as i64);
    // `parseInt(x1 - w / 4)` truncates toward zero.
    let grow = |v: i64, d: i64, sign: f64| (v as f64 + sign * d as f64 / 4.0).trunc() as i64;
    let (gx1, gy1) = (grow(x1, w, -1.0), grow(y1, h, -1.0));
    let (gx2, gy2) = (grow(x2, w, 1.0), grow(y2, h, 1.0));
    crop::clamp_rect(
        width,
        height,
        gx1.max(0) as f64,
        gy1.max(0) as f64,
        (gx2 - gx1).min(i64::from(width)) as f64,
        (gy2 - gy1).min(i64::from(height)) as f64,
    )
}

/// `getEyeBBox`: for each eye, the centre of its four lid points (37, 38, 40, 41 and 43,
/// 44, 46, 47), a square of 1.6x the corner-to-corner width (36-39, 42-45), shrunk where
/// it would pass the right or bottom edge. Landmarks are truncated to integers first, as
/// `predictLandmark` returns them.
pub fn eye_rects(face: &Face68, width: u32, height: u32) -> [Rect; 2] {
    let p = |i: usize| (face.0[i].x.trunc(), face.0[i].y.trunc());
    let one = |lids: [usize; 4], corners: (usize, usize)| -> Rect {
        let cx = (lids.iter().map(|&i| p(i).0).sum::<f32>() / 4.0).trunc();
        let cy = (lids.iter().map(|&i| p(i).1).sum::<f32>() / 4.0).trunc();
        let mut size = ((p(corners.1).0 - p(corners.0).0) * EYE_PADDING).trunc();
        let x = (cx - size / 2.0).trunc().max(0.0);
        let y = (cy - size / 2.0).trunc().max(0.0);
        if x + size >= width as f32 {
            size = width as f32 - x - 1.0;
        }
        if y + size >= height as f32 {
            size = height as f32 - y - 1.0;
        }
        let size = f64::from(size.max(1.0));
        crop::clamp_rect(width, height, f64::from(x), f64::from(y), size, size)
    };
    [
        one([37, 38, 40, 41], (36, 39)),
        one([43, 44, 46, 47], (42, 45)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use facegate_core::Point;

    #[test]
    fn ssr_merge_matches_merge_age_by_hand() {
        // One-hot stages, no deltas or offsets: stage 1 picks bin 2 (2/3), stage 2 bin 0
        // (0), stage 3 bin 1 (1/27).
        let mut x = [0.0_f32; 21];
        x[2] = 1.0;
        x[3] = 1.0;
        x[7] = 1.0;
        let expected = (2.0 / 3.0 + 1.0 / 27.0) * 101.0;
        assert!((ssr_merge(&x, AGE_RANGE) - expected).abs() < 1e-4);

        // Every term in play. By hand: a = 1.41 / (3 * 1.5) = 0.313333,
        // b = 1.41 / (4.5 * 3 * 0.75) = 0.139259, c = 0.235 / (10.125 * 3 * 1.1) = 0.007033;
        // (a + b + c) = 0.459626, which the JS mergeAge also returns (x 101 = 46.4222).
        let x = [
            0.2, 0.3, 0.5, 0.1, 0.6, 0.3, 0.7, 0.2, 0.1, // stage probabilities
            0.5, -0.25, 0.1, // deltas
            0.1, -0.2, 0.3, 0.0, 0.4, -0.1, -0.3, 0.2, 0.05, // index offsets
        ];
        assert!((ssr_merge(&x, AGE_RANGE) - 46.422_215).abs() < 1e-3);
        assert!((ssr_merge(&x, GENDER_RANGE) - 0.459_626).abs() < 1e-5);
    }

    #[test]
    fn gender_threshold_and_scores() {
        let g = gender_from_merged(0.95);
        assert_eq!(g.label, GenderLabel::Male);
        assert!((g.score - (0.5 + 0.5 * 0.15 / 0.2)).abs() < 1e-5);
        let g = gender_from_merged(0.2);
        assert_eq!(g.label, GenderLabel::Female);
        assert!((g.score - (1.0 - 0.5 * 0.2 / 0.8)).abs() < 1e-5);
        // The decision point itself is still female, at 0.5; out-of-range values clamp.
        assert_eq!(gender_from_merged(MALE_ABOVE).label, GenderLabel::Female);
        assert!((gender_from_merged(MALE_ABOVE).score - 0.5).abs() < 1e-6);
        assert!((gender_from_merged(1.08).score - 1.0).abs() < 1e-6);
        assert!((gender_from_merged(-0.1).score - 1.0).abs() < 1e-6);
        // Serialised lower-case, as the API documents.
        assert_eq!(
            toml::Value::try_from(GenderLabel::Male).expect("serialises"),
            toml::Value::String("male".into())
        );
    }

    #[test]
    fn expression_names_seven_classes_and_numbers_others() {
        let e = expression_from_logits(&[0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 1.0]);
        assert_eq!(e.label, "happy");
        assert_eq!(e.scores.len(), 7);
        assert!((e.scores.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(e.scores[3] > 0.9);
        let e = expression_from_logits(&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0]);
        assert_eq!(e.label, "neutral");
        let e = expression_from_logits(&[0.0, 2.0, 0.0, 0.0, 0.0]);
        assert_eq!(e.label, "class_1");
    }

    #[test]
    fn hopenet_angle_is_the_bin_expectation() {
        // A sharp peak on bin 33 is 33 * 3 - 99 = 0 degrees; on bin 43, +30.
        let mut logits = vec![0.0_f32; POSE_BINS];
        logits[33] = 50.0;
        assert!(hopenet_angle(&logits).abs() < 1e-3);
        logits[33] = 0.0;
        logits[43] = 50.0;
        assert!((hopenet_angle(&logits) - 30.0).abs() < 1e-3);
        // Uniform: the mean bin 32.5, i.e. -1.5 degrees.
        assert!((hopenet_angle(&[0.0; POSE_BINS]) + 1.5).abs() < 1e-3);
    }

    #[test]
    fn expression_rect_starts_at_the_box_corner() {
        // Box truncated to (10, 20)-(110, 120): 100x100 grown to 120x120 from the corner.
        let r = expression_rect(300, 300, BoundingBox::new(10.7, 20.2, 110.9, 120.5));
        assert_eq!(
            r,
            Rect {
                x: 10,
                y: 20,
                w: 120,
                h: 120
            }
        );
        // Overflowing the image: kept inside.
        let r = expression_rect(150, 150, BoundingBox::new(60.0, 50.0, 160.0, 150.0));
        assert_eq!(
            r,
            Rect {
                x: 60,
                y: 50,
                w: 90,
                h: 100
            }
        );
    }

    #[test]
    fn pose_rect_grows_a_quarter_each_side() {
        let r = pose_rect(200, 200, BoundingBox::new(40.0, 40.0, 140.0, 140.0));
        assert_eq!(
            r,
            Rect {
                x: 15,
                y: 15,
                w: 150,
                h: 150
            }
        );
        // At the top-left corner the JS keeps the full grown width, which we clamp.
        let r = pose_rect(120, 120, BoundingBox::new(0.0, 0.0, 100.0, 100.0));
        assert_eq!(
            r,
            Rect {
                x: 0,
                y: 0,
                w: 120,
                h: 120
            }
        );
        // parseInt truncates toward zero: 10 - 50/4 = -2.5 -> -2.
        let r = pose_rect(300, 300, BoundingBox::new(10.0, 10.0, 60.0, 60.0));
        assert_eq!(
            r,
            Rect {
                x: 0,
                y: 0,
                w: 74,
                h: 74
            }
        );
    }

    #[test]
    fn eye_rects_follow_get_eye_bbox() {
        let mut pts = [Point::new(0.0, 0.0); 68];
        // Left eye: corners 36 (100,100) and 39 (120,100); lids centre (110, 100).
        pts[36] = Point::new(100.0, 100.0);
        pts[39] = Point::new(120.9, 100.0); // truncated to 120
        pts[37] = Point::new(105.0, 98.0);
        pts[38] = Point::new(115.0, 98.0);
        pts[40] = Point::new(115.0, 102.0);
        pts[41] = Point::new(105.0, 102.0);
        // Right eye near the right edge of a 170-px-wide image.
        pts[42] = Point::new(140.0, 100.0);
        pts[45] = Point::new(165.0, 100.0);
        pts[43] = Point::new(148.0, 98.0);
        pts[44] = Point::new(158.0, 98.0);
        pts[46] = Point::new(158.0, 102.0);
        pts[47] = Point::new(148.0, 102.0);
        let [left, right] = eye_rects(&Face68(pts), 170, 200);
        // size int(20 * 1.6) = 32, corner (110 - 16, 100 - 16).
        assert_eq!(
            left,
            Rect {
                x: 94,
                y: 84,
                w: 32,
                h: 32
            }
        );
        // size int(25 * 1.6) = 40, corner (153 - 20, 80); 133 + 40 >= 170 -> 170 - 133 - 1.
        assert_eq!(
            right,
            Rect {
                x: 133,
                y: 80,
                w: 36,
                h: 36
            }
        );
    }

    /// One LFW photo with what the analyser must say about it.
    struct Case {
        photo: &'static str,
        /// Measured with the `open` pack's detector (RFB-320 + O-Net, the package's own).
        bbox: [f32; 4],
        gender: GenderLabel,
        /// Facing the camera with both eyes open, checked by eye.
        frontal: bool,
        expression: Option<&'static str>,
    }

    const fn case(
        photo: &'static str,
        bbox: [f32; 4],
        gender: GenderLabel,
        frontal: bool,
        expression: Option<&'static str>,
    ) -> Case {
        Case {
            photo,
            bbox,
            gender,
            frontal,
            expression,
        }
    }

    /// Well-known people whose gender is not in doubt; smiles and a straight face viewed
    /// by eye. The boxes are hard-coded so that the test needs only the analysis models.
    const CASES: [Case; 9] = [
        case(
            "Halle_Berry_0001",
            [56.1, 62.0, 186.5, 192.4],
            GenderLabel::Female,
            true,
            Some("happy"),
        ),
        case(
            "Jennifer_Lopez_0003",
            [57.6, 57.9, 187.8, 188.2],
            GenderLabel::Female,
            false,
            Some("happy"),
        ),
        case(
            "Angelina_Jolie_0002",
            [64.1, 60.5, 186.9, 183.2],
            GenderLabel::Female,
            false,
            None,
        ),
        case(
            "Jennifer_Aniston_0016",
            [68.1, 61.8, 191.0, 184.7],
            GenderLabel::Female,
            true,
            None,
        ),
        case(
            "George_W_Bush_0007",
            [65.9, 69.6, 187.3, 191.0],
            GenderLabel::Male,
            true,
            None,
        ),
        case(
            "Tony_Blair_0105",
            [64.3, 60.2, 186.5, 182.4],
            GenderLabel::Male,
            false,
            None,
        ),
        case(
            "Andre_Agassi_0002",
            [60.3, 63.6, 180.9, 184.1],
            GenderLabel::Male,
            false,
            None,
        ),
        case(
            "Colin_Powell_0198",
            [60.4, 58.7, 189.5, 187.7],
            GenderLabel::Male,
            true,
            None,
        ),
        case(
            "Junichiro_Koizumi_0001",
            [64.2, 61.1, 185.8, 182.7],
            GenderLabel::Male,
            true,
            Some("neutral"),
        ),
    ];

    /// The real models on real photos; skipped where the models or LFW are not installed.
    #[test]
    fn analyzer_on_lfw_photos() {
        let models = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models"));
        let lfw = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/datasets/lfw"
        ));
        if !models.join(AGE_FILE).is_file() || !lfw.is_dir() {
            eprintln!(
                "skipping: models ({}) or LFW ({}) missing",
                models.display(),
                lfw.display()
            );
            return;
        }
        let mut analyzer = Analyzer::open(models, 1).expect("analysis models open");
        for c in &CASES {
            let name = c.photo;
            let person = &name[..name.len() - 5];
            let bytes = std::fs::read(lfw.join(person).join(format!("{name}.jpg"))).expect("photo");
            let image =
                crate::decode::decode(&bytes, &crate::ImageLimits::default()).expect("decodes");
            let [x1, y1, x2, y2] = c.bbox;
            let a = analyzer
                .analyze(&image, BoundingBox::new(x1, y1, x2, y2))
                .expect("analysis runs");
            assert!((15.0..80.0).contains(&a.age), "{name}: age {}", a.age);
            assert_eq!(a.gender.label, c.gender, "{name}: {:?}", a.gender);
            assert!(
                (0.5..=1.0).contains(&a.gender.score),
                "{name}: {:?}",
                a.gender
            );
            assert_eq!(a.expression.scores.len(), EXPRESSION_LABELS.len());
            assert!((a.expression.scores.iter().sum::<f32>() - 1.0).abs() < 1e-4);
            if let Some(label) = c.expression {
                assert_eq!(a.expression.label, label, "{name}: {:?}", a.expression);
            }
            if c.frontal {
                assert!(a.pose.yaw.abs() < 25.0, "{name}: {:?}", a.pose);
                assert!(a.pose.roll.abs() < 25.0, "{name}: {:?}", a.pose);
                assert!(
                    a.eyes.left_open && a.eyes.right_open,
                    "{name}: {:?}",
                    a.eyes
                );
            }
        }
    }
}
