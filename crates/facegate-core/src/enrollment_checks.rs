//! Gallery hygiene at enrollment: a reference whose face matches another subject above
//! the decision threshold (`duplicate_identity`: a mislabelled or duplicate photo), or
//! matches none of its own subject's references (`reference_mismatch`), would make every
//! later identification wrong. The policy refuses it, enrolls it with a warning, or allows
//! it.

use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;
use crate::face::Embedding;
use crate::failure::{Failure, Result};
use crate::ports::ReferenceStore;
use crate::similarity;

/// What enrollment does with a reference that fails a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentChecks {
    /// Refused with the check's error; nothing is stored.
    #[default]
    Refuse,
    /// Enrolled, with the check's error as a warning in the answer.
    Warn,
    /// Not checked.
    Allow,
}

/// The checks a new reference of `subject` with `embedding` fails, at `threshold`.
pub async fn failed_checks(
    references: &dyn ReferenceStore,
    subject: &str,
    embedding: &Embedding,
    threshold: f32,
) -> Result<Vec<Failure>> {
    let mut failed = Vec::new();
    // The subject itself may rank first: two candidates always show another one.
    let candidates = references.identify(embedding, 2).await?;
    if let Some(other) = candidates
        .iter()
        .find(|m| m.subject != subject && m.similarity >= threshold)
    {
        failed.push(Failure::new(
            ErrorCode::DuplicateIdentity,
            format!(
                "the face matches subject {:?} (similarity {:.3}, threshold {threshold:.3}): \
                 enroll it there, or check the photo's label",
                other.subject, other.similarity
            ),
        ));
    }
    let own = references.subject_references(subject).await?;
    let best_own = own
        .iter()
        .filter_map(|r| similarity::cosine(&r.embedding, embedding).ok())
        .fold(None, |best: Option<f32>, s| {
            Some(best.map_or(s, |b| b.max(s)))
        });
    if let Some(best) = best_own.filter(|&best| best < threshold) {
        failed.push(Failure::new(
            ErrorCode::ReferenceMismatch,
            format!(
                "the face matches none of subject {subject:?}'s {} references (best similarity \
                 {best:.3}, threshold {threshold:.3}): check the photo's label",
                own.len()
            ),
        ));
    }
    Ok(failed)
}
