//! Photo collections: indexing, idempotency, search, status and deletion.

use futures_util::future::join_all;

use super::fixtures::{DIM, MODEL, assert_close, assert_same_photo, at_similarity, photo, unit};
use crate::Embedding;
use crate::ports::CollectionStore;

/// Session `s1`: p1 with faces at 0.8 and 0.9, p2 at 0.6, p3 at 0.2, p4 without a face;
/// session `s2`: p1 at 0.95. Similarities are to the returned probe.
async fn two_sessions(store: &dyn CollectionStore) -> Embedding {
    let probe = unit(MODEL, DIM, 42);
    let near = |similarity, seed| at_similarity(&probe, similarity, seed);
    let photos = [
        photo("s1", "p1", vec![near(0.8, 1), near(0.9, 2)], 100),
        photo("s1", "p2", vec![near(0.6, 3)], 200),
        photo("s1", "p3", vec![near(0.2, 4)], 300),
        photo("s1", "p4", vec![], 400),
        photo("s2", "p1", vec![near(0.95, 5)], 500),
    ];
    for p in &photos {
        let (stored, created) = store.insert_photo(p).await.unwrap();
        assert!(created);
        assert_eq!(&stored, p);
    }
    probe
}

fn ids(matches: &[crate::model::PhotoMatch]) -> Vec<(&str, u32)> {
    matches
        .iter()
        .map(|m| (m.photo_id.as_str(), m.face_index))
        .collect()
}

pub async fn search_is_per_session_one_match_per_photo(store: &dyn CollectionStore) {
    let probe = two_sessions(store).await;

    let found = store.search("s1", &probe, 0.5, 10).await.unwrap();
    assert_eq!(ids(&found), [("p1", 1), ("p2", 0)]);
    assert_close(found[0].similarity, 0.9);
    assert_close(found[1].similarity, 0.6);
    // The matched face's own box and detector score.
    assert_eq!(
        found[0].bbox,
        crate::BoundingBox::new(10.0, 10.0, 60.0, 70.0)
    );
    assert_close(found[0].detection_confidence, 0.8);

    let found = store.search("s2", &probe, 0.5, 10).await.unwrap();
    assert_eq!(ids(&found), [("p1", 0)]);
    assert_close(found[0].similarity, 0.95);

    assert!(
        store
            .search("s3", &probe, -1.0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn search_honours_threshold_and_limit(store: &dyn CollectionStore) {
    let probe = two_sessions(store).await;

    assert_eq!(
        ids(&store.search("s1", &probe, 0.7, 10).await.unwrap()),
        [("p1", 1)]
    );
    assert!(
        store
            .search("s1", &probe, 0.95, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let all = store.search("s1", &probe, -1.0, 10).await.unwrap();
    assert_eq!(ids(&all), [("p1", 1), ("p2", 0), ("p3", 0)]);
    assert_eq!(
        ids(&store.search("s1", &probe, -1.0, 2).await.unwrap()),
        [("p1", 1), ("p2", 0)]
    );
    assert!(
        store
            .search("s1", &probe, -1.0, 0)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn status_counts_photos_and_faces(store: &dyn CollectionStore) {
    two_sessions(store).await;

    let s1 = store.status("s1").await.unwrap();
    assert_eq!(s1.session_id, "s1");
    assert_eq!((s1.indexed_photos, s1.indexed_faces), (4, 4));
    assert_eq!(s1.last_indexed_at, Some(400));
    let unknown = store.status("nope").await.unwrap();
    assert_eq!((unknown.indexed_photos, unknown.indexed_faces), (0, 0));
    assert_eq!(unknown.last_indexed_at, None);

    let p4 = store.photo("s1", "p4").await.unwrap().unwrap();
    assert!(p4.faces.is_empty());
    assert!(store.photo("s2", "p2").await.unwrap().is_none());
}

pub async fn inserting_the_same_photo_again_keeps_the_first(store: &dyn CollectionStore) {
    let first = photo("s", "p", vec![unit(MODEL, DIM, 1)], 10);
    let second = photo("s", "p", vec![unit(MODEL, DIM, 2), unit(MODEL, DIM, 3)], 20);

    let (stored, created) = store.insert_photo(&first).await.unwrap();
    assert!(created);
    assert_eq!(stored, first);
    let (stored, created) = store.insert_photo(&second).await.unwrap();
    assert!(!created);
    assert_same_photo(&stored, &first);
    assert_same_photo(&store.photo("s", "p").await.unwrap().unwrap(), &first);

    let status = store.status("s").await.unwrap();
    assert_eq!((status.indexed_photos, status.indexed_faces), (1, 1));
    // The second photo's faces reached neither the database nor the index.
    assert!(
        store
            .search("s", &second.faces[0].embedding, 0.99, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .search("s", &first.faces[0].embedding, 0.99, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Twenty inserts of one photo at once, spread over `stores` (replicas on one backend):
/// one creates it, every other gets the stored photo back, and the index holds it once.
pub async fn concurrent_inserts_of_one_photo_store_it_once(stores: &[&dyn CollectionStore]) {
    // A seed no face below uses: the face of insert 5 would otherwise be the probe itself.
    let probe = unit(MODEL, DIM, 500);
    let inserts = (0..20_u64).map(|i| {
        let store = stores[usize::try_from(i).unwrap_or(0) % stores.len()];
        let photo = photo(
            "s",
            "same",
            vec![
                at_similarity(&probe, 0.9, i),
                at_similarity(&probe, 0.3, 100 + i),
            ],
            i64::try_from(i).unwrap_or(0),
        );
        async move { store.insert_photo(&photo).await.unwrap() }
    });
    let results = join_all(inserts).await;
    let store = stores[0];

    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    let (winner, _) = results.iter().find(|(_, created)| *created).unwrap();
    for (stored, _) in &results {
        assert_same_photo(stored, winner);
    }
    let status = store.status("s").await.unwrap();
    assert_eq!((status.indexed_photos, status.indexed_faces), (1, 2));
    let found = store.search("s", &probe, -1.0, 10).await.unwrap();
    assert_eq!(ids(&found), [("same", 0)]);
    assert_close(found[0].similarity, 0.9);
}

pub async fn deleting_a_session_removes_its_photos_and_faces(store: &dyn CollectionStore) {
    let probe = two_sessions(store).await;

    assert_eq!(store.delete_session("s1").await.unwrap(), 4);
    let status = store.status("s1").await.unwrap();
    assert_eq!((status.indexed_photos, status.indexed_faces), (0, 0));
    assert!(store.photo("s1", "p1").await.unwrap().is_none());
    assert!(
        store
            .search("s1", &probe, -1.0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.delete_session("s1").await.unwrap(), 0);

    // The other session is untouched, and the deleted one can be filled again.
    assert_eq!(
        ids(&store.search("s2", &probe, 0.5, 10).await.unwrap()),
        [("p1", 0)]
    );
    let again = photo("s1", "p1", vec![at_similarity(&probe, 0.7, 9)], 600);
    assert!(store.insert_photo(&again).await.unwrap().1);
    assert_eq!(
        ids(&store.search("s1", &probe, 0.5, 10).await.unwrap()),
        [("p1", 0)]
    );
}

pub async fn search_skips_faces_of_other_models(store: &dyn CollectionStore) {
    let probe = unit(MODEL, DIM, 8);
    let same_vector_other_model =
        Embedding::from_raw(crate::ModelId("open@1".into()), probe.vector().to_vec()).unwrap();
    let mixed = photo(
        "s",
        "mixed",
        vec![
            same_vector_other_model.clone(),
            at_similarity(&probe, 0.5, 1),
        ],
        1,
    );
    store.insert_photo(&mixed).await.unwrap();
    store
        .insert_photo(&photo("s", "short", vec![unit(MODEL, 128, 2)], 2))
        .await
        .unwrap();

    let found = store.search("s", &probe, -1.0, 10).await.unwrap();
    assert_eq!(ids(&found), [("mixed", 1)]);
    assert_close(found[0].similarity, 0.5);
    let found = store
        .search("s", &same_vector_other_model, 0.99, 10)
        .await
        .unwrap();
    assert_eq!(ids(&found), [("mixed", 0)]);
    assert!(
        store
            .search("s", &unit("unknown@1", DIM, 3), -1.0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Each face keeps its model id on disk.
    let stored = store.photo("s", "mixed").await.unwrap().unwrap();
    assert_eq!(stored.faces[0].embedding.model().0, "open@1");
    assert_eq!(stored.faces[1].embedding.model().0, MODEL);
}

/// More faces of one photo near the probe than the first query's rows: the search asks
/// again for more rows until it has found the other photos.
pub async fn a_photo_with_many_faces_does_not_hide_the_others(store: &dyn CollectionStore) {
    let probe = unit(MODEL, DIM, 77);
    let crowd = (0..100)
        .map(|i| at_similarity(&probe, 0.9 - 0.001 * i as f32, 1_000 + i))
        .collect();
    store
        .insert_photo(&photo("s", "crowd", crowd, 1))
        .await
        .unwrap();
    for (i, similarity) in [0.7, 0.6, 0.5].into_iter().enumerate() {
        let face = at_similarity(&probe, similarity, 2_000 + i as u64);
        store
            .insert_photo(&photo("s", &format!("p{i}"), vec![face], 2))
            .await
            .unwrap();
    }

    let found = store.search("s", &probe, 0.55, 10).await.unwrap();
    assert_eq!(ids(&found), [("crowd", 0), ("p0", 0), ("p1", 0)]);
    assert_close(found[0].similarity, 0.9);
    assert_close(found[2].similarity, 0.6);
    assert_eq!(
        ids(&store.search("s", &probe, -1.0, 2).await.unwrap()),
        [("crowd", 0), ("p0", 0)]
    );
}
