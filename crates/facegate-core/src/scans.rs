//! Facial scans: a user uploads a photo, a worker scores the face's symmetry, and the
//! leaderboard ranks users by their best score.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::account::{Job, JobRequest, JobState, Principal, Scope};
use crate::error::ErrorCode;
use crate::face::FaceDetection;
use crate::failure::{Failure, Result};
use crate::model::Timestamp;
use crate::ports::{BlobStore, Clock, FaceEngine, JobQueue, ScanStore, Symmetry};

/// The decision of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanStatus {
    Scored,
    /// The photo was processed and no score could be given (no face, bad image).
    Rejected,
    /// The job could not be processed, even after retries.
    Failed,
}

/// What a scan found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanResult {
    pub status: ScanStatus,
    /// The error code that explains a rejection or failure.
    pub reason: Option<String>,
    pub symmetry: Option<Symmetry>,
    pub face: Option<FaceDetection>,
}

impl ScanResult {
    pub fn refused(status: ScanStatus, code: ErrorCode) -> Self {
        Self {
            status,
            reason: Some(code.as_str().to_owned()),
            symmetry: None,
            face: None,
        }
    }
}

/// A facial scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scan {
    pub id: String,
    pub user_id: String,
    /// The photo in object storage, kept with the scan.
    pub photo_key: String,
    pub state: JobState,
    pub result: Option<ScanResult>,
    #[serde(with = "crate::time::serde_rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "crate::time::serde_rfc3339::option")]
    pub completed_at: Option<Timestamp>,
}

/// One line of the leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardEntry {
    pub rank: usize,
    pub username: String,
    pub best_score: f32,
    pub scans: usize,
}

/// The adapters scans work through.
#[derive(Clone)]
pub struct ScanPorts {
    pub engine: Arc<dyn FaceEngine>,
    pub scans: Arc<dyn ScanStore>,
    pub jobs: Arc<dyn JobQueue>,
    pub blobs: Arc<dyn BlobStore>,
    pub clock: Arc<dyn Clock>,
}

debug_ports!(ScanPorts);

/// Submits, scores and ranks facial scans.
#[derive(Debug, Clone)]
pub struct ScanService {
    ports: ScanPorts,
    max_pending: usize,
}

/// Largest leaderboard asked for.
pub const MAX_LEADERBOARD: usize = 1000;

impl ScanService {
    /// `max_pending`: a user's verifications and scans pending at once, at most.
    pub fn new(ports: ScanPorts, max_pending: usize) -> Self {
        Self { ports, max_pending }
    }

    /// Stores the photo and queues its scan.
    pub async fn submit(&self, user_id: &str, photo: Vec<u8>) -> Result<Scan> {
        // Refuse what the worker would refuse before storing it.
        self.ports.engine.check_image(&photo)?;
        crate::jobs::ensure_room(&*self.ports.jobs, user_id, self.max_pending).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let photo_key = format!("{}{id}", crate::uploads::SCAN_PHOTOS);
        self.ports.blobs.put(&photo_key, photo).await?;
        let now = self.ports.clock.now();
        let scan = Scan {
            id: id.clone(),
            user_id: user_id.to_owned(),
            photo_key: photo_key.clone(),
            state: JobState::Queued,
            result: None,
            created_at: now,
            completed_at: None,
        };
        let job = Job {
            id: id.clone(),
            request: JobRequest::Scan {
                user_id: user_id.to_owned(),
                scan_id: id,
                photo_key: photo_key.clone(),
            },
            state: JobState::Queued,
            attempts: 0,
            result: None,
            last_error: None,
            created_at: now,
            updated_at: now,
        };
        let stored = async {
            self.ports.scans.insert_scan(&scan).await?;
            self.ports.jobs.enqueue(&job).await
        };
        if let Err(e) = stored.await {
            let _ = self.ports.blobs.delete(&photo_key).await;
            return Err(e);
        }
        Ok(scan)
    }

    /// A scan, visible to its user and to admins; to others it does not exist.
    pub async fn scan(&self, caller: &Principal, id: &str) -> Result<Scan> {
        match self.ports.scans.scan(id).await? {
            Some(scan) if caller.has(Scope::Admin) || caller.user_id() == Some(&scan.user_id) => {
                Ok(scan)
            }
            _ => Err(Failure::not_found(format!("scan {id}"))),
        }
    }

    pub async fn leaderboard(&self, limit: usize) -> Result<Vec<LeaderboardEntry>> {
        if !(1..=MAX_LEADERBOARD).contains(&limit) {
            return Err(Failure::validation(format!(
                "limit must be between 1 and {MAX_LEADERBOARD}"
            )));
        }
        self.ports.scans.leaderboard(limit).await
    }

    /// Scores the photo of a scan job and stores the result with the scan. `Err` only
    /// for transient faults.
    pub(crate) async fn process(&self, scan_id: &str, photo_key: &str) -> Result<ScanResult> {
        let result = match self.ports.blobs.get(photo_key).await {
            Err(e) if e.code == ErrorCode::NotFound => {
                ScanResult::refused(ScanStatus::Failed, ErrorCode::NotFound)
            }
            Err(e) => return Err(e),
            Ok(photo) => match self.ports.engine.symmetry(photo).await {
                Ok((face, symmetry)) => ScanResult {
                    status: ScanStatus::Scored,
                    reason: None,
                    symmetry: Some(symmetry),
                    face: Some(face),
                },
                Err(e) if crate::jobs::is_permanent(e.code) => {
                    ScanResult::refused(ScanStatus::Rejected, e.code)
                }
                Err(e) => return Err(e),
            },
        };
        self.complete(scan_id, &result).await?;
        Ok(result)
    }

    pub(crate) async fn complete(&self, scan_id: &str, result: &ScanResult) -> Result<()> {
        self.ports
            .scans
            .complete_scan(scan_id, result, self.ports.clock.now())
            .await
    }
}
