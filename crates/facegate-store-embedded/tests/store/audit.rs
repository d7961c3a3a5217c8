//! The audit log: newest first, at most `limit`.

use facegate_core::ports::AuditLog;

use crate::support::accounts::audit;
use crate::support::{TempDir, open_store};

#[tokio::test]
async fn recent_entries_come_newest_first() {
    let dir = TempDir::new("audit");
    let store = open_store(dir.path()).await;
    assert!(store.recent(10).await.unwrap().is_empty());
    // r3 is recorded after r4 with an earlier time; r4 and r5 share a time.
    for (at, request_id) in [
        (100, "r1"),
        (200, "r2"),
        (400, "r4"),
        (300, "r3"),
        (400, "r5"),
    ] {
        store.record(&audit(at, request_id)).await.unwrap();
    }

    let recent = store.recent(10).await.unwrap();
    let ids: Vec<_> = recent.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(ids, ["r5", "r4", "r3", "r2", "r1"]);
    assert_eq!(recent[0], audit(400, "r5"));
    let ids: Vec<_> = store
        .recent(2)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.request_id)
        .collect();
    assert_eq!(ids, ["r5", "r4"]);
    assert!(store.recent(0).await.unwrap().is_empty());
    assert_eq!(store.recent(usize::MAX).await.unwrap().len(), 5);
}
