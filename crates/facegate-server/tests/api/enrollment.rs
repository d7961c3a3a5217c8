//! Enrollment, 1:N identification and 1:1 verification on LFW photos.

use facegate_core::enrollment_checks::EnrollmentChecks;
use facegate_vision::testing::datasets_dir;
use reqwest::StatusCode;
use reqwest::multipart::Form;
use serde_json::{Value, json};

use crate::helpers::{
    Fixtures, Lfw, TestApp, base64, expect_error, expect_json, image_form, image_part, settings,
    temp_dir,
};

/// A person with three photos: the first is enrolled, the others are probes.
const PERSON: &str = "Aaron_Peirsol";
/// Someone else.
const STRANGER: &str = "Abel_Pacheco";

/// LFW photos holding two or more sizeable faces (checked with `/detect` at run time).
const GROUP_SHOTS: [&str; 4] = [
    "Andrew_Niccol",
    "Anton_Balasingham",
    "Angie_Martinez",
    "Ali_Abbas",
];

/// An LFW photo with a face about 10 px wide in the background, and its index.
const TINY_FACE: (&str, usize) = ("Alex_Holmes", 1);

async fn verify(app: &TestApp, form: Form) -> Value {
    expect_json(app.post_form("/api/v1/verify", form).await, StatusCode::OK).await
}

/// Two boxes within a pixel of each other.
fn same_box(a: &Value, b: &Value) -> bool {
    ["x1", "y1", "x2", "y2"]
        .iter()
        .all(|k| (a[k].as_f64().unwrap() - b[k].as_f64().unwrap()).abs() < 1.0)
}

/// 1:1 image vs image, vs the reference and vs the subject; returns the "same" answer.
async fn assert_verify_decisions(app: &TestApp, lfw: &Lfw, id: &str) -> Value {
    let photo = |n| lfw.photo(PERSON, n);
    let stranger = || lfw.photo(STRANGER, 0);

    // 1:1 image vs image.
    let same = verify(
        app,
        image_form("file_a", photo(0)).part("file_b", image_part(photo(2))),
    )
    .await;
    assert_eq!(same["decision"], "same", "{same}");
    assert_eq!(same["low_confidence"], false, "two frontal photos: {same}");
    let different = verify(
        app,
        image_form("file_a", photo(0)).part("file_b", image_part(stranger())),
    )
    .await;
    assert_eq!(different["decision"], "different", "{different}");
    assert!(
        different["similarity"].as_f64().unwrap() < same["similarity"].as_f64().unwrap(),
        "{same} {different}"
    );

    // 1:1 against the enrolled reference and subject.
    let by_reference = verify(
        app,
        image_form("file_a", photo(2)).text("reference_id", id.to_owned()),
    )
    .await;
    assert_eq!(by_reference["decision"], "same", "{by_reference}");
    assert_eq!(by_reference["reference_id"], id);
    let by_subject = verify(app, image_form("file_a", photo(2)).text("subject", PERSON)).await;
    assert_eq!(by_subject["decision"], "same", "{by_subject}");
    assert_eq!(by_subject["reference_id"], id);
    let stranger_vs_subject = verify(
        app,
        image_form("file_a", stranger()).text("subject", PERSON),
    )
    .await;
    assert_eq!(
        stranger_vs_subject["decision"], "different",
        "{stranger_vs_subject}"
    );

    same
}

/// JSON with base64 images (bare and as a data URL) gives the answers multipart gives.
async fn assert_json_requests_match(app: &TestApp, lfw: &Lfw, id: &str, same: &Value) {
    let photo = |n| lfw.photo(PERSON, n);
    let json_verify = expect_json(
        app.post_json(
            "/api/v1/verify",
            &json!({
                "image_a": base64(&photo(0)),
                "image_b": format!("data:image/jpeg;base64,{}", base64(&photo(2))),
            }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(json_verify["decision"], "same", "{json_verify}");
    let tolerance = 1e-4;
    assert!(
        (json_verify["similarity"].as_f64().unwrap() - same["similarity"].as_f64().unwrap()).abs()
            < tolerance,
        "{json_verify} vs {same}"
    );
    let json_identify = expect_json(
        app.post_json(
            "/api/v1/identify",
            &json!({"image": base64(&photo(1)), "limit": 3}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(json_identify["matches"][0]["subject"], PERSON);
    let json_enrolled = expect_json(
        app.post_json(
            "/api/v1/reference",
            &json!({"image": base64(&photo(1)), "subject": PERSON}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_ne!(json_enrolled["id"], id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_identify_and_verify_a_person() {
    let Some(fx) = Fixtures::get() else {
        return;
    };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let photo = |n| fx.lfw.photo(PERSON, n);

    // Enroll, then read the reference back.
    let enrolled = app.enroll(PERSON, photo(0)).await;
    let id = enrolled["id"].as_str().expect("an id").to_owned();
    assert!(!id.is_empty());
    assert!(
        enrolled.get("embedding").is_none(),
        "embeddings are not shown"
    );
    let reference = app.get_ok(&format!("/api/v1/reference/{id}")).await;
    assert_eq!(reference["id"], id.as_str());
    assert_eq!(reference["subject"], PERSON);
    assert_eq!(reference["face"], enrolled["face"]);
    let subject = app.get_ok(&format!("/api/v1/subjects/{PERSON}")).await;
    assert_eq!(subject["references"][0]["id"], id.as_str(), "{subject}");

    // 1:N: another photo of the person, then a stranger.
    let known = app.identify(photo(1)).await;
    assert_eq!(known["unknown"], false, "{known}");
    assert_eq!(known["matches"][0]["subject"], PERSON, "{known}");
    assert_eq!(known["matches"][0]["reference_id"], id.as_str(), "{known}");
    let stranger = app.identify(fx.lfw.photo(STRANGER, 0)).await;
    assert_eq!(stranger["unknown"], true, "{stranger}");
    assert_eq!(stranger["matches"], json!([]), "{stranger}");
    assert!(
        stranger["best_similarity"].as_f64().unwrap() < stranger["threshold"].as_f64().unwrap(),
        "{stranger}"
    );

    let same = assert_verify_decisions(&app, &fx.lfw, &id).await;
    assert_json_requests_match(&app, &fx.lfw, &id, &same).await;
    let subjects = app.get_ok("/api/v1/subjects").await;
    assert_eq!(
        subjects["subjects"].as_array().unwrap().len(),
        1,
        "{subjects}"
    );
    assert_eq!(subjects["subjects"][0]["name"], PERSON);
    assert_eq!(subjects["subjects"][0]["references"], 2, "{subjects}");

    app.stop().await;
}

/// A group shot is refused without face_index and enrolled with face_index = 1; an index
/// out of range is refused.
async fn assert_group_shot_needs_face_index(app: &TestApp, lfw: &Lfw) {
    let mut group = None;
    for person in GROUP_SHOTS {
        let bytes = lfw.photo(person, 0);
        let detected = app.detect(bytes.clone()).await;
        if detected["face_count"].as_u64().unwrap() >= 2 {
            group = Some((person, bytes, detected));
            break;
        }
    }
    let (person, bytes, detected) = group.expect("one of GROUP_SHOTS has several faces");
    let several = app
        .post_form(
            "/api/v1/reference",
            image_form("file", bytes.clone()).text("subject", person),
        )
        .await;
    let body = expect_error(several, StatusCode::UNPROCESSABLE_ENTITY, "multiple_faces").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("face_index"),
        "the message says how to choose: {body}"
    );
    let second = expect_json(
        app.post_form(
            "/api/v1/reference",
            image_form("file", bytes.clone())
                .text("subject", "second face")
                .text("face_index", "1"),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert!(
        same_box(&second["face"]["bbox"], &detected["faces"][1]["bbox"]),
        "face_index 1 is the second face /detect lists: {second} {detected}"
    );
    let out_of_range = app
        .post_form(
            "/api/v1/reference",
            image_form("file", bytes)
                .text("subject", "second face")
                .text("face_index", "99"),
        )
        .await;
    expect_error(out_of_range, StatusCode::BAD_REQUEST, "validation_failed").await;
}

/// A tiny face in the background is refused for its quality.
async fn assert_tiny_face_is_low_quality(app: &TestApp, lfw: &Lfw) {
    let tiny = lfw.photo(TINY_FACE.0, 0);
    let detected = app.detect(tiny.clone()).await;
    let bbox = &detected["faces"][TINY_FACE.1]["bbox"];
    let width = bbox["x2"].as_f64().unwrap() - bbox["x1"].as_f64().unwrap();
    assert!(width < 24.0, "face {} is tiny: {detected}", TINY_FACE.1);
    let low = app
        .post_form(
            "/api/v1/reference",
            image_form("file", tiny)
                .text("subject", "background")
                .text("face_index", TINY_FACE.1.to_string()),
        )
        .await;
    expect_error(low, StatusCode::UNPROCESSABLE_ENTITY, "low_quality").await;
}

/// A profile photo against an enrolled frontal one: whatever the decision, the answer says
/// that the pose makes it unreliable, image against image, against the subject and in 1:N.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_photo_makes_the_decision_low_confidence() {
    let Some(fx) = Fixtures::get() else {
        return;
    };
    let person = datasets_dir()
        .expect("the fixtures found the datasets")
        .join("cfp-dev/152_Elizabeth_Warren");
    let read = |name: &str| std::fs::read(person.join(name)).unwrap();
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let (status, body) = try_enroll(&app, "warren", read("frontal_06.jpg")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let frontal = verify(
        &app,
        image_form("file_a", read("frontal_02.jpg")).text("subject", "warren"),
    )
    .await;
    assert_eq!(frontal["decision"], "same", "{frontal}");
    assert_eq!(frontal["low_confidence"], false, "{frontal}");
    for form in [
        image_form("file_a", read("profile_03.jpg")).text("subject", "warren"),
        image_form("file_a", read("profile_03.jpg"))
            .part("file_b", image_part(read("frontal_06.jpg"))),
    ] {
        let profile = verify(&app, form).await;
        assert_eq!(profile["low_confidence"], true, "{profile}");
    }
    for (photo, turned) in [("frontal_02.jpg", false), ("profile_03.jpg", true)] {
        let found = expect_json(
            app.post_form("/api/v1/identify", image_form("file", read(photo)))
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(found["low_confidence"], turned, "{photo}: {found}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_refuses_no_face_several_faces_and_no_subject() {
    let Some(fx) = Fixtures::get() else {
        return;
    };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;

    // A blank image holds no face.
    let mut blank = Vec::new();
    image::RgbImage::from_pixel(200, 200, image::Rgb([128, 128, 128]))
        .write_to(
            &mut std::io::Cursor::new(&mut blank),
            image::ImageFormat::Png,
        )
        .unwrap();
    let response = app
        .post_form(
            "/api/v1/reference",
            image_form("file", blank).text("subject", "nobody"),
        )
        .await;
    expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "face_not_found").await;

    assert_group_shot_needs_face_index(&app, &fx.lfw).await;
    assert_tiny_face_is_low_quality(&app, &fx.lfw).await;

    // No subject, an empty subject, or one with a slash.
    for form in [
        image_form("file", fx.lfw.photo(PERSON, 0)),
        image_form("file", fx.lfw.photo(PERSON, 0)).text("subject", ""),
        image_form("file", fx.lfw.photo(PERSON, 0)).text("subject", "a/b"),
    ] {
        let response = app.post_form("/api/v1/reference", form).await;
        expect_error(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    }

    // Only the face chosen with face_index was stored.
    let subjects = app.get_ok("/api/v1/subjects").await;
    assert_eq!(
        subjects["subjects"],
        json!([{"name": "second face", "references": 1, "created_at": subjects["subjects"][0]["created_at"]}]),
        "{subjects}"
    );

    app.stop().await;
}

/// Enrolls `image` as `subject` and answers the status and body.
async fn try_enroll(app: &TestApp, subject: &str, image: Vec<u8>) -> (StatusCode, Value) {
    let form = image_form("file", image).text("subject", subject.to_owned());
    crate::helpers::read_json(app.post_form("/api/v1/reference", form).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_refuses_mislabelled_and_duplicate_photos() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    app.enroll(PERSON, fx.lfw.photo(PERSON, 0)).await;

    // A stranger's photo labelled as PERSON matches none of PERSON's references.
    let (status, body) = try_enroll(&app, PERSON, fx.lfw.photo(STRANGER, 0)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "reference_mismatch", "{body}");
    // PERSON's second photo under a new name matches PERSON: a duplicate identity.
    let (status, body) = try_enroll(&app, "someone_new", fx.lfw.photo(PERSON, 1)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "duplicate_identity", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains(PERSON),
        "{body}"
    );
    // Nothing refused was stored; a true second photo of PERSON is enrolled.
    app.enroll(PERSON, fx.lfw.photo(PERSON, 1)).await;
    let subjects = app.get_ok("/api/v1/subjects").await;
    let listed: Vec<(&str, u64)> = subjects["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["references"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, [(PERSON, 2)], "{subjects}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_checks_warn_or_allow_by_policy() {
    let Some(fx) = Fixtures::get() else { return };
    for (policy, warned) in [
        (EnrollmentChecks::Warn, true),
        (EnrollmentChecks::Allow, false),
    ] {
        let dir = temp_dir();
        let mut s = settings(&fx.models, dir.path());
        s.policy.enrollment_checks = policy;
        let app = TestApp::spawn(&s).await;
        app.enroll(PERSON, fx.lfw.photo(PERSON, 0)).await;
        let body = app.enroll(PERSON, fx.lfw.photo(STRANGER, 0)).await;
        let codes: Vec<&str> = body["warnings"]
            .as_array()
            .map(|w| w.iter().map(|w| w["code"].as_str().unwrap()).collect())
            .unwrap_or_default();
        let expected: &[&str] = if warned { &["reference_mismatch"] } else { &[] };
        assert_eq!(codes, expected, "{policy:?}: {body}");
        app.stop().await;
    }
}
