//! The auth suite: every request without the right credentials is refused with a 401, 403
//! or 429 and a stable code; nothing tells whether a username exists; with encryption on,
//! no image or embedding is readable at rest.

use facegate_core::account::{AccessClaims, Role};
use facegate_core::ports::{Credentials, FaceEngine};
use facegate_crypto::{PasswordCost, TokenCredentials};
use reqwest::StatusCode;
use serde_json::{Value, json};

use reqwest::multipart::Form;

use crate::accounts::{PASSWORD, PERSON, UserSession, sign_up};
use crate::helpers::{
    Fixtures, TestApp, bare_client, embedded_settings, expect_error, expect_json, image_form,
    production, settings, temp_dir, within_one_rate_window,
};
use crate::services::files_under;

const JWT_SECRET: &str = "test-signing-key-0123456789abcdefghij";

/// An access token for `user_id` signed with `secret`, issued `age` seconds ago and valid
/// for `ttl` seconds from then.
fn token_for(secret: &str, user_id: &str, role: Role, age: i64, ttl: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    TokenCredentials::new(secret.as_bytes(), PasswordCost::Fast)
        .unwrap()
        .sign_access(&AccessClaims {
            sub: user_id.to_owned(),
            username: "mallory".into(),
            role,
            iat: now - age,
            exp: now - age + ttl,
            jti: "t".into(),
        })
        .unwrap()
}

/// Sends `request` and checks the refusal's status and code.
async fn refused(request: reqwest::RequestBuilder, status: StatusCode, code: &str) -> Value {
    let body = expect_error(request.send().await.unwrap(), status, code).await;
    assert!(
        [401, 403, 429].contains(&status.as_u16()),
        "the auth suite expects only 401, 403 or 429"
    );
    body
}

/// The role comes from the account, not from what a token or a request claims.
async fn roles_cannot_be_escalated(
    app: &TestApp,
    erin: &UserSession<'_>,
    erin_id: &str,
    index_form: &dyn Fn() -> Form,
) {
    let anon = bare_client();
    let claims_admin = token_for(JWT_SECRET, erin_id, Role::Admin, 0, 900);
    refused(
        anon.get(app.url("/api/v1/admin/users"))
            .bearer_auth(&claims_admin),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    refused(
        anon.post(app.url("/api/v1/auth/register"))
            .json(&json!({"username": "root2", "password": PASSWORD, "role": "admin"})),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    for (path, body) in [
        (
            "/api/v1/admin/users",
            json!({"username": "root3", "password": PASSWORD, "role": "admin"}),
        ),
        (
            "/api/v1/admin/api-keys",
            json!({"name": "mine", "scopes": ["admin"]}),
        ),
    ] {
        refused(
            erin.post(path).json(&body),
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    // Clients may not enroll or index.
    refused(
        erin.post("/api/v1/index").multipart(index_form()),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

/// A search key cannot index or administer, an index key cannot act as a user, and a
/// revoked key stops working at once.
async fn scoped_keys_are_enforced_and_revocable(
    app: &TestApp,
    fx: &Fixtures,
    index_form: &dyn Fn() -> Form,
) {
    let anon = bare_client();
    let subjects = app.url("/api/v1/subjects");
    let create_key = |name: &str, scopes: &[&str]| {
        app.client
            .post(app.url("/api/v1/admin/api-keys"))
            .json(&json!({"name": name, "scopes": scopes}))
    };
    let search_key = expect_json(
        create_key("search only", &["search"]).send().await.unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let search_secret = search_key["secret"].as_str().unwrap();
    assert!(search_secret.starts_with("fgk_"), "{search_key}");
    let listed = app.get_ok("/api/v1/admin/api-keys").await;
    assert!(
        !listed.to_string().contains(search_secret),
        "secrets are shown once"
    );
    let with_key = |r: reqwest::RequestBuilder| r.header("x-api-key", search_secret);
    let ok = with_key(anon.get(&subjects)).send().await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    refused(
        with_key(anon.post(app.url("/api/v1/index")).multipart(index_form())),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    refused(
        with_key(anon.get(app.url("/api/v1/admin/stats"))),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    refused(
        with_key(
            anon.post(app.url("/api/v1/auth/verify"))
                .multipart(image_form("file", fx.lfw.photo(PERSON, 0))),
        ),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // A revoked key stops working at once; an unknown key reads the same.
    let id = search_key["key"]["id"].as_str().unwrap();
    let revoked = app.delete(&format!("/api/v1/admin/api-keys/{id}")).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let revoked_body = refused(
        with_key(anon.get(&subjects)),
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
    )
    .await;
    let unknown_body = refused(
        anon.get(&subjects).header("x-api-key", "fgk_unknown"),
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
    )
    .await;
    assert_eq!(
        revoked_body["error"]["message"],
        unknown_body["error"]["message"]
    );
}

#[tokio::test]
async fn every_request_without_the_right_credentials_is_refused() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.auth.jwt_secret = Some(JWT_SECRET.into());
    let app = TestApp::spawn(&s).await;
    let anon = bare_client();
    let index_form = || {
        image_form("file", fx.lfw.photo(PERSON, 0))
            .text("session_id", "s")
            .text("photo_id", "p")
    };
    let subjects = app.url("/api/v1/subjects");

    // No credentials, malformed headers, garbage and forged tokens.
    refused(
        anon.get(&subjects),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    refused(
        anon.post(app.url("/api/v1/index")).multipart(index_form()),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    refused(
        anon.get(&subjects)
            .header("authorization", "Basic YWRtaW46YWRtaW4="),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    refused(
        anon.get(&subjects).bearer_auth("not.a.jwt"),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let erin = sign_up(&app, "erin").await;
    let erin_id = erin.me().await["id"].as_str().unwrap().to_owned();
    let forged = token_for(
        "another-key-0123456789abcdefghijklmn",
        &erin_id,
        Role::Admin,
        0,
        900,
    );
    refused(
        anon.get(&subjects).bearer_auth(&forged),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    let expired = token_for(JWT_SECRET, &erin_id, Role::Client, 3600, 900);
    refused(
        anon.get(app.url("/api/v1/users/me")).bearer_auth(&expired),
        StatusCode::UNAUTHORIZED,
        "token_expired",
    )
    .await;
    refused(
        anon.get(app.url("/api/v1/auth/check"))
            .bearer_auth(&expired),
        StatusCode::UNAUTHORIZED,
        "token_expired",
    )
    .await;
    // A validly signed token for a user that does not exist.
    let ghost = token_for(JWT_SECRET, "no-such-user", Role::Admin, 0, 900);
    refused(
        anon.get(&subjects).bearer_auth(&ghost),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    roles_cannot_be_escalated(&app, &erin, &erin_id, &index_form).await;
    scoped_keys_are_enforced_and_revocable(&app, &fx, &index_form).await;

    // Wrong password and unknown user: the same answer.
    let mut answers = Vec::new();
    for username in ["erin", "nobody-here"] {
        let body = refused(
            anon.post(app.url("/api/v1/auth/token"))
                .json(&json!({"username": username, "password": "wrong password"})),
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
        answers.push(body["error"]["message"].clone());
    }
    assert_eq!(answers[0], answers[1]);

    // Nothing was enrolled or indexed by the refused requests.
    let stats = app.get_ok("/api/v1/admin/stats").await;
    assert_eq!(
        (&stats["counts"]["references"], &stats["counts"]["photos"]),
        (&json!(0), &json!(0)),
        "{stats}"
    );
    app.stop().await;
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.http.rate_limits.index_per_key_per_minute = 2;
    s.http.rate_limits.auth_per_ip_per_minute = 3;
    let app = TestApp::spawn(&s).await;
    let photo = fx.lfw.photo(PERSON, 0);
    within_one_rate_window(30).await;
    for i in 0..2 {
        let (status, body) = app.index("s", &format!("p{i}"), photo.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let form = image_form("file", photo)
        .text("session_id", "s")
        .text("photo_id", "p2");
    let response = app.post_form("/api/v1/index", form).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(response.headers()["ratelimit-remaining"], "0");
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // The limit counts per key: the refused photo was not indexed.
    assert_eq!(app.session_status("s").await["indexed_photos"], 2);

    // Password guessing is limited per client IP.
    let guess = || {
        bare_client()
            .post(app.url("/api/v1/auth/token"))
            .json(&json!({"username": "x", "password": "guess"}))
    };
    for _ in 0..3 {
        expect_error(
            guess().send().await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        )
        .await;
    }
    refused(guess(), StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    app.stop().await;
}

/// Whether `needle` occurs in any file under `dir`.
fn found_in_files(dir: &std::path::Path, needle: &[u8]) -> bool {
    files_under(dir).iter().any(|path| {
        std::fs::read(path)
            .unwrap_or_default()
            .windows(needle.len())
            .any(|w| w == needle)
    })
}

/// Enrolls, indexes and verifies a user with `photo`; checks the uploads while their jobs
/// wait and returns how many were seen at rest.
async fn store_everything(
    app: &TestApp,
    photo: &[u8],
    blobs: &std::path::Path,
    sealed: bool,
) -> usize {
    app.enroll("subject", photo.to_vec()).await;
    let (status, body) = app.index("s", "p", photo.to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let user = sign_up(app, "frank").await;
    // Several uploads back to back: while the worker processes one, the others wait in
    // the object store.
    let mut jobs = Vec::new();
    let mut seen = 0;
    let window = &photo[photo.len() / 2..photo.len() / 2 + 64];
    for _ in 0..4 {
        let response = user
            .post("/api/v1/auth/verify")
            .multipart(image_form("file", photo.to_vec()))
            .send()
            .await
            .unwrap();
        jobs.push(expect_json(response, StatusCode::ACCEPTED).await);
        for path in files_under(blobs) {
            let Ok(bytes) = std::fs::read(&path) else {
                continue; // processed and deleted meanwhile
            };
            seen += 1;
            assert_eq!(bytes.starts_with(b"FGE1"), sealed, "{}", path.display());
            let readable = bytes.windows(window.len()).any(|w| w == window);
            assert_eq!(readable, !sealed, "{}", path.display());
        }
    }
    for job in jobs {
        let done = user.wait_job(job["job_id"].as_str().unwrap()).await;
        assert_eq!(done["result"]["status"], "verified", "{done}");
    }
    seen
}

#[tokio::test]
async fn with_encryption_on_no_image_or_embedding_is_readable_at_rest() {
    let Some(fx) = Fixtures::get() else { return };
    let photo = fx.lfw.photo(PERSON, 0);
    // The embedding the app stores for this photo, computed by the same engine.
    let plain_dir = temp_dir();
    // The embedded store: PostgreSQL refuses a key (next test).
    let plain_settings = embedded_settings(&fx.models, plain_dir.path());
    let engine = facegate_vision::Engine::start(&plain_settings.vision).unwrap();
    let faces = engine.embed_all(photo.clone()).await.unwrap();
    let needle: Vec<u8> = faces[0]
        .embedding
        .vector()
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    drop(engine);

    // Without encryption the embedding and the uploads are there in plain: the check
    // finds what it looks for.
    let app = TestApp::spawn(&plain_settings).await;
    let seen = store_everything(&app, &photo, &plain_dir.path().join("blobs"), false).await;
    app.stop().await;
    assert!(found_in_files(&plain_dir.path().join("data"), &needle));
    assert!(
        seen > 0,
        "no upload was seen at rest; the check proves nothing"
    );

    let dir = temp_dir();
    let mut s = embedded_settings(&fx.models, dir.path());
    s.security.encryption_key = Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into());
    s.security.encryption_key_id = "2026-12".into();
    let app = TestApp::spawn(&s).await;
    let health = app.get_ok("/health/detailed").await;
    assert_eq!(
        health["encryption_at_rest"],
        json!({"enabled": true, "key_id": "2026-12"})
    );
    let seen = store_everything(&app, &photo, &dir.path().join("blobs"), true).await;
    assert!(
        seen > 0,
        "no upload was seen at rest; the check proves nothing"
    );
    // Still usable: identification finds the enrolled subject.
    let found = app.identify(fx.lfw.photo(PERSON, 1)).await;
    assert_eq!(found["matches"][0]["subject"], "subject", "{found}");
    app.stop().await;
    assert!(!found_in_files(&dir.path().join("data"), &needle));
    assert!(!found_in_files(&dir.path().join("data"), &photo[100..164]));
}

/// pgvector indexes plain vectors only: the PostgreSQL store refuses to start with an
/// encryption key rather than keep embeddings in plain under a setting that promises
/// otherwise (production backends only).
#[tokio::test]
async fn postgres_refuses_an_encryption_key_it_could_not_honour() {
    let Some(fx) = Fixtures::get() else { return };
    if !production() {
        return;
    }
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.security.encryption_key = Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into());
    let err = facegate_server::app::build(&s).await.unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("encrypt"), "{message}");
}
