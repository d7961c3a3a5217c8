//! Liveness sessions: a server-drawn challenge ([`crate::challenge`]) a user answers once,
//! within its lifetime, with the frames of a short video; a live result can then stand
//! in, once, for the selfie of a face-gated operation.

use serde::{Deserialize, Serialize};

use crate::challenge::{Movement, Reason, Verdict};
use crate::model::Timestamp;

/// One session, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivenessSession {
    pub id: String,
    pub user_id: String,
    /// SHA-256 of the single-use nonce, hex; the nonce itself is shown to the client only.
    #[serde(skip)]
    pub nonce_digest: String,
    pub challenge: Vec<Movement>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// When frames were first posted: a session is judged once.
    pub used_at: Option<Timestamp>,
    pub result: Option<SessionResult>,
    /// When a live session stood in for a selfie: it does so once.
    pub spent_at: Option<Timestamp>,
}

/// What a session's frames showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionResult {
    pub verdict: Verdict,
    pub reasons: Vec<Reason>,
    /// The lowest passive score of the frontal frames.
    pub score: Option<f32>,
    /// Object key of the best frontal frame, kept for audit (sealed when encryption is on).
    #[serde(skip)]
    pub audit_key: Option<String>,
}
