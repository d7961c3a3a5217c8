//! Inference off the async runtime: pipelines on dedicated threads fed by a bounded queue.

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, TrySendError, bounded};
use facegate_core::ModelId;
use facegate_core::ports::{Metrics, NoMetrics};

use crate::VisionError;
use crate::config::{ImageLimits, VisionConfig};
use crate::pipeline::Pipeline;

type Job = Box<dyn FnOnce(&mut Pipeline) + Send>;

/// A pool of [`Pipeline`]s, each on its own thread with its own sessions. Callers send
/// closures and get their result back on a oneshot channel; the caller's tracing span
/// travels with the job. When the queue is full, [`Engine::call`] refuses at once
/// ([`VisionError::Overloaded`]) instead of queueing without bound.
#[derive(Debug)]
pub struct Engine {
    sender: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
    model_id: ModelId,
    limits: ImageLimits,
}

impl Engine {
    /// Starts `config.workers` threads, each opening and warming up its own pipeline.
    /// Returns once every worker is ready, or the first start-up error.
    pub fn start(config: &VisionConfig) -> Result<Self, VisionError> {
        Self::start_with_metrics(config, &(Arc::new(NoMetrics) as Arc<dyn Metrics>))
    }

    /// Like [`Engine::start`], with every worker reporting its stage durations and
    /// embeddings to `metrics` (the warm-up is not reported).
    pub fn start_with_metrics(
        config: &VisionConfig,
        metrics: &Arc<dyn Metrics>,
    ) -> Result<Self, VisionError> {
        let (sender, receiver) = bounded::<Job>(config.queue_capacity.max(1));
        let (ready_tx, ready_rx) = crossbeam_channel::unbounded();
        let mut workers = Vec::new();
        for index in 0..config.workers.max(1) {
            let receiver = receiver.clone();
            let ready_tx = ready_tx.clone();
            let config = config.clone();
            let metrics = metrics.clone();
            let handle = std::thread::Builder::new()
                .name(format!("facegate-inference-{index}"))
                .spawn(move || {
                    let opened = Pipeline::open(&config).and_then(|mut p| {
                        p.warm_up()?;
                        p.set_metrics(metrics);
                        Ok(p)
                    });
                    let mut pipeline = match opened {
                        Ok(p) => {
                            let _ = ready_tx.send(Ok(p.model_id().clone()));
                            p
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    drop(ready_tx);
                    for job in receiver {
                        job(&mut pipeline);
                    }
                })
                .map_err(|e| VisionError::Inference(format!("cannot start a worker: {e}")))?;
            workers.push(handle);
        }
        drop(ready_tx);
        let mut model_id = None;
        for _ in 0..workers.len() {
            match ready_rx.recv() {
                Ok(Ok(id)) => model_id = Some(id),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(VisionError::EngineStopped),
            }
        }
        Ok(Self {
            sender: Some(sender),
            workers,
            model_id: model_id.ok_or(VisionError::EngineStopped)?,
            limits: config.limits,
        })
    }

    /// The embedding model every worker uses.
    pub fn model_id(&self) -> &ModelId {
        &self.model_id
    }

    /// The upload limits every worker decodes within.
    pub fn limits(&self) -> &ImageLimits {
        &self.limits
    }

    fn job<T, F>(f: F) -> (Job, oneshot::Receiver<Result<T, VisionError>>)
    where
        T: Send + 'static,
        F: FnOnce(&mut Pipeline) -> Result<T, VisionError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let span = tracing::Span::current();
        let job: Job = Box::new(move |pipeline| {
            let _entered = span.enter();
            let _ = tx.send(f(pipeline));
        });
        (job, rx)
    }

    fn sender(&self) -> Result<&Sender<Job>, VisionError> {
        self.sender.as_ref().ok_or(VisionError::EngineStopped)
    }

    /// Runs `f` on a free worker; refuses with [`VisionError::Overloaded`] when the queue
    /// is full.
    pub async fn call<T, F>(&self, f: F) -> Result<T, VisionError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Pipeline) -> Result<T, VisionError> + Send + 'static,
    {
        let (job, rx) = Self::job(f);
        self.sender()?.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => VisionError::Overloaded,
            TrySendError::Disconnected(_) => VisionError::EngineStopped,
        })?;
        rx.await.map_err(|_| VisionError::EngineStopped)?
    }

    /// Runs `f` on a free worker, waiting for room in the queue (for batch tools).
    pub fn call_blocking<T, F>(&self, f: F) -> Result<T, VisionError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Pipeline) -> Result<T, VisionError> + Send + 'static,
    {
        self.submit(f)?
            .recv()
            .map_err(|_| VisionError::EngineStopped)?
    }

    /// Queues `f` (waiting for room) and returns the receiver of its result, so that a
    /// caller can keep every worker busy.
    pub fn submit<T, F>(
        &self,
        f: F,
    ) -> Result<oneshot::Receiver<Result<T, VisionError>>, VisionError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Pipeline) -> Result<T, VisionError> + Send + 'static,
    {
        let (job, rx) = Self::job(f);
        self.sender()?
            .send(job)
            .map_err(|_| VisionError::EngineStopped)?;
        Ok(rx)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Closing the queue ends every worker's loop once its current job is done.
        self.sender.take();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}
