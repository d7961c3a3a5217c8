//! Enrolled references: storage, identification and deletion.

use facegate_core::ports::ReferenceStore;

use crate::support::{
    DIM, MODEL, TempDir, assert_close, at_similarity, cosine, open_store, random_unit, reference,
};

#[tokio::test]
async fn references_are_stored_and_read_back() {
    let dir = TempDir::new("references");
    let store = open_store(dir.path()).await;
    let alice = reference("r1", "alice", random_unit(MODEL, DIM, 1), 1_000);
    let alice2 = reference("r2", "alice", random_unit(MODEL, DIM, 2), 900);
    let bob = reference("r3", "bob", random_unit(MODEL, DIM, 3), 2_000);
    for r in [&alice, &alice2, &bob] {
        store.insert_reference(r).await.unwrap();
    }

    let read = store.reference("r1").await.unwrap().unwrap();
    assert_eq!((read.id.as_str(), read.subject.as_str()), ("r1", "alice"));
    assert_eq!(read.face, alice.face);
    assert_eq!(read.quality.to_bits(), alice.quality.to_bits());
    assert_eq!(read.created_at, 1_000);
    assert_eq!(read.embedding.model(), alice.embedding.model());
    assert_close(cosine(&read.embedding, &alice.embedding), 1.0);
    assert!(store.reference("missing").await.unwrap().is_none());

    let subjects = store.subjects().await.unwrap();
    let summary: Vec<_> = subjects
        .iter()
        .map(|s| (s.name.as_str(), s.references, s.created_at))
        .collect();
    assert_eq!(summary, [("alice", 2, 900), ("bob", 1, 2_000)]);

    // Oldest first.
    let ids: Vec<_> = store
        .subject_references("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["r2", "r1"]);
    assert!(store.subject_references("nobody").await.unwrap().is_empty());

    // Ids are unique.
    assert!(store.insert_reference(&alice).await.is_err());
}

#[tokio::test]
async fn identify_returns_one_entry_per_subject_best_first() {
    let dir = TempDir::new("identify");
    let store = open_store(dir.path()).await;
    let probe = random_unit(MODEL, DIM, 7);
    let enrolled = [
        ("a1", "alice", 0.9),
        ("a2", "alice", 0.5),
        ("b1", "bob", 0.7),
        ("c1", "carol", 0.2),
        ("c2", "carol", -0.3),
    ];
    for (seed, (id, subject, similarity)) in enrolled.into_iter().enumerate() {
        let embedding = at_similarity(&probe, similarity, 100 + seed as u64);
        store
            .insert_reference(&reference(id, subject, embedding, 0))
            .await
            .unwrap();
    }

    let found = store.identify(&probe, 10).await.unwrap();
    let ids: Vec<_> = found
        .iter()
        .map(|m| (m.subject.as_str(), m.reference_id.as_str()))
        .collect();
    assert_eq!(ids, [("alice", "a1"), ("bob", "b1"), ("carol", "c1")]);
    for (m, expected) in found.iter().zip([0.9, 0.7, 0.2]) {
        assert_close(m.similarity, expected);
    }

    let top: Vec<_> = store
        .identify(&probe, 2)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(top, ["alice", "bob"]);
    assert!(store.identify(&probe, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn deleting_references_and_subjects() {
    let dir = TempDir::new("delete-references");
    let store = open_store(dir.path()).await;
    let probe = random_unit(MODEL, DIM, 11);
    for (id, subject, similarity, seed) in [
        ("a1", "alice", 0.9, 1),
        ("a2", "alice", 0.8, 2),
        ("a3", "alice", 0.1, 3),
        ("b1", "bob", 0.6, 4),
    ] {
        let embedding = at_similarity(&probe, similarity, seed);
        store
            .insert_reference(&reference(id, subject, embedding, 0))
            .await
            .unwrap();
    }

    assert!(store.delete_reference("a1").await.unwrap());
    assert!(!store.delete_reference("a1").await.unwrap());
    assert!(store.reference("a1").await.unwrap().is_none());
    let best = store.identify(&probe, 1).await.unwrap();
    assert_eq!(best[0].reference_id, "a2");
    assert_close(best[0].similarity, 0.8);

    assert_eq!(store.delete_subject("alice").await.unwrap(), 2);
    assert_eq!(store.delete_subject("alice").await.unwrap(), 0);
    assert!(store.subject_references("alice").await.unwrap().is_empty());
    let left: Vec<_> = store
        .identify(&probe, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.reference_id)
        .collect();
    assert_eq!(left, ["b1"]);
    let subjects: Vec<_> = store
        .subjects()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(subjects, ["bob"]);
}

#[tokio::test]
async fn identify_skips_other_models_and_dimensions() {
    let dir = TempDir::new("identify-models");
    let store = open_store(dir.path()).await;
    let probe = random_unit(MODEL, DIM, 21);
    let other_model = random_unit("open@1", DIM, 22);
    store
        .insert_reference(&reference("a1", "alice", at_similarity(&probe, 0.4, 1), 0))
        .await
        .unwrap();
    // Would be the best match if models were mixed up: the same vector as the probe.
    let same_vector = facegate_core::Embedding::from_raw(
        facegate_core::ModelId("open@1".into()),
        probe.vector().to_vec(),
    )
    .unwrap();
    store
        .insert_reference(&reference("m1", "mallory", same_vector, 0))
        .await
        .unwrap();
    store
        .insert_reference(&reference(
            "o1",
            "oscar",
            at_similarity(&other_model, 0.9, 2),
            0,
        ))
        .await
        .unwrap();
    store
        .insert_reference(&reference("s1", "short", random_unit(MODEL, 128, 3), 0))
        .await
        .unwrap();

    let found: Vec<_> = store
        .identify(&probe, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(found, ["alice"]);
    let found: Vec<_> = store
        .identify(&other_model, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(found, ["oscar", "mallory"]);
    assert!(
        store
            .identify(&random_unit("unknown@1", DIM, 4), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let short: Vec<_> = store
        .identify(&random_unit(MODEL, 128, 5), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(short, ["short"]);
}

#[tokio::test]
async fn references_are_reembedded() {
    let dir = TempDir::new("reembed");
    let store = open_store(dir.path()).await;
    facegate_core::conformance::references_are_reembedded(&store).await;
}
