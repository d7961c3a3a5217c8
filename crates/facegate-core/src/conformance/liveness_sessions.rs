//! Liveness sessions: stored and read back, started once, judged, spent once.

use super::fixtures::{add_user, live_result, liveness_session};
use crate::challenge::{Reason, Verdict};
use crate::liveness_sessions::SessionResult;
use crate::ports::{LivenessSessionStore, UserStore};

pub async fn a_session_is_started_once_judged_and_spent_once<S>(store: &S)
where
    S: LivenessSessionStore + UserStore + ?Sized,
{
    add_user(store, "u1", 0).await;
    let session = liveness_session("l1", "u1", 1_000);
    store.insert_liveness_session(&session).await.unwrap();
    assert_eq!(
        store.liveness_session("l1").await.unwrap(),
        Some(session.clone())
    );
    assert!(store.liveness_session("l2").await.unwrap().is_none());

    // Frames are judged once: a second start is a replay.
    assert!(store.start_liveness_session("l1", 2_000).await.unwrap());
    assert!(!store.start_liveness_session("l1", 2_500).await.unwrap());
    store
        .complete_liveness_session("l1", &live_result("l1"))
        .await
        .unwrap();
    let judged = store.liveness_session("l1").await.unwrap().unwrap();
    assert_eq!(judged.used_at, Some(2_000));
    assert_eq!(judged.result, Some(live_result("l1")));

    // A live session stands in for a selfie once.
    assert!(store.spend_liveness_session("l1", 3_000).await.unwrap());
    assert!(!store.spend_liveness_session("l1", 3_500).await.unwrap());
    assert_eq!(
        store
            .liveness_session("l1")
            .await
            .unwrap()
            .unwrap()
            .spent_at,
        Some(3_000)
    );

    // A failed session keeps its reasons; it has no audit frame.
    let failed = SessionResult {
        verdict: Verdict::Failed,
        reasons: vec![Reason::NoMovement, Reason::DifferentPeople],
        score: None,
        audit_key: None,
    };
    store
        .insert_liveness_session(&liveness_session("l2", "u1", 1_000))
        .await
        .unwrap();
    store
        .complete_liveness_session("l2", &failed)
        .await
        .unwrap();
    let read = store.liveness_session("l2").await.unwrap().unwrap();
    assert_eq!(read.result, Some(failed));

    // A session needs its user.
    let orphan = liveness_session("l3", "nobody", 0);
    assert!(store.insert_liveness_session(&orphan).await.is_err());
}
