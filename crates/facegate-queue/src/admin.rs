//! Creating the verification topics (tansu, like many managed brokers, does not create
//! topics on first use).

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use crate::{KafkaSettings, QueueError};

/// Creates the requests, results and dead-letter topics of `settings` that do not exist
/// yet, with `partitions` partitions and `replication` replicas each; existing topics
/// are left as they are. Returns the names of the topics it created.
pub async fn ensure_topics(
    settings: &KafkaSettings,
    partitions: i32,
    replication: i32,
) -> Result<Vec<String>, QueueError> {
    settings.validate()?;
    if partitions < 1 || replication < 1 {
        return Err(QueueError::InvalidSettings(format!(
            "topics need at least one partition and one replica (got {partitions} and {replication})"
        )));
    }
    let admin: AdminClient<DefaultClientContext> =
        settings
            .client_config(&[])
            .create()
            .map_err(|source| QueueError::Client {
                client: "admin client",
                source,
            })?;
    let names = [
        settings.requests_topic.as_str(),
        settings.results_topic.as_str(),
        settings.dlq_topic.as_str(),
    ];
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|name| NewTopic::new(name, partitions, TopicReplication::Fixed(replication)))
        .collect();
    let options = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(30)))
        .request_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(&topics, &options)
        .await
        .map_err(QueueError::Admin)?;
    let mut created = Vec::new();
    for result in results {
        match result {
            Ok(topic) => created.push(topic),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(QueueError::CreateTopic { topic, code }),
        }
    }
    if !created.is_empty() {
        tracing::info!(topics = ?created, partitions, replication, "Kafka topics created");
    }
    Ok(created)
}
