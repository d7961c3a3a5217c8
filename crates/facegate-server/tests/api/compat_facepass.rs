//! FacePass's documented requests, replayed as its clients send them (`X-API-Key`, its
//! field names), with real photos; each answer must carry FacePass's documented fields
//! with their types. On the production run the batch reads its `s3_key`s from the test S3
//! server, as FacePass's Python integration example does (batch by S3 keys, then search
//! with `threshold=0.7`).

use reqwest::StatusCode;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::helpers::{
    Fixtures, TestApp, bare_client, blob_dir, expect_json, image_part, settings, temp_dir,
};

const PERSON: &str = "Alan_Greenspan";
/// A key of FacePass's `API_KEYS` list, carried into `auth.static_api_keys`.
const FACEPASS_KEY: &str = "facepass-event-key-2024";
const OTHER: &str = "Aaron_Peirsol";

fn number_in(value: &Value, range: std::ops::RangeInclusive<f64>) -> bool {
    value.as_f64().is_some_and(|v| range.contains(&v))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facepass_requests_get_facepass_answers() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.auth.static_api_keys = vec![FACEPASS_KEY.to_owned()];
    // FacePass keeps event photos under `sessions/<uuid>/`: with that as the import prefix
    // its keys are read as they are, and batches read nothing else of the bucket.
    s.storage.import_prefix = "sessions".to_owned();
    let session = uuid::Uuid::new_v4().to_string();
    let folder = blob_dir(&s).join("sessions").join(&session);
    std::fs::create_dir_all(&folder).unwrap();
    for n in 0..3 {
        std::fs::write(
            folder.join(format!("photo{n}.jpg")),
            fx.lfw.photo(PERSON, n),
        )
        .unwrap();
    }
    let app = TestApp::spawn(&s).await;

    // POST /api/v1/index: multipart photo_id, session_id, file; the key from API_KEYS.
    let form = Form::new()
        .text("photo_id", "photo_other")
        .text("session_id", session.clone())
        .part("file", image_part(fx.lfw.photo(OTHER, 0)));
    let with_key = |key: &str, request: reqwest::RequestBuilder| {
        request.header("X-API-Key", key.to_owned()).send()
    };
    let client = bare_client();
    let indexed = expect_json(
        with_key(
            FACEPASS_KEY,
            client.post(app.url("/api/v1/index")).multipart(form),
        )
        .await
        .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(indexed["indexed"], true, "{indexed}");
    assert_eq!(indexed["photo_id"], "photo_other", "{indexed}");
    assert!(number_in(&indexed["confidence"], 0.0..=1.0), "{indexed}");
    assert_eq!(indexed["faces_detected"], 1, "{indexed}");

    // POST /api/v1/index/batch: photos by s3_key; one of them missing.
    let key = |n: &str| format!("sessions/{session}/{n}.jpg");
    let mut photos: Vec<Value> = (0..3)
        .map(|n| json!({"photo_id": format!("photo{n}"), "s3_key": key(&format!("photo{n}"))}))
        .collect();
    photos.push(json!({"photo_id": "photo_gone", "s3_key": key("photo_gone")}));
    let batch = expect_json(
        app.post_json(
            "/api/v1/index/batch",
            &json!({"session_id": session, "photos": photos}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (&batch["indexed"], &batch["failed"], &batch["total"]),
        (&json!(3), &json!(1), &json!(4)),
        "{batch}"
    );
    let errors = batch["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{batch}");
    assert!(
        errors[0].as_str().unwrap().starts_with("photo_gone: "),
        "{batch}"
    );

    search_with_threshold_0_7(&app, &session, fx.lfw.photo(PERSON, 3)).await;

    // GET /api/v1/search/status/{session_id}.
    let status = app
        .get_ok(&format!("/api/v1/search/status/{session}"))
        .await;
    assert_eq!(status["indexed"], true, "{status}");
    assert_eq!(status["session_id"], session.as_str(), "{status}");
    assert_eq!(status["photo_count"], 4, "{status}");
    let last = status["last_indexed"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(last).is_ok(),
        "{status}"
    );

    probes_need_no_key(&app).await;

    // The static key has its configured scopes only, and a key not in the list is refused.
    let stats = with_key(FACEPASS_KEY, client.get(app.url("/api/v1/admin/stats")));
    assert_eq!(stats.await.unwrap().status(), StatusCode::FORBIDDEN);
    let unknown = with_key(
        "facepass-event-key-2023",
        client.get(app.url(&format!("/api/v1/search/status/{session}"))),
    );
    assert_eq!(unknown.await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // DELETE /api/v1/index/{session_id}: the session is gone.
    let deleted = app.delete(&format!("/api/v1/index/{session}")).await;
    assert_eq!(deleted.status(), StatusCode::OK);
    let status = app.get(&format!("/api/v1/search/status/{session}")).await;
    let (code, body) = crate::helpers::read_json(status).await;
    assert!(
        code == StatusCode::NOT_FOUND || body["photo_count"] == 0,
        "{body}"
    );
    app.stop().await;
}

/// POST /api/v1/search: multipart session_id, file, threshold=0.7, limit=100; the matches
/// are the person's photos only.
async fn search_with_threshold_0_7(app: &TestApp, session: &str, selfie: Vec<u8>) {
    let form = Form::new()
        .text("session_id", session.to_owned())
        .text("threshold", "0.7")
        .text("limit", "100")
        .part("file", image_part(selfie));
    let found = expect_json(app.post_form("/api/v1/search", form).await, StatusCode::OK).await;
    let matches = found["matches"].as_array().unwrap();
    assert!(!matches.is_empty(), "{found}");
    for m in matches {
        assert!(m["photo_id"].as_str().unwrap().starts_with("photo"), "{m}");
        assert_ne!(m["photo_id"], "photo_other", "{found}");
        assert!(number_in(&m["similarity"], 0.7..=1.0), "{m}");
        assert!(number_in(&m["confidence"], 0.0..=1.0), "{m}");
    }
    assert_eq!(found["total_matches"], matches.len(), "{found}");
    assert_eq!(found["indexed_photos"], 4, "{found}");
    assert!(
        number_in(&found["query_time_ms"], 0.0..=60_000.0),
        "{found}"
    );
}

/// GET /api/v1/health and /api/v1/metrics need no key.
async fn probes_need_no_key(app: &TestApp) {
    let health = bare_client()
        .get(app.url("/api/v1/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let metrics = bare_client()
        .get(app.url("/api/v1/metrics"))
        .send()
        .await
        .unwrap();
    assert!(metrics.text().await.unwrap().contains("# TYPE"));
}
