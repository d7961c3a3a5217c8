//! Builders of the records the conformance checks store, for the adapters' own tests too.

use crate::account::{
    ApiKey, AuditEntry, Job, JobRequest, JobResult, JobState, RefreshToken, Role, Scope,
    Transaction, User, UserFace, VerificationResult, VerificationStatus,
};
use crate::face::{BoundingBox, Embedding, FaceDetection, Landmarks5, ModelId};
use crate::model::Timestamp;
use crate::ports::{Symmetry, UserStore};
use crate::scans::{Scan, ScanResult, ScanStatus};
use crate::webhooks::{Delivery, DeliveryState, Webhook, WebhookEvent};

/// The embedding model of the fixtures' faces.
pub const MODEL: &str = "w600k_mbf@1";
pub const DIM: usize = 512;

/// A reproducible unit embedding of `model` (a linear congruential generator, so no rand
/// dependency).
pub fn unit(model: &str, dim: usize, seed: u64) -> Embedding {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let vector = (0..dim)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // The top 16 bits as a value in -1..1.
            f32::from(u16::try_from(state >> 48).unwrap_or(0)) / 32_768.0 - 1.0
        })
        .collect();
    Embedding::from_raw(ModelId(model.into()), vector).expect("a non-zero vector")
}

pub fn detection(score: f32) -> FaceDetection {
    FaceDetection {
        bbox: BoundingBox::new(10.0, 20.0, 110.0, 140.0),
        score,
        landmarks: Landmarks5::default(),
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
    format!("uploads/{job_id}")
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
