//! Face embedding models, alone or fused.

use std::borrow::Cow;
use std::path::Path;

use facegate_core::{Embedding, ModelId};
use image::RgbImage;

use crate::VisionError;
use crate::align::{self, ALIGNED_SIZE};
use crate::config::EmbeddingModel;
use crate::imgproc::{self, ChannelOrder, Normalize};
use crate::runtime::Model;

/// One embedding network: its file, the face crop it takes and its input normalisation (RGB).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Network {
    pub file: &'static str,
    pub chip: Chip,
    pub normalize: Normalize,
}

/// The face crop a network was trained on. Every crop is made from the 112x112 ArcFace
/// crop, so that one alignment (and one stored crop for `admin reembed`) serves them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chip {
    /// The ArcFace crop itself.
    Arcface,
    /// dlib's 150x150 chip (padding 0.25), warped from the ArcFace crop.
    Dlib,
}

impl Chip {
    fn side(self) -> u32 {
        match self {
            Chip::Arcface => ALIGNED_SIZE,
            Chip::Dlib => align::DLIB_CHIP_SIZE,
        }
    }

    /// This chip of a face, made from its ArcFace crop.
    fn cut(self, aligned: &RgbImage) -> Result<Cow<'_, RgbImage>, VisionError> {
        match self {
            Chip::Arcface => Ok(Cow::Borrowed(aligned)),
            Chip::Dlib => align::dlib_chip(aligned).map(Cow::Owned).ok_or_else(|| {
                VisionError::Inference("the dlib chip transform is degenerate".into())
            }),
        }
    }
}

/// MobileFaceNet trained on WebFace600K (512-d), research-only weights.
const W600K_MBF: Network = Network {
    file: "insightface/w600k_mbf.onnx",
    chip: Chip::Arcface,
    normalize: Normalize::uniform(127.5, 127.5),
};
/// faceplugin's MobileFaceNet-style model (512-d), MIT.
const FR_FEATURE: Network = Network {
    file: "open/fr_feature.onnx",
    chip: Chip::Arcface,
    normalize: Normalize::uniform(127.0, 128.0),
};
/// The Expo module's MobileFaceNet (192-d), MIT, converted from TFLite at setup time.
const MOBILEFACENET: Network = Network {
    file: "open/mobilefacenet.onnx",
    chip: Chip::Arcface,
    normalize: Normalize::uniform(127.5, 128.0),
};
/// dlib's ResNet face descriptor (128-d), CC0, converted from dlib's format at setup time;
/// trained on other faces than the MobileFaceNets, so its errors differ from theirs. The
/// graph subtracts dlib's channel means and scales by itself: it takes raw 0..255 values.
const DLIB_RESNET: Network = Network {
    file: "open/dlib_resnet.onnx",
    chip: Chip::Dlib,
    normalize: Normalize::uniform(0.0, 1.0),
};

/// What an embedding model is made of and how it is calibrated.
#[derive(Debug, Clone, Copy)]
pub struct EmbedderSpec {
    /// Stored with every embedding; bump the version when pre-processing changes.
    pub model_id: &'static str,
    /// The networks and their weights. With more than one, each network's embedding is
    /// L2-normalised, scaled by the square root of its weight and concatenated, so the
    /// cosine of two fused embeddings is the weighted mean of the networks' cosines.
    pub parts: &'static [(Network, f32)],
    /// Thresholds measured by `facegate eval` on LFW with flip-TTA on.
    pub with_flip: Calibration,
    /// The same without flip-TTA (the embeddings differ, so do the thresholds).
    pub without_flip: Calibration,
}

/// Cosine thresholds of a model, measured on LFW's 6,000 pairs (docs/ACCURACY.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// False-accept rate 1e-2: the lowest threshold a request may ask for.
    pub far_1e2: f32,
    /// False-accept rate 1e-3: the default for 1:1 and 1:N decisions.
    pub far_1e3: f32,
    /// Just above every one of LFW's 3,000 impostor pairs (FAR below 1/3000; 1e-4 cannot
    /// be resolved with so few pairs): the default for photo-collection search.
    pub far_1e4: f32,
}

impl EmbedderSpec {
    pub fn for_model(model: EmbeddingModel) -> Self {
        match model {
            EmbeddingModel::W600kMbf => Self {
                model_id: "insightface/w600k_mbf@1",
                parts: &[(W600K_MBF, 1.0)],
                with_flip: Calibration {
                    far_1e2: 0.1701,
                    far_1e3: 0.2308,
                    far_1e4: 0.3266,
                },
                without_flip: Calibration {
                    far_1e2: 0.1657,
                    far_1e3: 0.2350,
                    far_1e4: 0.3195,
                },
            },
            EmbeddingModel::FrFeature => Self {
                model_id: "open/fr_feature@1",
                parts: &[(FR_FEATURE, 1.0)],
                with_flip: Calibration {
                    far_1e2: 0.2440,
                    far_1e3: 0.3330,
                    far_1e4: 0.3674,
                },
                without_flip: Calibration {
                    far_1e2: 0.2461,
                    far_1e3: 0.3335,
                    far_1e4: 0.3586,
                },
            },
            EmbeddingModel::Mobilefacenet => Self {
                model_id: "open/mobilefacenet@1",
                parts: &[(MOBILEFACENET, 1.0)],
                with_flip: Calibration {
                    far_1e2: 0.3511,
                    far_1e3: 0.4184,
                    far_1e4: 0.4898,
                },
                without_flip: Calibration {
                    far_1e2: 0.3447,
                    far_1e3: 0.4193,
                    far_1e4: 0.4866,
                },
            },
            EmbeddingModel::Fused => Self {
                model_id: "open/fr_feature+mobilefacenet@1",
                parts: &[(FR_FEATURE, 0.5), (MOBILEFACENET, 0.5)],
                with_flip: Calibration {
                    far_1e2: 0.2700,
                    far_1e3: 0.3759,
                    far_1e4: 0.4206,
                },
                without_flip: Calibration {
                    far_1e2: 0.2685,
                    far_1e3: 0.3692,
                    far_1e4: 0.4265,
                },
            },
            EmbeddingModel::DlibResnet => Self {
                model_id: "open/dlib_resnet@1",
                parts: &[(DLIB_RESNET, 1.0)],
                with_flip: Calibration {
                    far_1e2: 0.9108,
                    far_1e3: 0.9235,
                    far_1e4: 0.9599,
                },
                without_flip: Calibration {
                    far_1e2: 0.9064,
                    far_1e3: 0.9228,
                    far_1e4: 0.9549,
                },
            },
            EmbeddingModel::MobilefacenetDlib => Self {
                model_id: "open/mobilefacenet+dlib_resnet@1",
                // dlib's cosines are crowded near 1 (LFW: same person 0.953, different
                // people 0.834, a gap of 0.119 against MobileFaceNet's 0.738); these weights
                // give both networks the same gap in the fused score.
                parts: &[(MOBILEFACENET, 0.15), (DLIB_RESNET, 0.85)],
                with_flip: Calibration {
                    far_1e2: 0.8191,
                    far_1e3: 0.8449,
                    far_1e4: 0.8811,
                },
                without_flip: Calibration {
                    far_1e2: 0.8141,
                    far_1e3: 0.8410,
                    far_1e4: 0.8778,
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

    /// The lowest threshold a request may ask for (FAR 1e-2 on LFW): below it one
    /// stranger in a hundred would match.
    pub fn threshold_floor(&self, flip_tta: bool) -> f32 {
        self.calibration(flip_tta).far_1e2
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

/// One opened network of an [`Embedder`].
#[derive(Debug)]
struct Part {
    model: Model,
    network: Network,
    /// `sqrt(weight)`: the factor of this network's unit vector in the fused embedding.
    scale: f32,
    batches: bool,
}

impl Part {
    /// The network's raw outputs for `inputs` (ArcFace crops), all in one run when the model
    /// takes batches.
    fn raw(&mut self, inputs: &[&RgbImage]) -> Result<Vec<f32>, VisionError> {
        let side = self.network.chip.side() as usize;
        let per = 3 * side * side;
        let chunk = if self.batches { inputs.len().max(1) } else { 1 };
        let mut out = Vec::new();
        for group in inputs.chunks(chunk) {
            let mut tensor = vec![0.0; per * group.len()];
            for (img, slot) in group.iter().zip(tensor.chunks_exact_mut(per)) {
                let chip = self.network.chip.cut(img)?;
                imgproc::write_chw(&chip, ChannelOrder::Rgb, self.network.normalize, slot);
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

    /// Appends each face's unit vector (face plus mirror with `flip`), times `scale`, to
    /// `vectors`.
    fn embed_into(
        &mut self,
        faces: &[RgbImage],
        mirrored: &[RgbImage],
        vectors: &mut [Vec<f32>],
    ) -> Result<(), VisionError> {
        let inputs: Vec<&RgbImage> = faces.iter().chain(mirrored).collect();
        let raw = self.raw(&inputs)?;
        let dim = raw.len() / inputs.len().max(1);
        for (i, vector) in vectors.iter_mut().enumerate() {
            let mut v = raw[i * dim..(i + 1) * dim].to_vec();
            if !mirrored.is_empty() {
                let mirror = &raw[(faces.len() + i) * dim..(faces.len() + i + 1) * dim];
                v.iter_mut().zip(mirror).for_each(|(a, b)| *a += b);
            }
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if !norm.is_finite() || norm == 0.0 {
                return Err(VisionError::Inference(format!(
                    "{} gave an all-zero or non-finite embedding",
                    self.network.file
                )));
            }
            vector.extend(v.iter().map(|x| x / norm * self.scale));
        }
        Ok(())
    }
}

/// Maps aligned 112x112 RGB faces to L2-normalised embeddings.
#[derive(Debug)]
pub struct Embedder {
    parts: Vec<Part>,
    model_id: ModelId,
}

impl Embedder {
    pub fn open(
        models_dir: &Path,
        spec: EmbedderSpec,
        intra_threads: usize,
    ) -> Result<Self, VisionError> {
        let parts = spec
            .parts
            .iter()
            .map(|&(network, weight)| {
                let model = Model::open(models_dir, network.file, intra_threads)?;
                Ok(Part {
                    batches: model.batches(),
                    model,
                    network,
                    scale: weight.sqrt(),
                })
            })
            .collect::<Result<_, VisionError>>()?;
        Ok(Self {
            parts,
            model_id: ModelId(spec.model_id.to_owned()),
        })
    }

    pub fn model_id(&self) -> &ModelId {
        &self.model_id
    }

    /// Embeds aligned faces. With `flip`, each network's embedding is that of the face plus
    /// that of its mirror image.
    pub fn embed(&mut self, faces: &[RgbImage], flip: bool) -> Result<Vec<Embedding>, VisionError> {
        let mirrored: Vec<RgbImage> = if flip {
            faces.iter().map(image::imageops::flip_horizontal).collect()
        } else {
            Vec::new()
        };
        let mut vectors = vec![Vec::new(); faces.len()];
        for part in &mut self.parts {
            part.embed_into(faces, &mirrored, &mut vectors)?;
        }
        vectors
            .into_iter()
            .map(|v| {
                Embedding::from_raw(self.model_id.clone(), v)
                    .ok_or_else(|| VisionError::Inference("the embedding is all zeros".into()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_weights_sum_to_one_and_every_network_file_is_in_the_manifest() {
        for model in [
            EmbeddingModel::W600kMbf,
            EmbeddingModel::FrFeature,
            EmbeddingModel::Mobilefacenet,
            EmbeddingModel::Fused,
            EmbeddingModel::DlibResnet,
            EmbeddingModel::MobilefacenetDlib,
        ] {
            let spec = EmbedderSpec::for_model(model);
            let total: f32 = spec.parts.iter().map(|(_, w)| w).sum();
            assert!((total - 1.0).abs() < 1e-6, "{model:?}");
            for (network, _) in spec.parts {
                assert!(
                    crate::manifest::entry(network.file).is_some(),
                    "{}",
                    network.file
                );
            }
        }
    }
}
