//! Publishing results and dead letters, each awaited until the broker acknowledged it.

use std::time::Duration;

use rdkafka::producer::{FutureProducer, FutureRecord};
use serde::Serialize;

use crate::headers::{MessageHeaders, REQUEST_ID_HEADER};
use crate::messages::{DlqMessage, VerificationRequest, VerificationResultMessage};
use crate::{KafkaSettings, QueueError};

/// Where the broker stored a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub partition: i32,
    pub offset: i64,
}

/// A producer for the verification topics. Cheap to clone (the clones share one
/// librdkafka producer); every publish returns only once the message is acknowledged by
/// all in-sync replicas (`acks=all`), so a caller that commits afterwards never loses it.
#[derive(Clone)]
pub struct KafkaPublisher {
    producer: FutureProducer,
    requests_topic: String,
    results_topic: String,
    dlq_topic: String,
    delivery_timeout: Duration,
}

impl std::fmt::Debug for KafkaPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaPublisher")
            .field("results_topic", &self.results_topic)
            .field("dlq_topic", &self.dlq_topic)
            .finish_non_exhaustive()
    }
}

impl KafkaPublisher {
    /// A producer for `settings`' brokers. Connects lazily: a broker that is down shows
    /// up as a failed publish, not here.
    pub fn new(settings: &KafkaSettings) -> Result<Self, QueueError> {
        settings.validate()?;
        let mut config = settings.client_config(&[("acks", "all")]);
        // The delivery timeout and idempotence are settings of their own.
        config
            .set(
                "message.timeout.ms",
                settings.delivery_timeout_ms.to_string(),
            )
            .set(
                "enable.idempotence",
                if settings.idempotent_producer {
                    "true"
                } else {
                    "false"
                },
            );
        let producer = config.create().map_err(|source| QueueError::Client {
            client: "producer",
            source,
        })?;
        Ok(Self {
            producer,
            requests_topic: settings.requests_topic.clone(),
            results_topic: settings.results_topic.clone(),
            dlq_topic: settings.dlq_topic.clone(),
            delivery_timeout: Duration::from_millis(settings.delivery_timeout_ms),
        })
    }

    /// Publishes a result keyed by its request id, with a `request_id` header besides
    /// `headers`.
    pub async fn publish_result(
        &self,
        result: &VerificationResultMessage,
        headers: &MessageHeaders,
    ) -> Result<Delivery, QueueError> {
        let headers = headers
            .clone()
            .with(REQUEST_ID_HEADER, result.request_id.clone());
        let payload = encode(&self.results_topic, result)?;
        self.send_raw(
            &self.results_topic,
            Some(result.request_id.as_bytes()),
            &payload,
            &headers,
        )
        .await
    }

    /// Publishes a dead letter keyed by the original message's key.
    pub async fn publish_dlq(
        &self,
        dead_letter: &DlqMessage,
        headers: &MessageHeaders,
    ) -> Result<Delivery, QueueError> {
        let payload = encode(&self.dlq_topic, dead_letter)?;
        let key = dead_letter.key.as_deref().map(str::as_bytes);
        self.send_raw(&self.dlq_topic, key, &payload, headers).await
    }

    /// Publishes a request keyed by its request id, with a `request_id` header besides
    /// `headers`: what the HTTP side does to hand a verification to the workers.
    pub async fn publish_request(
        &self,
        request: &VerificationRequest,
        headers: &MessageHeaders,
    ) -> Result<Delivery, QueueError> {
        let headers = headers
            .clone()
            .with(REQUEST_ID_HEADER, request.request_id.clone());
        self.send_raw(
            &self.requests_topic,
            Some(request.request_id.as_bytes()),
            &request.to_json(),
            &headers,
        )
        .await
    }

    /// Publishes arbitrary bytes to any topic (replaying dead letters, tests).
    pub async fn send_raw(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: &MessageHeaders,
    ) -> Result<Delivery, QueueError> {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(topic).payload(payload);
        if let Some(key) = key {
            record = record.key(key);
        }
        if !headers.is_empty() {
            record = record.headers(headers.to_kafka());
        }
        // The queue timeout bounds the wait for room in librdkafka's local queue; the
        // delivery itself is bounded by message.timeout.ms.
        match self.producer.send(record, self.delivery_timeout).await {
            Ok(delivery) => Ok(Delivery {
                partition: delivery.partition,
                offset: delivery.offset,
            }),
            Err((source, _message)) => Err(QueueError::Publish {
                topic: topic.to_owned(),
                source,
            }),
        }
    }
}

fn encode(topic: &str, message: &impl Serialize) -> Result<Vec<u8>, QueueError> {
    serde_json::to_vec(message).map_err(|source| QueueError::Encode {
        topic: topic.to_owned(),
        source,
    })
}
