//! The webhook use-case over in-memory fakes: who may register, ownership, idempotent
//! queueing, payloads, and the retry schedule of deliveries.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use futures_util::FutureExt;
use serde_json::Value;

use super::*;
use crate::account::{
    AccessClaims, JobRequest, JobState, Role, VerificationResult, VerificationStatus,
};
use crate::ports::TokenRejection;
use crate::scans::{ScanResult, ScanStatus};
use crate::{BoundingBox, FaceDetection, Landmarks5};

/// The fakes never wait, so every future completes on its first poll.
fn run<F: Future>(future: F) -> F::Output {
    future.now_or_never().expect("the fakes never wait")
}

#[derive(Default)]
struct Memory {
    hooks: Vec<(Webhook, String)>,
    deliveries: Vec<(Delivery, Option<Timestamp>)>,
}

#[derive(Default)]
struct MemoryStore(Mutex<Memory>);

impl MemoryStore {
    fn deliveries(&self) -> Vec<Delivery> {
        let memory = self.0.lock().unwrap();
        memory.deliveries.iter().map(|(d, _)| d.clone()).collect()
    }
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn insert_webhook(&self, hook: &Webhook, secret: &str) -> Result<()> {
        let mut memory = self.0.lock().unwrap();
        memory.hooks.push((hook.clone(), secret.to_owned()));
        Ok(())
    }

    async fn webhooks(&self, owner: &str) -> Result<Vec<Webhook>> {
        let memory = self.0.lock().unwrap();
        Ok(memory
            .hooks
            .iter()
            .filter(|(h, _)| h.owner == owner)
            .map(|(h, _)| h.clone())
            .collect())
    }

    async fn webhook(&self, id: &str) -> Result<Option<Webhook>> {
        let memory = self.0.lock().unwrap();
        Ok(memory
            .hooks
            .iter()
            .find(|(h, _)| h.id == id)
            .map(|(h, _)| h.clone()))
    }

    async fn delete_webhook(&self, id: &str, owner: &str) -> Result<bool> {
        let mut memory = self.0.lock().unwrap();
        let before = memory.hooks.len();
        memory
            .hooks
            .retain(|(h, _)| !(h.id == id && h.owner == owner));
        let deleted = memory.hooks.len() < before;
        if deleted {
            memory.deliveries.retain(|(d, _)| d.webhook_id != id);
        }
        Ok(deleted)
    }

    async fn subscribers(&self, event: WebhookEvent, user_id: &str) -> Result<Vec<Webhook>> {
        let memory = self.0.lock().unwrap();
        let user = format!("user:{user_id}");
        Ok(memory
            .hooks
            .iter()
            .map(|(h, _)| h)
            .filter(|h| {
                (h.owner == user || h.owner.starts_with("key:")) && h.events.contains(&event)
            })
            .cloned()
            .collect())
    }

    async fn enqueue_delivery(&self, delivery: &Delivery) -> Result<bool> {
        let mut memory = self.0.lock().unwrap();
        if memory.deliveries.iter().any(|(d, _)| d.id == delivery.id) {
            return Ok(false);
        }
        memory.deliveries.push((delivery.clone(), None));
        Ok(true)
    }

    async fn claim_delivery(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<ClaimedDelivery>> {
        let mut memory = self.0.lock().unwrap();
        let Memory { hooks, deliveries } = &mut *memory;
        // One delivery per hook at a time, like the stores.
        let busy: Vec<String> = deliveries
            .iter()
            .filter(|(d, lease)| {
                d.state == DeliveryState::Pending && lease.is_some_and(|l| l > now)
            })
            .map(|(d, _)| d.webhook_id.clone())
            .collect();
        let Some((delivery, lease)) = deliveries.iter_mut().find(|(d, lease)| {
            d.state == DeliveryState::Pending
                && d.next_attempt_at <= now
                && lease.is_none_or(|l| l <= now)
                && !busy.contains(&d.webhook_id)
        }) else {
            return Ok(None);
        };
        delivery.attempts += 1;
        *lease = Some(lease_until);
        let (hook, secret) = hooks
            .iter()
            .find(|(h, _)| h.id == delivery.webhook_id)
            .unwrap();
        Ok(Some(ClaimedDelivery {
            delivery: delivery.clone(),
            url: hook.url.clone(),
            secret: secret.clone(),
        }))
    }

    async fn delivered(&self, id: &str, status: u16, now: Timestamp) -> Result<()> {
        self.update(id, |d| {
            d.state = DeliveryState::Delivered;
            d.last_status = Some(status);
            d.last_error = None;
            d.delivered_at = Some(now);
        });
        Ok(())
    }

    async fn retry_delivery(
        &self,
        id: &str,
        status: Option<u16>,
        error: &str,
        next_attempt_at: Timestamp,
    ) -> Result<()> {
        self.update(id, |d| {
            d.last_status = status;
            d.last_error = Some(error.to_owned());
            d.next_attempt_at = next_attempt_at;
        });
        Ok(())
    }

    async fn fail_delivery(&self, id: &str, status: Option<u16>, error: &str) -> Result<()> {
        self.update(id, |d| {
            d.state = DeliveryState::Failed;
            d.last_status = status;
            d.last_error = Some(error.to_owned());
        });
        Ok(())
    }

    async fn deliveries(&self, webhook_id: &str, limit: usize) -> Result<Vec<Delivery>> {
        let memory = self.0.lock().unwrap();
        Ok(memory
            .deliveries
            .iter()
            .rev()
            .filter(|(d, _)| d.webhook_id == webhook_id)
            .take(limit)
            .map(|(d, _)| d.clone())
            .collect())
    }
}

impl MemoryStore {
    fn update(&self, id: &str, change: impl FnOnce(&mut Delivery)) {
        let mut memory = self.0.lock().unwrap();
        let (delivery, lease) = memory
            .deliveries
            .iter_mut()
            .find(|(d, _)| d.id == id)
            .unwrap();
        change(delivery);
        *lease = None;
    }
}

/// Answers the scripted statuses in turn (`None`: a transport error), then 200.
#[derive(Default)]
struct ScriptedSender {
    answers: Mutex<VecDeque<Option<u16>>>,
    sent: Mutex<Vec<(String, String, String)>>,
}

#[async_trait]
impl WebhookSender for ScriptedSender {
    async fn send(&self, url: &str, secret: &str, delivery: &Delivery) -> Result<u16> {
        self.sent
            .lock()
            .unwrap()
            .push((url.to_owned(), secret.to_owned(), delivery.id.clone()));
        match self.answers.lock().unwrap().pop_front() {
            Some(Some(status)) => Ok(status),
            Some(None) => Err(Failure::internal("connection refused")),
            None => Ok(200),
        }
    }
}

struct FixedClock(AtomicI64);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0.load(Ordering::SeqCst)
    }
}

/// Only `new_secret` is used by webhooks.
struct Secrets;

impl Credentials for Secrets {
    fn hash_password(&self, _: &str) -> Result<String> {
        unreachable!()
    }

    fn verify_password(&self, _: &str, _: Option<&str>) -> bool {
        unreachable!()
    }

    fn sign_access(&self, _: &AccessClaims) -> Result<String> {
        unreachable!()
    }

    fn verify_access(&self, _: &str, _: i64) -> Result<AccessClaims, TokenRejection> {
        unreachable!()
    }

    fn new_secret(&self, prefix: &str) -> String {
        format!("{prefix}{}", uuid::Uuid::new_v4().simple())
    }

    fn digest(&self, secret: &str) -> String {
        secret.to_owned()
    }
}

struct Fixture {
    service: WebhookService,
    store: Arc<MemoryStore>,
    sender: Arc<ScriptedSender>,
    clock: Arc<FixedClock>,
}

const POLICY: WebhookPolicy = WebhookPolicy {
    max_attempts: 3,
    retry_base_ms: 1000,
    lease_ms: 30_000,
    allow_private_targets: false,
};

fn fixture(policy: WebhookPolicy) -> Fixture {
    let store = Arc::new(MemoryStore::default());
    let sender = Arc::new(ScriptedSender::default());
    let clock = Arc::new(FixedClock(AtomicI64::new(1_000_000)));
    let service = WebhookService::new(
        WebhookPorts {
            store: store.clone(),
            sender: sender.clone(),
            credentials: Arc::new(Secrets),
            clock: clock.clone(),
        },
        policy,
    );
    Fixture {
        service,
        store,
        sender,
        clock,
    }
}

fn user(id: &str) -> Principal {
    Principal {
        scopes: Role::Client.scopes().to_vec(),
        kind: PrincipalKind::User {
            id: id.to_owned(),
            username: format!("name-{id}"),
            role: Role::Client,
        },
    }
}

fn key(id: &str, scopes: &[Scope]) -> Principal {
    Principal {
        scopes: scopes.to_vec(),
        kind: PrincipalKind::ApiKey {
            id: id.to_owned(),
            name: format!("key {id}"),
        },
    }
}

fn verification_job(id: &str, user_id: &str) -> Job {
    Job {
        id: id.to_owned(),
        request: JobRequest::UserVerification {
            user_id: user_id.to_owned(),
            upload_key: format!("uploads/{id}"),
        },
        state: JobState::Done,
        attempts: 1,
        result: Some(JobResult::Verification(VerificationResult {
            status: VerificationStatus::Verified,
            reason: None,
            face_count: 1,
            quality: Some(0.8),
            liveness: None,
            similarity: None,
            model: "w600k_mbf@1".to_owned(),
        })),
        last_error: None,
        created_at: 1,
        updated_at: 2,
    }
}

const URL: &str = "https://hooks.example.com/facegate";

#[test]
fn users_and_admin_keys_register_and_other_keys_may_not() {
    let fx = fixture(POLICY);
    let (hook, secret) = run(fx.service.register(&user("u1"), URL, None)).unwrap();
    assert_eq!(hook.owner, "user:u1");
    assert_eq!(hook.url, URL);
    assert_eq!(hook.events, WebhookEvent::ALL);
    assert!(secret.starts_with("whsec_"), "{secret}");

    let search_key = key("k1", &[Scope::Search, Scope::Verify]);
    let refused = run(fx.service.register(&search_key, URL, None)).unwrap_err();
    assert_eq!(refused.code, ErrorCode::Forbidden);
    let admin_key = key("k2", &[Scope::Admin]);
    let (hook, _) = run(fx.service.register(
        &admin_key,
        URL,
        Some(vec![
            WebhookEvent::ScanCompleted,
            WebhookEvent::ScanCompleted,
        ]),
    ))
    .unwrap();
    assert_eq!(
        (hook.owner.as_str(), hook.events.as_slice()),
        ("key:k2", [WebhookEvent::ScanCompleted].as_slice())
    );

    let empty = run(fx.service.register(&user("u1"), URL, Some(vec![]))).unwrap_err();
    assert_eq!(empty.code, ErrorCode::ValidationFailed);
    for url in [
        "http://10.0.0.1/hook",
        "http://localhost/",
        "ftp://example.com/",
    ] {
        let refused = run(fx.service.register(&user("u1"), url, None)).unwrap_err();
        assert_eq!(refused.code, ErrorCode::ValidationFailed, "{url}");
    }
    let allowed = fixture(WebhookPolicy {
        allow_private_targets: true,
        ..POLICY
    });
    assert!(
        run(allowed
            .service
            .register(&user("u1"), "http://127.0.0.1:9/", None))
        .is_ok()
    );
}

#[test]
fn an_owner_has_a_bounded_number_of_hooks() {
    let fx = fixture(POLICY);
    for _ in 0..MAX_WEBHOOKS_PER_OWNER {
        run(fx.service.register(&user("u1"), URL, None)).unwrap();
    }
    let refused = run(fx.service.register(&user("u1"), URL, None)).unwrap_err();
    assert_eq!(refused.code, ErrorCode::ValidationFailed);
    // Others are not affected.
    assert!(run(fx.service.register(&user("u2"), URL, None)).is_ok());
}

#[test]
fn only_the_owner_sees_lists_and_deletes_a_hook() {
    let fx = fixture(POLICY);
    let (hook, _) = run(fx.service.register(&user("u1"), URL, None)).unwrap();
    assert_eq!(
        run(fx.service.list(&user("u1"))).unwrap(),
        std::slice::from_ref(&hook)
    );
    assert!(run(fx.service.list(&user("u2"))).unwrap().is_empty());
    for other in [user("u2"), key("u1", &[Scope::Admin])] {
        let code = |r: Result<()>| r.unwrap_err().code;
        assert_eq!(
            code(run(fx.service.delete(&other, &hook.id))),
            ErrorCode::NotFound
        );
        let seen = run(fx.service.deliveries(&other, &hook.id, 10)).unwrap_err();
        assert_eq!(seen.code, ErrorCode::NotFound);
    }
    assert!(
        run(fx.service.deliveries(&user("u1"), &hook.id, 10))
            .unwrap()
            .is_empty()
    );
    run(fx.service.delete(&user("u1"), &hook.id)).unwrap();
    assert!(run(fx.service.list(&user("u1"))).unwrap().is_empty());
    let again = run(fx.service.delete(&user("u1"), &hook.id)).unwrap_err();
    assert_eq!(again.code, ErrorCode::NotFound);
}

#[test]
fn a_finished_job_queues_one_delivery_per_interested_hook_once() {
    let fx = fixture(POLICY);
    let (mine, _) = run(fx.service.register(&user("u1"), URL, None)).unwrap();
    let (integration, _) = run(fx.service.register(&key("k", &[Scope::Admin]), URL, None)).unwrap();
    // Not interested: another user's hook, and a hook for scans only.
    run(fx.service.register(&user("u2"), URL, None)).unwrap();
    run(fx
        .service
        .register(&user("u1"), URL, Some(vec![WebhookEvent::ScanCompleted])))
    .unwrap();

    let job = verification_job("j1", "u1");
    run(fx.service.job_finished(&job)).unwrap();
    fx.clock.0.fetch_add(5, Ordering::SeqCst);
    run(fx.service.job_finished(&job)).unwrap();
    let deliveries = fx.store.deliveries();
    let ids: Vec<&str> = deliveries.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        [format!("j1:{}", mine.id), format!("j1:{}", integration.id)]
    );
    let delivery = &deliveries[0];
    assert_eq!(
        (
            delivery.state,
            delivery.attempts,
            delivery.event,
            delivery.user_id.as_str()
        ),
        (
            DeliveryState::Pending,
            0,
            WebhookEvent::VerificationCompleted,
            "u1"
        )
    );
    let payload: Value = serde_json::from_str(&delivery.payload).unwrap();
    assert_eq!(payload["event"], "verification.completed");
    assert_eq!(payload["delivery_id"], delivery.id.as_str());
    assert_eq!(payload["job_id"], "j1");
    assert_eq!(payload["user_id"], "u1");
    assert_eq!(payload["created_at"], "1970-01-01T00:16:40.000Z");
    assert_eq!(payload["result"]["type"], "verification");
    assert_eq!(payload["result"]["status"], "verified");

    // A job without a result (never the case once finished) queues nothing.
    let mut unfinished = verification_job("j2", "u1");
    unfinished.result = None;
    run(fx.service.job_finished(&unfinished)).unwrap();
    assert_eq!(fx.store.deliveries().len(), 2);
}

#[test]
fn scan_payloads_carry_the_score_but_not_the_face() {
    let fx = fixture(POLICY);
    run(fx.service.register(&user("u1"), URL, None)).unwrap();
    let mut job = verification_job("j1", "u1");
    job.request = JobRequest::Scan {
        user_id: "u1".into(),
        scan_id: "s1".into(),
        photo_key: "scans/s1".into(),
    };
    job.result = Some(JobResult::Scan(ScanResult {
        status: ScanStatus::Scored,
        reason: None,
        symmetry: Some(crate::ports::Symmetry {
            score: 87.5,
            appearance: 0.9,
            landmarks: 0.85,
        }),
        face: Some(FaceDetection {
            bbox: BoundingBox::new(1.0, 2.0, 3.0, 4.0),
            score: 0.99,
            landmarks: Landmarks5::default(),
        }),
    }));
    run(fx.service.job_finished(&job)).unwrap();
    let delivery = &fx.store.deliveries()[0];
    assert_eq!(delivery.event, WebhookEvent::ScanCompleted);
    let payload: Value = serde_json::from_str(&delivery.payload).unwrap();
    assert_eq!(payload["event"], "scan.completed");
    assert_eq!(payload["result"]["symmetry"]["score"], 87.5);
    assert!(payload["result"].get("face").is_none(), "{payload}");
}

/// A hook of `u1`, and one verification of theirs queued for it.
fn queued(policy: WebhookPolicy) -> (Fixture, String) {
    let fx = fixture(policy);
    let (hook, _) = run(fx.service.register(&user("u1"), URL, None)).unwrap();
    run(fx.service.job_finished(&verification_job("j1", "u1"))).unwrap();
    (fx, format!("j1:{}", hook.id))
}

#[test]
fn a_failed_attempt_is_retried_after_a_doubling_delay_until_accepted() {
    let (fx, id) = queued(POLICY);
    fx.sender.answers.lock().unwrap().extend([Some(500), None]);

    let first = run(fx.service.deliver_next()).unwrap().unwrap();
    assert_eq!(
        (first.state, first.attempts, first.last_status),
        (DeliveryState::Pending, 1, Some(500))
    );
    assert_eq!(first.next_attempt_at, 1_000_000 + 1000);
    assert_eq!(
        first.last_error.as_deref(),
        Some("the receiver answered 500")
    );
    // Not due yet.
    assert_eq!(run(fx.service.deliver_next()).unwrap(), None);

    fx.clock.0.store(1_001_000, Ordering::SeqCst);
    let second = run(fx.service.deliver_next()).unwrap().unwrap();
    assert_eq!(
        (
            second.attempts,
            second.last_status,
            second.last_error.as_deref()
        ),
        (2, None, Some("connection refused"))
    );
    assert_eq!(second.next_attempt_at, 1_001_000 + 2000);

    fx.clock.0.store(1_003_000, Ordering::SeqCst);
    let third = run(fx.service.deliver_next()).unwrap().unwrap();
    assert_eq!(
        (
            third.state,
            third.attempts,
            third.last_status,
            third.delivered_at
        ),
        (DeliveryState::Delivered, 3, Some(200), Some(1_003_000))
    );
    assert_eq!(fx.store.deliveries()[0], third);
    let sent = fx.sender.sent.lock().unwrap();
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter()
            .all(|(url, secret, d)| url == URL && secret.starts_with("whsec_") && *d == id)
    );
    drop(sent);
    assert_eq!(run(fx.service.deliver_next()).unwrap(), None);
}

#[test]
fn a_delivery_is_given_up_after_its_last_attempt() {
    let (fx, _) = queued(POLICY);
    fx.sender
        .answers
        .lock()
        .unwrap()
        .extend([Some(500), Some(404), Some(503)]);
    let mut last = None;
    for _ in 0..POLICY.max_attempts {
        fx.clock.0.fetch_add(10_000, Ordering::SeqCst);
        last = run(fx.service.deliver_next()).unwrap();
    }
    let last = last.unwrap();
    assert_eq!(
        (last.state, last.attempts, last.last_status),
        (DeliveryState::Failed, 3, Some(503))
    );
    fx.clock.0.fetch_add(1_000_000, Ordering::SeqCst);
    assert_eq!(run(fx.service.deliver_next()).unwrap(), None);
    assert_eq!(fx.sender.sent.lock().unwrap().len(), 3);
}

#[test]
fn a_target_refused_by_a_tightened_rule_fails_without_being_sent() {
    let allowed = WebhookPolicy {
        allow_private_targets: true,
        ..POLICY
    };
    let fx = fixture(allowed);
    let (hook, secret) = run(fx.service.register(&user("u1"), "http://10.1.1.1/", None)).unwrap();
    // The operator turns private targets off; the stored hook stays.
    let strict = fixture(POLICY);
    run(strict.store.insert_webhook(&hook, &secret)).unwrap();
    run(strict.service.job_finished(&verification_job("j1", "u1"))).unwrap();
    let failed = run(strict.service.deliver_next()).unwrap().unwrap();
    assert_eq!(failed.state, DeliveryState::Failed);
    assert!(failed.last_error.unwrap().contains("internal address"));
    assert!(strict.sender.sent.lock().unwrap().is_empty());
}

#[test]
fn events_and_states_round_trip_their_names() {
    for event in WebhookEvent::ALL {
        assert_eq!(WebhookEvent::parse(event.as_str()), Some(event));
        assert_eq!(
            serde_json::to_value(event).unwrap(),
            Value::from(event.as_str())
        );
    }
    assert_eq!(WebhookEvent::parse("verification"), None);
    for state in [
        DeliveryState::Pending,
        DeliveryState::Delivered,
        DeliveryState::Failed,
    ] {
        assert_eq!(DeliveryState::parse(state.as_str()), Some(state));
    }
}
