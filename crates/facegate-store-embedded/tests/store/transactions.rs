//! Transactions: per user, in a half-open time range, oldest first.

use facegate_core::ports::TransactionStore;

use crate::support::accounts::{add_user, transaction};
use crate::support::{TempDir, open_store};

#[tokio::test]
async fn transactions_are_listed_per_user_in_a_half_open_range() {
    let dir = TempDir::new("transactions");
    let store = open_store(dir.path()).await;
    add_user(&store, "u1", 0).await;
    add_user(&store, "u2", 0).await;
    let stored = [
        transaction("t3", "u1", 300, true),
        transaction("t1", "u1", 100, false),
        transaction("t2", "u1", 200, false),
        transaction("t4", "u1", 400, false),
        transaction("o1", "u2", 200, false),
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
    assert_eq!(found, [stored[2].clone(), stored[0].clone()]);
    let ids: Vec<_> = store
        .transactions("u1", 0, 1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(ids, ["t1", "t2", "t3", "t4"]);
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
}
