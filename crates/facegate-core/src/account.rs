//! Records of accounts and access: users, roles, API keys, tokens, jobs, transactions and
//! the audit log.

use serde::{Deserialize, Serialize};

use crate::face::{Embedding, FaceDetection};
use crate::model::Timestamp;

/// What a user may do; each role grants a fixed set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including accounts, keys and statistics.
    Admin,
    /// Runs the face operations: enrollment, indexing, search, verification.
    Operator,
    /// An end user: their own account, face verification, transactions, and the
    /// stateless face operations on images they send. Searching other people's faces
    /// (identification, subjects, photo sessions) needs an operator or a scoped key.
    Client,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Client => "client",
        }
    }

    /// The scopes a token of this role carries.
    pub fn scopes(self) -> &'static [Scope] {
        match self {
            Role::Admin => &[Scope::Index, Scope::Search, Scope::Verify, Scope::Admin],
            Role::Operator => &[Scope::Index, Scope::Search, Scope::Verify],
            Role::Client => &[Scope::Verify],
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Role::Admin, Role::Operator, Role::Client]
            .into_iter()
            .find(|r| r.as_str() == value)
    }
}

/// A permission an API key or a role grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Enroll references, index photos, delete subjects and sessions.
    Index,
    /// Search sessions, identify among subjects, read subjects and session status.
    Search,
    /// Stateless face operations: detect, embed, verify, liveness, analyze.
    Verify,
    /// Accounts, API keys, statistics and the audit log.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Index, Scope::Search, Scope::Verify, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Index => "index",
            Scope::Search => "search",
            Scope::Verify => "verify",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Scope::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub role: Role,
    /// True once a selfie of the user has been verified and their face stored.
    pub verified: bool,
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub verified_at: Option<Timestamp>,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub created_at: Timestamp,
}

/// The face a user verified with; later verifications and step-ups compare against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserFace {
    pub user_id: String,
    pub face: FaceDetection,
    pub quality: f32,
    pub embedding: Embedding,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub created_at: Timestamp,
}

/// An API key as stored: the secret itself is never kept, only its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// The first characters of the secret, to tell keys apart in listings.
    pub prefix: String,
    pub created_by: String,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub revoked_at: Option<Timestamp>,
}

/// Who is calling, once their credentials were checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub scopes: Vec<Scope>,
}

/// The kind of credentials a caller presented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PrincipalKind {
    User {
        id: String,
        username: String,
        role: Role,
    },
    ApiKey {
        id: String,
        name: String,
    },
}

impl Principal {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// A stable, non-secret name for logs and the audit log: `user:<id>` or `key:<id>`.
    pub fn actor(&self) -> String {
        match &self.kind {
            PrincipalKind::User { id, .. } => format!("user:{id}"),
            PrincipalKind::ApiKey { id, .. } => format!("key:{id}"),
        }
    }

    /// The user id when the caller is a user.
    pub fn user_id(&self) -> Option<&str> {
        match &self.kind {
            PrincipalKind::User { id, .. } => Some(id),
            PrincipalKind::ApiKey { .. } => None,
        }
    }
}

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: String,
    pub username: String,
    pub role: Role,
    /// Seconds since the Unix epoch.
    pub iat: i64,
    pub exp: i64,
    /// A unique id of this token.
    pub jti: String,
}

/// A stored refresh token: its digest, the user, and the rotation family it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    pub digest: String,
    pub user_id: String,
    /// Every token rotated from the same login shares the family; presenting a used token
    /// again revokes the whole family (the token was stolen or replayed).
    pub family: String,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub expires_at: Timestamp,
}

/// What presenting a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// Valid and unused; it is now marked used.
    Fresh(RefreshToken),
    /// Known but already used or revoked: a replay.
    Replayed { family: String },
    /// Unknown or expired.
    Invalid,
}

/// Tokens handed to a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// The state of an asynchronous job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    /// Finished; the result says what was decided.
    Done,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [JobState::Queued, JobState::Running, JobState::Done]
            .into_iter()
            .find(|s| s.as_str() == value)
    }
}

/// What an asynchronous job does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobRequest {
    /// Verify a user from an uploaded selfie kept in object storage under `upload_key`;
    /// the upload is deleted once the job is done.
    UserVerification { user_id: String, upload_key: String },
    /// Score the facial symmetry of the photo of scan `scan_id` (the photo is kept).
    Scan {
        user_id: String,
        scan_id: String,
        photo_key: String,
    },
}

impl JobRequest {
    /// The object-store key of the upload the job consumes: deleted when it is done.
    pub fn upload_key(&self) -> &str {
        match self {
            JobRequest::UserVerification { upload_key, .. } => upload_key,
            JobRequest::Scan { photo_key, .. } => photo_key,
        }
    }

    pub fn user_id(&self) -> &str {
        match self {
            JobRequest::UserVerification { user_id, .. } | JobRequest::Scan { user_id, .. } => {
                user_id
            }
        }
    }
}

/// What a finished job decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobResult {
    Verification(VerificationResult),
    Scan(crate::scans::ScanResult),
}

/// The decision of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    /// The face was accepted and stored (or matched the stored face).
    Verified,
    /// The upload was processed and refused (no face, low quality, spoof, mismatch).
    Rejected,
    /// The job could not be processed, even after retries.
    Failed,
}

/// The result of a verification job (the same shape as the Kafka result message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationResult {
    pub status: VerificationStatus,
    /// The error code that explains a rejection or failure.
    pub reason: Option<String>,
    pub face_count: usize,
    pub quality: Option<f32>,
    pub liveness: Option<f32>,
    /// Similarity to the face already on file, when there was one.
    pub similarity: Option<f32>,
    pub model: String,
}

/// An asynchronous job and, once done, its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: String,
    pub request: JobRequest,
    pub state: JobState,
    pub attempts: u32,
    pub result: Option<JobResult>,
    /// The last transient error, while the job is being retried.
    pub last_error: Option<String>,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub updated_at: Timestamp,
}

/// A face-verified transaction of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub id: String,
    pub user_id: String,
    /// In hundredths of the currency unit.
    pub amount_cents: i64,
    /// ISO 4217 code, upper case.
    pub currency: String,
    pub description: String,
    /// True when a fresh selfie was checked against the user's face.
    pub step_up: bool,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub created_at: Timestamp,
}

/// One line of the audit log: who did what, never images, embeddings or secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    #[serde(with = "crate::time::serde_rfc3339")]
    pub at: Timestamp,
    /// `user:<id>`, `key:<id>` or `anonymous`.
    pub actor: String,
    /// What was asked, e.g. `DELETE /api/v1/subjects/{name}`.
    pub action: String,
    /// The resource acted on (the request path).
    pub target: String,
    /// The HTTP status of the outcome.
    pub status: u16,
    pub request_id: String,
}
