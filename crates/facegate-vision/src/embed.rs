//! Face embedding models.

use std::path::Path;

use facegate_core::{Embedding, ModelId};
use image::RgbImage;

use crate::VisionError;
use crate::align::ALIGNED_SIZE;
use crate::config::Pack;
use crate::imgproc::{self, ChannelOrder, Normalize};
use crate::runtime::Model;

/// What an embedding model expects.
#[derive(Debug, Clone, Copy)]
pub struct EmbedderSpec {
    pub file: &'static str,
    /// Stored with every embedding; bump the version when pre-processing changes.
    pub model_id: &'static str,
    pub normalize: Normalize,
    /// Thresholds measured by `facegate eval` on LFW with flip-TTA on.
    pub with_flip: Calibration,
    /// The same without flip-TTA (the embeddings differ, so do the thresholds).
    pub without_flip: Calibration,
}

/// Cosine thresholds of a model, measured on LFW's 6,000 pairs (docs/ACCURACY.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// False-accept rate 1e-3: the default for 1:1 and 1:N decisions.
    pub far_1e3: f32,
    /// Just above every one of LFW's 3,000 impostor pairs (FAR below 1/3000; 1e-4 cannot
    /// be resolved with so few pairs): the default for photo-collection search.
    pub far_1e4: f32,
}

impl EmbedderSpec {
    pub fn for_pack(pack: Pack) -> Self {
        match pack {
            Pack::Insightface => Self {
                file: "insightface/w600k_mbf.onnx",
                model_id: "insightface/w600k_mbf@1",
                normalize: Normalize::uniform(127.5, 127.5),
                with_flip: Calibration {
                    far_1e3: 0.2308,
                    far_1e4: 0.3266,
                },
                without_flip: Calibration {
                    far_1e3: 0.2350,
                    far_1e4: 0.3195,
                },
            },
            Pack::Open => Self {
                file: "open/fr_feature.onnx",
                model_id: "open/fr_feature@1",
                normalize: Normalize::uniform(127.0, 128.0),
                with_flip: Calibration {
                    far_1e3: 0.3330,
                    far_1e4: 0.3674,
                },
                without_flip: Calibration {
                    far_1e3: 0.3335,
                    far_1e4: 0.3586,
                },
            },
        }
    }

    fn calibration(&self, flip_tta: bool) -> Calibration {
        if flip_tta {
            self.with_flip
        } else {
            self.without_flip
        }
    }

    /// The 1:1 threshold (FAR 1e-3 on LFW).
    pub fn threshold(&self, flip_tta: bool) -> f32 {
        self.calibration(flip_tta).far_1e3
    }

    /// The photo-search threshold (FAR below 1e-4 on LFW's impostor pairs).
    pub fn search_threshold(&self, flip_tta: bool) -> f32 {
        self.calibration(flip_tta).far_1e4
    }
}

/// Maps aligned 112x112 RGB faces to L2-normalised 512-d embeddings.
#[derive(Debug)]
pub struct Embedder {
    model: Model,
    spec: EmbedderSpec,
    model_id: ModelId,
    batches: bool,
}

impl Embedder {
    pub fn open(
        models_dir: &Path,
        spec: EmbedderSpec,
        intra_threads: usize,
    ) -> Result<Self, VisionError> {
        let model = Model::open(models_dir, spec.file, intra_threads)?;
        Ok(Self {
            batches: model.batches(),
            model,
            spec,
            model_id: ModelId(spec.model_id.to_owned()),
        })
    }

    pub fn model_id(&self) -> &ModelId {
        &self.model_id
    }

    /// Embeds aligned faces, all in one run when the model takes batches. With `flip`, the
    /// embedding is that of the face plus that of its mirror image.
    pub fn embed(&mut self, faces: &[RgbImage], flip: bool) -> Result<Vec<Embedding>, VisionError> {
        let mirrored: Vec<RgbImage> = if flip {
            faces.iter().map(image::imageops::flip_horizontal).collect()
        } else {
            Vec::new()
        };
        let inputs: Vec<&RgbImage> = faces.iter().chain(&mirrored).collect();
        let raw = self.raw(&inputs)?;
        let dim = raw.len() / inputs.len().max(1);
        (0..faces.len())
            .map(|i| {
                let mut v = raw[i * dim..(i + 1) * dim].to_vec();
                if flip {
                    let mirror = &raw[(faces.len() + i) * dim..(faces.len() + i + 1) * dim];
                    v.iter_mut().zip(mirror).for_each(|(a, b)| *a += b);
                }
                Embedding::from_raw(self.model_id.clone(), v)
                    .ok_or_else(|| VisionError::Inference("the embedding is all zeros".into()))
            })
            .collect()
    }

    fn raw(&mut self, inputs: &[&RgbImage]) -> Result<Vec<f32>, VisionError> {
        let side = ALIGNED_SIZE as usize;
        let per = 3 * side * side;
        let chunk = if self.batches { inputs.len().max(1) } else { 1 };
        let mut out = Vec::new();
        for group in inputs.chunks(chunk) {
            let mut tensor = vec![0.0; per * group.len()];
            for (img, slot) in group.iter().zip(tensor.chunks_exact_mut(per)) {
                imgproc::write_chw(img, ChannelOrder::Rgb, self.spec.normalize, slot);
            }
            let outputs = self.model.run(&[group.len(), 3, side, side], &tensor)?;
            let first = outputs
                .into_iter()
                .next()
                .ok_or_else(|| VisionError::Inference("embedding model has no output".into()))?;
            out.extend(first.data);
        }
        Ok(out)
    }
}
