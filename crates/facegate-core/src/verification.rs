//! Face verification of a user from an uploaded selfie, as an asynchronous job: submitted by
//! a transport (HTTP upload, Kafka message), processed by a worker, at least once.

use std::sync::Arc;

use serde::Serialize;

use crate::account::{
    Job, JobRequest, JobState, Principal, Scope, UserFace, VerificationResult, VerificationStatus,
};
use crate::error::ErrorCode;
use crate::failure::{Failure, Result};
use crate::liveness_sessions::{LivenessSessionService, Selfie};
use crate::ports::{BlobStore, Clock, FaceEngine, JobQueue, UserStore};
use crate::similarity;

/// Decision rules and retry behaviour of verification jobs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct VerificationPolicy {
    /// Cosine threshold against the face already on file.
    pub threshold: f32,
    /// Faces below this quality are rejected.
    pub min_quality: f32,
    /// Faces below this liveness score are rejected; `None` skips the liveness check.
    pub liveness_threshold: Option<f32>,
    /// A user's verifications and scans pending at once, at most.
    pub max_pending: usize,
}

/// The adapters verification works through.
#[derive(Clone)]
pub struct VerificationPorts {
    pub engine: Arc<dyn FaceEngine>,
    pub users: Arc<dyn UserStore>,
    pub jobs: Arc<dyn JobQueue>,
    pub blobs: Arc<dyn BlobStore>,
    pub clock: Arc<dyn Clock>,
    /// Live sessions standing in for selfies.
    pub sessions: LivenessSessionService,
}

debug_ports!(VerificationPorts);

/// Submits and processes user verification jobs.
#[derive(Clone)]
pub struct VerificationService {
    ports: VerificationPorts,
    policy: VerificationPolicy,
}

impl std::fmt::Debug for VerificationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationService")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl VerificationService {
    pub fn new(ports: VerificationPorts, policy: VerificationPolicy) -> Self {
        Self { ports, policy }
    }

    /// Stores the selfie and queues its verification for `user_id`.
    pub async fn submit(&self, user_id: &str, selfie: Selfie) -> Result<Job> {
        crate::jobs::ensure_room(&*self.ports.jobs, user_id, self.policy.max_pending).await?;
        let image = self.ports.sessions.selfie(user_id, selfie).await?;
        // Refuse what the worker would refuse before storing it.
        self.ports.engine.check_image(&image)?;
        let id = uuid::Uuid::new_v4().to_string();
        let upload_key = format!("{}{id}", crate::uploads::VERIFICATION_UPLOADS);
        self.ports.blobs.put(&upload_key, image).await?;
        let now = self.ports.clock.now();
        let job = Job {
            id,
            request: JobRequest::UserVerification {
                user_id: user_id.to_owned(),
                upload_key: upload_key.clone(),
            },
            state: JobState::Queued,
            attempts: 0,
            result: None,
            last_error: None,
            created_at: now,
            updated_at: now,
        };
        if let Err(e) = self.ports.jobs.enqueue(&job).await {
            // Nothing will consume the upload: do not keep it.
            let _ = self.ports.blobs.delete(&upload_key).await;
            return Err(e);
        }
        Ok(job)
    }

    /// A job, visible to the user it is for and to admins; to others it does not exist.
    pub async fn job(&self, caller: &Principal, id: &str) -> Result<Job> {
        let job = self.ports.jobs.job(id).await?;
        match job {
            Some(job)
                if caller.has(Scope::Admin) || caller.user_id() == Some(job.request.user_id()) =>
            {
                Ok(job)
            }
            _ => Err(Failure::not_found(format!("job {id}"))),
        }
    }

    pub(crate) fn result(
        &self,
        status: VerificationStatus,
        reason: Option<ErrorCode>,
        face_count: usize,
    ) -> VerificationResult {
        VerificationResult {
            status,
            reason: reason.map(|c| c.as_str().to_owned()),
            face_count,
            quality: None,
            liveness: None,
            similarity: None,
            model: self.ports.engine.model_id().to_string(),
        }
    }

    /// Decides one job. `Err` only for transient faults (the job is retried); every
    /// decision about the upload itself is an `Ok` result.
    pub(crate) async fn process(
        &self,
        user_id: &str,
        upload_key: &str,
    ) -> Result<VerificationResult> {
        if self.ports.users.user(user_id).await?.is_none() {
            return Ok(self.result(VerificationStatus::Failed, Some(ErrorCode::NotFound), 0));
        }
        let image = match self.ports.blobs.get(upload_key).await {
            Ok(image) => image,
            Err(e) if e.code == ErrorCode::NotFound => {
                return Ok(self.result(VerificationStatus::Failed, Some(ErrorCode::NotFound), 0));
            }
            Err(e) => return Err(e),
        };
        let (face, face_count) = match self.ports.engine.embed_main(image.clone()).await {
            Ok(found) => found,
            Err(e) if crate::jobs::is_permanent(e.code) => {
                return Ok(self.result(VerificationStatus::Rejected, Some(e.code), 0));
            }
            Err(e) => return Err(e),
        };
        let mut result = self.result(VerificationStatus::Rejected, None, face_count);
        result.quality = Some(face.quality);
        if face.quality < self.policy.min_quality {
            result.reason = Some(ErrorCode::LowQuality.as_str().to_owned());
            return Ok(result);
        }
        if let Some(threshold) = self.policy.liveness_threshold {
            let refusal = match self.ports.engine.liveness(image).await {
                Ok((_, score)) => {
                    result.liveness = Some(score);
                    (score < threshold).then_some(ErrorCode::SpoofSuspected)
                }
                Err(e) if crate::jobs::is_permanent(e.code) => Some(e.code),
                Err(e) => return Err(e),
            };
            if let Some(code) = refusal {
                result.reason = Some(code.as_str().to_owned());
                return Ok(result);
            }
        }
        if let Some(stored) = self.ports.users.user_face(user_id).await? {
            match similarity::compare(&stored.embedding, &face.embedding) {
                Ok(s) => {
                    result.similarity = Some(s);
                    if s < self.policy.threshold {
                        result.reason = Some(ErrorCode::FaceMismatch.as_str().to_owned());
                        return Ok(result);
                    }
                }
                Err(e) => {
                    result.reason = Some(e.code.as_str().to_owned());
                    return Ok(result);
                }
            }
        } else {
            self.ports
                .users
                .set_user_face(&UserFace {
                    user_id: user_id.to_owned(),
                    face: face.face,
                    quality: face.quality,
                    embedding: face.embedding,
                    created_at: self.ports.clock.now(),
                })
                .await?;
        }
        result.status = VerificationStatus::Verified;
        Ok(result)
    }
}
