//! Liveness sessions: a server-drawn challenge ([`crate::challenge`]) a user answers once,
//! within its lifetime, with the frames of a short video; a live result can then stand
//! in, once, for the selfie of a face-gated operation.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::challenge::{ChallengeRules, Movement, Reason, Verdict, decide};
use crate::error::ErrorCode;
use crate::failure::{Failure, Result};
use crate::model::Timestamp;
use crate::ports::{BlobStore, Clock, FaceEngine, LivenessSessionStore, RateLimiter};

/// One session, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivenessSession {
    pub id: String,
    pub user_id: String,
    /// SHA-256 of the single-use nonce, hex; the nonce itself is shown to the client only.
    #[serde(skip)]
    pub nonce_digest: String,
    pub challenge: Vec<Movement>,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub expires_at: Timestamp,
    /// When frames were first posted: a session is judged once.
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub used_at: Option<Timestamp>,
    pub result: Option<SessionResult>,
    /// When a live session stood in for a selfie: it does so once.
    #[serde(with = "crate::time::serde_rfc3339::option")]
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

/// How sessions are drawn, bounded and judged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SessionPolicy {
    /// How long a drawn session may be answered.
    pub lifetime_ms: i64,
    /// Frames one answer may hold, at most.
    pub max_frames: usize,
    /// Failed sessions a user, or a client address, may have per window; beyond it `429`.
    pub max_failures: u32,
    pub failure_window_ms: i64,
    /// How long after its answer a live session may stand in for a selfie.
    pub stand_in_ms: i64,
    pub rules: ChallengeRules,
}

/// Where the selfie of a face-gated operation comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Selfie {
    /// An image sent with the request.
    Image(Vec<u8>),
    /// The id of the caller's live liveness session: its best frontal frame is the selfie,
    /// and the session is spent.
    Session(String),
}

/// The adapters sessions work through.
#[derive(Clone)]
pub struct SessionPorts {
    pub engine: Arc<dyn FaceEngine>,
    pub sessions: Arc<dyn LivenessSessionStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub limiter: Arc<dyn RateLimiter>,
    pub clock: Arc<dyn Clock>,
}

debug_ports!(SessionPorts);

/// A new session as its client sees it, the nonce included (shown this once).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrawnSession {
    pub id: String,
    pub nonce: String,
    pub challenge: Vec<Movement>,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub expires_at: Timestamp,
}

/// Draws, judges and spends liveness sessions.
#[derive(Debug, Clone)]
pub struct LivenessSessionService {
    ports: SessionPorts,
    policy: SessionPolicy,
}

/// Where a session's best frontal frame is kept.
pub const AUDIT_FRAMES: &str = "liveness/";

fn digest(nonce: &str) -> String {
    hex::encode(Sha256::digest(nonce.as_bytes()))
}

/// Two or three turns, alternating, starting on a random side.
fn draw_challenge() -> Vec<Movement> {
    let random = uuid::Uuid::new_v4();
    let bytes = random.as_bytes();
    let (first, second) = if bytes[0] & 1 == 0 {
        (Movement::TurnLeft, Movement::TurnRight)
    } else {
        (Movement::TurnRight, Movement::TurnLeft)
    };
    let mut moves = vec![first, second];
    if bytes[1] & 1 == 1 {
        moves.push(first);
    }
    moves
}

impl LivenessSessionService {
    pub fn new(ports: SessionPorts, policy: SessionPolicy) -> Self {
        Self { ports, policy }
    }

    /// The failure buckets of a user and of a client address.
    fn buckets(user_id: &str, client: &str) -> [String; 2] {
        [
            format!("liveness-failures:user:{user_id}"),
            format!("liveness-failures:ip:{client}"),
        ]
    }

    /// Refuses with `429` once a bucket holds `max_failures` failures of the window.
    async fn ensure_attempts_left(&self, user_id: &str, client: &str) -> Result<()> {
        let p = &self.policy;
        for bucket in Self::buckets(user_id, client) {
            let peek = self
                .ports
                .limiter
                .hit_many(&bucket, 0, p.max_failures, p.failure_window_ms)
                .await?;
            if peek.remaining == 0 {
                return Err(too_many_failures(p.max_failures, peek.reset_ms));
            }
        }
        Ok(())
    }

    /// Draws a session for `user_id`.
    pub async fn create(&self, user_id: &str, client: &str) -> Result<DrawnSession> {
        self.ensure_attempts_left(user_id, client).await?;
        let now = self.ports.clock.now();
        let nonce = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let session = LivenessSession {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.to_owned(),
            nonce_digest: digest(&nonce),
            challenge: draw_challenge(),
            created_at: now,
            expires_at: now + self.policy.lifetime_ms,
            used_at: None,
            result: None,
            spent_at: None,
        };
        self.ports
            .sessions
            .insert_liveness_session(&session)
            .await?;
        Ok(DrawnSession {
            id: session.id,
            nonce,
            challenge: session.challenge,
            expires_at: session.expires_at,
        })
    }

    /// The session, visible to its user only.
    pub async fn session(&self, user_id: &str, id: &str) -> Result<LivenessSession> {
        match self.ports.sessions.liveness_session(id).await? {
            Some(s) if s.user_id == user_id => Ok(s),
            _ => Err(Failure::not_found(format!("liveness session {id}"))),
        }
    }

    /// Judges the frames of a session, once, within its lifetime, with its nonce. A failed
    /// or spoofed result counts against the user and the client address; past
    /// `max_failures` in the window the answer is `429` (the result is stored all the same).
    pub async fn answer(
        &self,
        user_id: &str,
        client: &str,
        id: &str,
        nonce: &str,
        frames: Vec<Vec<u8>>,
    ) -> Result<LivenessSession> {
        let session = self.session(user_id, id).await?;
        // A timing difference would tell about the digest, which leaks nothing of a nonce.
        if session.nonce_digest != digest(nonce) {
            return Err(Failure::new(
                ErrorCode::Forbidden,
                "the nonce is not this session's",
            ));
        }
        self.ensure_attempts_left(user_id, client).await?;
        let now = self.ports.clock.now();
        if now >= session.expires_at {
            return Err(Failure::new(
                ErrorCode::SessionExpired,
                "the liveness session expired: start a new one",
            ));
        }
        if frames.is_empty() || frames.len() > self.policy.max_frames {
            return Err(Failure::validation(format!(
                "send between 1 and {} frames",
                self.policy.max_frames
            )));
        }
        // An unreadable frame is the client's mistake: refuse it before the session is used.
        for frame in &frames {
            self.ports.engine.check_image(frame)?;
        }
        if !self.ports.sessions.start_liveness_session(id, now).await? {
            return Err(Failure::new(
                ErrorCode::Conflict,
                "the liveness session was answered already: start a new one",
            ));
        }
        let mut reports = Vec::with_capacity(frames.len());
        for frame in &frames {
            reports.push(self.ports.engine.challenge_frame(frame.clone()).await?);
        }
        let decision = decide(&session.challenge, &reports, &self.policy.rules);
        let audit_key = match decision.best_frame.and_then(|i| frames.into_iter().nth(i)) {
            Some(frame) => {
                let key = format!("{AUDIT_FRAMES}{id}");
                self.ports.blobs.put(&key, frame).await?;
                Some(key)
            }
            None => None,
        };
        let result = SessionResult {
            verdict: decision.verdict,
            reasons: decision.reasons,
            score: decision.score,
            audit_key,
        };
        self.ports
            .sessions
            .complete_liveness_session(id, &result)
            .await?;
        if result.verdict != Verdict::Live {
            self.count_failure(user_id, client).await?;
        }
        self.session(user_id, id).await
    }

    /// The image of a selfie; a session is spent for it (once, while fresh, when live).
    pub async fn selfie(&self, user_id: &str, selfie: Selfie) -> Result<Vec<u8>> {
        match selfie {
            Selfie::Image(image) => Ok(image),
            Selfie::Session(id) => self.spend(user_id, &id).await,
        }
    }

    /// Spends the user's live session `id` and answers its audit frame.
    async fn spend(&self, user_id: &str, id: &str) -> Result<Vec<u8>> {
        let session = self.session(user_id, id).await?;
        let (Some(result), Some(answered)) = (session.result, session.used_at) else {
            return Err(Failure::new(
                ErrorCode::Conflict,
                format!("liveness session {id} has no result yet: post its frames first"),
            ));
        };
        if result.verdict != Verdict::Live {
            return Err(Failure::new(
                ErrorCode::SpoofSuspected,
                format!(
                    "liveness session {id} was not live ({}): start a new one",
                    result.verdict.as_str()
                ),
            ));
        }
        let now = self.ports.clock.now();
        if now - answered > self.policy.stand_in_ms {
            return Err(Failure::new(
                ErrorCode::SessionExpired,
                format!(
                    "liveness session {id} is older than {} s: start a new one",
                    self.policy.stand_in_ms / 1000
                ),
            ));
        }
        let key = result
            .audit_key
            .ok_or_else(|| Failure::internal("a live session has no audit frame"))?;
        if !self.ports.sessions.spend_liveness_session(id, now).await? {
            return Err(Failure::new(
                ErrorCode::Conflict,
                format!("liveness session {id} was used already: start a new one"),
            ));
        }
        self.ports.blobs.get(&key).await
    }

    async fn count_failure(&self, user_id: &str, client: &str) -> Result<()> {
        let p = &self.policy;
        let mut refused = None;
        for bucket in Self::buckets(user_id, client) {
            let hit = self
                .ports
                .limiter
                .hit(&bucket, p.max_failures, p.failure_window_ms)
                .await?;
            if !hit.allowed {
                refused = Some(hit.reset_ms);
            }
        }
        match refused {
            Some(reset_ms) => Err(too_many_failures(p.max_failures, reset_ms)),
            None => Ok(()),
        }
    }
}

fn too_many_failures(max: u32, reset_ms: i64) -> Failure {
    Failure::new(
        ErrorCode::RateLimited,
        format!(
            "{max} liveness sessions failed in a short time; retry in {} s",
            (reset_ms.max(0) + 999) / 1000
        ),
    )
}
