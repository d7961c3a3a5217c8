//! API keys: insertion, lookup by digest, listing and revocation.

use facegate_core::account::Scope;
use facegate_core::ports::ApiKeyStore;

use crate::support::accounts::api_key;
use crate::support::{TempDir, open_store};

#[tokio::test]
async fn api_keys_are_stored_looked_up_and_revoked() {
    let dir = TempDir::new("api-keys");
    let store = open_store(dir.path()).await;
    let admin = api_key("k1", &Scope::ALL, 2_000);
    let search = api_key("k2", &[Scope::Search, Scope::Verify], 1_000);
    store.insert_api_key(&admin, "digest-1").await.unwrap();
    store.insert_api_key(&search, "digest-2").await.unwrap();
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
    assert_eq!(
        store.api_keys().await.unwrap(),
        [search.clone(), admin.clone()]
    );

    assert!(store.revoke_api_key("k1", 5_000).await.unwrap());
    assert!(!store.revoke_api_key("k1", 6_000).await.unwrap());
    assert!(!store.revoke_api_key("unknown", 6_000).await.unwrap());
    // Still found by its digest, with the first revocation time.
    let revoked = store.api_key_by_digest("digest-1").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(5_000));
    assert_eq!(revoked.scopes, Scope::ALL);
    assert_eq!(
        store.api_key_by_digest("digest-2").await.unwrap().unwrap(),
        search
    );
}
