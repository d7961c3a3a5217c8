//! What the consumer group does to this worker, in its log: the partitions it is given
//! or loses at each rebalance, and group errors. Without it a worker waiting to be
//! given partitions (a rebalance held up by a member that died) looks just like an idle
//! one.

use rdkafka::TopicPartitionList;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use tracing::{info, warn};

/// The client context of the requests consumer.
#[derive(Debug, Clone)]
pub(crate) struct GroupContext {
    group_id: String,
}

impl GroupContext {
    pub(crate) fn new(group_id: &str) -> Self {
        Self {
            group_id: group_id.to_owned(),
        }
    }
}

impl ClientContext for GroupContext {}

impl ConsumerContext for GroupContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(partitions) => info!(
                group_id = %self.group_id,
                partitions = %describe(partitions),
                "Kafka partitions assigned"
            ),
            Rebalance::Revoke(partitions) => info!(
                group_id = %self.group_id,
                partitions = %describe(partitions),
                "Kafka partitions revoked"
            ),
            Rebalance::Error(error) => warn!(
                group_id = %self.group_id,
                error = %error,
                "Kafka consumer group rebalance failed"
            ),
        }
    }
}

/// `topic/partition` for each element, comma-separated; `none` for an empty list.
fn describe(partitions: &TopicPartitionList) -> String {
    let names: Vec<String> = partitions
        .elements()
        .iter()
        .map(|element| format!("{}/{}", element.topic(), element.partition()))
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_listed_by_topic_and_number() {
        let mut partitions = TopicPartitionList::new();
        assert_eq!(describe(&partitions), "none");
        partitions.add_partition("requests", 0);
        partitions.add_partition("requests", 2);
        assert_eq!(describe(&partitions), "requests/0,requests/2");
    }
}
