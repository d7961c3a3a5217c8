//! Where uploads wait for their jobs, and the sweep that deletes those no job will consume:
//! left by a crash between storing an upload and queueing its job, or by a delete that
//! failed after the job finished. The folders belong to facegate: nothing else may keep
//! objects there.

use crate::account::JobState;
use crate::failure::Result;
use crate::model::Timestamp;
use crate::ports::{BlobStore, JobQueue};

/// Selfies of user verifications submitted over HTTP, under their job's id.
pub const VERIFICATION_UPLOADS: &str = "uploads/verification/";
/// Photos of scans, under the scan's (and its job's) id.
pub const SCAN_PHOTOS: &str = "scans/";

/// Objects looked at per folder and sweep, at most; the next sweep takes the rest.
pub const SWEEP_BATCH: usize = 10_000;

/// Deletes the uploads stored before `before` that no queued or running job consumes;
/// returns how many.
pub async fn sweep<Q: JobQueue + ?Sized>(
    queue: &Q,
    blobs: &dyn BlobStore,
    before: Timestamp,
) -> Result<usize> {
    let mut deleted = 0;
    for folder in [VERIFICATION_UPLOADS, SCAN_PHOTOS] {
        for object in blobs.list(folder, SWEEP_BATCH).await? {
            if object.modified_at >= before || awaited(queue, &object.key).await? {
                continue;
            }
            blobs.delete(&object.key).await?;
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// Whether a pending job will still read `key` (stored under the job's id).
async fn awaited<Q: JobQueue + ?Sized>(queue: &Q, key: &str) -> Result<bool> {
    let id = key.rsplit('/').next().unwrap_or(key);
    Ok(queue
        .job(id)
        .await?
        .is_some_and(|job| job.state != JobState::Done && job.request.upload_key() == key))
}
