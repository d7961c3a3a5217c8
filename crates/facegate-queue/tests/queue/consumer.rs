use std::time::Duration;

use facegate_queue::{
    DlqMessage, HandlerOutcome, ImageRef, KafkaPublisher, MessageHeaders, PayloadEncoding,
    REQUEST_ID_HEADER,
};
use rdkafka::Message;

use crate::support::{
    Reader, ScriptedHandler, Worker, committed_offset, next_call, request, with_topics,
};

const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_done_request_is_committed_and_the_group_resumes_after_it() {
    let Some(settings) = with_topics("done").await else {
        return;
    };
    let publisher = KafkaPublisher::new(&settings).unwrap();
    let headers = MessageHeaders::new().with_traceparent(Some(TRACEPARENT));
    publisher
        .publish_request(&request("r1"), &headers)
        .await
        .unwrap();

    let (handler, mut seen) = ScriptedHandler::done();
    let worker = Worker::spawn(&settings, handler);
    let call = next_call(&mut seen).await;
    assert_eq!(call.request, request("r1"));
    assert_eq!(
        call.request.image,
        ImageRef::Key("uploads/r1.jpg".to_owned())
    );
    assert_eq!(call.headers.traceparent(), Some(TRACEPARENT));
    assert_eq!(call.headers.get(REQUEST_ID_HEADER), Some("r1"));
    assert_eq!(call.key.as_deref(), Some(&b"r1"[..]));
    assert_eq!(
        (
            call.topic.as_str(),
            call.partition,
            call.offset,
            call.attempt
        ),
        (settings.requests_topic.as_str(), 0, 0, 1)
    );
    worker.stop().await.unwrap();
    assert_eq!(committed_offset(&settings).await, Some(1));

    // The next worker of the group starts after the committed message.
    publisher
        .publish_request(&request("r2"), &MessageHeaders::new())
        .await
        .unwrap();
    let (handler, mut seen) = ScriptedHandler::done();
    let worker = Worker::spawn(&settings, handler);
    let call = next_call(&mut seen).await;
    assert_eq!(call.request.request_id, "r2");
    assert_eq!(call.offset, 1);
    worker.stop().await.unwrap();
    assert_eq!(committed_offset(&settings).await, Some(2));
    assert!(seen.try_recv().is_err(), "r1 was handled again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_dies_mid_request_leaves_it_for_the_next() {
    let Some(settings) = with_topics("crash").await else {
        return;
    };
    let publisher = KafkaPublisher::new(&settings).unwrap();
    publisher
        .publish_request(&request("r1"), &MessageHeaders::new())
        .await
        .unwrap();

    // The handler never finishes: the worker dies in the middle of it.
    let (handler, mut seen) = ScriptedHandler::done();
    let (handler, _gate) = handler.gated();
    let worker = Worker::spawn(&settings, handler);
    assert_eq!(next_call(&mut seen).await.request.request_id, "r1");
    worker.kill().await;
    assert_eq!(committed_offset(&settings).await, None);

    let (handler, mut seen) = ScriptedHandler::done();
    let worker = Worker::spawn(&settings, handler);
    let call = next_call(&mut seen).await;
    assert_eq!((call.request.request_id.as_str(), call.offset), ("r1", 0));
    worker.stop().await.unwrap();
    assert_eq!(committed_offset(&settings).await, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_finishes_and_commits_the_request_in_progress() {
    let Some(settings) = with_topics("stop").await else {
        return;
    };
    let publisher = KafkaPublisher::new(&settings).unwrap();
    for id in ["r1", "r2"] {
        publisher
            .publish_request(&request(id), &MessageHeaders::new())
            .await
            .unwrap();
    }
    let (handler, mut seen) = ScriptedHandler::done();
    let (handler, gate) = handler.gated();
    let worker = Worker::spawn(&settings, handler);
    assert_eq!(next_call(&mut seen).await.request.request_id, "r1");

    let stopping = tokio::spawn(worker.stop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !stopping.is_finished(),
        "stopped before the handler finished"
    );
    gate.add_permits(1);
    stopping.await.unwrap().unwrap();

    // r1 was finished and committed; r2 was never started.
    assert_eq!(committed_offset(&settings).await, Some(1));
    assert!(seen.try_recv().is_err(), "r2 was started after the stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparseable_and_permanently_failing_requests_go_to_the_dlq() {
    let Some(settings) = with_topics("permanent").await else {
        return;
    };
    let publisher = KafkaPublisher::new(&settings).unwrap();
    let traced = MessageHeaders::new().with_traceparent(Some(TRACEPARENT));
    let topic = &settings.requests_topic;
    publisher
        .send_raw(topic, Some(b"k0"), b"not json", &traced)
        .await
        .unwrap();
    publisher
        .send_raw(
            topic,
            None,
            br#"{"request_id": "r1", "username": "u"}"#,
            &MessageHeaders::new(),
        )
        .await
        .unwrap();
    publisher
        .send_raw(topic, None, b"\xff\xfe\x00", &MessageHeaders::new())
        .await
        .unwrap();
    publisher
        .publish_request(&request("r2"), &traced)
        .await
        .unwrap();
    publisher
        .publish_request(&request("r3"), &MessageHeaders::new())
        .await
        .unwrap();

    let (handler, mut seen) = ScriptedHandler::new(|message| {
        if message.request.request_id == "r2" {
            HandlerOutcome::Permanent("face_not_found: no face in the image".to_owned())
        } else {
            HandlerOutcome::Done
        }
    });
    let worker = Worker::spawn(&settings, handler);
    // Only the parseable requests reach the handler.
    assert_eq!(next_call(&mut seen).await.request.request_id, "r2");
    assert_eq!(next_call(&mut seen).await.request.request_id, "r3");

    let dlq = Reader::new(&settings, &settings.dlq_topic);
    let (message, dead) = dlq.next_json::<DlqMessage>().await;
    assert_eq!(message.key(), Some(&b"k0"[..]));
    assert_eq!(
        MessageHeaders::from_message(&message).traceparent(),
        Some(TRACEPARENT)
    );
    assert_eq!(
        (
            dead.topic.as_str(),
            dead.partition,
            dead.offset,
            dead.attempts
        ),
        (topic.as_str(), 0, 0, 0)
    );
    assert_eq!(dead.key.as_deref(), Some("k0"));
    assert_eq!(
        (dead.payload.as_str(), dead.payload_encoding),
        ("not json", PayloadEncoding::Utf8)
    );
    assert!(
        dead.error
            .starts_with("the payload is not a JSON request object"),
        "{}",
        dead.error
    );
    assert!(dead.failed_at > 1_700_000_000_000);

    let (_, dead) = dlq.next_json::<DlqMessage>().await;
    assert_eq!((dead.offset, dead.attempts), (1, 0));
    assert_eq!(
        dead.error,
        "neither image_path nor image_key is given: exactly one is required"
    );
    assert_eq!(dead.payload, r#"{"request_id": "r1", "username": "u"}"#);

    let (_, dead) = dlq.next_json::<DlqMessage>().await;
    assert_eq!((dead.offset, dead.attempts), (2, 0));
    assert_eq!(dead.payload_encoding, PayloadEncoding::Base64);
    assert_eq!(dead.payload_bytes().unwrap(), b"\xff\xfe\x00");

    let (message, dead) = dlq.next_json::<DlqMessage>().await;
    assert_eq!((dead.offset, dead.attempts), (3, 1));
    assert_eq!(dead.key.as_deref(), Some("r2"));
    assert_eq!(dead.error, "face_not_found: no face in the image");
    assert_eq!(dead.payload_bytes().unwrap(), request("r2").to_json());
    assert_eq!(
        MessageHeaders::from_message(&message).traceparent(),
        Some(TRACEPARENT)
    );

    worker.stop().await.unwrap();
    dlq.assert_no_more(Duration::from_millis(500)).await;
    assert_eq!(committed_offset(&settings).await, Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_then_dead_lettered() {
    let Some(settings) = with_topics("transient").await else {
        return;
    };
    assert_eq!(settings.max_attempts, 3);
    let publisher = KafkaPublisher::new(&settings).unwrap();
    for id in ["down", "flaky"] {
        publisher
            .publish_request(&request(id), &MessageHeaders::new())
            .await
            .unwrap();
    }
    let (handler, mut seen) = ScriptedHandler::new(|message| {
        match (message.request.request_id.as_str(), message.attempt) {
            ("flaky", 2) => HandlerOutcome::Done,
            (_, attempt) => HandlerOutcome::Transient(format!("database down (attempt {attempt})")),
        }
    });
    let worker = Worker::spawn(&settings, handler);
    let mut calls = Vec::new();
    for _ in 0..5 {
        let call = next_call(&mut seen).await;
        calls.push((call.request.request_id, call.attempt));
    }
    let expected = [
        ("down", 1),
        ("down", 2),
        ("down", 3),
        ("flaky", 1),
        ("flaky", 2),
    ];
    assert_eq!(
        calls,
        expected.map(|(id, attempt)| (id.to_owned(), attempt))
    );

    let dlq = Reader::new(&settings, &settings.dlq_topic);
    let (_, dead) = dlq.next_json::<DlqMessage>().await;
    assert_eq!(dead.key.as_deref(), Some("down"));
    assert_eq!((dead.offset, dead.attempts), (0, 3));
    assert_eq!(dead.error, "database down (attempt 3)");
    assert_eq!(dead.payload_bytes().unwrap(), request("down").to_json());

    worker.stop().await.unwrap();
    dlq.assert_no_more(Duration::from_millis(500)).await;
    assert_eq!(committed_offset(&settings).await, Some(2));
    assert!(seen.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_committed_while_the_dead_letter_is_not_acknowledged() {
    let Some(settings) = with_topics("dlq_down").await else {
        return;
    };
    let publisher = KafkaPublisher::new(&settings).unwrap();
    publisher
        .publish_request(&request("r1"), &MessageHeaders::new())
        .await
        .unwrap();
    let permanent = |_: &_| HandlerOutcome::Permanent("unreadable image".to_owned());

    // A dead-letter topic that does not exist: every publish of the dead letter fails.
    let mut broken = settings.clone();
    broken.dlq_topic = format!("{}-missing", settings.dlq_topic);
    broken.delivery_timeout_ms = 1_000;
    let (handler, mut seen) = ScriptedHandler::new(permanent);
    let worker = Worker::spawn(&broken, handler);
    assert_eq!(next_call(&mut seen).await.attempt, 1);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    worker.stop().await.unwrap();
    assert_eq!(committed_offset(&settings).await, None);

    // Once the dead letter can be published, the message is settled.
    let (handler, mut seen) = ScriptedHandler::new(permanent);
    let worker = Worker::spawn(&settings, handler);
    assert_eq!(next_call(&mut seen).await.request.request_id, "r1");
    let (_, dead) = Reader::new(&settings, &settings.dlq_topic)
        .next_json::<DlqMessage>()
        .await;
    assert_eq!((dead.offset, dead.attempts), (0, 1));
    assert_eq!(dead.error, "unreadable image");
    worker.stop().await.unwrap();
    assert_eq!(committed_offset(&settings).await, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_started_before_its_topics_exist_picks_them_up() {
    let Some(settings) = crate::support::settings("late_topics") else {
        return;
    };
    let (handler, mut seen) = ScriptedHandler::done();
    let worker = Worker::spawn(&settings, handler);
    tokio::time::sleep(Duration::from_secs(2)).await;
    facegate_queue::ensure_topics(&settings, 1, 1)
        .await
        .unwrap();
    let publisher = KafkaPublisher::new(&settings).unwrap();
    publisher
        .publish_request(&request("r1"), &MessageHeaders::new())
        .await
        .unwrap();
    // librdkafka looks for the subscribed topic again at the metadata refresh (10 s).
    assert_eq!(next_call(&mut seen).await.request.request_id, "r1");
    worker.stop().await.unwrap();
    assert_eq!(committed_offset(&settings).await, Some(1));
}
