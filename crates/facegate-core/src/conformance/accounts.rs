//! API keys, transactions and the audit log.

use super::fixtures::{add_user, api_key, audit, transaction};
use crate::account::{ApiKey, Scope};
use crate::ports::{ApiKeyStore, AuditLog, TransactionStore, UserStore};

pub async fn api_keys_are_stored_looked_up_and_revoked<S: ApiKeyStore + ?Sized>(store: &S) {
    let admin = api_key("k1", &Scope::ALL, 2_000);
    let search = api_key("k2", &[Scope::Search, Scope::Verify], 1_000);
    let none = api_key("k0", &[], 2_000);
    store.insert_api_key(&admin, "digest-1").await.unwrap();
    store.insert_api_key(&search, "digest-2").await.unwrap();
    store.insert_api_key(&none, "digest-0").await.unwrap();
    // Digests and ids are unique.
    assert!(
        store
            .insert_api_key(&api_key("k3", &[], 0), "digest-1")
            .await
            .is_err()
    );
    assert!(store.insert_api_key(&admin, "digest-3").await.is_err());

    assert_eq!(
        store.api_key_by_digest("digest-1").await.unwrap(),
        Some(admin.clone())
    );
    assert!(store.api_key_by_digest("unknown").await.unwrap().is_none());
    // Oldest first, ids breaking ties.
    assert_eq!(
        store.api_keys().await.unwrap(),
        [search.clone(), none.clone(), admin.clone()]
    );

    assert!(store.revoke_api_key("k1", 5_000).await.unwrap());
    assert!(!store.revoke_api_key("k1", 6_000).await.unwrap());
    assert!(!store.revoke_api_key("unknown", 6_000).await.unwrap());
    // Still found by its digest and listed, with the first revocation time.
    let revoked = store.api_key_by_digest("digest-1").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(5_000));
    assert_eq!(revoked.scopes, Scope::ALL);
    assert_eq!(store.api_keys().await.unwrap()[2], revoked);
    assert_eq!(
        store.api_key_by_digest("digest-2").await.unwrap().unwrap(),
        search
    );
}

pub async fn transactions_are_listed_per_user_in_a_half_open_range<
    S: UserStore + TransactionStore + ?Sized,
>(
    store: &S,
) {
    add_user(store, "u1", 0).await;
    add_user(store, "u2", 0).await;
    let stored = [
        transaction("t3", "u1", 300, true),
        transaction("t1", "u1", 100, false),
        transaction("t2", "u1", 200, false),
        transaction("t4", "u1", 400, false),
        transaction("o1", "u2", 200, false),
        transaction("t0", "u1", 300, false),
    ];
    for t in &stored {
        store.insert_transaction(t).await.unwrap();
    }
    // Ids are unique; a transaction needs its user.
    assert!(store.insert_transaction(&stored[0]).await.is_err());
    assert!(
        store
            .insert_transaction(&transaction("n1", "nobody", 0, false))
            .await
            .is_err()
    );

    let found = store.transactions("u1", 200, 400).await.unwrap();
    assert_eq!(
        found,
        [stored[2].clone(), stored[5].clone(), stored[0].clone()]
    );
    let ids: Vec<_> = store
        .transactions("u1", 0, 1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, ["t1", "t2", "t0", "t3", "t4"]);
    assert!(
        store
            .transactions("u1", 401, 1_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.transactions("u1", 300, 300).await.unwrap().is_empty());
    assert_eq!(
        store.transactions("u2", 0, 1_000).await.unwrap(),
        [stored[4].clone()]
    );
    assert!(
        store
            .transactions("nobody", 0, 1_000)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn recent_audit_entries_come_newest_first<S: AuditLog + ?Sized>(store: &S) {
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

/// Keys belong to the account that made them: deleting a user revokes the API keys they
/// created, and the keys those keys created, and leaves everyone else's alone.
pub async fn deleting_a_user_revokes_the_keys_they_created<S: ApiKeyStore + UserStore + ?Sized>(
    store: &S,
) {
    add_user(store, "u1", 0).await;
    let made_by = |id: &str, creator: &str| ApiKey {
        created_by: creator.to_owned(),
        ..api_key(id, &Scope::ALL, 1_000)
    };
    for (key, digest) in [
        (made_by("k1", "user:u1"), "d1"),
        (made_by("k2", "key:k1"), "d2"),
        (made_by("k3", "key:k2"), "d3"),
        (made_by("other", "user:u2"), "d4"),
    ] {
        store.insert_api_key(&key, digest).await.unwrap();
    }
    assert!(store.delete_user("u1").await.unwrap().is_some());
    for (digest, revoked) in [("d1", true), ("d2", true), ("d3", true), ("d4", false)] {
        let key = store.api_key_by_digest(digest).await.unwrap().unwrap();
        assert_eq!(key.revoked_at.is_some(), revoked, "{key:?}");
    }
}
