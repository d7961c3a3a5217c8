//! The at-least-once consumer loop of the requests topic.
//!
//! One message at a time, in the order the broker hands them out (so each partition's
//! messages in order): parse, run the handler, dead-letter when needed, and only then
//! commit the next offset, synchronously. A crash at any point before the commit
//! delivers the message again, so handlers must be idempotent.

use std::sync::Arc;

use async_trait::async_trait;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::group::GroupContext;
use crate::headers::MessageHeaders;
use crate::messages::{DlqMessage, VerificationRequest};
use crate::{KafkaPublisher, KafkaSettings, QueueError};

/// A request handed to the handler, with where it came from.
#[derive(Debug, Clone)]
pub struct IncomingMessage {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// `traceparent` and `request_id` among others.
    pub headers: MessageHeaders,
    /// The broker's timestamp, Unix milliseconds.
    pub timestamp_ms: Option<i64>,
    pub request: VerificationRequest,
    /// 1 on the first try, then 2, 3, ... after transient failures of this delivery.
    /// A redelivery after a crash starts at 1 again.
    pub attempt: u32,
}

/// What became of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerOutcome {
    /// Finished (its result, if any, is durable): the offset is committed.
    Done,
    /// Can never succeed: the message goes to the dead-letter topic with this error,
    /// then the offset is committed.
    Permanent(String),
    /// Might succeed later: tried again after a pause, up to `max_attempts` in all,
    /// then dead-lettered with the last error.
    Transient(String),
}

/// The business side of the worker. A handler that publishes a result awaits
/// [`KafkaPublisher::publish_result`] before returning [`HandlerOutcome::Done`], so the
/// offset is committed only after the result is durable.
#[async_trait]
pub trait RequestHandler: Send + Sync {
    async fn handle(&self, message: &IncomingMessage) -> HandlerOutcome;
}

/// A consumer of the requests topic in the workers' group.
pub struct KafkaConsumer {
    consumer: Arc<StreamConsumer<GroupContext>>,
    publisher: KafkaPublisher,
    settings: KafkaSettings,
}

impl std::fmt::Debug for KafkaConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConsumer")
            .field("topic", &self.settings.requests_topic)
            .field("group_id", &self.settings.group_id)
            .finish_non_exhaustive()
    }
}

/// Whether a message was settled (handled or dead-lettered) or left for redelivery.
enum Step {
    Settled,
    Interrupted,
}

impl KafkaConsumer {
    /// A consumer subscribed to `settings.requests_topic`; dead letters go out through
    /// `publisher`. Offsets are never committed automatically; a group without a
    /// committed offset starts at the earliest message (`auto.offset.reset`, which
    /// `properties` may change). A requests topic created after this is picked up
    /// within about 10 s (`topic.metadata.refresh.interval.ms`).
    pub fn new(settings: &KafkaSettings, publisher: KafkaPublisher) -> Result<Self, QueueError> {
        settings.validate()?;
        // librdkafka notices a subscribed topic created after the start only at the next
        // metadata refresh: every 10 s instead of the default 5 minutes.
        let mut config = settings.client_config(&[
            ("auto.offset.reset", "earliest"),
            ("topic.metadata.refresh.interval.ms", "10000"),
        ]);
        config
            .set("group.id", &settings.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false");
        let consumer: StreamConsumer<GroupContext> = config
            .create_with_context(GroupContext::new(&settings.group_id))
            .map_err(|source| QueueError::Client {
                client: "consumer",
                source,
            })?;
        consumer
            .subscribe(&[settings.requests_topic.as_str()])
            .map_err(|source| QueueError::Subscribe {
                topic: settings.requests_topic.clone(),
                source,
            })?;
        Ok(Self {
            consumer: Arc::new(consumer),
            publisher,
            settings: settings.clone(),
        })
    }

    /// Consumes until `stop` turns true (or its sender is dropped): the message in
    /// progress is finished and committed first, except one waiting between two
    /// attempts, which is left uncommitted for redelivery. Then the consumer leaves
    /// the group. Broker errors are logged and waited out; only a fatal librdkafka
    /// error ends the loop with an error.
    pub async fn run<H>(
        self,
        handler: &H,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), QueueError>
    where
        H: RequestHandler + ?Sized,
    {
        let result = self.consume(handler, &mut stop).await;
        // Leaving the group blocks until the broker answers.
        let consumer = self.consumer;
        if let Err(error) = tokio::task::spawn_blocking(move || drop(consumer)).await {
            warn!(error = %error, "closing the Kafka consumer failed");
        }
        result
    }

    async fn consume<H>(
        &self,
        handler: &H,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<(), QueueError>
    where
        H: RequestHandler + ?Sized,
    {
        // Consecutive consumer errors, for the pause before the next try.
        let mut errors = 0;
        loop {
            let received = tokio::select! {
                biased;
                () = stop_requested(stop) => return Ok(()),
                received = self.consumer.recv() => received.map(|message| message.detach()),
            };
            let message = match received {
                Ok(message) => {
                    errors = 0;
                    message
                }
                Err(KafkaError::MessageConsumptionFatal(code)) => {
                    return Err(QueueError::Consume(KafkaError::MessageConsumptionFatal(
                        code,
                    )));
                }
                Err(error) => {
                    warn!(
                        error = %error,
                        topic = %self.settings.requests_topic,
                        "Kafka consumer error; retrying"
                    );
                    errors += 1;
                    if !pause(stop, self.settings.retry_backoff(errors)).await {
                        return Ok(());
                    }
                    continue;
                }
            };
            match self.process(&message, handler, stop).await {
                Step::Settled => self.commit(&message).await,
                Step::Interrupted => return Ok(()),
            }
        }
    }

    async fn process<H>(
        &self,
        message: &OwnedMessage,
        handler: &H,
        stop: &mut watch::Receiver<bool>,
    ) -> Step
    where
        H: RequestHandler + ?Sized,
    {
        let default_id = message
            .key()
            .and_then(|k| std::str::from_utf8(k).ok())
            .filter(|k| !k.trim().is_empty())
            .map_or_else(
                || {
                    format!(
                        "{}-{}-{}",
                        message.topic(),
                        message.partition(),
                        message.offset()
                    )
                },
                str::to_owned,
            );
        let payload = message.payload().unwrap_or_default();
        let request = match VerificationRequest::parse(payload, Some(default_id)) {
            Ok(request) => request,
            Err(error) => return self.dead_letter(message, error.to_string(), 0, stop).await,
        };
        let mut incoming = IncomingMessage {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec),
            headers: MessageHeaders::from_kafka(message.headers()),
            timestamp_ms: message.timestamp().to_millis(),
            request,
            attempt: 1,
        };
        loop {
            match handler.handle(&incoming).await {
                HandlerOutcome::Done => return Step::Settled,
                HandlerOutcome::Permanent(error) => {
                    return self
                        .dead_letter(message, error, incoming.attempt, stop)
                        .await;
                }
                HandlerOutcome::Transient(error)
                    if incoming.attempt >= self.settings.max_attempts =>
                {
                    return self
                        .dead_letter(message, error, incoming.attempt, stop)
                        .await;
                }
                HandlerOutcome::Transient(error) => {
                    let backoff = self.settings.retry_backoff(incoming.attempt);
                    warn!(
                        request_id = %incoming.request.request_id,
                        attempt = incoming.attempt,
                        backoff_ms = backoff.as_millis() as u64,
                        error = %error,
                        "verification request failed; retrying"
                    );
                    if !pause(stop, backoff).await {
                        return Step::Interrupted;
                    }
                    incoming.attempt += 1;
                }
            }
        }
    }

    /// Publishes a dead letter, retrying until the broker acknowledges it or `stop`.
    async fn dead_letter(
        &self,
        message: &OwnedMessage,
        error: String,
        attempts: u32,
        stop: &mut watch::Receiver<bool>,
    ) -> Step {
        let dead_letter = DlqMessage::new(
            (message.topic(), message.partition(), message.offset()),
            message.key(),
            message.payload().unwrap_or_default(),
            error,
            attempts,
            now_ms(),
        );
        let headers = MessageHeaders::from_kafka(message.headers());
        let mut failures = 0;
        loop {
            match self.publisher.publish_dlq(&dead_letter, &headers).await {
                Ok(delivery) => {
                    info!(
                        topic = %dead_letter.topic,
                        partition = dead_letter.partition,
                        offset = dead_letter.offset,
                        attempts,
                        dlq_offset = delivery.offset,
                        error = %dead_letter.error,
                        "message moved to the dead-letter topic"
                    );
                    return Step::Settled;
                }
                Err(error) => {
                    failures += 1;
                    warn!(error = %error, offset = dead_letter.offset, "cannot publish a dead letter; retrying");
                    if !pause(stop, self.settings.retry_backoff(failures)).await {
                        return Step::Interrupted;
                    }
                }
            }
        }
    }

    /// Commits the offset after `message`. A failed commit (say, the partition moved to
    /// another worker) only means the message is delivered again.
    async fn commit(&self, message: &OwnedMessage) {
        let mut offsets = TopicPartitionList::new();
        if let Err(error) = offsets.add_partition_offset(
            message.topic(),
            message.partition(),
            Offset::Offset(message.offset() + 1),
        ) {
            warn!(error = %error, "cannot build the offset to commit");
            return;
        }
        let consumer = Arc::clone(&self.consumer);
        // A synchronous commit blocks until the broker answers: off the async threads.
        let committed =
            tokio::task::spawn_blocking(move || consumer.commit(&offsets, CommitMode::Sync)).await;
        match committed {
            Ok(Ok(())) => debug!(
                topic = message.topic(),
                partition = message.partition(),
                offset = message.offset(),
                "offset committed"
            ),
            Ok(Err(error)) => warn!(
                error = %error,
                partition = message.partition(),
                offset = message.offset(),
                "commit failed; the message will be delivered again"
            ),
            Err(error) => warn!(error = %error, "commit task failed"),
        }
    }
}

/// Consumes the requests topic of `settings` with `handler` until `stop`: a publisher
/// for dead letters and a consumer, made here.
pub async fn run_consumer<H>(
    settings: &KafkaSettings,
    handler: &H,
    stop: watch::Receiver<bool>,
) -> Result<(), QueueError>
where
    H: RequestHandler + ?Sized,
{
    let publisher = KafkaPublisher::new(settings)?;
    KafkaConsumer::new(settings, publisher)?
        .run(handler, stop)
        .await
}

/// Resolves once stopping is asked for: the value is true or the sender is gone.
async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Sleeps for `duration`; false when stopping was asked for meanwhile.
async fn pause(stop: &mut watch::Receiver<bool>, duration: std::time::Duration) -> bool {
    tokio::select! {
        biased;
        () = stop_requested(stop) => false,
        () = tokio::time::sleep(duration) => true,
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}
