//! Enrolled references: storage, identification, deletion and re-embedding.

use super::fixtures::{DIM, MODEL, assert_close, at_similarity, cosine, reference, unit};
use crate::face::ModelId;
use crate::model::Reference;
use crate::ports::ReferenceStore;

pub async fn references_are_stored_and_read_back(store: &dyn ReferenceStore) {
    let alice = reference("r1", "alice", unit(MODEL, DIM, 1), 1_000);
    let alice2 = reference("r2", "alice", unit(MODEL, DIM, 2), 900);
    let bob = reference("r3", "bob", unit(MODEL, DIM, 3), 2_000);
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

pub async fn identify_returns_one_entry_per_subject_best_first(store: &dyn ReferenceStore) {
    let probe = unit(MODEL, DIM, 7);
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

pub async fn deleting_references_and_subjects(store: &dyn ReferenceStore) {
    let probe = unit(MODEL, DIM, 11);
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

pub async fn identify_skips_other_models_and_dimensions(store: &dyn ReferenceStore) {
    let probe = unit(MODEL, DIM, 21);
    let other_model = unit("open@1", DIM, 22);
    store
        .insert_reference(&reference("a1", "alice", at_similarity(&probe, 0.4, 1), 0))
        .await
        .unwrap();
    // Would be the best match if models were mixed up: the same vector as the probe.
    let same_vector =
        crate::Embedding::from_raw(crate::ModelId("open@1".into()), probe.vector().to_vec())
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
        .insert_reference(&reference("s1", "short", unit(MODEL, 128, 3), 0))
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
            .identify(&unit("unknown@1", DIM, 4), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let short: Vec<_> = store
        .identify(&unit(MODEL, 128, 5), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(short, ["short"]);
}

/// More references of one subject near the probe than the first query's rows: identify
/// asks again for more rows until it has found the other subjects.
pub async fn a_subject_with_many_references_does_not_hide_the_others(store: &dyn ReferenceStore) {
    let probe = unit(MODEL, DIM, 78);
    for i in 0..80 {
        let embedding = at_similarity(&probe, 0.9 - 0.001 * i as f32, 3_000 + i);
        store
            .insert_reference(&reference(&format!("a{i}"), "alice", embedding, 0))
            .await
            .unwrap();
    }
    let bob = at_similarity(&probe, 0.3, 4_000);
    store
        .insert_reference(&reference("b1", "bob", bob, 0))
        .await
        .unwrap();

    let found = store.identify(&probe, 2).await.unwrap();
    let ids: Vec<_> = found.iter().map(|m| m.reference_id.as_str()).collect();
    assert_eq!(ids, ["a0", "b1"]);
    assert_close(found[1].similarity, 0.3);
}

fn with_crop(reference: Reference, crop: &[u8]) -> Reference {
    Reference {
        crop: Some(crop.to_vec()),
        ..reference
    }
}

/// Stale references are listed by id with their crops (or none), page by page; replacing
/// an embedding moves the reference to the new model for reads and identification, and
/// leaves it out of the stale list.
pub async fn references_are_reembedded(store: &dyn ReferenceStore) {
    let (old, new) = ("old-model@1", "new-model@2");
    let crop = b"\x89PNG crop bytes".as_slice();
    store
        .insert_reference(&with_crop(
            reference("b", "bob", unit(old, 512, 1), 1_000),
            crop,
        ))
        .await
        .unwrap();
    store
        .insert_reference(&reference("a", "ann", unit(old, 512, 2), 1_000))
        .await
        .unwrap();
    store
        .insert_reference(&with_crop(
            reference("c", "cy", unit(new, 704, 3), 1_000),
            crop,
        ))
        .await
        .unwrap();
    let current = ModelId(new.into());

    let first = store.stale_references(&current, None, 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].id.as_str(), first[0].crop.as_deref()),
        ("a", None)
    );
    assert_eq!(first[0].model.0, old);
    let rest = store
        .stale_references(&current, Some("a"), 10)
        .await
        .unwrap();
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert_eq!(
        (rest[0].id.as_str(), rest[0].crop.as_deref()),
        ("b", Some(crop))
    );
    assert!(store.reference("b").await.unwrap().unwrap().crop.is_none());

    let fresh = unit(new, 704, 4);
    assert!(store.replace_embedding("b", &fresh).await.unwrap());
    assert!(!store.replace_embedding("missing", &fresh).await.unwrap());
    let read = store.reference("b").await.unwrap().unwrap();
    assert_eq!(read.embedding.model().0, new);
    assert_eq!(read.embedding.vector().len(), 704);
    let found = store.identify(&fresh, 1).await.unwrap();
    assert_eq!(found[0].reference_id, "b");
    assert!(found[0].similarity > 0.999, "{found:?}");
    let left = store.stale_references(&current, None, 10).await.unwrap();
    assert_eq!(
        left.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
}
