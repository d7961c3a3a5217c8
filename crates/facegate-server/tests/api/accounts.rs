//! Accounts end to end: a user registers, gets tokens, verifies their face with a selfie
//! (an asynchronous job), makes face-gated transactions and reads their report; refresh
//! tokens rotate; deleting a user forgets them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Fixtures, TestApp, bare_client, base64, blob_dir, expect_error, expect_json, image_form,
    settings, temp_dir,
};
use crate::services::files_under;

/// The user's face.
pub const PERSON: &str = "Aaron_Peirsol";
/// Someone else.
pub const STRANGER: &str = "Abel_Pacheco";
pub const PASSWORD: &str = "correct horse battery";

/// A user's session on the API: their bearer token.
#[derive(Debug)]
pub struct UserSession<'a> {
    pub app: &'a TestApp,
    pub token: String,
    pub refresh: String,
}

impl UserSession<'_> {
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        bare_client()
            .get(self.app.url(path))
            .bearer_auth(&self.token)
    }

    /// POSTs `body` as JSON with the user's token.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.post(path).json(body).send().await.unwrap()
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        bare_client()
            .post(self.app.url(path))
            .bearer_auth(&self.token)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        bare_client()
            .delete(self.app.url(path))
            .bearer_auth(&self.token)
    }

    /// Uploads a selfie and waits for the verification job to finish; returns the job.
    pub async fn verify_face(&self, selfie: Vec<u8>) -> Value {
        let response = self
            .post("/api/v1/auth/verify")
            .multipart(image_form("file", selfie))
            .send()
            .await
            .unwrap();
        let job = expect_json(response, StatusCode::ACCEPTED).await;
        assert_eq!(job["state"], "queued", "{job}");
        self.wait_job(job["job_id"].as_str().unwrap()).await
    }

    pub async fn wait_job(&self, id: &str) -> Value {
        for _ in 0..600 {
            let response = self
                .get(&format!("/api/v1/jobs/{id}"))
                .send()
                .await
                .unwrap();
            let job = expect_json(response, StatusCode::OK).await;
            if job["state"] == "done" {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("job {id} did not finish within 60 s");
    }

    pub async fn me(&self) -> Value {
        expect_json(
            self.get("/api/v1/users/me").send().await.unwrap(),
            StatusCode::OK,
        )
        .await
    }
}

/// Registers `username` and signs in.
pub async fn sign_up<'a>(app: &'a TestApp, username: &str) -> UserSession<'a> {
    let registered = expect_json(
        bare_client()
            .post(app.url("/api/v1/auth/register"))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(registered["role"], "client", "{registered}");
    assert_eq!(registered["verified"], false, "{registered}");
    let tokens = token(app, &json!({"username": username, "password": PASSWORD})).await;
    UserSession {
        app,
        token: tokens["access_token"].as_str().unwrap().to_owned(),
        refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
    }
}

/// `POST /auth/token` that must succeed.
pub async fn token(app: &TestApp, body: &Value) -> Value {
    let tokens = expect_json(
        bare_client()
            .post(app.url("/api/v1/auth/token"))
            .json(body)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(tokens["token_type"], "Bearer", "{tokens}");
    tokens
}

/// A small transaction, a big one refused without and with a stranger's selfie and
/// accepted with the user's, and the report of both.
async fn transact_with_step_up(alice: &UserSession<'_>, fx: &Fixtures, small: &Value) {
    let created = expect_json(
        alice.post_json("/api/v1/transactions", small).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        (
            &created["amount_cents"],
            &created["currency"],
            &created["step_up"]
        ),
        (&json!(2500), &json!("EUR"), &json!(false)),
        "{created}"
    );

    // Above the step-up amount: a selfie is needed, and it must be the user's face.
    let big = |selfie: Option<Vec<u8>>| {
        let mut body = json!({"amount": 5000, "currency": "EUR", "description": "laptop"});
        if let Some(s) = selfie {
            body["selfie"] = json!(base64(&s));
        }
        body
    };
    expect_error(
        alice.post_json("/api/v1/transactions", &big(None)).await,
        StatusCode::FORBIDDEN,
        "step_up_required",
    )
    .await;
    expect_error(
        alice
            .post_json(
                "/api/v1/transactions",
                &big(Some(fx.lfw.photo(STRANGER, 0))),
            )
            .await,
        StatusCode::FORBIDDEN,
        "face_mismatch",
    )
    .await;
    let stepped = expect_json(
        alice
            .post_json("/api/v1/transactions", &big(Some(fx.lfw.photo(PERSON, 2))))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(stepped["step_up"], true, "{stepped}");

    let report = expect_json(
        alice
            .post_json(
                "/api/v1/transactions/report",
                &json!({"from": "2020-01-01T00:00:00Z"}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report["count"], 2, "{report}");
    assert_eq!(
        report["totals"],
        json!([{"currency": "EUR", "count": 2, "amount_cents": 502_500}]),
        "{report}"
    );
    let ids: Vec<&Value> = report["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["id"])
        .collect();
    assert_eq!(ids, [&created["id"], &stepped["id"]], "{report}");
    // A range that ends before them holds none.
    let empty = expect_json(
        alice
            .post_json(
                "/api/v1/transactions/report",
                &json!({"from": 0, "to": created["created_at"]}),
            )
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(empty["count"], 0, "{empty}");
}

#[tokio::test]
async fn a_user_registers_verifies_their_face_and_makes_transactions() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.policy.step_up_amount = "1000.00".into();
    let app = TestApp::spawn(&s).await;
    let alice = sign_up(&app, "alice").await;

    let check = expect_json(
        alice.get("/api/v1/auth/check").send().await.unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (&check["valid"], &check["username"], &check["role"]),
        (&json!(true), &json!("alice"), &json!("client")),
        "{check}"
    );
    assert_eq!(alice.me().await["verified"], false);

    // Unverified users cannot transact.
    let small = json!({"amount": "25.00", "currency": "eur", "description": "coffee beans"});
    expect_error(
        alice.post_json("/api/v1/transactions", &small).await,
        StatusCode::FORBIDDEN,
        "not_verified",
    )
    .await;

    // The first verification stores the face; the upload is deleted afterwards.
    let job = alice.verify_face(fx.lfw.photo(PERSON, 0)).await;
    assert_eq!(job["result"]["status"], "verified", "{job}");
    assert_eq!(job["attempts"], 1, "{job}");
    let me = alice.me().await;
    assert_eq!(me["verified"], true, "{me}");
    // Times are RFC 3339 in UTC.
    let verified_at = me["verified_at"].as_str().unwrap_or_default();
    let at = chrono::DateTime::parse_from_rfc3339(verified_at).expect("an RFC 3339 time");
    assert!(verified_at.ends_with('Z'), "{me}");
    assert!(
        (chrono::Utc::now() - at.to_utc()).num_seconds().abs() < 600,
        "{me}"
    );

    // A later verification must match the stored face.
    let other = alice.verify_face(fx.lfw.photo(STRANGER, 0)).await;
    assert_eq!(other["result"]["status"], "rejected", "{other}");
    assert_eq!(other["result"]["reason"], "face_mismatch", "{other}");
    let same = alice.verify_face(fx.lfw.photo(PERSON, 1)).await;
    assert_eq!(same["result"]["status"], "verified", "{same}");
    assert!(
        same["result"]["similarity"].as_f64().unwrap() > 0.3,
        "{same}"
    );
    assert!(
        files_under(&blob_dir(&s)).is_empty(),
        "uploads must be deleted once processed"
    );

    transact_with_step_up(&alice, &fx, &small).await;

    // Another user sees none of it.
    let bob = sign_up(&app, "bob").await;
    let bobs = expect_json(
        bob.post_json("/api/v1/transactions/report", &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(bobs["count"], 0, "{bobs}");
    expect_error(
        bob.get(&format!("/api/v1/jobs/{}", job["job_id"].as_str().unwrap()))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replay_revokes_the_family() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let carol = sign_up(&app, "carol").await;

    let rotated = token(&app, &json!({"refresh_token": carol.refresh})).await;
    let fresh_refresh = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(fresh_refresh, carol.refresh);
    // The new access token works.
    let me = expect_json(
        bare_client()
            .get(app.url("/api/v1/users/me"))
            .bearer_auth(rotated["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["username"], "carol");

    // Replaying the used token is refused and revokes the token rotated from it.
    for refresh in [carol.refresh.as_str(), fresh_refresh] {
        expect_error(
            bare_client()
                .post(app.url("/api/v1/auth/token"))
                .json(&json!({"grant_type": "refresh_token", "refresh_token": refresh}))
                .send()
                .await
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        )
        .await;
    }

    // Logout revokes a new login's refresh token.
    let again = token(&app, &json!({"username": "carol", "password": PASSWORD})).await;
    let refresh = again["refresh_token"].as_str().unwrap();
    let logout = bare_client()
        .post(app.url("/api/v1/auth/logout"))
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    expect_error(
        bare_client()
            .post(app.url("/api/v1/auth/token"))
            .json(&json!({"refresh_token": refresh}))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;

    // Users may forget themselves.
    let forgotten = carol.delete("/api/v1/users/me").send().await.unwrap();
    assert_eq!(forgotten.status(), StatusCode::NO_CONTENT);
    expect_error(
        carol.get("/api/v1/users/me").send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn deleting_a_user_forgets_them_and_is_audited() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let dave = sign_up(&app, "dave").await;
    let job = dave.verify_face(fx.lfw.photo(PERSON, 0)).await;
    assert_eq!(job["result"]["status"], "verified", "{job}");
    let id = dave.me().await["id"].as_str().unwrap().to_owned();

    let stats = app.get_ok("/api/v1/admin/stats").await;
    assert_eq!(stats["counts"]["users"], 1, "{stats}");
    assert_eq!(stats["counts"]["verified_users"], 1, "{stats}");
    assert_eq!(stats["counts"]["jobs_done"], 1, "{stats}");
    let verify_route = &stats["requests"]["POST /api/v1/auth/verify"];
    assert_eq!(verify_route["requests"], 1, "{stats}");
    assert!(verify_route["p95_ms"].as_f64().is_some(), "{stats}");

    let deleted = app.delete(&format!("/api/v1/admin/users/{id}")).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    // The account, its face, tokens and jobs are gone.
    expect_error(
        dave.get("/api/v1/users/me").send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_token",
    )
    .await;
    expect_error(
        app.get(&format!("/api/v1/jobs/{}", job["job_id"].as_str().unwrap()))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let stats = app.get_ok("/api/v1/admin/stats").await;
    assert_eq!(
        (&stats["counts"]["users"], &stats["counts"]["jobs_done"]),
        (&json!(0), &json!(0)),
        "{stats}"
    );
    expect_error(
        bare_client()
            .post(app.url("/api/v1/auth/token"))
            .json(&json!({"username": "dave", "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    // The audit log says who did it, and holds no image or secret.
    let audit = app.get_ok("/api/v1/admin/audit?limit=1000").await;
    let entries = audit["entries"].as_array().unwrap();
    let deletion = entries
        .iter()
        .find(|e| e["action"] == "DELETE /api/v1/admin/users/{id}")
        .unwrap_or_else(|| panic!("no deletion entry: {audit}"));
    assert_eq!(deletion["status"], 204, "{deletion}");
    assert!(
        deletion["actor"].as_str().unwrap().starts_with("key:"),
        "{deletion}"
    );
    assert_eq!(deletion["target"], format!("/api/v1/admin/users/{id}"));
    assert!(
        entries.iter().any(
            |e| e["action"] == "POST /api/v1/auth/verify" && e["actor"] == format!("user:{id}")
        ),
        "{audit}"
    );
    let text = audit.to_string();
    assert!(
        !text.contains(PASSWORD) && !text.contains(&dave.token),
        "{text}"
    );
    app.stop().await;
}
