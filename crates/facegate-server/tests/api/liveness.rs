//! The passive liveness check where faces gate something: `/liveness`, user verification
//! and step-up transactions, on NUAA webcam frames (live) and printed-photo attacks of the
//! same person.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::accounts::{UserSession, sign_up};
use crate::helpers::{
    Fixtures, TestApp, base64, expect_error, expect_json, image_form, settings, temp_dir,
};

/// A frame of NUAA subject 1: `live_*` from the webcam, `spoof_*` a print held to it.
fn nuaa(name: &str) -> Vec<u8> {
    let dir = facegate_vision::testing::datasets_dir()
        .expect("the datasets")
        .join("pad/nuaa-train-sample/subject_0001");
    std::fs::read(dir.join(name)).unwrap()
}

const LIVE: &str = "live_0001_00_00_01_116.jpg";
const LIVE_AGAIN: &str = "live_0001_00_00_01_206.jpg";
const PRINT: &str = "spoof_0001_00_00_01_260.jpg";

async fn liveness(app: &TestApp, image: Vec<u8>) -> reqwest::Response {
    app.post_form("/api/v1/liveness", image_form("file", image))
        .await
}

/// The face box of `image` as `/detect` finds it.
async fn face_box(app: &TestApp, image: &[u8]) -> [f64; 4] {
    let response = app
        .post_form("/api/v1/detect", image_form("file", image.to_vec()))
        .await;
    let detected = expect_json(response, StatusCode::OK).await;
    let b = &detected["faces"][0]["bbox"];
    ["x1", "y1", "x2", "y2"].map(|k| b[k].as_f64().unwrap())
}

/// A whole webcam frame is scored live and a print spoofed; the same frame cut to the face
/// (the box enlarged 1.2 times) gets `insufficient_context`, never a score.
#[tokio::test]
async fn a_tight_face_crop_gets_the_context_error() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let live = expect_json(liveness(&app, nuaa(LIVE)).await, StatusCode::OK).await;
    assert_eq!(live["live"], true, "{live}");
    let print = expect_json(liveness(&app, nuaa(PRINT)).await, StatusCode::OK).await;
    assert_eq!(print["live"], false, "{print}");

    let frame = nuaa(LIVE);
    let [x1, y1, x2, y2] = face_box(&app, &frame).await;
    let (cx, cy, side) = (
        f64::midpoint(x1, x2),
        f64::midpoint(y1, y2),
        (x2 - x1).max(y2 - y1) * 1.2,
    );
    let image = image::load_from_memory(&frame).unwrap();
    let tight = image.crop_imm(
        (cx - side / 2.0).max(0.0) as u32,
        (cy - side / 2.0).max(0.0) as u32,
        side as u32,
        side as u32,
    );
    let refused = expect_error(
        liveness(&app, facegate_vision::testing::jpeg(tight)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "insufficient_context",
    )
    .await;
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("whole frame"), "{refused}");
    app.stop().await;
}

#[tokio::test]
async fn verification_rejects_a_printed_photo_attack() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.policy.verification_liveness = true;
    let app = TestApp::spawn(&s).await;
    let live = sign_up(&app, "grace").await;
    let job = live.verify_face(nuaa(LIVE)).await;
    assert_eq!(job["result"]["status"], "verified", "{job}");
    assert!(job["result"]["liveness"].as_f64().unwrap() > 0.5, "{job}");
    let attack = sign_up(&app, "mallory").await;
    let job = attack.verify_face(nuaa(PRINT)).await;
    assert_eq!(
        (&job["result"]["status"], &job["result"]["reason"]),
        (&json!("rejected"), &json!("spoof_suspected")),
        "{job}"
    );
    assert_eq!(attack.me().await["verified"], false);
    app.stop().await;
}

async fn transfer(user: &UserSession<'_>, selfie: &[u8]) -> reqwest::Response {
    let body = json!({
        "amount": "5000.00",
        "currency": "EUR",
        "description": "rent",
        "selfie": base64(selfie),
    });
    user.post("/api/v1/transactions")
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A step-up selfie must pass the liveness check: a printed photo of the account's own
/// face is refused as a spoof; a live frame passes.
#[tokio::test]
async fn a_step_up_selfie_must_be_live() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.policy.step_up_amount = "1000.00".into();
    let app = TestApp::spawn(&s).await;
    let grace = sign_up(&app, "grace").await;
    let job = grace.verify_face(nuaa(LIVE)).await;
    assert_eq!(job["result"]["status"], "verified", "{job}");

    let refused = expect_error(
        transfer(&grace, &nuaa(PRINT)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "spoof_suspected",
    )
    .await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("liveness"),
        "{refused}"
    );
    let passed: Value = expect_json(
        transfer(&grace, &nuaa(LIVE_AGAIN)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(passed["step_up"], true, "{passed}");
    app.stop().await;
}

/// With `policy.enrollment_liveness`, a printed photo is not enrolled (and nothing is
/// stored); a live frame is.
#[tokio::test]
async fn enrollment_checks_liveness_when_the_policy_asks() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.policy.enrollment_liveness = true;
    let app = TestApp::spawn(&s).await;
    let form = image_form("file", nuaa(PRINT)).text("subject", "ada");
    expect_error(
        app.post_form("/api/v1/reference", form).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "spoof_suspected",
    )
    .await;
    let subject = app.get("/api/v1/subjects/ada").await;
    assert_eq!(subject.status(), StatusCode::NOT_FOUND);
    app.enroll("ada", nuaa(LIVE)).await;
    app.stop().await;
}
