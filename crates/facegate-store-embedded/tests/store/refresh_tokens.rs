//! Refresh tokens: single use, replay detection and family revocation.

use facegate_core::account::RefreshUse;
use facegate_core::ports::UserStore;

use crate::support::accounts::{add_user, token};
use crate::support::{TempDir, open_store};

#[tokio::test]
async fn a_token_is_fresh_once_then_replayed_until_its_family_is_revoked() {
    let dir = TempDir::new("refresh");
    let store = open_store(dir.path()).await;
    add_user(&store, "u1", 0).await;
    let first = token("d1", "u1", "f1", 10_000);
    let rotated = token("d2", "u1", "f1", 20_000);
    let other_login = token("d3", "u1", "f2", 20_000);
    for t in [&first, &rotated, &other_login] {
        store.insert_refresh_token(t).await.unwrap();
    }

    assert_eq!(
        store.use_refresh_token("d1", 1_000).await.unwrap(),
        RefreshUse::Fresh(first)
    );
    let replayed = RefreshUse::Replayed {
        family: "f1".into(),
    };
    assert_eq!(
        store.use_refresh_token("d1", 1_001).await.unwrap(),
        replayed
    );

    // Revoking the family turns its unused tokens into replays; other families stay.
    store.revoke_refresh_family("f1").await.unwrap();
    assert_eq!(
        store.use_refresh_token("d2", 1_002).await.unwrap(),
        replayed
    );
    assert_eq!(
        store.use_refresh_token("d3", 1_003).await.unwrap(),
        RefreshUse::Fresh(other_login)
    );
    // Revoking again (or an unknown family) is harmless.
    store.revoke_refresh_family("f1").await.unwrap();
    store.revoke_refresh_family("unknown").await.unwrap();
}

#[tokio::test]
async fn unknown_and_expired_tokens_are_invalid() {
    let dir = TempDir::new("refresh-expired");
    let store = open_store(dir.path()).await;
    add_user(&store, "u1", 0).await;
    store
        .insert_refresh_token(&token("d1", "u1", "f1", 5_000))
        .await
        .unwrap();
    store
        .insert_refresh_token(&token("d2", "u1", "f2", 5_000))
        .await
        .unwrap();

    assert_eq!(
        store.use_refresh_token("unknown", 0).await.unwrap(),
        RefreshUse::Invalid
    );
    // Expired at `expires_at`; an expired token is not marked used.
    assert_eq!(
        store.use_refresh_token("d1", 5_000).await.unwrap(),
        RefreshUse::Invalid
    );
    assert!(matches!(
        store.use_refresh_token("d1", 4_999).await.unwrap(),
        RefreshUse::Fresh(_)
    ));
    // Used, then expired: invalid rather than a replay.
    assert!(matches!(
        store.use_refresh_token("d1", 4_999).await.unwrap(),
        RefreshUse::Replayed { .. }
    ));
    assert_eq!(
        store.use_refresh_token("d1", 6_000).await.unwrap(),
        RefreshUse::Invalid
    );
    // Revoked, then expired: invalid too.
    store.revoke_refresh_family("f2").await.unwrap();
    assert_eq!(
        store.use_refresh_token("d2", 6_000).await.unwrap(),
        RefreshUse::Invalid
    );

    // A token needs its user.
    assert!(
        store
            .insert_refresh_token(&token("d9", "nobody", "f9", 5_000))
            .await
            .is_err()
    );
}
