//! Liveness sessions through HTTP: a drawn challenge answered with frames of one person
//! (cfp-dev photos, framed as a camera would: the photo's edges carried outwards), and the
//! ways a session fails.

use facegate_vision::testing::jpeg;
use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::accounts::{UserSession, sign_up};
use crate::helpers::{Fixtures, TestApp, expect_error, expect_json, settings, temp_dir};

/// A cfp-dev photo of `person` (e.g. `frontal_01.jpg`, `profile_02.jpg`), mirrored if asked.
pub fn photo(person: &str, file: &str, mirrored: bool) -> image::RgbImage {
    let dir = facegate_vision::testing::datasets_dir()
        .expect("the datasets")
        .join("cfp-dev")
        .join(person);
    let photo = image::open(dir.join(file)).unwrap().to_rgb8();
    if mirrored {
        image::imageops::flip_horizontal(&photo)
    } else {
        photo
    }
}

/// `photo` centred in a `width` x `height` frame whose border repeats the photo's edge
/// pixels: the whole frame a camera would see, not a crop.
pub fn in_frame(photo: &image::RgbImage, width: u32, height: u32) -> image::RgbImage {
    let (w, h) = photo.dimensions();
    let (left, top) = (width.saturating_sub(w) / 2, height.saturating_sub(h) / 2);
    image::RgbImage::from_fn(width, height, |x, y| {
        let sx = x.saturating_sub(left).min(w - 1);
        let sy = y.saturating_sub(top).min(h - 1);
        *photo.get_pixel(sx, sy)
    })
}

/// `photo` in a frame 2.4 times its size, as a JPEG.
fn framed_jpeg(photo: &image::RgbImage) -> Vec<u8> {
    let (w, h) = photo.dimensions();
    jpeg(in_frame(photo, w * 12 / 5, h * 12 / 5))
}

fn framed(person: &str, file: &str, mirrored: bool) -> Vec<u8> {
    framed_jpeg(&photo(person, file, mirrored))
}

pub const PERSON: &str = "001_50_Cent";

/// A drawn session: its id, nonce and challenge.
pub async fn draw(user: &UserSession<'_>) -> (String, String, Vec<String>) {
    let drawn = expect_json(
        user.post("/api/v1/liveness/sessions").send().await.unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let challenge: Vec<String> = drawn["challenge"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    assert!((2..=3).contains(&challenge.len()), "{drawn}");
    let text = |k: &str| drawn[k].as_str().unwrap().to_owned();
    (text("session_id"), text("nonce"), challenge)
}

async fn answer(
    user: &UserSession<'_>,
    id: &str,
    nonce: &str,
    frames: Vec<Vec<u8>>,
) -> reqwest::Response {
    let mut form = Form::new().text("nonce", nonce.to_owned());
    for (i, frame) in frames.into_iter().enumerate() {
        let part = Part::bytes(frame)
            .file_name(format!("frame{i}.jpg"))
            .mime_str("image/jpeg")
            .unwrap();
        form = form.part("frames", part);
    }
    user.post(&format!("/api/v1/liveness/sessions/{id}/frames"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// The photos of `person` making `moves`: frontal first and between the turns. Turning
/// left is the profile photo as cfp-dev has it (the head turned to its left), right its
/// mirror image.
pub fn filmed_photos(person: &str, moves: &[String]) -> Vec<image::RgbImage> {
    let frontal = photo(person, "frontal_01.jpg", false);
    let mut frames = vec![frontal.clone()];
    for movement in moves {
        let mirrored = match movement.as_str() {
            "turn_left" => false,
            "turn_right" => true,
            other => panic!("unexpected movement {other}"),
        };
        frames.push(photo(person, "profile_01.jpg", mirrored));
        frames.push(frontal.clone());
    }
    frames
}

fn filmed(person: &str, moves: &[String]) -> Vec<Vec<u8>> {
    filmed_photos(person, moves)
        .iter()
        .map(framed_jpeg)
        .collect()
}

fn verdict(session: &Value) -> (&str, Vec<&str>) {
    let reasons = session["reasons"]
        .as_array()
        .map(|r| r.iter().map(|v| v.as_str().unwrap()).collect())
        .unwrap_or_default();
    (session["status"].as_str().unwrap(), reasons)
}

/// The asked movements of one person, frontal frames passing the passive check, pass;
/// the session is then answered for good: a replayed answer is refused.
#[tokio::test]
async fn the_asked_movements_of_one_person_pass_once() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let grace = sign_up(&app, "grace").await;
    let (id, nonce, challenge) = draw(&grace).await;
    let judged = expect_json(
        answer(&grace, &id, &nonce, filmed(PERSON, &challenge)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(verdict(&judged), ("live", vec![]), "{judged}");
    assert!(judged["score"].as_f64().unwrap() >= 0.5, "{judged}");

    let replay = answer(&grace, &id, &nonce, filmed(PERSON, &challenge)).await;
    expect_error(replay, StatusCode::CONFLICT, "conflict").await;
    // Another user does not see it.
    let bob = sign_up(&app, "bob").await;
    let response = bob
        .get(&format!("/api/v1/liveness/sessions/{id}"))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let read = expect_json(
        grace
            .get(&format!("/api/v1/liveness/sessions/{id}"))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["status"], "live", "{read}");
    app.stop().await;
}

/// No movement, the movements in the wrong order and two different people fail with their
/// reasons; a wrong nonce and an expired session are refused; the sixth failure of a user
/// in the window is `429`.
#[tokio::test]
async fn sessions_fail_with_their_reasons_and_failures_are_limited() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.liveness.failure_window_ms = 60_000;
    s.liveness.session_lifetime_ms = 2_000;
    let app = TestApp::spawn(&s).await;
    crate::helpers::within_one_rate_window(40).await;
    let grace = sign_up(&app, "grace").await;

    let (id, nonce, challenge) = draw(&grace).await;
    let wrong = answer(&grace, &id, "not-the-nonce", filmed(PERSON, &challenge)).await;
    expect_error(wrong, StatusCode::FORBIDDEN, "forbidden").await;
    // A frame that is no image is refused before the session is used.
    let garbage = answer(&grace, &id, &nonce, vec![b"not an image".to_vec()]).await;
    expect_error(
        garbage,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_format",
    )
    .await;
    let still = vec![framed(PERSON, "frontal_01.jpg", false); 4];
    let judged = expect_json(answer(&grace, &id, &nonce, still).await, StatusCode::OK).await;
    assert_eq!(
        verdict(&judged),
        ("failed", vec!["no_movement"]),
        "{judged}"
    );

    let (id, nonce, challenge) = draw(&grace).await;
    let mut reversed: Vec<String> = challenge.iter().rev().cloned().collect();
    if reversed == challenge {
        // Left-right-left reads the same backwards: swap every turn instead.
        reversed = challenge
            .iter()
            .map(|m| {
                if m == "turn_left" {
                    "turn_right"
                } else {
                    "turn_left"
                }
                .to_owned()
            })
            .collect();
    }
    let judged = expect_json(
        answer(&grace, &id, &nonce, filmed(PERSON, &reversed)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(verdict(&judged).0, "failed", "{judged}");
    assert!(
        ["wrong_order", "wrong_movements"].contains(&verdict(&judged).1[0]),
        "{judged}"
    );

    let (id, nonce, challenge) = draw(&grace).await;
    let mut frames = filmed(PERSON, &challenge);
    let last = frames.len() - 1;
    frames[last] = framed(STRANGER, "frontal_01.jpg", false);
    let judged = expect_json(answer(&grace, &id, &nonce, frames).await, StatusCode::OK).await;
    assert_eq!(
        verdict(&judged),
        ("failed", vec!["different_people"]),
        "{judged}"
    );

    let (id, nonce, challenge) = draw(&grace).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let late = answer(&grace, &id, &nonce, filmed(PERSON, &challenge)).await;
    expect_error(late, StatusCode::GONE, "session_expired").await;

    // Failures 4 and 5 are answered; the sixth is refused.
    for _ in 0..2 {
        let (id, nonce, _) = draw(&grace).await;
        let still = vec![framed(PERSON, "frontal_02.jpg", false); 2];
        let judged = expect_json(answer(&grace, &id, &nonce, still).await, StatusCode::OK).await;
        assert_eq!(verdict(&judged).0, "failed", "{judged}");
    }
    let sixth = grace
        .post("/api/v1/liveness/sessions")
        .send()
        .await
        .unwrap();
    expect_error(sixth, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    app.stop().await;
}

const STRANGER: &str = "002_Aaron_Hernandez";

/// A session of `user` answered with `frames`; its id once judged.
async fn judged(user: &UserSession<'_>, frames: impl FnOnce(&[String]) -> Vec<Vec<u8>>) -> String {
    let (id, nonce, challenge) = draw(user).await;
    expect_json(
        answer(user, &id, &nonce, frames(&challenge)).await,
        StatusCode::OK,
    )
    .await;
    id
}

fn live(challenge: &[String]) -> Vec<Vec<u8>> {
    filmed(PERSON, challenge)
}

fn still(_: &[String]) -> Vec<Vec<u8>> {
    vec![framed(PERSON, "frontal_01.jpg", false); 3]
}

async fn transfer(user: &UserSession<'_>, session: &str) -> reqwest::Response {
    let body = serde_json::json!({
        "amount": "5000.00",
        "currency": "EUR",
        "liveness_session_id": session,
    });
    user.post("/api/v1/transactions")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn verify(user: &UserSession<'_>, session: &str) -> reqwest::Response {
    let form = Form::new().text("liveness_session_id", session.to_owned());
    user.post("/api/v1/auth/verify")
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// A live session stands in, once, for the selfie of `/auth/verify` and of a step-up
/// transaction; a failed session, another user's session and a spent one do not.
#[tokio::test]
async fn a_live_session_stands_in_for_a_selfie_once() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.policy.step_up_amount = "1000.00".into();
    let app = TestApp::spawn(&s).await;
    let grace = sign_up(&app, "grace").await;

    let session = judged(&grace, live).await;
    let job = expect_json(verify(&grace, &session).await, StatusCode::ACCEPTED).await;
    let job = grace.wait_job(job["job_id"].as_str().unwrap()).await;
    assert_eq!(job["result"]["status"], "verified", "{job}");
    assert_eq!(grace.me().await["verified"], true);
    expect_error(
        verify(&grace, &session).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;

    let failed = judged(&grace, still).await;
    let refused = expect_error(
        transfer(&grace, &failed).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "spoof_suspected",
    )
    .await;
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("failed"),
        "{refused}"
    );

    let session = judged(&grace, live).await;
    let bob = sign_up(&app, "bob").await;
    expect_error(
        verify(&bob, &session).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let passed = expect_json(transfer(&grace, &session).await, StatusCode::CREATED).await;
    assert_eq!(passed["step_up"], true, "{passed}");
    expect_error(
        transfer(&grace, &session).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    app.stop().await;
}

/// A live session left unused past `liveness.stand_in_ms` no longer stands in.
#[tokio::test]
async fn a_stale_session_no_longer_stands_in() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let mut s = settings(&fx.models, dir.path());
    s.liveness.stand_in_ms = 1_000;
    let app = TestApp::spawn(&s).await;
    let grace = sign_up(&app, "grace").await;
    let session = judged(&grace, live).await;
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    expect_error(
        verify(&grace, &session).await,
        StatusCode::GONE,
        "session_expired",
    )
    .await;
    app.stop().await;
}
