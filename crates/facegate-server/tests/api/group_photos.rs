//! Group photos: faces of many sizes pasted on large photos are all indexed, and a selfie
//! finds every photo its person is on and no other.

use std::collections::BTreeSet;
use std::io::Cursor;

use facegate_core::BoundingBox;
use facegate_server::evaluation::composite::{Layout, Source, compose};

use crate::helpers::{Fixtures, TestApp, settings, temp_dir};

/// People pasted, each from three photos; their first photo is their selfie.
const PEOPLE: usize = 6;
const PHOTOS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selfie_search_finds_people_in_group_photos() {
    let Some(fx) = Fixtures::get() else {
        return;
    };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let people: Vec<String> = fx
        .lfw
        .people()
        .into_iter()
        .filter(|(_, photos)| *photos >= 4)
        .map(|(name, _)| name)
        .take(PEOPLE)
        .collect();
    let mut sources = Vec::new();
    for name in &people {
        for i in 1..=3 {
            let bytes = fx.lfw.photo(name, i);
            let detected = app.detect(bytes.clone()).await;
            let face: BoundingBox =
                serde_json::from_value(detected["faces"][0]["bbox"].clone()).unwrap();
            sources.push(Source {
                identity: name.clone(),
                image: image::load_from_memory(&bytes).unwrap().into_rgb8(),
                face,
            });
        }
    }

    let layout = Layout {
        width: 3000,
        height: 2000,
        faces: 10,
        min_face: 32.0,
        max_face: 200.0,
    };
    let mut rng = fastrand::Rng::with_seed(11);
    let mut photos = Vec::new();
    let mut on_photo: Vec<(String, BTreeSet<String>, usize)> = Vec::new();
    for p in 0..PHOTOS {
        let composite = compose(&mut rng, &sources, &layout);
        let mut jpeg = Vec::new();
        composite
            .image
            .write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
            .unwrap();
        let id = format!("group-{p}");
        let names = composite
            .faces
            .iter()
            .map(|f| sources[f.source].identity.clone())
            .collect();
        on_photo.push((id.clone(), names, composite.faces.len()));
        photos.push((id, jpeg));
    }
    let indexed = app.index_all("reunion", photos).await;
    for (id, _, placed) in &on_photo {
        let body = &indexed[id];
        assert!(
            body["face_count"].as_u64().unwrap() >= *placed as u64,
            "every one of the {placed} faces on {id} is indexed: {body}"
        );
    }

    for name in &people {
        let expected: BTreeSet<&String> = on_photo
            .iter()
            .filter(|(_, names, _)| names.contains(name))
            .map(|(id, ..)| id)
            .collect();
        let found = app.search_ids("reunion", fx.lfw.photo(name, 0)).await;
        assert_eq!(
            found.iter().collect::<BTreeSet<_>>(),
            expected,
            "the photos {name} is on, and only those"
        );
    }
    app.stop().await;
}
