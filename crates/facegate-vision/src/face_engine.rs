//! The [`FaceEngine`] port implemented by the threaded [`Engine`].

use async_trait::async_trait;
use facegate_core::challenge::FrameReport;
use facegate_core::ports::{
    DetectedFaces, EmbeddedFace, FaceAttributes, FaceEngine, FaceReport, Symmetry,
};
use facegate_core::{Embedding, FaceDetection, Failure, ModelId, Result};

use crate::VisionError;
use crate::attributes;
use crate::engine::Engine;
use crate::pipeline::{self, Pipeline};
use crate::symmetry;

impl From<VisionError> for Failure {
    fn from(e: VisionError) -> Self {
        Failure::new(e.code(), e.to_string())
    }
}

fn port_face(f: pipeline::EmbeddedFace) -> EmbeddedFace {
    EmbeddedFace {
        face: f.face,
        embedding: f.embedding,
        quality: f.quality,
    }
}

fn port_attributes(a: attributes::FaceAttributes) -> FaceAttributes {
    FaceAttributes {
        age: a.age,
        gender: a.gender.label.as_str().to_owned(),
        gender_score: a.gender.score,
        expression: a.expression.label,
        yaw: a.pose.yaw,
        pitch: a.pose.pitch,
        roll: a.pose.roll,
        left_eye_open: a.eyes.left_open,
        right_eye_open: a.eyes.right_open,
    }
}

#[async_trait]
impl FaceEngine for Engine {
    fn model_id(&self) -> ModelId {
        Engine::model_id(self).clone()
    }

    fn check_image(&self, image: &[u8]) -> Result<()> {
        Ok(crate::decode::check(image, self.limits())?)
    }

    async fn detect(&self, image: Vec<u8>) -> Result<DetectedFaces> {
        Ok(self
            .call(move |p| {
                let img = p.decode(&image)?;
                Ok(DetectedFaces {
                    width: img.width(),
                    height: img.height(),
                    faces: p.detect(&img)?,
                })
            })
            .await?)
    }

    async fn embed_all(&self, image: Vec<u8>) -> Result<Vec<EmbeddedFace>> {
        Ok(self
            .call(move |p| {
                let img = p.decode(&image)?;
                let faces = p.detect(&img)?;
                p.embed_faces(&img, &faces)
            })
            .await?
            .into_iter()
            .map(port_face)
            .collect())
    }

    async fn embed_main(&self, image: Vec<u8>) -> Result<(EmbeddedFace, usize)> {
        let main = self.call(move |p| p.embed_main_photo(&image)).await?;
        Ok((port_face(main.main), main.face_count))
    }

    async fn liveness(&self, image: Vec<u8>) -> Result<(FaceDetection, f32)> {
        Ok(self
            .call(move |p| {
                let decoded = p.decode_main(&image)?;
                let face = p.main_face(&decoded.image)?;
                let score = p.liveness(&decoded.image, &face)?;
                Ok::<_, VisionError>((decoded.original(&face), score))
            })
            .await?)
    }

    async fn challenge_frame(&self, image: Vec<u8>) -> Result<FrameReport> {
        Ok(self
            .call(move |p| {
                let img = p.decode_main(&image)?.image;
                let faces = p.detect_main(&img)?;
                let Some(main) = faces.first().copied() else {
                    return Ok(FrameReport {
                        faces: 0,
                        yaw: 0.0,
                        embedding: None,
                        liveness: None,
                    });
                };
                let pose = p.head_pose(&img, &main)?;
                let embedded = p.embed_faces(&img, std::slice::from_ref(&main))?;
                Ok(FrameReport {
                    faces: faces.len(),
                    yaw: pose.yaw,
                    embedding: embedded.into_iter().next().map(|e| e.embedding),
                    liveness: p.liveness_if_scorable(&img, &main)?,
                })
            })
            .await?)
    }

    async fn analyze(&self, image: Vec<u8>) -> Result<Vec<FaceReport>> {
        Ok(self
            .call(move |p: &mut Pipeline| {
                let img = p.decode(&image)?;
                let faces = p.detect(&img)?;
                faces
                    .iter()
                    .map(|face| {
                        Ok(FaceReport {
                            face: *face,
                            quality: Pipeline::quality(&img, face)?,
                            liveness: p.liveness_if_scorable(&img, face)?,
                            attributes: port_attributes(p.attributes(&img, face)?),
                        })
                    })
                    .collect::<Result<Vec<_>, VisionError>>()
            })
            .await?)
    }

    async fn symmetry(&self, image: Vec<u8>) -> Result<(FaceDetection, Symmetry)> {
        Ok(self
            .call(move |p| {
                let decoded = p.decode_main(&image)?;
                let face = p.main_face(&decoded.image)?;
                let aligned = Pipeline::align(&decoded.image, &face)?;
                Ok::<_, VisionError>((
                    decoded.original(&face),
                    symmetry::measure(&aligned, &face.landmarks),
                ))
            })
            .await?)
    }

    async fn embed_all_with_crops(&self, image: Vec<u8>) -> Result<Vec<(EmbeddedFace, Vec<u8>)>> {
        let faces = self
            .call(move |p| {
                let img = p.decode(&image)?;
                let faces = p.detect(&img)?;
                p.embed_faces(&img, &faces)?
                    .into_iter()
                    .map(|f| Ok((Pipeline::aligned_png(&img, &f.face)?, f)))
                    .collect::<Result<Vec<_>, VisionError>>()
            })
            .await?;
        Ok(faces
            .into_iter()
            .map(|(crop, face)| (port_face(face), crop))
            .collect())
    }

    async fn embed_crops(&self, crops: Vec<Vec<u8>>) -> Result<Vec<Embedding>> {
        Ok(self.call(move |p| p.embed_png_crops(&crops)).await?)
    }
}
