use facegate_queue::{
    DlqMessage, KafkaPublisher, MessageHeaders, PayloadEncoding, REQUEST_ID_HEADER,
    VerificationResultMessage,
};
use rdkafka::Message;

use crate::support::{Reader, with_topics};

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn result(id: &str) -> VerificationResultMessage {
    VerificationResultMessage {
        request_id: id.to_owned(),
        username: "ann".to_owned(),
        user_id: Some("u-1".to_owned()),
        status: "verified".to_owned(),
        reason: None,
        similarity: Some(0.73),
        quality: Some(0.9),
        liveness: Some(0.98),
        model: Some("w600k_mbf@1".to_owned()),
        finished_at: 1_760_000_000_123,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_arrive_keyed_by_request_id_with_their_headers() {
    let Some(settings) = with_topics("publish").await else {
        return;
    };
    let publisher = KafkaPublisher::new(&settings).unwrap();
    let headers = MessageHeaders::new().with_traceparent(Some(TRACEPARENT));
    let first = publisher
        .publish_result(&result("r1"), &headers)
        .await
        .unwrap();
    let second = publisher
        .publish_result(&result("r2"), &MessageHeaders::new())
        .await
        .unwrap();
    assert_eq!((first.partition, first.offset), (0, 0));
    assert_eq!((second.partition, second.offset), (0, 1));

    let reader = Reader::new(&settings, &settings.results_topic);
    let (message, body) = reader.next_json::<VerificationResultMessage>().await;
    assert_eq!(body, result("r1"));
    assert_eq!(message.key(), Some(&b"r1"[..]));
    let headers = MessageHeaders::from_message(&message);
    assert_eq!(headers.traceparent(), Some(TRACEPARENT));
    assert_eq!(headers.get(REQUEST_ID_HEADER), Some("r1"));

    let (message, body) = reader.next_json::<VerificationResultMessage>().await;
    assert_eq!(body, result("r2"));
    let headers = MessageHeaders::from_message(&message);
    assert_eq!(headers.traceparent(), None);
    assert_eq!(headers.get(REQUEST_ID_HEADER), Some("r2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_arrive_with_the_original_key_and_payload() {
    let Some(settings) = with_topics("publish_dlq").await else {
        return;
    };
    let publisher = KafkaPublisher::new(&settings).unwrap();
    let dead = DlqMessage::new(
        ("elsewhere", 2, 41),
        Some(b"r9"),
        b"\x00\xffbinary",
        "not JSON".to_owned(),
        0,
        1_760_000_000_000,
    );
    publisher
        .publish_dlq(&dead, &MessageHeaders::new())
        .await
        .unwrap();
    let (message, body) = Reader::new(&settings, &settings.dlq_topic)
        .next_json::<DlqMessage>()
        .await;
    assert_eq!(message.key(), Some(&b"r9"[..]));
    assert_eq!(body, dead);
    assert_eq!(body.payload_encoding, PayloadEncoding::Base64);
    assert_eq!(body.payload_bytes().unwrap(), b"\x00\xffbinary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_without_idempotence_publishes_too() {
    let Some(mut settings) = with_topics("publish_plain").await else {
        return;
    };
    settings.idempotent_producer = false;
    let publisher = KafkaPublisher::new(&settings).unwrap();
    publisher
        .publish_result(&result("r1"), &MessageHeaders::new())
        .await
        .unwrap();
    let (_, body) = Reader::new(&settings, &settings.results_topic)
        .next_json::<VerificationResultMessage>()
        .await;
    assert_eq!(body, result("r1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_to_a_missing_topic_fails_instead_of_hanging() {
    let Some(mut settings) = super::support::settings("publish_missing") else {
        return;
    };
    settings.delivery_timeout_ms = 3_000;
    let publisher = KafkaPublisher::new(&settings).unwrap();
    let error = publisher
        .publish_result(&result("r1"), &MessageHeaders::new())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains(&settings.results_topic),
        "{error}"
    );
}
