//! Photo collections: index LFW photos into sessions, search them with a selfie.

use std::collections::HashSet;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Fixtures, Lfw, TestApp, blob_dir, expect_error, expect_json, image_form, photo_ids, settings,
    temp_dir,
};

/// Photos indexed into the first session.
const COLLECTION_SIZE: usize = 200;
/// People with several photos in the collection.
const RECURRING_PEOPLE: usize = 10;

/// An event's photos: a few people on several photos, strangers on one each.
#[derive(Debug)]
struct Collection {
    /// `(photo_id, bytes)`.
    photos: Vec<(String, Vec<u8>)>,
    /// The person searched for, and the ids of their indexed photos.
    person: String,
    person_ids: Vec<String>,
    /// A photo of `person` that is not indexed: the selfie.
    held_out: Vec<u8>,
    /// People with one photo who are not in the collection.
    outsiders: Vec<String>,
}

/// A photo's id: its file name without extension, such as `Adrien_Brody_0002`.
fn photo(path: &Path) -> (String, Vec<u8>) {
    let id = path.file_stem().unwrap().to_string_lossy().into_owned();
    (id, std::fs::read(path).unwrap())
}

/// The first [`RECURRING_PEOPLE`] people (by name) with 4 to 8 photos, all of them but
/// the first photo of the one with most photos (the searched person), then people with a
/// single photo up to `size` photos.
fn collection(lfw: &Lfw, size: usize) -> Collection {
    let people = lfw.people();
    let recurring: Vec<&(String, usize)> = people
        .iter()
        .filter(|(_, count)| (4..=8).contains(count))
        .take(RECURRING_PEOPLE)
        .collect();
    let person = recurring
        .iter()
        .max_by_key(|(name, count)| (*count, std::cmp::Reverse(name.clone())))
        .map(|(name, _)| name.clone())
        .unwrap();
    let mut photos = Vec::new();
    let mut person_ids = Vec::new();
    for (name, _) in &recurring {
        let files = lfw.files(name);
        let skip = usize::from(*name == person);
        for path in &files[skip..] {
            let (id, bytes) = photo(path);
            if *name == person {
                person_ids.push(id.clone());
            }
            photos.push((id, bytes));
        }
    }
    let mut singles = people.iter().filter(|(_, count)| *count == 1);
    while photos.len() < size {
        let (name, _) = singles.next().expect("enough people with one photo");
        photos.push(photo(&lfw.files(name)[0]));
    }
    let outsiders = singles.take(3).map(|(name, _)| name.clone()).collect();
    Collection {
        photos,
        person_ids,
        held_out: lfw.photo(&person, 0),
        person,
        outsiders,
    }
}

/// The searched person's photos come first (most of them at least: the threshold may
/// drop a hard one), best first, and every match reaches the threshold.
fn assert_person_ranks_first(c: &Collection, search: &Value) {
    let ids = photo_ids(search);
    let k = c.person_ids.len();
    eprintln!("{}: {k} photos indexed, search found {ids:?}", c.person);
    let theirs: Vec<&String> = ids
        .iter()
        .take_while(|id| c.person_ids.contains(id))
        .collect();
    assert!(
        !theirs.is_empty(),
        "the best match is {}: {search}",
        c.person
    );
    assert!(
        theirs.len() * 4 >= k * 3,
        "at least 3/4 of {k} photos of {} rank first: {ids:?}",
        c.person
    );
    let found: HashSet<&String> = ids.iter().filter(|id| c.person_ids.contains(id)).collect();
    assert_eq!(
        found.len(),
        theirs.len(),
        "no other photo ranks above one of {}: {ids:?}",
        c.person
    );
    let similarities: Vec<f64> = search["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["similarity"].as_f64().unwrap())
        .collect();
    assert!(
        similarities.windows(2).all(|w| w[0] >= w[1]),
        "best first: {similarities:?}"
    );
    let threshold = search["threshold"].as_f64().unwrap();
    assert!(similarities.iter().all(|s| *s >= threshold), "{search}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_search_isolate_and_delete_sessions() {
    let Some(fx) = Fixtures::get() else {
        return;
    };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let c = collection(&fx.lfw, COLLECTION_SIZE);
    assert_eq!(c.photos.len(), COLLECTION_SIZE);
    let (first_id, first_bytes) = c.photos[0].clone();

    let indexed = app.index_all("event-1", c.photos.clone()).await;
    let status = app.session_status("event-1").await;
    assert_eq!(status["indexed_photos"], COLLECTION_SIZE, "{status}");
    assert!(
        status["indexed_faces"].as_u64().unwrap() >= COLLECTION_SIZE as u64,
        "LFW photos hold at least one face each: {status}"
    );

    // The held-out photo finds the person's photos, and they come first.
    let (code, search) = app.search("event-1", c.held_out.clone()).await;
    assert_eq!(code, StatusCode::OK, "{search}");
    assert_eq!(search["indexed_photos"], COLLECTION_SIZE, "{search}");
    assert_person_ranks_first(&c, &search);
    let ids = photo_ids(&search);
    let (_, limited) = app
        .search_with("event-1", c.held_out.clone(), &[("limit", "1")])
        .await;
    assert_eq!(photo_ids(&limited), ids[..1], "{limited}");

    // Indexing a photo again changes nothing and returns the stored result.
    let (code, again) = app.index("event-1", &first_id, first_bytes).await;
    assert_eq!(code, StatusCode::OK, "{again}");
    assert_eq!(again["created"], false, "{again}");
    let original = &indexed[&first_id];
    for field in [
        "faces",
        "face_count",
        "indexed_at",
        "session_id",
        "photo_id",
    ] {
        assert_eq!(
            again[field], original[field],
            "{field}: {again} vs {original}"
        );
    }
    assert_eq!(app.session_status("event-1").await, status);

    // A second session sees only its own photos.
    let mut second: Vec<(String, Vec<u8>)> = c
        .outsiders
        .iter()
        .map(|name| (format!("s2-{name}"), fx.lfw.photo(name, 0)))
        .collect();
    second.push(("s2-person".to_owned(), fx.lfw.photo(&c.person, 1)));
    app.index_all("event-2", second.clone()).await;
    assert_eq!(
        app.session_status("event-2").await["indexed_photos"],
        second.len()
    );
    let ids2 = app.search_ids("event-2", c.held_out.clone()).await;
    assert_eq!(ids2, ["s2-person"], "only session 2's photo of the person");
    assert_eq!(app.session_status("event-1").await, status);

    // Deleting session 1 leaves session 2.
    let deleted = expect_json(app.delete("/api/v1/index/event-1").await, StatusCode::OK).await;
    assert_eq!(deleted["deleted_photos"], COLLECTION_SIZE, "{deleted}");
    let gone = app.session_status("event-1").await;
    assert_eq!(gone["indexed_photos"], 0, "{gone}");
    assert_eq!(gone["indexed_faces"], 0, "{gone}");
    let response = app.delete("/api/v1/index/event-1").await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let response = app
        .post_form(
            "/api/v1/search",
            image_form("file", c.held_out.clone()).text("session_id", "event-1"),
        )
        .await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.search_ids("event-2", c.held_out).await, ["s2-person"]);

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_indexes_blobs_and_reports_each_failure() {
    let Some(fx) = Fixtures::get() else {
        return;
    };
    let dir = temp_dir();
    let settings = settings(&fx.models, dir.path());
    // Batch keys are read under the import prefix (`storage.import_prefix`).
    let event = blob_dir(&settings).join("imports").join("event1");
    std::fs::create_dir_all(&event).unwrap();
    let person = "Alan_Greenspan";
    for (name, n) in [("a.jpg", 0), ("b.jpg", 1), ("c.jpg", 2)] {
        std::fs::write(event.join(name), fx.lfw.photo(person, n)).unwrap();
    }
    std::fs::write(event.join("notes.txt"), "not an image").unwrap();
    let app = TestApp::spawn(&settings).await;

    let request = json!({
        "session_id": "batch",
        "photos": [
            {"photo_id": "a", "key": "event1/a.jpg"},
            {"photo_id": "missing", "key": "event1/missing.jpg"},
            // FacePass's name of the key.
            {"photo_id": "b", "s3_key": "event1/b.jpg"},
            {"photo_id": "escape", "key": "../x"},
            {"photo_id": "notes", "key": "event1/notes.txt"},
            {"photo_id": "c", "key": "event1/c.jpg"},
        ],
    });
    let body = expect_json(
        app.post_json("/api/v1/index/batch", &request).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["session_id"], "batch");
    assert_eq!(
        (&body["indexed"], &body["failed"], &body["total"]),
        (&json!(3), &json!(3), &json!(6)),
        "{body}"
    );
    let errors: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(errors.len(), 3, "{body}");
    assert!(errors[0].starts_with("missing: "), "{body}");
    let items = body["items"].as_array().expect("items");
    let outcome = |item: &Value| {
        item["error"]["code"]
            .as_str()
            .map_or_else(|| "indexed".to_owned(), str::to_owned)
    };
    let outcomes: Vec<(String, String)> = items
        .iter()
        .map(|i| (i["photo_id"].as_str().unwrap().to_owned(), outcome(i)))
        .collect();
    let expected = [
        ("a", "indexed"),
        ("missing", "not_found"),
        ("b", "indexed"),
        ("escape", "validation_failed"),
        ("notes", "unsupported_format"),
        ("c", "indexed"),
    ]
    .map(|(id, o)| (id.to_owned(), o.to_owned()));
    assert_eq!(outcomes, expected, "{body}");
    for item in items {
        if item["error"].is_null() {
            assert_eq!(item["created"], true, "{item}");
            assert_eq!(item["faces"], 1, "{item}");
        } else {
            assert!(
                item["faces"].is_null() && item["created"].is_null(),
                "{item}"
            );
            assert!(!item["error"]["message"].as_str().unwrap().is_empty());
        }
    }
    let status = app.session_status("batch").await;
    assert_eq!(status["indexed_photos"], 3, "{status}");

    // The indexed photos are searchable; a second run is idempotent.
    let mut ids = app.search_ids("batch", fx.lfw.photo(person, 3)).await;
    ids.sort();
    assert_eq!(ids, ["a", "b", "c"]);
    let again = expect_json(
        app.post_json("/api/v1/index/batch", &request).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["indexed"], 3, "{again}");
    for item in again["items"].as_array().unwrap() {
        assert!(
            item["created"] == false || !item["error"].is_null(),
            "{item}"
        );
    }
    assert_eq!(app.session_status("batch").await, status);

    app.stop().await;
}
