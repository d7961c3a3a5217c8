//! Findings of an attacker's test of the default service, one test each: end users cannot
//! search other people's faces, usernames are one account per spelling and cannot take an
//! administrator's name, instance details need an admin, odd request ids are replaced,
//! passwords are counted in characters and the bearer scheme in any case, batches are
//! bounded, read their keys under the import prefix only and report client mistakes
//! without internal paths, API keys die with the account that made them, one account has
//! a bounded number of pending jobs and a rate of uploads for jobs checked before they are
//! stored and not kept after, and JSON bodies without images are small.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::accounts::{PASSWORD, PERSON, sign_up, token};
use crate::helpers::{
    Fixtures, TestApp, bare_client, blob_dir, embedded_settings, eventually, expect_error,
    expect_json, image_form, image_part, settings, temp_dir, within_one_rate_window,
};
use crate::services::files_under;

/// `POST /auth/register` with a username and password.
async fn register(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    bare_client()
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

/// `GET /auth/check` of the access token of `tokens` (an answer of `/auth/token`).
async fn check(app: &TestApp, tokens: &Value) -> Value {
    let response = bare_client()
        .get(app.url("/api/v1/auth/check"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::OK).await
}

/// A self-registered account acts on itself only: identification, subject lists and
/// session search need an operator or a key an admin granted.
#[tokio::test]
async fn self_registered_users_cannot_identify_or_search_people() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let mallory = sign_up(&app, "mallory").await;
    let selfie = || image_form("file", fx.lfw.photo(PERSON, 0));
    let refused = [
        mallory.get("/api/v1/subjects"),
        mallory.get("/api/v1/subjects/alice"),
        mallory.post("/api/v1/identify").multipart(selfie()),
        mallory
            .post("/api/v1/search")
            .multipart(selfie().text("session_id", "event")),
        mallory.get("/api/v1/search/status/event"),
    ];
    for request in refused {
        expect_error(
            request.send().await.unwrap(),
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    // Their own account and the stateless checks of their own images still work.
    assert_eq!(mallory.me().await["username"], "mallory");
    let liveness = mallory
        .post("/api/v1/liveness")
        .multipart(selfie())
        .send()
        .await
        .unwrap();
    expect_json(liveness, StatusCode::OK).await;
    app.stop().await;
}

/// `Alice`, `alice` and `ALICE` are one account.
#[tokio::test]
async fn usernames_are_one_account_whatever_their_case() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let alice = sign_up(&app, "Alice").await;
    let me = alice.me().await;
    assert_eq!(me["username"], "alice", "{me}");
    for name in ["alice", "ALICE"] {
        let again = register(&app, name, PASSWORD).await;
        expect_error(again, StatusCode::CONFLICT, "conflict").await;
        let tokens = token(&app, &json!({"username": name, "password": PASSWORD})).await;
        let checked = check(&app, &tokens).await;
        assert_eq!(checked["user_id"], me["id"], "{checked}");
    }
    app.stop().await;
}

/// Nobody registers as `admin` or as the configured admin account, which is created.
#[tokio::test]
async fn administrators_names_cannot_be_registered() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.auth.admin_username = "keeper".into();
    s.auth.admin_password = Some(PASSWORD.into());
    let app = TestApp::spawn(&s).await;
    for name in ["admin", "ADMIN", "keeper", "Keeper"] {
        let response = register(&app, name, PASSWORD).await;
        let body = expect_error(response, StatusCode::CONFLICT, "conflict").await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("reserved"), "{body}");
    }
    let tokens = token(&app, &json!({"username": "keeper", "password": PASSWORD})).await;
    assert_eq!(check(&app, &tokens).await["role"], "admin");
    app.stop().await;
}

/// An account of another role holding the configured admin's name stops the start with a
/// message that says so, rather than a service without its admin.
#[tokio::test]
async fn an_admin_name_held_by_a_client_fails_the_start() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    let app = TestApp::spawn(&s).await;
    sign_up(&app, "ops").await;
    app.stop().await;
    s.auth.admin_username = "ops".into();
    s.auth.admin_password = Some(PASSWORD.into());
    let error = match facegate_server::app::build(&s).await {
        Ok(_) => panic!("the start succeeded without its admin account"),
        Err(error) => format!("{error:#}"),
    };
    assert!(
        error.contains("\"ops\"") && error.contains("client"),
        "{error}"
    );
}

/// Liveness and readiness are public; the instance's details are for admins only.
#[tokio::test]
async fn detailed_health_needs_an_admin() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let anonymous = bare_client();
    for path in ["/health", "/health/live", "/health/ready"] {
        let response = anonymous.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let response = anonymous
        .get(app.url("/health/detailed"))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let erin = sign_up(&app, "erin").await;
    let response = erin.get("/health/detailed").send().await.unwrap();
    expect_error(response, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.get_ok("/health/detailed").await["ready"], true);
    app.stop().await;
}

/// A plain, short client request id is kept; any other is replaced by a generated one in
/// the answer, its error body and the audit log.
#[tokio::test]
async fn odd_request_ids_are_replaced() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let cases = [
        ("req-1.2:3_ok".to_owned(), true),
        ("x".repeat(100_000), false),
        ("x".repeat(65), false),
        ("<script>".to_owned(), false),
        ("a b".to_owned(), false),
    ];
    for (sent, kept) in &cases {
        // With the admin key: refusals of callers without credentials are not audited.
        let response = app
            .client
            .post(app.url("/api/v1/auth/token"))
            .header("x-request-id", sent)
            .json(&json!({"username": "nobody", "password": "wrong password"}))
            .send()
            .await
            .unwrap();
        let echoed = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        if *kept {
            assert_eq!(&echoed, sent);
        } else {
            assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "{echoed:.80}");
        }
    }
    let audit = app.get_ok("/api/v1/admin/audit?limit=1000").await;
    let ids: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["request_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"req-1.2:3_ok"), "{ids:?}");
    assert!(ids.iter().all(|id| id.len() <= 64), "a long id was stored");
    app.stop().await;
}

/// Password limits count characters, as their message says, and the bearer scheme is
/// read in any case.
#[tokio::test]
async fn passwords_count_characters_and_the_bearer_scheme_any_case() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    // 1,000 characters, 2,000 bytes of UTF-8.
    let long = "é".repeat(1000);
    expect_json(register(&app, "frank", &long).await, StatusCode::CREATED).await;
    let tokens = token(&app, &json!({"username": "frank", "password": long})).await;
    let too_long = register(&app, "grace", &"a".repeat(1025)).await;
    expect_error(too_long, StatusCode::BAD_REQUEST, "validation_failed").await;

    let access = tokens["access_token"].as_str().unwrap();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response = bare_client()
            .get(app.url("/api/v1/users/me"))
            .header("authorization", format!("{scheme} {access}"))
            .send()
            .await
            .unwrap();
        expect_json(response, StatusCode::OK).await;
    }
    app.stop().await;
}

/// What the embedded default writes (database, uploads, secrets) is its owner's only.
#[tokio::test]
async fn data_files_are_private() {
    use std::os::unix::fs::PermissionsExt;

    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&embedded_settings(&fx.models, dir.path())).await;
    let alice = sign_up(&app, "alice").await;
    alice.verify_face(fx.lfw.photo(PERSON, 0)).await;
    app.stop().await;
    let mut checked = 0;
    let mut pending = vec![dir.path().to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
            checked += 1;
            if path.is_dir() {
                pending.push(path);
            }
        }
    }
    assert!(checked >= 3, "only {checked} files and folders");
}

/// A batch reads under the import prefix only (not users' scan photos or uploads), holds
/// at most `policy.max_batch_photos` photos, counts each photo against the index rate
/// limit, and a key the store cannot hold is the caller's mistake, told without the
/// store's paths.
#[tokio::test]
async fn batches_are_bounded_and_confined_to_the_import_prefix() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.policy.max_batch_photos = 3;
    s.http.rate_limits.index_per_key_per_minute = 5;
    let blobs = blob_dir(&s);
    for folder in ["imports/event", "scans"] {
        std::fs::create_dir_all(blobs.join(folder)).unwrap();
    }
    std::fs::write(blobs.join("imports/event/a.jpg"), fx.lfw.photo(PERSON, 0)).unwrap();
    std::fs::write(blobs.join("scans/private.jpg"), fx.lfw.photo(PERSON, 1)).unwrap();
    let app = TestApp::spawn(&s).await;
    within_one_rate_window(30).await;

    let long = "k".repeat(300);
    let request = json!({
        "session_id": "event",
        "photos": [
            {"photo_id": "a", "key": "event/a.jpg"},
            {"photo_id": "private", "key": "scans/private.jpg"},
            {"photo_id": "long", "key": long},
        ],
    });
    let body = expect_json(
        app.post_json("/api/v1/index/batch", &request).await,
        StatusCode::OK,
    )
    .await;
    let outcomes: Vec<(&str, &str)> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let outcome = item["error"]["code"].as_str().unwrap_or("indexed");
            (item["photo_id"].as_str().unwrap(), outcome)
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("a", "indexed"),
            ("private", "not_found"),
            ("long", "validation_failed")
        ],
        "{body}"
    );
    let text = body.to_string();
    let root = blobs.to_str().unwrap();
    assert!(!text.contains(root), "{text}");

    let too_many = json!({
        "session_id": "event",
        "photos": (0..4)
            .map(|i| json!({"photo_id": format!("p{i}"), "key": "event/a.jpg"}))
            .collect::<Vec<_>>(),
    });
    let response = app.post_json("/api/v1/index/batch", &too_many).await;
    expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;

    // Each photo counts against the index limit (5 a minute here): 3, then 1 for the
    // refused request, so a batch of two goes past it and is refused whole.
    let two = json!({
        "session_id": "event",
        "photos": [
            {"photo_id": "b", "key": "event/a.jpg"},
            {"photo_id": "c", "key": "event/a.jpg"},
        ],
    });
    let response = app.post_json("/api/v1/index/batch", &two).await;
    let body = expect_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("0 left, 1 asked"),
        "{body}"
    );
    // Nothing of it was indexed.
    assert_eq!(app.session_status("event").await["indexed_photos"], 1);
    app.stop().await;
}

/// An API key acts for the account that made it: deleting that account revokes the key.
#[tokio::test]
async fn keys_die_with_the_admin_who_made_them() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.auth.admin_username = "keeper".into();
    s.auth.admin_password = Some(PASSWORD.into());
    let app = TestApp::spawn(&s).await;
    let tokens = token(&app, &json!({"username": "keeper", "password": PASSWORD})).await;
    let keeper_id = check(&app, &tokens).await["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = bare_client()
        .post(app.url("/api/v1/admin/api-keys"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .json(&json!({"name": "ops", "scopes": ["admin"]}))
        .send()
        .await
        .unwrap();
    let secret = expect_json(created, StatusCode::CREATED).await["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let with_key = || {
        bare_client()
            .get(app.url("/api/v1/admin/users"))
            .header("x-api-key", &secret)
    };
    expect_json(with_key().send().await.unwrap(), StatusCode::OK).await;

    let deleted = app
        .client
        .delete(app.url(&format!("/api/v1/admin/users/{keeper_id}")))
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let refused = with_key().send().await.unwrap();
    expect_error(refused, StatusCode::UNAUTHORIZED, "invalid_api_key").await;
    app.stop().await;
}

/// One account cannot fill the queue every account shares: past
/// `worker.max_pending_per_user` pending verifications and scans, the next is refused.
#[tokio::test]
async fn a_user_has_a_bounded_number_of_pending_jobs() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    // No worker runs the jobs: they stay pending.
    s.worker.in_process = false;
    s.worker.max_pending_per_user = 2;
    let app = TestApp::spawn(&s).await;
    let alice = sign_up(&app, "alice").await;
    let selfie = || image_form("file", fx.lfw.photo(PERSON, 0));
    let verify = alice.post("/api/v1/auth/verify").multipart(selfie());
    expect_json(verify.send().await.unwrap(), StatusCode::ACCEPTED).await;
    let scan = alice.post("/api/v1/scans").multipart(selfie());
    expect_json(scan.send().await.unwrap(), StatusCode::ACCEPTED).await;
    for path in ["/api/v1/auth/verify", "/api/v1/scans"] {
        let response = alice.post(path).multipart(selfie()).send().await.unwrap();
        expect_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    }
    // Another account is not held up.
    let bob = sign_up(&app, "bob").await;
    let verify = bob.post("/api/v1/auth/verify").multipart(selfie());
    expect_json(verify.send().await.unwrap(), StatusCode::ACCEPTED).await;
    app.stop().await;
}

/// JSON bodies without images are bounded by `http.json_body_limit_bytes`, whether they
/// declare their length (refused before reading) or not (refused at the limit); the
/// sign-in routes anyone may call are among them.
#[tokio::test]
async fn json_bodies_without_images_are_small() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let s = settings(&fx.models, dir.path());
    let limit = s.http.json_body_limit_bytes;
    let app = TestApp::spawn(&s).await;
    let padding = "x".repeat(limit);
    let response = register(&app, "bob", &padding).await;
    let body = expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "body_too_large").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&limit.to_string()),
        "{body}"
    );

    // Chunked, with no length declared.
    let json = json!({"username": "bob", "password": padding}).to_string();
    let mut stream = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    let request = format!(
        "POST /api/v1/auth/register HTTP/1.1\r\nHost: facegate\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{json}\r\n0\r\n\r\n",
        json.len()
    );
    // The server may stop reading at the limit: only its answer matters.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = vec![0; 4096];
    let n = stream.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("body_too_large"), "{answer}");

    // Within the limit the same route works.
    let response = register(&app, "bob", PASSWORD).await;
    expect_json(response, StatusCode::CREATED).await;
    app.stop().await;
}

/// `/scans` and `/auth/verify` store an upload for a job: it is checked against the image
/// limits before anything is stored, a user may send `uploads_per_user_per_minute` of them,
/// and a scan's photo is deleted once it is scored or rejected.
#[tokio::test]
async fn uploads_for_jobs_are_checked_first_limited_and_not_kept() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.http.rate_limits.uploads_per_user_per_minute = 4;
    let app = TestApp::spawn(&s).await;
    let blobs = blob_dir(&s);
    let stored = || files_under(&blobs).len();
    within_one_rate_window(30).await;
    let alice = sign_up(&app, "alice").await;
    let before = stored();
    let noise: Vec<u8> = (0..=s.vision.limits.max_bytes)
        .map(|i| (i * 7919 % 251) as u8)
        .collect();
    let refused = [
        (
            "/api/v1/scans",
            noise.clone(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "image_too_large",
        ),
        (
            "/api/v1/auth/verify",
            noise[..4096].to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_format",
        ),
    ];
    for (path, bytes, status, code) in refused {
        let response = alice.post(path).multipart(image_form("file", bytes));
        expect_error(response.send().await.unwrap(), status, code).await;
        assert_eq!(stored(), before, "{path} stored a refused upload");
    }

    let scan = alice.scan(fx.lfw.photo(PERSON, 0)).await;
    assert_eq!(scan["result"]["status"], "scored", "{scan}");
    // The photo is deleted once the scan is marked done.
    eventually("the scored photo is kept", || stored() == before).await;
    let selfie = || image_form("file", fx.lfw.photo(PERSON, 1));
    let fourth = alice.post("/api/v1/scans").multipart(selfie());
    expect_json(fourth.send().await.unwrap(), StatusCode::ACCEPTED).await;
    let fifth = alice.post("/api/v1/scans").multipart(selfie());
    expect_error(
        fifth.send().await.unwrap(),
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    // Another user has their own allowance.
    let bob = sign_up(&app, "bob").await;
    let scan = bob.post("/api/v1/scans").multipart(selfie());
    expect_json(scan.send().await.unwrap(), StatusCode::ACCEPTED).await;
    app.stop().await;
}

/// Uploads no pending job consumes (a crash between storing and queueing) are deleted by
/// the worker's sweep once `worker.upload_sweep_ms` old; newer ones are left alone.
#[tokio::test]
async fn uploads_no_job_consumes_are_swept() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let s = settings(&fx.models, dir.path());
    let blobs = blob_dir(&s);
    let hours_ago = std::time::SystemTime::now() - std::time::Duration::from_hours(2);
    let write = |key: &str, modified: std::time::SystemTime| {
        let path = blobs.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, fx.lfw.photo(PERSON, 0)).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        path
    };
    let lost = [
        write("uploads/verification/lost", hours_ago),
        write("scans/lost", hours_ago),
    ];
    let new = write("uploads/verification/new", std::time::SystemTime::now());
    let app = TestApp::spawn(&s).await;
    eventually("an orphaned upload was kept", || {
        lost.iter().all(|path| !path.exists())
    })
    .await;
    assert!(new.exists(), "a new upload was deleted");
    app.stop().await;
}

/// No caller, an admin included, can lower a threshold below the model's floor (its
/// false-accept rate of 1e-2 on LFW) to have strangers' faces listed as matches.
#[tokio::test]
async fn thresholds_cannot_go_below_the_models_floor() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let s = settings(&fx.models, dir.path());
    let floor = s.policy().min_threshold;
    let app = TestApp::spawn(&s).await;
    let (status, _) = app
        .index("event", "p1", fx.lfw.photo("Angela_Merkel", 0))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let stranger = || fx.lfw.photo(PERSON, 0);
    let below = (floor - 0.01).to_string();
    let searched = [
        (
            "/api/v1/search",
            image_form("file", stranger()).text("session_id", "event"),
        ),
        ("/api/v1/identify", image_form("file", stranger())),
        (
            "/api/v1/verify",
            image_form("image_a", stranger())
                .part("image_b", image_part(fx.lfw.photo("Angela_Merkel", 1))),
        ),
    ];
    for (path, form) in searched {
        let response = app
            .post_form(path, form.text("threshold", below.clone()))
            .await;
        let body = expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&floor.to_string()),
            "{path}: {body}"
        );
    }
    // At the floor the stranger is not found.
    let (status, body) = app
        .search_with("event", stranger(), &[("threshold", &floor.to_string())])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["matches"], json!([]), "{body}");
    app.stop().await;
}

/// Requests without valid credentials that are refused are counted by the request metrics,
/// not stored one audit row each; an anonymous sign-up that succeeds is still audited.
#[tokio::test]
async fn anonymous_refusals_are_counted_not_stored() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let anonymous = bare_client();
    for _ in 0..30 {
        let response = anonymous
            .post(app.url("/api/v1/index"))
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    for _ in 0..10 {
        let response = anonymous
            .delete(app.url("/api/v1/subjects/alice"))
            .header("x-api-key", "fgk_forged-key-0123456789abcdefghijklmnopq")
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::UNAUTHORIZED, "invalid_api_key").await;
    }
    expect_json(register(&app, "carol", PASSWORD).await, StatusCode::CREATED).await;

    let audit = app.get_ok("/api/v1/admin/audit?limit=1000").await;
    let entries = audit["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .all(|e| e["actor"] != "anonymous" || e["status"].as_u64() < Some(400)),
        "{audit}"
    );
    assert!(
        entries.iter().any(|e| e["actor"] == "anonymous"
            && e["action"] == "POST /api/v1/auth/register"
            && e["status"] == 201),
        "{audit}"
    );
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let refused = metrics
        .lines()
        .find(|line| {
            line.starts_with("facegate_http_requests_total{")
                && line.contains(r#"route="/api/v1/index""#)
                && line.contains(r#"status="401""#)
        })
        .unwrap_or_else(|| panic!("no count of the refusals:\n{metrics}"));
    assert!(refused.ends_with(" 30"), "{refused}");
    app.stop().await;
}
