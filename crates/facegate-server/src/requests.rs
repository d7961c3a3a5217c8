//! Verification requests from Kafka (`facegate worker`): each message names a user and
//! an uploaded image (`image_key` in the object store, or `image_path` on the shared
//! volume). The worker turns it into a job of the durable job queue under the request's
//! id, runs it like any other job (detect, quality, liveness, embed, store the face, mark
//! the user verified; the result is published on the results topic by
//! [`KafkaResults`] before the job is marked done) and deletes the upload. The offset is
//! committed only after that, so a crash delivers the message again, and the request id
//! makes the repeat harmless: a done job is not run again, only its upload is deleted.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use facegate_blob::ObjectBlobStore;
use facegate_core::account::{Job, JobRequest, JobResult, JobState, VerificationResult};
use facegate_core::jobs::{JobOutcome, JobService};
use facegate_core::ports::{BlobStore, Clock, JobListener, JobQueue, StoredObject, UserStore};
use facegate_core::{ErrorCode, Failure, Result};
use facegate_queue::messages::{ImageRef, VerificationRequest, VerificationResultMessage};
use facegate_queue::{
    HandlerOutcome, IncomingMessage, KafkaConsumer, KafkaPublisher, KafkaSettings, MessageHeaders,
    RequestHandler,
};
use tokio::sync::watch;

/// Keys of the shared volume start with this, so one blob store serves both sources.
const VOLUME_PREFIX: &str = "shared-volume/";

/// How often a request waits for its job's lease or retry time to pass.
const WAIT_POLL: Duration = Duration::from_millis(250);

/// Uploads by key from the object store, and by path from the shared volume.
pub struct UploadSources {
    objects: Arc<dyn BlobStore>,
    volume: Option<(PathBuf, ObjectBlobStore)>,
}

impl std::fmt::Debug for UploadSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadSources")
            .field("volume", &self.volume.as_ref().map(|(root, _)| root))
            .finish_non_exhaustive()
    }
}

impl UploadSources {
    pub fn new(objects: Arc<dyn BlobStore>, volume: Option<&Path>) -> Result<Self> {
        let volume = volume
            .map(|root| ObjectBlobStore::local(root).map(|store| (root.to_path_buf(), store)))
            .transpose()?;
        Ok(Self { objects, volume })
    }

    /// The key an `image_path` is read by: relative to the shared volume, or absolute
    /// inside it; `..` never leaves it.
    fn volume_key(&self, path: &str) -> Result<String> {
        let Some((root, _)) = &self.volume else {
            return Err(Failure::validation(
                "image_path is not accepted: worker.shared_volume is not set",
            ));
        };
        let path = Path::new(path);
        let relative = if path.is_absolute() {
            path.strip_prefix(root).map_err(|_| {
                Failure::validation(format!(
                    "image_path {} is outside the shared volume",
                    path.display()
                ))
            })?
        } else {
            path
        };
        let parts: Option<Vec<&str>> = relative
            .components()
            .map(|c| match c {
                Component::Normal(part) => part.to_str(),
                _ => None,
            })
            .collect();
        match parts {
            Some(parts) if !parts.is_empty() => Ok(format!("{VOLUME_PREFIX}{}", parts.join("/"))),
            _ => Err(Failure::validation(format!(
                "image_path {} is not a file path inside the shared volume",
                path.display()
            ))),
        }
    }

    fn route<'a>(&'a self, key: &'a str) -> (&'a dyn BlobStore, &'a str) {
        match (key.strip_prefix(VOLUME_PREFIX), &self.volume) {
            (Some(path), Some((_, volume))) => (volume, path),
            _ => (self.objects.as_ref(), key),
        }
    }
}

#[async_trait]
impl BlobStore for UploadSources {
    async fn get(&self, key: &str) -> Result<Vec<u8>> {
        let (store, key) = self.route(key);
        store.get(key).await
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        let (store, key) = self.route(key);
        store.put(key, bytes).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let (store, key) = self.route(key);
        store.delete(key).await
    }

    async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<StoredObject>> {
        let (store, inner) = self.route(prefix);
        let removed = &prefix[..prefix.len() - inner.len()];
        let mut objects = store.list(inner, limit).await?;
        for object in &mut objects {
            object.key.insert_str(0, removed);
        }
        Ok(objects)
    }
}

/// The adapters the request worker works through.
#[derive(Clone)]
pub struct RequestPorts {
    pub users: Arc<dyn UserStore>,
    pub queue: Arc<dyn JobQueue>,
    pub uploads: Arc<UploadSources>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RequestPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestPorts")
            .field("uploads", &self.uploads)
            .finish_non_exhaustive()
    }
}

/// Consumes the requests topic and runs each request as a job.
#[derive(Debug, Clone)]
pub struct RequestWorker {
    settings: KafkaSettings,
    publisher: KafkaPublisher,
    ports: RequestPorts,
    jobs: JobService,
    lease_ms: i64,
}

impl RequestWorker {
    pub fn new(
        settings: KafkaSettings,
        publisher: KafkaPublisher,
        ports: RequestPorts,
        jobs: JobService,
        lease_ms: i64,
    ) -> Self {
        Self {
            settings,
            publisher,
            ports,
            jobs,
            lease_ms,
        }
    }

    /// Consumes until `stop` turns true; the request in progress is finished first.
    pub async fn run(self, stop: watch::Receiver<bool>) {
        let consumer = match KafkaConsumer::new(&self.settings, self.publisher.clone()) {
            Ok(consumer) => consumer,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the Kafka consumer");
                return;
            }
        };
        if let Err(e) = consumer.run(&self, stop).await {
            tracing::error!(error = %e, "the Kafka consumer stopped");
        }
    }

    /// Runs the request; `Ok(Permanent)` for requests that can never succeed.
    async fn process(&self, request: &VerificationRequest) -> Result<HandlerOutcome> {
        let key = match &request.image {
            ImageRef::Key(key) => key.clone(),
            ImageRef::Path(path) => match self.ports.uploads.volume_key(path) {
                Ok(key) => key,
                Err(e) => return Ok(HandlerOutcome::Permanent(e.message)),
            },
        };
        let username = facegate_core::accounts::normalize_username(&request.username);
        let Some((user, _)) = self.ports.users.user_by_name(&username).await? else {
            // Permanent: the result says so and the upload is not kept.
            let result = VerificationResultMessage::failed(
                &request.request_id,
                &request.username,
                ErrorCode::NotFound.as_str(),
                self.ports.clock.now(),
            );
            publish(&self.publisher, &result).await?;
            self.ports.uploads.delete(&key).await?;
            return Ok(HandlerOutcome::Done);
        };
        loop {
            let Some(job) = self.ports.queue.job(&request.request_id).await? else {
                let now = self.ports.clock.now();
                let job = Job {
                    id: request.request_id.clone(),
                    request: JobRequest::UserVerification {
                        user_id: user.id.clone(),
                        upload_key: key.clone(),
                    },
                    state: JobState::Queued,
                    attempts: 0,
                    result: None,
                    last_error: None,
                    created_at: now,
                    updated_at: now,
                };
                // Another worker may have queued it in between: look again.
                if let Err(e) = self.ports.queue.enqueue(&job).await {
                    tracing::debug!(error = %e, "queueing the request's job failed");
                }
                continue;
            };
            if job.request.user_id() != user.id {
                return Ok(HandlerOutcome::Permanent(format!(
                    "request_id {} was already used for another user",
                    request.request_id
                )));
            }
            if job.state == JobState::Done {
                // Its result was published before it was marked done; a crash may have
                // left the upload.
                self.ports.uploads.delete(job.request.upload_key()).await?;
                return Ok(HandlerOutcome::Done);
            }
            let now = self.ports.clock.now();
            if let Some(claimed) = self
                .ports
                .queue
                .claim_job(&job.id, now, now + self.lease_ms)
                .await?
                && let JobOutcome::Finished(_) = self.jobs.run(claimed).await?
            {
                return Ok(HandlerOutcome::Done);
            }
            // Retried, leased to another worker (or to one that died, until the lease
            // ends), or waiting for its retry time.
            tokio::time::sleep(WAIT_POLL).await;
        }
    }
}

#[async_trait]
impl RequestHandler for RequestWorker {
    async fn handle(&self, message: &IncomingMessage) -> HandlerOutcome {
        let request = &message.request;
        let span = tracing::info_span!("verification_request", request_id = request.request_id);
        let _entered = span.enter();
        match self.process(request).await {
            Ok(outcome) => outcome,
            Err(e) if e.code == ErrorCode::ValidationFailed => HandlerOutcome::Permanent(e.message),
            Err(e) => HandlerOutcome::Transient(e.message),
        }
    }
}

async fn publish(publisher: &KafkaPublisher, result: &VerificationResultMessage) -> Result<()> {
    publisher
        .publish_result(result, &MessageHeaders::new())
        .await
        .map(|_| ())
        .map_err(|e| Failure::internal(format!("cannot publish the result: {e}")))
}

/// Publishes every finished verification (from Kafka or the HTTP API) on the results
/// topic, before the job is marked done: at least once, keyed by the request (job) id.
pub struct KafkaResults {
    publisher: KafkaPublisher,
    users: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for KafkaResults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaResults")
            .field("publisher", &self.publisher)
            .finish_non_exhaustive()
    }
}

impl KafkaResults {
    pub fn new(
        publisher: KafkaPublisher,
        users: Arc<dyn UserStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            publisher,
            users,
            clock,
        }
    }

    fn message(
        &self,
        job: &Job,
        username: String,
        r: &VerificationResult,
    ) -> VerificationResultMessage {
        VerificationResultMessage {
            request_id: job.id.clone(),
            username,
            user_id: Some(job.request.user_id().to_owned()),
            status: serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            reason: r.reason.clone(),
            similarity: r.similarity,
            quality: r.quality,
            liveness: r.liveness,
            model: Some(r.model.clone()),
            finished_at: self.clock.now(),
        }
    }
}

#[async_trait]
impl JobListener for KafkaResults {
    async fn job_finished(&self, job: &Job) -> Result<()> {
        let Some(JobResult::Verification(result)) = &job.result else {
            return Ok(());
        };
        let username = self
            .users
            .user(job.request.user_id())
            .await?
            .map(|u| u.username)
            .unwrap_or_default();
        publish(&self.publisher, &self.message(job, username, result)).await
    }
}

/// Tells every listener, in order; the first failure stops (and the job is run again).
pub struct Listeners(pub Vec<Arc<dyn JobListener>>);

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Listeners").field(&self.0.len()).finish()
    }
}

#[async_trait]
impl JobListener for Listeners {
    async fn job_finished(&self, job: &Job) -> Result<()> {
        for listener in &self.0 {
            listener.job_finished(job).await?;
        }
        Ok(())
    }
}
