//! Per-test topics, a reader that looks at a topic from its start, scripted handlers and
//! a worker running in the background.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use facegate_queue::{
    HandlerOutcome, ImageRef, IncomingMessage, KafkaConsumer, KafkaPublisher, KafkaSettings,
    QueueError, RequestHandler, VerificationRequest, ensure_topics,
};
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

/// The broker the tests use.
const BROKERS_VARIABLE: &str = "FACEGATE_TEST_KAFKA_BROKERS";
/// When `1`, a missing broker fails the tests instead of skipping them.
const REQUIRE_VARIABLE: &str = "FACEGATE_REQUIRE_SERVICES";
/// How long a test waits for anything the broker does.
pub const WAIT: Duration = Duration::from_mins(1);

/// Settings with topics and a group no other test uses, or `None` (test skipped) when
/// no broker is configured. The topics are not created yet.
pub fn settings(test: &str) -> Option<KafkaSettings> {
    let Ok(brokers) = std::env::var(BROKERS_VARIABLE) else {
        assert!(
            std::env::var(REQUIRE_VARIABLE).as_deref() != Ok("1"),
            "{REQUIRE_VARIABLE}=1 but {BROKERS_VARIABLE} is not set: start a broker with \
             `export {BROKERS_VARIABLE}=\"$(scripts/test-kafka.sh start)\"`"
        );
        eprintln!("skipping {test}: {BROKERS_VARIABLE} is not set (scripts/test-kafka.sh start)");
        return None;
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut settings = KafkaSettings {
        brokers,
        group_id: format!("test-{test}-{id}"),
        client_id: format!("facegate-test-{test}"),
        requests_topic: format!("test.{test}.{id}.requests"),
        results_topic: format!("test.{test}.{id}.results"),
        dlq_topic: format!("test.{test}.{id}.dlq"),
        delivery_timeout_ms: 20_000,
        max_attempts: 3,
        retry_backoff_ms: 20,
        retry_backoff_max_ms: 200,
        ..KafkaSettings::default()
    };
    // A worker that dies without leaving the group holds its partitions this long.
    settings
        .properties
        .insert("session.timeout.ms".into(), "6000".into());
    settings
        .properties
        .insert("heartbeat.interval.ms".into(), "500".into());
    Some(settings)
}

/// [`settings`] with the three topics created, one partition each (one order).
pub async fn with_topics(test: &str) -> Option<KafkaSettings> {
    let settings = settings(test)?;
    ensure_topics(&settings, 1, 1).await.unwrap();
    Some(settings)
}

pub fn request(id: &str) -> VerificationRequest {
    VerificationRequest {
        request_id: id.to_owned(),
        username: format!("user-of-{id}"),
        image: ImageRef::Key(format!("uploads/{id}.jpg")),
        callback_url: None,
    }
}

/// Reads one partition of a topic from its first message, outside any group.
pub struct Reader {
    consumer: StreamConsumer,
}

impl Reader {
    pub fn new(settings: &KafkaSettings, topic: &str) -> Self {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &settings.brokers)
            .set("group.id", format!("{}-reader", settings.group_id))
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut partitions = TopicPartitionList::new();
        partitions
            .add_partition_offset(topic, 0, Offset::Beginning)
            .unwrap();
        consumer.assign(&partitions).unwrap();
        Self { consumer }
    }

    pub async fn next(&self) -> OwnedMessage {
        tokio::time::timeout(WAIT, self.consumer.recv())
            .await
            .expect("no message within the wait")
            .unwrap()
            .detach()
    }

    /// The next message's payload as JSON.
    pub async fn next_json<T: serde::de::DeserializeOwned>(&self) -> (OwnedMessage, T) {
        let message = self.next().await;
        let value = serde_json::from_slice(message.payload().unwrap()).unwrap();
        (message, value)
    }

    /// Asserts that nothing more arrives within `quiet`.
    pub async fn assert_no_more(&self, quiet: Duration) {
        if let Ok(message) = tokio::time::timeout(quiet, self.consumer.recv()).await {
            let message = message.unwrap();
            panic!(
                "unexpected message at offset {}: {:?}",
                message.offset(),
                message.payload().map(String::from_utf8_lossy)
            );
        }
    }
}

/// The offset the group committed on partition 0 of the requests topic.
pub async fn committed_offset(settings: &KafkaSettings) -> Option<i64> {
    let settings = settings.clone();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &settings.brokers)
            .set("group.id", &settings.group_id)
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut partitions = TopicPartitionList::new();
        partitions.add_partition(&settings.requests_topic, 0);
        let committed = consumer
            .committed_offsets(partitions, Duration::from_secs(20))
            .unwrap();
        match committed
            .find_partition(&settings.requests_topic, 0)
            .unwrap()
            .offset()
        {
            Offset::Offset(offset) => Some(offset),
            _ => None,
        }
    })
    .await
    .unwrap()
}

type Script = Box<dyn Fn(&IncomingMessage) -> HandlerOutcome + Send + Sync>;

/// A handler that reports every call, may wait for a permit before answering, and
/// answers what its script says.
pub struct ScriptedHandler {
    calls: mpsc::UnboundedSender<IncomingMessage>,
    gate: Option<Arc<Semaphore>>,
    script: Script,
}

impl ScriptedHandler {
    pub fn new(
        script: impl Fn(&IncomingMessage) -> HandlerOutcome + Send + Sync + 'static,
    ) -> (Self, mpsc::UnboundedReceiver<IncomingMessage>) {
        let (calls, seen) = mpsc::unbounded_channel();
        let handler = Self {
            calls,
            gate: None,
            script: Box::new(script),
        };
        (handler, seen)
    }

    /// Always done.
    pub fn done() -> (Self, mpsc::UnboundedReceiver<IncomingMessage>) {
        Self::new(|_| HandlerOutcome::Done)
    }

    /// Each call waits for a permit of the returned semaphore before answering.
    pub fn gated(mut self) -> (Self, Arc<Semaphore>) {
        let gate = Arc::new(Semaphore::new(0));
        self.gate = Some(Arc::clone(&gate));
        (self, gate)
    }
}

#[async_trait]
impl RequestHandler for ScriptedHandler {
    async fn handle(&self, message: &IncomingMessage) -> HandlerOutcome {
        self.calls.send(message.clone()).unwrap();
        if let Some(gate) = &self.gate {
            gate.acquire().await.unwrap().forget();
        }
        (self.script)(message)
    }
}

/// The next call a handler saw.
pub async fn next_call(seen: &mut mpsc::UnboundedReceiver<IncomingMessage>) -> IncomingMessage {
    tokio::time::timeout(WAIT, seen.recv())
        .await
        .expect("the handler was not called within the wait")
        .unwrap()
}

/// A consumer loop running in the background.
pub struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), QueueError>>,
}

impl Worker {
    pub fn spawn(settings: &KafkaSettings, handler: ScriptedHandler) -> Self {
        let publisher = KafkaPublisher::new(settings).unwrap();
        let consumer = KafkaConsumer::new(settings, publisher).unwrap();
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(async move { consumer.run(&handler, stopped).await });
        Self { stop, task }
    }

    /// Asks the loop to stop and waits until it returned.
    pub async fn stop(self) -> Result<(), QueueError> {
        self.stop.send(true).unwrap();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the worker did not stop within the wait")
            .unwrap()
    }

    /// Kills the loop where it is, as a crash would (nothing more is committed).
    pub async fn kill(self) {
        self.task.abort();
        assert!(self.task.await.unwrap_err().is_cancelled());
    }
}
