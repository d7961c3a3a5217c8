//! The use-cases, shared by every transport (HTTP now, Kafka later).

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::enrollment_checks::{EnrollmentChecks, failed_checks};
use crate::error::ErrorCode;
use crate::face::{Embedding, FaceDetection};
use crate::failure::{Failure, Result};
use crate::model::{
    IndexedFace, IndexedPhoto, PhotoMatch, Reference, SessionStatus, SubjectMatch, SubjectSummary,
};
use crate::ports::{
    BlobStore, Clock, CollectionStore, DetectedFaces, EmbeddedFace, FaceEngine, FaceReport,
    MatchOp, Metrics, ReferenceStore, Stage, Timer,
};
use crate::similarity::{self, Decision, Threshold};

/// Decision thresholds and limits of the use-cases.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Cosine threshold for 1:1 and 1:N decisions.
    pub threshold: f32,
    /// Default threshold for photo-collection search.
    pub search_threshold: f32,
    /// Lowest threshold a request may ask for (the model's false-accept rate of 1e-2), so
    /// that nobody can lower it to list strangers' faces.
    pub min_threshold: f32,
    /// Enrollment refuses faces below this quality (0..1).
    pub min_enroll_quality: f32,
    /// Enrollment refuses images whose main face fails the liveness check.
    pub enrollment_liveness: bool,
    /// What enrollment does with a face that matches another subject or none of its own.
    pub enrollment_checks: EnrollmentChecks,
    /// Liveness scores at or above this are "live".
    pub liveness_threshold: f32,
    /// A 1:1 or 1:N answer is flagged `low_confidence` when a compared face (1:N: the probe)
    /// is turned at least this far ([`crate::Landmarks5::yaw_ratio`]).
    pub low_confidence_yaw_ratio: f32,
    /// Largest `limit` a search or identification may ask for.
    pub max_results: usize,
    /// Most photos one batch may index.
    pub max_batch_photos: usize,
}

impl Policy {
    /// Whether `face` is turned so far (`low_confidence_yaw_ratio`) that decisions on it are
    /// unreliable.
    pub fn turned(&self, face: &FaceDetection) -> bool {
        face.landmarks.yaw_ratio() >= self.low_confidence_yaw_ratio
    }
}

/// A stored reference, and the checks it failed under the `warn` policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Enrolled {
    pub reference: Reference,
    pub warnings: Vec<Failure>,
}

/// What one side of a 1:1 comparison is.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    Image(Vec<u8>),
    Reference(String),
    Subject(String),
}

/// The result of a 1:1 comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub similarity: f32,
    pub decision: Decision,
    pub threshold: f32,
    pub model: String,
    /// The reference that matched best, when a side was a subject or reference.
    pub reference_id: Option<String>,
    /// A compared face is turned so far that the threshold's calibrated error rates do not
    /// hold: at the default threshold, frontal-profile pairs of one person are rejected
    /// more than a third of the time. Ask for another photo rather than trust "different".
    pub low_confidence: bool,
}

/// One embedding a probe stands for.
struct Candidate {
    embedding: Embedding,
    /// The reference it comes from, when the probe was a reference or subject.
    reference_id: Option<String>,
    /// Whether its face is turned beyond `policy.low_confidence_yaw_ratio`.
    turned: bool,
}

/// The result of a 1:N identification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identification {
    /// Subjects at or above the threshold, best first.
    pub matches: Vec<SubjectMatch>,
    /// True when no subject reached the threshold.
    pub unknown: bool,
    /// The best similarity seen, also when below the threshold.
    pub best_similarity: Option<f32>,
    pub threshold: f32,
    pub face: FaceDetection,
    /// The probe face is turned so far that the threshold's calibrated error rates do not
    /// hold (see [`Verification::low_confidence`]): "unknown" may be a turned head.
    pub low_confidence: bool,
}

/// The result of indexing a photo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Indexing {
    pub photo: IndexedPhoto,
    /// False when the photo was already indexed (the earlier result is returned).
    pub created: bool,
}

/// The result of a selfie search in a session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Search {
    pub matches: Vec<PhotoMatch>,
    pub total_matches: usize,
    pub indexed_photos: usize,
    pub threshold: f32,
    pub query_time_ms: f64,
}

/// One photo of a batch, addressed by its object-store key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchPhoto {
    pub photo_id: String,
    pub key: String,
}

/// The outcome of one photo of a batch: indexed, or the error that stopped it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchItem {
    pub photo_id: String,
    pub key: String,
    /// Faces indexed (absent on error).
    pub faces: Option<usize>,
    pub created: Option<bool>,
    pub error: Option<BatchError>,
}

/// Why a photo of a batch failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchError {
    pub code: ErrorCode,
    pub message: String,
}

impl From<Failure> for BatchError {
    /// A fault of the service itself is opaque, like a 5xx body: its message may name
    /// internal paths or hosts.
    fn from(failure: Failure) -> Self {
        let message = if failure.code == ErrorCode::Internal {
            "the photo could not be indexed because of an internal fault".to_owned()
        } else {
            failure.message
        };
        Self {
            code: failure.code,
            message,
        }
    }
}

/// Liveness of the main face.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Liveness {
    pub face: FaceDetection,
    pub score: f32,
    pub live: bool,
    pub threshold: f32,
}

/// The face service: every use-case over the ports.
#[derive(Clone)]
pub struct FaceService {
    engine: Arc<dyn FaceEngine>,
    references: Arc<dyn ReferenceStore>,
    collections: Arc<dyn CollectionStore>,
    blobs: Arc<dyn BlobStore>,
    clock: Arc<dyn Clock>,
    metrics: Arc<dyn Metrics>,
    policy: Policy,
}

/// The adapters a [`FaceService`] works through.
#[derive(Clone)]
pub struct Ports {
    pub engine: Arc<dyn FaceEngine>,
    pub references: Arc<dyn ReferenceStore>,
    pub collections: Arc<dyn CollectionStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<dyn Metrics>,
}

debug_ports!(Ports);

impl std::fmt::Debug for FaceService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaceService")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

const MAX_ID_LEN: usize = 128;

/// Ids and labels: 1..=128 characters, letters, digits and `._:-@ ` (no control
/// characters or slashes, so they are safe in keys and paths).
fn validate_id(kind: &str, value: &str) -> Result<()> {
    let ok = !value.trim().is_empty()
        && value.chars().count() <= MAX_ID_LEN
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || "._:-@ ".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Failure::validation(format!(
            "{kind} must be 1 to {MAX_ID_LEN} letters, digits, spaces or ._:-@"
        )))
    }
}

impl FaceService {
    pub fn new(ports: Ports, policy: Policy) -> Self {
        Self {
            engine: ports.engine,
            references: ports.references,
            collections: ports.collections,
            blobs: ports.blobs,
            clock: ports.clock,
            metrics: ports.metrics,
            policy,
        }
    }

    /// A threshold a request asked for, or `default`; refused below the policy's floor.
    fn threshold(&self, asked: Option<f32>, default: f32) -> Result<f32> {
        let threshold = asked.unwrap_or(default);
        let floor = self.policy.min_threshold;
        if (floor..=1.0).contains(&threshold) {
            Ok(threshold)
        } else {
            Err(Failure::validation(format!(
                "threshold must be between {floor} (this model's false-accept rate of 1 in 100) and 1"
            )))
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn validate_limit(&self, limit: usize) -> Result<()> {
        if (1..=self.policy.max_results).contains(&limit) {
            Ok(())
        } else {
            Err(Failure::validation(format!(
                "limit must be between 1 and {}",
                self.policy.max_results
            )))
        }
    }

    pub async fn detect(&self, image: Vec<u8>) -> Result<DetectedFaces> {
        self.engine.detect(image).await
    }

    /// The main face's embedding and how many faces the image holds.
    pub async fn embed(&self, image: Vec<u8>) -> Result<(EmbeddedFace, usize)> {
        self.engine.embed_main(image).await
    }

    pub async fn analyze(&self, image: Vec<u8>) -> Result<Vec<FaceReport>> {
        self.engine.analyze(image).await
    }

    pub async fn liveness(&self, image: Vec<u8>) -> Result<Liveness> {
        let (face, score) = self.engine.liveness(image).await?;
        let threshold = self.policy.liveness_threshold;
        Ok(Liveness {
            face,
            score,
            live: score >= threshold,
            threshold,
        })
    }

    /// The embeddings a probe stands for.
    async fn probe_embeddings(&self, probe: Probe) -> Result<Vec<Candidate>> {
        let from_reference = |r: Reference| Candidate {
            turned: self.policy.turned(&r.face),
            embedding: r.embedding,
            reference_id: Some(r.id),
        };
        match probe {
            Probe::Image(bytes) => {
                let (face, _) = self.engine.embed_main(bytes).await?;
                Ok(vec![Candidate {
                    turned: self.policy.turned(&face.face),
                    embedding: face.embedding,
                    reference_id: None,
                }])
            }
            Probe::Reference(id) => {
                let r = self
                    .references
                    .reference(&id)
                    .await?
                    .ok_or_else(|| Failure::not_found(format!("reference {id}")))?;
                Ok(vec![from_reference(r)])
            }
            Probe::Subject(name) => {
                let refs = self.references.subject_references(&name).await?;
                if refs.is_empty() {
                    return Err(Failure::not_found(format!("subject {name}")));
                }
                Ok(refs.into_iter().map(from_reference).collect())
            }
        }
    }

    /// 1:1: two images, or an image against a reference or subject (best reference).
    pub async fn verify(&self, a: Probe, b: Probe, threshold: Option<f32>) -> Result<Verification> {
        let threshold = self.threshold(threshold, self.policy.threshold)?;
        // Both sides at once: with two images, two inference workers run in parallel.
        let (left, right) = futures_util::join!(self.probe_embeddings(a), self.probe_embeddings(b));
        let (left, right) = (left?, right?);
        let mut best: Option<(f32, &Candidate, &Candidate)> = None;
        for ca in &left {
            for cb in &right {
                let s = similarity::compare(&ca.embedding, &cb.embedding)?;
                if best.as_ref().is_none_or(|(b, _, _)| s > *b) {
                    best = Some((s, ca, cb));
                }
            }
        }
        let (similarity, ca, cb) =
            best.ok_or_else(|| Failure::internal("no embeddings to compare"))?;
        let decision = Threshold(threshold).decide(similarity);
        self.metrics
            .match_score(MatchOp::Verify, decision, similarity);
        Ok(Verification {
            similarity,
            decision,
            threshold,
            model: self.engine.model_id().to_string(),
            reference_id: ca.reference_id.clone().or_else(|| cb.reference_id.clone()),
            low_confidence: ca.turned || cb.turned,
        })
    }

    /// Refuses an image whose main face fails the liveness check; the check sees the main
    /// face only, so another face cannot be chosen.
    async fn ensure_live(&self, image: &[u8], face_index: Option<usize>) -> Result<()> {
        if face_index.is_some_and(|i| i > 0) {
            return Err(Failure::validation(
                "enrollment checks the liveness of the main face only: send a photo of the \
                 subject alone (face_index 0)",
            ));
        }
        let (_, score) = self.engine.liveness(image.to_vec()).await?;
        if score < self.policy.liveness_threshold {
            return Err(Failure::spoof_suspected(
                score,
                self.policy.liveness_threshold,
            ));
        }
        Ok(())
    }

    /// Enrolls an image as a reference of `subject`. Refuses images without a face, with
    /// several faces unless `face_index` picks one, and faces of too low quality,
    /// and, when the policy asks, faces that fail the liveness check.
    pub async fn enroll(
        &self,
        subject: &str,
        image: Vec<u8>,
        face_index: Option<usize>,
    ) -> Result<Enrolled> {
        validate_id("subject", subject)?;
        if self.policy.enrollment_liveness {
            self.ensure_live(&image, face_index).await?;
        }
        let faces = self.engine.embed_all_with_crops(image).await?;
        let (face, crop) = match (faces.len(), face_index) {
            (0, _) => {
                return Err(Failure::new(
                    ErrorCode::FaceNotFound,
                    "no face was found in the image",
                ));
            }
            (_, Some(i)) => faces
                .into_iter()
                .nth(i)
                .ok_or_else(|| Failure::validation(format!("face_index {i} is out of range")))?,
            (1, None) => faces
                .into_iter()
                .next()
                .ok_or_else(|| Failure::internal("face vanished"))?,
            (n, None) => {
                return Err(Failure::new(
                    ErrorCode::MultipleFaces,
                    format!(
                        "{n} faces were found; pass face_index to choose one (0 is the main face)"
                    ),
                ));
            }
        };
        if face.quality < self.policy.min_enroll_quality {
            return Err(Failure::new(
                ErrorCode::LowQuality,
                format!(
                    "face quality {:.2} is below the enrollment minimum {:.2}: use a sharper, larger, frontal photo",
                    face.quality, self.policy.min_enroll_quality
                ),
            ));
        }
        let warnings = match self.policy.enrollment_checks {
            EnrollmentChecks::Allow => Vec::new(),
            checks => {
                let mut failed = failed_checks(
                    self.references.as_ref(),
                    subject,
                    &face.embedding,
                    self.policy.threshold,
                )
                .await?;
                if checks == EnrollmentChecks::Refuse && !failed.is_empty() {
                    return Err(failed.swap_remove(0));
                }
                failed
            }
        };
        let mut reference = Reference {
            id: uuid::Uuid::new_v4().to_string(),
            subject: subject.to_owned(),
            face: face.face,
            quality: face.quality,
            embedding: face.embedding,
            created_at: self.clock.now(),
            crop: Some(crop),
        };
        self.references.insert_reference(&reference).await?;
        reference.crop = None;
        Ok(Enrolled {
            reference,
            warnings,
        })
    }

    pub async fn reference(&self, id: &str) -> Result<Reference> {
        self.references
            .reference(id)
            .await?
            .ok_or_else(|| Failure::not_found(format!("reference {id}")))
    }

    pub async fn delete_reference(&self, id: &str) -> Result<()> {
        if self.references.delete_reference(id).await? {
            Ok(())
        } else {
            Err(Failure::not_found(format!("reference {id}")))
        }
    }

    pub async fn subjects(&self) -> Result<Vec<SubjectSummary>> {
        self.references.subjects().await
    }

    pub async fn subject(&self, name: &str) -> Result<Vec<Reference>> {
        let refs = self.references.subject_references(name).await?;
        if refs.is_empty() {
            return Err(Failure::not_found(format!("subject {name}")));
        }
        Ok(refs)
    }

    pub async fn delete_subject(&self, name: &str) -> Result<usize> {
        match self.references.delete_subject(name).await? {
            0 => Err(Failure::not_found(format!("subject {name}"))),
            n => Ok(n),
        }
    }

    /// 1:N among enrolled subjects, with an explicit "unknown".
    pub async fn identify(
        &self,
        image: Vec<u8>,
        limit: usize,
        threshold: Option<f32>,
    ) -> Result<Identification> {
        self.validate_limit(limit)?;
        let threshold = self.threshold(threshold, self.policy.threshold)?;
        let (probe, _) = self.engine.embed_main(image).await?;
        let candidates = {
            let _timer = Timer::start(|elapsed| self.metrics.stage(Stage::Search, elapsed));
            self.references.identify(&probe.embedding, limit).await?
        };
        let best_similarity = candidates.first().map(|m| m.similarity);
        if let Some(best) = best_similarity {
            let decision = Threshold(threshold).decide(best);
            self.metrics.match_score(MatchOp::Identify, decision, best);
        }
        let matches: Vec<SubjectMatch> = candidates
            .into_iter()
            .filter(|m| m.similarity >= threshold)
            .collect();
        Ok(Identification {
            unknown: matches.is_empty(),
            matches,
            best_similarity,
            threshold,
            low_confidence: self.policy.turned(&probe.face),
            face: probe.face,
        })
    }

    /// Indexes every face of a photo into a session. Idempotent on `(session, photo_id)`:
    /// indexing the same id again returns the stored result without new inference.
    pub async fn index_photo(
        &self,
        session_id: &str,
        photo_id: &str,
        image: Vec<u8>,
    ) -> Result<Indexing> {
        let _timer = Timer::start(|elapsed| self.metrics.index(elapsed));
        validate_id("session_id", session_id)?;
        validate_id("photo_id", photo_id)?;
        if let Some(photo) = self.collections.photo(session_id, photo_id).await? {
            return Ok(Indexing {
                photo,
                created: false,
            });
        }
        let faces = self.engine.embed_all(image).await?;
        let photo = IndexedPhoto {
            session_id: session_id.to_owned(),
            photo_id: photo_id.to_owned(),
            faces: faces
                .into_iter()
                .enumerate()
                .map(|(i, f)| IndexedFace {
                    face_index: i as u32,
                    bbox: f.face.bbox,
                    detection_score: f.face.score,
                    embedding: f.embedding,
                })
                .collect(),
            indexed_at: self.clock.now(),
        };
        let (photo, created) = self.collections.insert_photo(&photo).await?;
        Ok(Indexing { photo, created })
    }

    /// Whether a batch of `photos` photos is within `policy.max_batch_photos` (and not
    /// empty).
    pub fn check_batch_size(&self, photos: usize) -> Result<()> {
        let max = self.policy.max_batch_photos;
        if (1..=max).contains(&photos) {
            Ok(())
        } else {
            Err(Failure::validation(format!(
                "photos must hold 1 to {max} photos, not {photos}"
            )))
        }
    }

    /// Indexes photos read from object storage, one by one; a failing photo does not stop
    /// the others and is reported with its error.
    pub async fn index_batch(
        &self,
        session_id: &str,
        photos: Vec<BatchPhoto>,
    ) -> Result<Vec<BatchItem>> {
        validate_id("session_id", session_id)?;
        self.check_batch_size(photos.len())?;
        let mut items = Vec::with_capacity(photos.len());
        for photo in photos {
            let outcome = match self.blobs.get(&photo.key).await {
                Ok(bytes) => self.index_photo(session_id, &photo.photo_id, bytes).await,
                Err(e) => Err(e),
            };
            items.push(match outcome {
                Ok(indexing) => BatchItem {
                    faces: Some(indexing.photo.faces.len()),
                    created: Some(indexing.created),
                    error: None,
                    photo_id: photo.photo_id,
                    key: photo.key,
                },
                Err(e) => BatchItem {
                    faces: None,
                    created: None,
                    error: Some(BatchError::from(e)),
                    photo_id: photo.photo_id,
                    key: photo.key,
                },
            });
        }
        Ok(items)
    }

    /// Finds the photos of a session in which the selfie's person appears.
    pub async fn search(
        &self,
        session_id: &str,
        selfie: Vec<u8>,
        threshold: Option<f32>,
        limit: usize,
    ) -> Result<Search> {
        let _timer = Timer::start(|elapsed| self.metrics.search(elapsed));
        validate_id("session_id", session_id)?;
        self.validate_limit(limit)?;
        let threshold = self.threshold(threshold, self.policy.search_threshold)?;
        let started = Instant::now();
        let (probe, _) = self.engine.embed_main(selfie).await?;
        let status = self.collections.status(session_id).await?;
        if status.indexed_photos == 0 {
            return Err(Failure::not_found(format!("session {session_id}")));
        }
        let matches = {
            let _timer = Timer::start(|elapsed| self.metrics.stage(Stage::Search, elapsed));
            self.collections
                .search(session_id, &probe.embedding, threshold, limit)
                .await?
        };
        for m in &matches {
            self.metrics
                .match_score(MatchOp::Search, Decision::Same, m.similarity);
        }
        Ok(Search {
            total_matches: matches.len(),
            matches,
            indexed_photos: status.indexed_photos,
            threshold,
            query_time_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }

    pub async fn session_status(&self, session_id: &str) -> Result<SessionStatus> {
        validate_id("session_id", session_id)?;
        self.collections.status(session_id).await
    }

    pub async fn delete_session(&self, session_id: &str) -> Result<usize> {
        validate_id("session_id", session_id)?;
        match self.collections.delete_session(session_id).await? {
            0 => Err(Failure::not_found(format!("session {session_id}"))),
            n => Ok(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::validate_id;

    #[test]
    fn ids_are_validated() {
        assert!(validate_id("x", "event-2024_01:photo.jpg").is_ok());
        assert!(validate_id("x", "").is_err());
        assert!(validate_id("x", "  ").is_err());
        assert!(validate_id("x", "a/b").is_err());
        assert!(validate_id("x", &"a".repeat(129)).is_err());
    }
}
