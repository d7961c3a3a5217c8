//! Builders of the records the conformance checks store, for the adapters' own tests too.

use crate::account::{
    ApiKey, AuditEntry, Job, JobRequest, JobResult, JobState, RefreshToken, Role, Scope,
    Transaction, User, UserFace, VerificationResult, VerificationStatus,
};
use crate::challenge::{Movement, Verdict};
use crate::face::{BoundingBox, Embedding, FaceDetection, Landmarks5, ModelId};
use crate::liveness_sessions::{LivenessSession, SessionResult};
use crate::model::{IndexedFace, IndexedPhoto, Reference, Timestamp};
use crate::ports::{BlobStore, StoredObject, Symmetry, UserStore};
use crate::scans::{Scan, ScanResult, ScanStatus};
use crate::webhooks::{Delivery, DeliveryState, Webhook, WebhookEvent};

/// The embedding model of the fixtures' faces.
pub const MODEL: &str = "w600k_mbf@1";
pub const DIM: usize = 512;

/// `dim` reproducible values in -1..1 (a linear congruential generator, so no rand
/// dependency).
fn noise(dim: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..dim)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // The top 16 bits as a value in -1..1.
            f32::from(u16::try_from(state >> 48).unwrap_or(0)) / 32_768.0 - 1.0
        })
        .collect()
}

/// A reproducible unit embedding of `model`.
pub fn unit(model: &str, dim: usize, seed: u64) -> Embedding {
    Embedding::from_raw(ModelId(model.into()), noise(dim, seed)).expect("a non-zero vector")
}

/// A unit embedding (of `base`'s model) whose cosine with `base` is `similarity`; `seed`
/// picks the direction across, and must not be the seed `base` was made from.
pub fn at_similarity(base: &Embedding, similarity: f32, seed: u64) -> Embedding {
    let b = base.vector();
    let mut other = noise(b.len(), seed);
    let along: f32 = other.iter().zip(b).map(|(o, b)| o * b).sum();
    for (o, b) in other.iter_mut().zip(b) {
        *o -= along * b;
    }
    let norm = other.iter().map(|o| o * o).sum::<f32>().sqrt();
    let across = (1.0 - similarity * similarity).sqrt();
    let vector = b
        .iter()
        .zip(&other)
        .map(|(b, o)| similarity * b + across * o / norm)
        .collect();
    Embedding::from_raw(base.model().clone(), vector).expect("a non-zero vector")
}

/// The cosine of two embeddings of one model and size.
pub fn cosine(a: &Embedding, b: &Embedding) -> f32 {
    crate::similarity::cosine(a, b).expect("comparable embeddings")
}

/// Equal within what a store's `REAL`/`f32` round trip and an index's arithmetic allow.
pub fn assert_close(actual: f32, expected: f32) {
    assert!(
        (actual - expected).abs() < 1e-4,
        "{actual} is not close to {expected}"
    );
}

pub fn detection(score: f32) -> FaceDetection {
    FaceDetection {
        bbox: BoundingBox::new(10.0, 20.0, 110.0, 140.0),
        score,
        landmarks: Landmarks5::default(),
    }
}

/// A reference of `subject`, without a crop.
pub fn reference(
    id: &str,
    subject: &str,
    embedding: Embedding,
    created_at: Timestamp,
) -> Reference {
    Reference {
        id: id.to_owned(),
        subject: subject.to_owned(),
        face: detection(0.98),
        quality: 0.8,
        embedding,
        created_at,
        crop: None,
    }
}

/// A photo whose face `i` has box `(10i, 10i, 10i + 50, 10i + 60)` and score `0.9 - 0.1i`.
pub fn photo(
    session: &str,
    photo_id: &str,
    faces: Vec<Embedding>,
    indexed_at: Timestamp,
) -> IndexedPhoto {
    IndexedPhoto {
        session_id: session.to_owned(),
        photo_id: photo_id.to_owned(),
        faces: faces
            .into_iter()
            .enumerate()
            .map(|(i, embedding)| {
                let at = 10.0 * i as f32;
                IndexedFace {
                    face_index: u32::try_from(i).expect("a few faces"),
                    bbox: BoundingBox::new(at, at, at + 50.0, at + 60.0),
                    detection_score: 0.9 - 0.1 * i as f32,
                    embedding,
                }
            })
            .collect(),
        indexed_at,
    }
}

/// Two photos are the same record; embeddings compared by cosine, not bit for bit.
pub fn assert_same_photo(actual: &IndexedPhoto, expected: &IndexedPhoto) {
    assert_eq!(actual.session_id, expected.session_id);
    assert_eq!(actual.photo_id, expected.photo_id);
    assert_eq!(actual.indexed_at, expected.indexed_at);
    assert_eq!(actual.faces.len(), expected.faces.len());
    for (a, e) in actual.faces.iter().zip(&expected.faces) {
        assert_eq!(a.face_index, e.face_index);
        assert_eq!(a.bbox, e.bbox);
        // Scores are stored as f32 exactly.
        assert_eq!(a.detection_score.to_bits(), e.detection_score.to_bits());
        assert_eq!(a.embedding.model(), e.embedding.model());
        assert_close(cosine(&a.embedding, &e.embedding), 1.0);
    }
}

/// A user, not verified yet.
pub fn user(id: &str, username: &str, role: Role, created_at: Timestamp) -> User {
    User {
        id: id.to_owned(),
        username: username.to_owned(),
        role,
        verified: false,
        verified_at: None,
        created_at,
    }
}

/// The password hash [`add_user`] stores: `hash-<id>`.
pub fn password_hash(user: &User) -> String {
    format!("hash-{}", user.id)
}

/// Inserts client `id` (username `name-<id>`) created at `created_at`.
pub async fn add_user<S: UserStore + ?Sized>(store: &S, id: &str, created_at: Timestamp) -> User {
    let user = user(id, &format!("name-{id}"), Role::Client, created_at);
    assert!(
        store
            .insert_user(&user, &password_hash(&user))
            .await
            .unwrap(),
        "user {id} was not inserted"
    );
    user
}

pub fn user_face(user_id: &str, embedding: Embedding, created_at: Timestamp) -> UserFace {
    UserFace {
        user_id: user_id.to_owned(),
        face: detection(0.97),
        quality: 0.75,
        embedding,
        created_at,
    }
}

pub fn token(digest: &str, user_id: &str, family: &str, expires_at: Timestamp) -> RefreshToken {
    RefreshToken {
        digest: digest.to_owned(),
        user_id: user_id.to_owned(),
        family: family.to_owned(),
        expires_at,
    }
}

pub fn api_key(id: &str, scopes: &[Scope], created_at: Timestamp) -> ApiKey {
    ApiKey {
        id: id.to_owned(),
        name: format!("key {id}"),
        scopes: scopes.to_vec(),
        prefix: format!("fg_{id}"),
        created_by: "user:admin".to_owned(),
        created_at,
        revoked_at: None,
    }
}

/// A queued verification job of the user, consuming the upload [`upload_key`]`(id)`.
pub fn job(id: &str, user_id: &str, created_at: Timestamp) -> Job {
    Job {
        id: id.to_owned(),
        request: JobRequest::UserVerification {
            user_id: user_id.to_owned(),
            upload_key: upload_key(id),
        },
        state: JobState::Queued,
        attempts: 0,
        result: None,
        last_error: None,
        created_at,
        updated_at: created_at,
    }
}

pub fn upload_key(job_id: &str) -> String {
    format!("{}{job_id}", crate::uploads::VERIFICATION_UPLOADS)
}

pub fn verified() -> JobResult {
    JobResult::Verification(VerificationResult {
        status: VerificationStatus::Verified,
        reason: None,
        face_count: 1,
        quality: Some(0.8),
        liveness: Some(0.9),
        similarity: None,
        model: MODEL.to_owned(),
    })
}

pub fn transaction(id: &str, user_id: &str, created_at: Timestamp, step_up: bool) -> Transaction {
    Transaction {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        amount_cents: 12_345,
        currency: "EUR".to_owned(),
        description: format!("purchase {id}"),
        step_up,
        created_at,
    }
}

pub fn audit(at: Timestamp, request_id: &str) -> AuditEntry {
    AuditEntry {
        at,
        actor: "user:u1".to_owned(),
        action: "DELETE /api/v1/subjects/{name}".to_owned(),
        target: "/api/v1/subjects/alice".to_owned(),
        status: 204,
        request_id: request_id.to_owned(),
    }
}

/// A queued scan of the user, its photo under `scans/<id>`.
pub fn scan(id: &str, user_id: &str, created_at: Timestamp) -> Scan {
    Scan {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        photo_key: format!("scans/{id}"),
        state: JobState::Queued,
        result: None,
        created_at,
        completed_at: None,
    }
}

/// A scored scan's result.
pub fn scored(score: f32) -> ScanResult {
    ScanResult {
        status: ScanStatus::Scored,
        reason: None,
        symmetry: Some(Symmetry {
            score,
            appearance: 0.5,
            landmarks: 0.25,
        }),
        face: Some(detection(0.9)),
    }
}

/// The signing secret of the fixtures' hooks.
pub const SECRET: &str = "whsec_test-secret-0123456789";

pub fn hook(id: &str, owner: &str, events: &[WebhookEvent], created_at: Timestamp) -> Webhook {
    Webhook {
        id: id.to_owned(),
        owner: owner.to_owned(),
        url: format!("https://hooks.example.com/{id}"),
        events: events.to_vec(),
        created_at,
    }
}

/// The pending delivery `<job_id>:<webhook_id>`, due at `at`.
pub fn delivery(job_id: &str, webhook_id: &str, user_id: &str, at: Timestamp) -> Delivery {
    Delivery {
        id: format!("{job_id}:{webhook_id}"),
        webhook_id: webhook_id.to_owned(),
        user_id: user_id.to_owned(),
        event: WebhookEvent::VerificationCompleted,
        payload: format!(r#"{{"job_id":"{job_id}"}}"#),
        state: DeliveryState::Pending,
        attempts: 0,
        last_status: None,
        last_error: None,
        next_attempt_at: at,
        created_at: at,
        delivered_at: None,
    }
}

/// A fresh liveness session of the user, asking to turn left then right, for 60 s.
pub fn liveness_session(id: &str, user_id: &str, created_at: Timestamp) -> LivenessSession {
    LivenessSession {
        id: id.to_owned(),
        user_id: user_id.to_owned(),
        nonce_digest: format!("digest-{id}"),
        challenge: vec![Movement::TurnLeft, Movement::TurnRight],
        created_at,
        expires_at: created_at + 60_000,
        used_at: None,
        result: None,
        spent_at: None,
    }
}

/// A live result with its audit frame under `audit/{id}`.
pub fn live_result(id: &str) -> SessionResult {
    SessionResult {
        verdict: Verdict::Live,
        reasons: Vec::new(),
        score: Some(0.9),
        audit_key: Some(format!("audit/{id}")),
    }
}

/// Objects in memory with the times they were stored at, for checks that also need a
/// [`BlobStore`].
#[derive(Debug, Default)]
pub struct MemoryBlobs {
    objects: std::sync::Mutex<std::collections::BTreeMap<String, (Vec<u8>, Timestamp)>>,
}

impl MemoryBlobs {
    pub fn put_at(&self, key: &str, modified_at: Timestamp) {
        self.lock()
            .insert(key.to_owned(), (b"image".to_vec(), modified_at));
    }

    pub fn keys(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, (Vec<u8>, Timestamp)>> {
        self.objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl BlobStore for MemoryBlobs {
    async fn get(&self, key: &str) -> crate::Result<Vec<u8>> {
        self.lock()
            .get(key)
            .map(|(bytes, _)| bytes.clone())
            .ok_or_else(|| crate::Failure::not_found(key))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> crate::Result<()> {
        self.lock().insert(key.to_owned(), (bytes, 0));
        Ok(())
    }

    async fn delete(&self, key: &str) -> crate::Result<()> {
        self.lock().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str, limit: usize) -> crate::Result<Vec<StoredObject>> {
        Ok(self
            .lock()
            .iter()
            .filter(|(key, _)| key.starts_with(prefix))
            .take(limit)
            .map(|(key, (_, modified_at))| StoredObject {
                key: key.clone(),
                modified_at: *modified_at,
            })
            .collect())
    }
}
