//! The errors of the Kafka adapter.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// A failure of the Kafka transport. Payload problems of incoming messages are not errors
/// of this kind: they go to the dead-letter topic (see [`crate::RequestParseError`]).
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The settings cannot work (empty broker list, clashing topic names, ...).
    #[error("invalid Kafka settings: {0}")]
    InvalidSettings(String),
    /// librdkafka refused the client configuration.
    #[error("cannot create the Kafka {client}: {source}")]
    Client {
        client: &'static str,
        #[source]
        source: KafkaError,
    },
    /// The broker did not acknowledge a message.
    #[error("Kafka did not acknowledge the message to {topic}: {source}")]
    Publish {
        topic: String,
        #[source]
        source: KafkaError,
    },
    /// A message could not be encoded as JSON.
    #[error("cannot encode the message for {topic}: {source}")]
    Encode {
        topic: String,
        #[source]
        source: serde_json::Error,
    },
    /// Subscribing to the requests topic failed.
    #[error("cannot subscribe to {topic}: {source}")]
    Subscribe {
        topic: String,
        #[source]
        source: KafkaError,
    },
    /// librdkafka reported a fatal consumer error.
    #[error("the Kafka consumer failed: {0}")]
    Consume(#[source] KafkaError),
    /// The admin request to create topics failed as a whole.
    #[error("cannot create topics: {0}")]
    Admin(#[source] KafkaError),
    /// The broker refused to create one topic.
    #[error("cannot create topic {topic}: {code}")]
    CreateTopic {
        topic: String,
        code: RDKafkaErrorCode,
    },
}
