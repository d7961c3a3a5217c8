//! The Kafka transport of facegate's verification worker.
//!
//! - [`messages`]: the JSON of the requests, results and dead-letter topics, and the
//!   checked parsing of requests.
//! - [`KafkaPublisher`]: results and dead letters, each awaited until acknowledged.
//! - [`KafkaConsumer`] / [`run_consumer`]: the at-least-once loop that feeds a
//!   [`RequestHandler`] and commits only once a message is settled.
//! - [`ensure_topics`]: creates the three topics.
//!
//! The business logic lives in the server crate; this crate knows nothing of faces.

mod admin;
mod consumer;
mod error;
mod group;
mod headers;
pub mod messages;
mod publisher;
mod settings;

pub use admin::ensure_topics;
pub use consumer::{HandlerOutcome, IncomingMessage, KafkaConsumer, RequestHandler, run_consumer};
pub use error::QueueError;
pub use headers::{MessageHeaders, REQUEST_ID_HEADER, TRACEPARENT_HEADER};
pub use messages::{
    DLQ_TOPIC, DlqMessage, ImageRef, PayloadEncoding, REQUESTS_TOPIC, RESULTS_TOPIC,
    RequestParseError, VerificationRequest, VerificationResultMessage,
};
pub use publisher::{Delivery, KafkaPublisher};
pub use settings::KafkaSettings;
