//! Builders of account records: users, faces, tokens, keys, jobs, transactions, audit.

use facegate_core::Embedding;
use facegate_core::account::{
    ApiKey, AuditEntry, Job, JobRequest, JobResult, JobState, RefreshToken, Role, Scope,
    Transaction, User, UserFace, VerificationResult, VerificationStatus,
};
use facegate_core::model::Timestamp;
use facegate_core::ports::UserStore;
use facegate_store_embedded::EmbeddedStore;

use super::detection;

/// A user, not verified yet, with the password hash `hash-<id>`.
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

pub fn password_hash(user: &User) -> String {
    format!("hash-{}", user.id)
}

/// Inserts client `id` (username `name-<id>`) created at `created_at`.
pub async fn add_user(store: &EmbeddedStore, id: &str, created_at: Timestamp) -> User {
    let user = user(id, &format!("name-{id}"), Role::Client, created_at);
    assert!(
        store
            .insert_user(&user, &password_hash(&user))
            .await
            .unwrap()
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

/// A queued verification job of the user, consuming the upload `uploads/<id>`.
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
        model: "w600k_mbf@1".to_owned(),
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
