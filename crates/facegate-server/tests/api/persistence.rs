//! What was enrolled and indexed survives a restart on the same data folder, and a
//! restart with another model pack does not compare old embeddings with new ones.

use facegate_vision::Pack;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Fixtures, TestApp, expect_error, image_form, settings, temp_dir};

/// Enrolled from the first photo; the next two are indexed; the fourth is the probe.
const PERSON: &str = "Angela_Merkel";
/// Others in the session, two photos each; the first is also enrolled.
const OTHERS: [&str; 3] = ["Aaron_Peirsol", "Abel_Pacheco", "Al_Sharpton"];

/// The answers that must not change across a restart.
#[derive(Debug)]
struct Answers {
    subjects: Value,
    status: Value,
    identified: Value,
    /// The search's photo ids at the default threshold.
    found: Vec<String>,
    /// Every indexed face ranked (threshold -1), with similarities.
    ranking: Vec<(String, f64)>,
}

async fn answers(app: &TestApp, probe: Vec<u8>) -> Answers {
    let (_, ranking) = app
        .search_with("event", probe.clone(), &[("threshold", "-1")])
        .await;
    Answers {
        subjects: app.get_ok("/api/v1/subjects").await,
        status: app.session_status("event").await,
        identified: app.identify(probe.clone()).await,
        found: app.search_ids("event", probe).await,
        ranking: ranking["matches"]
            .as_array()
            .unwrap_or_else(|| panic!("{ranking}"))
            .iter()
            .map(|m| {
                (
                    m["photo_id"].as_str().unwrap().to_owned(),
                    m["similarity"].as_f64().unwrap(),
                )
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollments_and_collections_survive_a_restart() {
    let Some(fx) = Fixtures::get() else {
        return;
    };
    let dir = temp_dir();
    let mut settings = settings(&fx.models, dir.path());
    // Every indexed face ranked: the threshold floor lowered, as an operator may.
    settings.policy.min_threshold = Some(-1.0);
    // The selfie, never stored.
    let probe = || fx.lfw.photo(PERSON, 3);

    let app = TestApp::spawn(&settings).await;
    let reference = app.enroll(PERSON, fx.lfw.photo(PERSON, 0)).await;
    app.enroll(OTHERS[0], fx.lfw.photo(OTHERS[0], 0)).await;
    let mut photos: Vec<(String, Vec<u8>)> = (1..=2)
        .map(|n| (format!("{PERSON}_{n}"), fx.lfw.photo(PERSON, n)))
        .collect();
    for other in OTHERS {
        for n in 0..2 {
            photos.push((format!("{other}_{n}"), fx.lfw.photo(other, n)));
        }
    }
    app.index_all("event", photos).await;
    let before = answers(&app, probe()).await;
    app.stop().await;

    let app = TestApp::spawn(&settings).await;
    let after = answers(&app, probe()).await;
    app.stop().await;

    // The answers before were the right ones...
    assert_eq!(before.identified["matches"][0]["subject"], PERSON);
    assert_eq!(
        before.identified["matches"][0]["reference_id"],
        reference["id"]
    );
    let mut found = before.found.clone();
    found.sort_unstable();
    assert_eq!(found, [format!("{PERSON}_1"), format!("{PERSON}_2")]);
    assert_eq!(before.status["indexed_photos"], 8);
    assert!(before.ranking.len() >= 8, "{:?}", before.ranking);
    // ...and the restarted app gives them again.
    assert_eq!(after.subjects, before.subjects);
    assert_eq!(after.status, before.status);
    assert_eq!(
        after.identified["matches"][0]["reference_id"],
        before.identified["matches"][0]["reference_id"]
    );
    assert_eq!(after.identified["unknown"], false, "{}", after.identified);
    let close = |a: &Value, b: &Value| (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-4;
    assert!(
        close(
            &after.identified["matches"][0]["similarity"],
            &before.identified["matches"][0]["similarity"]
        ),
        "{} vs {}",
        after.identified,
        before.identified
    );
    assert_eq!(after.found, before.found, "same photos in the same order");
    let ids = |a: &Answers| {
        a.ranking
            .iter()
            .map(|(id, _)| id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&after), ids(&before), "the same ranking of every face");
    for ((_, s_after), (_, s_before)) in after.ranking.iter().zip(&before.ranking) {
        assert!((s_after - s_before).abs() < 1e-4, "{s_after} vs {s_before}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn references_of_another_model_pack_are_not_compared() {
    let Some(fx) = Fixtures::get() else {
        return;
    };
    let dir = temp_dir();
    let mut settings = settings(&fx.models, dir.path());
    let app = TestApp::spawn(&settings).await;
    let reference = app.enroll(PERSON, fx.lfw.photo(PERSON, 0)).await;
    let id = reference["id"].as_str().unwrap().to_owned();
    app.stop().await;

    settings.vision.pack = Pack::Open;
    let app = TestApp::spawn(&settings).await;
    let detailed = app.get_ok("/health/detailed").await;
    assert_ne!(
        detailed["embedding_model"], reference["model"],
        "{detailed}"
    );
    let response = app
        .post_form(
            "/api/v1/verify",
            image_form("file_a", fx.lfw.photo(PERSON, 1)).text("reference_id", id.clone()),
        )
        .await;
    expect_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "embedding_model_mismatch",
    )
    .await;
    // 1:N skips references of another model instead of failing.
    let identified = app.identify(fx.lfw.photo(PERSON, 1)).await;
    assert_eq!(identified["unknown"], true, "{identified}");
    // The reference itself is still there, with its face crop, for `admin reembed`.
    assert_eq!(
        app.get_ok(&format!("/api/v1/reference/{id}")).await["model"],
        reference["model"]
    );
    app.stop().await;

    let report = facegate_server::app::reembed(&settings).await.unwrap();
    assert_eq!(report.updated, 1, "{report:?}");
    assert!(report.without_crop.is_empty(), "{report:?}");
    assert_eq!(report.model, detailed["embedding_model"]);
    // A second run finds nothing left to do.
    let again = facegate_server::app::reembed(&settings).await.unwrap();
    assert_eq!(again.updated, 0, "{again:?}");

    let app = TestApp::spawn(&settings).await;
    assert_eq!(
        app.get_ok(&format!("/api/v1/reference/{id}")).await["model"],
        detailed["embedding_model"]
    );
    let identified = app.identify(fx.lfw.photo(PERSON, 1)).await;
    assert_eq!(identified["matches"][0]["reference_id"], id, "{identified}");
    let verified = app
        .post_form(
            "/api/v1/verify",
            image_form("file_a", fx.lfw.photo(PERSON, 1)).text("reference_id", id.clone()),
        )
        .await;
    let verified = crate::helpers::expect_json(verified, StatusCode::OK).await;
    assert_eq!(verified["decision"], "same", "{verified}");
    // The enrolled photo itself: its crop came from the old pack's landmarks, the probe's
    // from the new pack's, so close to but not exactly 1.
    let itself = app
        .post_form(
            "/api/v1/verify",
            image_form("file_a", fx.lfw.photo(PERSON, 0)).text("reference_id", id.clone()),
        )
        .await;
    let itself = crate::helpers::expect_json(itself, StatusCode::OK).await;
    app.stop().await;
    assert!(itself["similarity"].as_f64().unwrap() > 0.8, "{itself}");
}
