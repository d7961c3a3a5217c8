//! The ports of accounts, access and asynchronous work.

use async_trait::async_trait;
use serde::Serialize;

use crate::account::{
    AccessClaims, ApiKey, AuditEntry, Job, JobResult, RefreshToken, RefreshUse, Transaction, User,
    UserFace,
};
use crate::failure::Result;
use crate::liveness_sessions::{LivenessSession, SessionResult};
use crate::model::Timestamp;
use crate::scans::{LeaderboardEntry, Scan, ScanResult};

/// Accounts, their faces and their refresh tokens.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts the user unless the username is taken; returns whether it was inserted.
    async fn insert_user(&self, user: &User, password_hash: &str) -> Result<bool>;
    /// The user with this username and their password hash.
    async fn user_by_name(&self, username: &str) -> Result<Option<(User, String)>>;
    async fn user(&self, id: &str) -> Result<Option<User>>;
    async fn users(&self) -> Result<Vec<User>>;
    /// Stores (or replaces) the user's face and marks the user verified, atomically.
    async fn set_user_face(&self, face: &UserFace) -> Result<()>;
    async fn user_face(&self, user_id: &str) -> Result<Option<UserFace>>;
    /// Removes the user and everything that belongs to them (face, tokens, jobs,
    /// transactions). Returns the upload keys of their unfinished jobs, so the caller can
    /// delete the objects, or `None` when the user does not exist.
    async fn delete_user(&self, user_id: &str) -> Result<Option<Vec<String>>>;
    async fn insert_refresh_token(&self, token: &RefreshToken) -> Result<()>;
    /// Marks the token with this digest used, atomically, and says what it was.
    async fn use_refresh_token(&self, digest: &str, now: Timestamp) -> Result<RefreshUse>;
    /// Revokes every token of a rotation family (logout, or a detected replay).
    async fn revoke_refresh_family(&self, family: &str) -> Result<()>;
}

/// API keys, stored by the digest of their secret.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn insert_api_key(&self, key: &ApiKey, digest: &str) -> Result<()>;
    /// The key whose secret has this digest, revoked or not.
    async fn api_key_by_digest(&self, digest: &str) -> Result<Option<ApiKey>>;
    async fn api_keys(&self) -> Result<Vec<ApiKey>>;
    /// Revokes a key; returns whether a key that was not yet revoked was found.
    async fn revoke_api_key(&self, id: &str, at: Timestamp) -> Result<bool>;
}

/// A durable queue of asynchronous jobs with at-least-once delivery: a claimed job that is
/// neither finished nor retried before its lease ends is claimed again.
#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn enqueue(&self, job: &Job) -> Result<()>;
    /// Claims the oldest job that is due (queued and past its retry time, or running with
    /// an expired lease): marks it running, counts the attempt and leases it until
    /// `lease_until`.
    async fn claim(&self, now: Timestamp, lease_until: Timestamp) -> Result<Option<Job>>;
    /// Claims job `id` like [`JobQueue::claim`] when it is due, whatever its place in the
    /// queue (a worker handed the job by a message); `None` when it is done, leased to
    /// another worker, waiting for its retry time or missing.
    async fn claim_job(
        &self,
        id: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<Job>>;
    /// Stores the result; the job is done.
    async fn finish(&self, id: &str, result: &JobResult, now: Timestamp) -> Result<()>;
    /// Puts the job back after a transient error, due again at `run_after`.
    async fn retry(
        &self,
        id: &str,
        error: &str,
        run_after: Timestamp,
        now: Timestamp,
    ) -> Result<()>;
    async fn job(&self, id: &str) -> Result<Option<Job>>;
    /// The user's jobs that are not done yet (queued or running).
    async fn pending_jobs(&self, user_id: &str) -> Result<usize>;
}

/// Told of every finished job before the queue marks it done, so that a crash in
/// between repeats the call: implementations must be idempotent per job.
#[async_trait]
pub trait JobListener: Send + Sync {
    async fn job_finished(&self, job: &Job) -> Result<()>;
}

/// A [`JobListener`] that does nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoListener;

#[async_trait]
impl JobListener for NoListener {
    async fn job_finished(&self, _job: &Job) -> Result<()> {
        Ok(())
    }
}

/// Facial scans and the leaderboard of their scores.
#[async_trait]
pub trait ScanStore: Send + Sync {
    async fn insert_scan(&self, scan: &Scan) -> Result<()>;
    async fn scan(&self, id: &str) -> Result<Option<Scan>>;
    /// Stores the result (and its score for the leaderboard); the scan is done.
    async fn complete_scan(&self, id: &str, result: &ScanResult, at: Timestamp) -> Result<()>;
    /// Users by their best score, best first.
    async fn leaderboard(&self, limit: usize) -> Result<Vec<LeaderboardEntry>>;
}

/// Liveness sessions.
#[async_trait]
pub trait LivenessSessionStore: Send + Sync {
    async fn insert_liveness_session(&self, session: &LivenessSession) -> Result<()>;
    async fn liveness_session(&self, id: &str) -> Result<Option<LivenessSession>>;
    /// Marks the session used at `at`; `false` when it was used already (a replay).
    async fn start_liveness_session(&self, id: &str, at: Timestamp) -> Result<bool>;
    async fn complete_liveness_session(&self, id: &str, result: &SessionResult) -> Result<()>;
    /// Marks the session spent at `at`; `false` when it was spent already.
    async fn spend_liveness_session(&self, id: &str, at: Timestamp) -> Result<bool>;
}

/// Users' transactions.
#[async_trait]
pub trait TransactionStore: Send + Sync {
    async fn insert_transaction(&self, transaction: &Transaction) -> Result<()>;
    /// The user's transactions created in `from..to` (to exclusive), oldest first.
    async fn transactions(
        &self,
        user_id: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Transaction>>;
}

/// The audit log.
#[async_trait]
pub trait AuditLog: Send + Sync {
    async fn record(&self, entry: &AuditEntry) -> Result<()>;
    /// The newest `limit` entries, newest first.
    async fn recent(&self, limit: usize) -> Result<Vec<AuditEntry>>;
}

/// How many records the stores hold, for the admin statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Inventory {
    pub users: u64,
    pub verified_users: u64,
    pub api_keys: u64,
    pub subjects: u64,
    pub references: u64,
    pub sessions: u64,
    pub photos: u64,
    pub faces: u64,
    pub transactions: u64,
    pub jobs_queued: u64,
    pub jobs_running: u64,
    pub jobs_done: u64,
}

/// Counts what is stored.
#[async_trait]
pub trait InventorySource: Send + Sync {
    async fn inventory(&self) -> Result<Inventory>;
}

/// The outcome of counting one request against a rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Milliseconds until the window resets.
    pub reset_ms: i64,
}

/// Counts requests per bucket in fixed windows; shared between replicas when the adapter
/// is (Redis).
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts `cost` hits on `bucket` in the current window of `window_ms`, unless they
    /// would take it past `limit`: then it is refused and nothing is counted.
    async fn hit_many(
        &self,
        bucket: &str,
        cost: u32,
        limit: u32,
        window_ms: i64,
    ) -> Result<RateDecision>;

    /// Counts one hit.
    async fn hit(&self, bucket: &str, limit: u32, window_ms: i64) -> Result<RateDecision> {
        self.hit_many(bucket, 1, limit, window_ms).await
    }
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRejection {
    Expired,
    /// Malformed, forged (bad signature) or not an access token.
    Invalid,
}

/// Password hashing, token signing and secret generation.
pub trait Credentials: Send + Sync {
    fn hash_password(&self, password: &str) -> Result<String>;
    /// Checks a password against its hash. With no hash (unknown user) it still spends
    /// the time of a real check and answers false, so timing does not tell whether the
    /// user exists.
    fn verify_password(&self, password: &str, hash: Option<&str>) -> bool;
    fn sign_access(&self, claims: &AccessClaims) -> Result<String>;
    /// Checks the signature and expiry (against `now`, seconds since the epoch).
    fn verify_access(&self, token: &str, now: i64) -> Result<AccessClaims, TokenRejection>;
    /// A new random secret with this prefix (API keys, refresh tokens).
    fn new_secret(&self, prefix: &str) -> String;
    /// The digest a secret is stored and looked up by.
    fn digest(&self, secret: &str) -> String;
}

/// Encryption at rest of images, face crops and embeddings.
pub trait Sealer: Send + Sync {
    /// The id of the key new data is sealed with; `None` when encryption is off.
    fn key_id(&self) -> Option<&str>;
    /// Encrypts with the current key into an envelope that names the key; returns the
    /// bytes unchanged when encryption is off.
    fn seal(&self, plain: &[u8]) -> Result<Vec<u8>>;
    /// Decrypts an envelope with the key it names; bytes that are not an envelope are
    /// returned unchanged (data stored before encryption was switched on).
    fn open(&self, data: &[u8]) -> Result<Vec<u8>>;
}

/// No encryption: [`Sealer`] that passes bytes through.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEncryption;

impl Sealer for NoEncryption {
    fn key_id(&self) -> Option<&str> {
        None
    }

    fn seal(&self, plain: &[u8]) -> Result<Vec<u8>> {
        Ok(plain.to_vec())
    }

    fn open(&self, data: &[u8]) -> Result<Vec<u8>> {
        Ok(data.to_vec())
    }
}
