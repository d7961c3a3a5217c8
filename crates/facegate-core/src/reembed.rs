//! Re-computing stored embeddings after the embedding model changed.
//!
//! Embeddings of different models live in different spaces and are never compared, so a
//! new default model would leave every enrolled reference unmatchable. Each reference keeps
//! its aligned face crop; this use-case embeds those crops with the engine's current model
//! and replaces the stored embeddings. References enrolled before crops were kept are
//! listed so that they can be enrolled again.

use std::sync::Arc;

use serde::Serialize;

use crate::failure::Result;
use crate::ports::{FaceEngine, ReferenceStore};

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReembedReport {
    /// The model every updated reference now carries.
    pub model: String,
    /// References whose embedding was computed again.
    pub updated: usize,
    /// References of another model without a stored crop: enroll them again.
    pub without_crop: Vec<String>,
}

/// Re-embeds references from their crops with the engine's model.
pub struct Reembedder {
    engine: Arc<dyn FaceEngine>,
    references: Arc<dyn ReferenceStore>,
    /// References embedded per engine call.
    batch: usize,
}

debug_ports!(Reembedder);

impl Reembedder {
    pub fn new(
        engine: Arc<dyn FaceEngine>,
        references: Arc<dyn ReferenceStore>,
        batch: usize,
    ) -> Self {
        Self {
            engine,
            references,
            batch: batch.max(1),
        }
    }

    /// Walks every reference of another model once, in id order; safe to run again after
    /// an interruption (references already re-embedded carry the current model).
    pub async fn run(&self) -> Result<ReembedReport> {
        let model = self.engine.model_id();
        let mut report = ReembedReport {
            model: model.to_string(),
            ..ReembedReport::default()
        };
        let mut after: Option<String> = None;
        loop {
            let stale = self
                .references
                .stale_references(&model, after.as_deref(), self.batch)
                .await?;
            let Some(last) = stale.last() else {
                return Ok(report);
            };
            after = Some(last.id.clone());
            let (with_crop, without): (Vec<_>, Vec<_>) =
                stale.into_iter().partition(|r| r.crop.is_some());
            report
                .without_crop
                .extend(without.into_iter().map(|r| r.id));
            let (ids, crops): (Vec<String>, Vec<Vec<u8>>) = with_crop
                .into_iter()
                .filter_map(|r| r.crop.map(|crop| (r.id, crop)))
                .unzip();
            if crops.is_empty() {
                continue;
            }
            let embeddings = self.engine.embed_crops(crops).await?;
            for (id, embedding) in ids.iter().zip(&embeddings) {
                if self.references.replace_embedding(id, embedding).await? {
                    report.updated += 1;
                }
            }
        }
    }
}
