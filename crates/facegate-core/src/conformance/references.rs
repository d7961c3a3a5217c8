//! References: re-embedding with a new model.

use super::fixtures::unit;
use crate::face::{BoundingBox, Embedding, FaceDetection, Landmarks5, ModelId};
use crate::model::Reference;
use crate::ports::ReferenceStore;

fn reference(id: &str, subject: &str, embedding: Embedding, crop: Option<&[u8]>) -> Reference {
    Reference {
        id: id.to_owned(),
        subject: subject.to_owned(),
        face: FaceDetection {
            bbox: BoundingBox::new(1.0, 2.0, 101.0, 122.0),
            score: 0.9,
            landmarks: Landmarks5::default(),
        },
        quality: 0.8,
        embedding,
        created_at: 1_000,
        crop: crop.map(<[u8]>::to_vec),
    }
}

/// Stale references are listed by id with their crops (or none), page by page; replacing
/// an embedding moves the reference to the new model for reads and identification, and
/// leaves it out of the stale list.
pub async fn references_are_reembedded(store: &dyn ReferenceStore) {
    let (old, new) = ("old-model@1", "new-model@2");
    let crop = b"\x89PNG crop bytes".as_slice();
    store
        .insert_reference(&reference("b", "bob", unit(old, 512, 1), Some(crop)))
        .await
        .unwrap();
    store
        .insert_reference(&reference("a", "ann", unit(old, 512, 2), None))
        .await
        .unwrap();
    store
        .insert_reference(&reference("c", "cy", unit(new, 704, 3), Some(crop)))
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
