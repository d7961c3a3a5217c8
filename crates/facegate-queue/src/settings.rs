//! The typed settings of the Kafka adapter.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

use crate::QueueError;
use crate::messages::{DLQ_TOPIC, REQUESTS_TOPIC, RESULTS_TOPIC};

/// Where the broker is, which topics and group the worker uses, and how it retries.
///
/// Part of the server's settings (`[kafka]`); every field has a default. `properties` are
/// passed to librdkafka as they are (`security.protocol`, `sasl.*`, `session.timeout.ms`,
/// ...) after the adapter's own defaults, so they can override those, except the few
/// that at-least-once delivery depends on (`enable.auto.commit=false` and
/// `enable.auto.offset.store=false` on the consumer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSettings {
    /// The bootstrap servers, comma-separated `host:port`.
    pub brokers: String,
    /// The consumer group of the verification workers.
    pub group_id: String,
    /// The client id the broker sees (logs, quotas).
    pub client_id: String,
    pub requests_topic: String,
    pub results_topic: String,
    pub dlq_topic: String,
    /// Whether the producer is idempotent (no duplicates from its own retries). It needs
    /// the broker's InitProducerId; tansu 0.6 has it.
    pub idempotent_producer: bool,
    /// How long a publish may take, retries included, before it fails.
    pub delivery_timeout_ms: u64,
    /// How often a handler is tried on a transient failure before the message goes to
    /// the dead-letter topic (1 = no retry).
    pub max_attempts: u32,
    /// The pause after the first transient failure; doubled after each further one.
    pub retry_backoff_ms: u64,
    /// The longest pause between two attempts.
    pub retry_backoff_max_ms: u64,
    /// Extra librdkafka properties for every client (producer, consumer, admin).
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            brokers: "127.0.0.1:9092".to_owned(),
            group_id: "facegate-verification".to_owned(),
            client_id: "facegate".to_owned(),
            requests_topic: REQUESTS_TOPIC.to_owned(),
            results_topic: RESULTS_TOPIC.to_owned(),
            dlq_topic: DLQ_TOPIC.to_owned(),
            idempotent_producer: true,
            delivery_timeout_ms: 30_000,
            max_attempts: 5,
            retry_backoff_ms: 200,
            retry_backoff_max_ms: 10_000,
            properties: BTreeMap::new(),
        }
    }
}

/// Property names whose values are never shown.
const SECRET_MARKERS: [&str; 4] = ["password", "secret", "token", "key"];

impl KafkaSettings {
    /// Checks what librdkafka would only notice later, or never.
    pub fn validate(&self) -> Result<(), QueueError> {
        let invalid = |message: String| Err(QueueError::InvalidSettings(message));
        if self.brokers.trim().is_empty() {
            return invalid("kafka.brokers is empty".to_owned());
        }
        for (field, value) in [
            ("group_id", &self.group_id),
            ("client_id", &self.client_id),
            ("requests_topic", &self.requests_topic),
            ("results_topic", &self.results_topic),
            ("dlq_topic", &self.dlq_topic),
        ] {
            if value.trim().is_empty() {
                return invalid(format!("kafka.{field} is empty"));
            }
        }
        if self.dlq_topic == self.requests_topic || self.results_topic == self.requests_topic {
            return invalid(format!(
                "kafka.requests_topic ({}) must differ from results_topic and dlq_topic",
                self.requests_topic
            ));
        }
        if self.max_attempts == 0 {
            return invalid("kafka.max_attempts must be at least 1".to_owned());
        }
        if self.delivery_timeout_ms == 0 {
            return invalid("kafka.delivery_timeout_ms must be positive".to_owned());
        }
        if self.retry_backoff_max_ms < self.retry_backoff_ms {
            return invalid(format!(
                "kafka.retry_backoff_max_ms ({}) is below retry_backoff_ms ({})",
                self.retry_backoff_max_ms, self.retry_backoff_ms
            ));
        }
        Ok(())
    }

    /// A copy safe to print: the values of properties that look like secrets
    /// (`sasl.password`, `ssl.key.password`, ...) are replaced.
    #[must_use]
    pub fn redacted(&self) -> Self {
        let mut copy = self.clone();
        for (name, value) in &mut copy.properties {
            let name = name.to_ascii_lowercase();
            if SECRET_MARKERS.iter().any(|marker| name.contains(marker)) {
                "<redacted>".clone_into(value);
            }
        }
        copy
    }

    /// The pause before attempt `attempt + 1`, after `attempt` (>= 1) transient failures.
    pub fn retry_backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(32);
        let millis = self
            .retry_backoff_ms
            .saturating_mul(1_u64 << doublings)
            .min(self.retry_backoff_max_ms);
        Duration::from_millis(millis)
    }

    /// The configuration a client starts from: brokers, client id, the client's
    /// `defaults`, then `properties` (which may override those defaults).
    pub(crate) fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", &self.client_id);
        for (name, value) in defaults {
            config.set(*name, *value);
        }
        for (name, value) in &self.properties {
            config.set(name, value);
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_name_the_contract_topics() {
        let settings = KafkaSettings::default();
        settings.validate().unwrap();
        assert_eq!(settings.requests_topic, "facegate.verification.requests");
        assert_eq!(settings.results_topic, "facegate.verification.results");
        assert_eq!(settings.dlq_topic, "facegate.dlq");
        assert_eq!(settings.group_id, "facegate-verification");
    }

    #[test]
    fn a_partial_table_keeps_the_other_defaults() {
        let settings: KafkaSettings = serde_json::from_str(
            r#"{"brokers": "kafka:9092", "properties": {"session.timeout.ms": "6000"}}"#,
        )
        .unwrap();
        assert_eq!(settings.brokers, "kafka:9092");
        assert_eq!(settings.max_attempts, 5);
        assert_eq!(settings.properties["session.timeout.ms"], "6000");
        assert!(serde_json::from_str::<KafkaSettings>(r#"{"broker": "x"}"#).is_err());
    }

    #[test]
    fn validation_names_the_offending_field() {
        let check = |change: fn(&mut KafkaSettings), expected: &str| {
            let mut settings = KafkaSettings::default();
            change(&mut settings);
            let message = settings.validate().unwrap_err().to_string();
            assert!(message.contains(expected), "{message}");
        };
        check(|s| s.brokers = " ".into(), "kafka.brokers");
        check(|s| s.dlq_topic = String::new(), "kafka.dlq_topic");
        check(|s| s.dlq_topic.clone_from(&s.requests_topic), "must differ");
        check(|s| s.max_attempts = 0, "max_attempts");
        check(|s| s.retry_backoff_max_ms = 1, "retry_backoff_max_ms");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let settings = KafkaSettings::default();
        let millis: Vec<u128> = (1..=9)
            .map(|attempt| settings.retry_backoff(attempt).as_millis())
            .collect();
        assert_eq!(
            millis,
            [200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]
        );
        assert_eq!(settings.retry_backoff(u32::MAX).as_millis(), 10_000);
    }

    #[test]
    fn redaction_hides_secret_properties_only() {
        let mut settings = KafkaSettings::default();
        settings
            .properties
            .insert("sasl.password".into(), "hunter2".into());
        settings
            .properties
            .insert("security.protocol".into(), "SASL_SSL".into());
        let shown = settings.redacted();
        assert_eq!(shown.properties["sasl.password"], "<redacted>");
        assert_eq!(shown.properties["security.protocol"], "SASL_SSL");
        assert_eq!(settings.properties["sasl.password"], "hunter2");
    }

    /// librdkafka is built with OpenSSL: a managed broker's TLS and SASL/SCRAM settings
    /// make a client (without OpenSSL, librdkafka refuses `security.protocol=SASL_SSL`).
    #[test]
    fn clients_speak_tls_and_sasl_scram() {
        let mut settings = KafkaSettings::default();
        for (name, value) in [
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "facegate"),
            ("sasl.password", "secret"),
            ("ssl.endpoint.identification.algorithm", "https"),
        ] {
            settings.properties.insert(name.into(), value.into());
        }
        let producer: Result<rdkafka::producer::BaseProducer, _> =
            settings.client_config(&[]).create();
        assert!(producer.is_ok(), "{:?}", producer.err());
    }
}
