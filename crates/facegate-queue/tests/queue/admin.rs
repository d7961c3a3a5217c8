use std::time::Duration;

use facegate_queue::{KafkaSettings, QueueError, ensure_topics};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::support::settings;

fn partitions_of(settings: &KafkaSettings, topic: &str) -> Option<usize> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &settings.brokers)
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(20))
        .unwrap();
    let topic = metadata.topics().first()?;
    topic.error().is_none().then(|| topic.partitions().len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_topics_creates_the_missing_topics_once() {
    let Some(settings) = settings("admin") else {
        return;
    };
    let mut created = ensure_topics(&settings, 3, 1).await.unwrap();
    created.sort();
    let mut expected = vec![
        settings.requests_topic.clone(),
        settings.results_topic.clone(),
        settings.dlq_topic.clone(),
    ];
    expected.sort();
    assert_eq!(created, expected);

    let again = ensure_topics(&settings, 3, 1).await.unwrap();
    assert!(again.is_empty(), "created again: {again:?}");

    let check = settings.clone();
    let counts = tokio::task::spawn_blocking(move || {
        [
            &check.requests_topic,
            &check.results_topic,
            &check.dlq_topic,
        ]
        .map(|topic| partitions_of(&check, topic))
    })
    .await
    .unwrap();
    assert_eq!(counts, [Some(3); 3]);
}

#[tokio::test]
async fn ensure_topics_refuses_empty_topics() {
    let error = ensure_topics(&KafkaSettings::default(), 0, 1)
        .await
        .unwrap_err();
    assert!(matches!(error, QueueError::InvalidSettings(_)), "{error}");
}
