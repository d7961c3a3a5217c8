//! Facial symmetry scans: scores within 0..100, a symmetric face above an asymmetric edit
//! of it, and the leaderboard in score order.

use image::{Rgb, RgbImage};
use reqwest::StatusCode;
use serde_json::Value;

use crate::accounts::{PERSON, UserSession, sign_up};
use crate::helpers::{Fixtures, TestApp, expect_json, image_form, settings, temp_dir};

fn png(image: &RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

/// The photo with its right half replaced by the mirror of its left half about `axis`.
fn symmetrised(photo: &RgbImage, axis: f32) -> RgbImage {
    let mut out = photo.clone();
    for y in 0..photo.height() {
        for x in 0..photo.width() {
            let mirror = (2.0 * axis - x as f32).round();
            if x as f32 > axis && mirror >= 0.0 {
                out.put_pixel(x, y, *photo.get_pixel(mirror as u32, y));
            }
        }
    }
    out
}

/// The photo with everything right of `axis` moved 12 px down and darkened by half.
fn asymmetric(photo: &RgbImage, axis: f32) -> RgbImage {
    let mut out = photo.clone();
    for y in 0..photo.height() {
        for x in 0..photo.width() {
            if x as f32 > axis {
                let Rgb([r, g, b]) = *photo.get_pixel(x, y.saturating_sub(12));
                out.put_pixel(x, y, Rgb([r / 2, g / 2, b / 2]));
            }
        }
    }
    out
}

impl UserSession<'_> {
    /// Scans `photo` and waits for the result; returns the finished scan.
    pub async fn scan(&self, photo: Vec<u8>) -> Value {
        let response = self
            .post("/api/v1/scans")
            .multipart(image_form("file", photo))
            .send()
            .await
            .unwrap();
        let queued = expect_json(response, StatusCode::ACCEPTED).await;
        let url = queued["status_url"].as_str().unwrap().to_owned();
        for _ in 0..600 {
            let scan = expect_json(self.get(&url).send().await.unwrap(), StatusCode::OK).await;
            if scan["state"] == "done" {
                return scan;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("scan {url} did not finish within 60 s");
    }

    async fn score(&self, photo: Vec<u8>) -> f64 {
        let scan = self.scan(photo).await;
        assert_eq!(scan["result"]["status"], "scored", "{scan}");
        let score = scan["score"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&score), "{scan}");
        for cue in ["appearance", "landmarks"] {
            let v = scan["result"]["symmetry"][cue].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&v), "{scan}");
        }
        score
    }
}

#[tokio::test]
async fn scans_score_symmetry_and_rank_users() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let original = fx.lfw.photo(PERSON, 0);
    let detected = expect_json(
        app.post_form("/api/v1/detect", image_form("file", original.clone()))
            .await,
        StatusCode::OK,
    )
    .await;
    let eyes = &detected["faces"][0]["landmarks"];
    let axis = (eyes[0]["x"].as_f64().unwrap() + eyes[1]["x"].as_f64().unwrap()) as f32 / 2.0;
    let photo = image::load_from_memory(&original).unwrap().to_rgb8();
    let flipped = image::imageops::flip_horizontal(&photo);

    let ann = sign_up(&app, "ann").await;
    let plain = ann.score(png(&photo)).await;
    let mirrored = ann.score(png(&flipped)).await;
    let ben = sign_up(&app, "ben").await;
    let symmetric = ben.score(png(&symmetrised(&photo, axis))).await;
    let cal = sign_up(&app, "cal").await;
    let edited = cal.score(png(&asymmetric(&photo, axis))).await;
    assert!(
        symmetric > plain && plain > edited && mirrored > edited,
        "symmetric {symmetric:.1}, original {plain:.1}, mirrored {mirrored:.1}, edited {edited:.1}"
    );
    assert!(
        (plain - mirrored).abs() < 10.0,
        "a mirror image is as symmetric as the original: {plain:.1} vs {mirrored:.1}"
    );

    // No face: rejected with its code, no score, not on the leaderboard.
    let dan = sign_up(&app, "dan").await;
    let sky = dan
        .scan(png(&RgbImage::from_pixel(200, 200, Rgb([90, 140, 220]))))
        .await;
    assert_eq!(sky["result"]["status"], "rejected", "{sky}");
    assert_eq!(sky["result"]["reason"], "face_not_found", "{sky}");
    assert!(sky["score"].is_null(), "{sky}");

    let board = app.get_ok("/api/v1/leaderboard?limit=10").await;
    let entries = board["entries"].as_array().unwrap();
    let names: Vec<&str> = entries
        .iter()
        .map(|e| e["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ben", "ann", "cal"], "{board}");
    assert_eq!(entries[1]["scans"], 2, "{board}");
    let best = entries[1]["best_score"].as_f64().unwrap();
    assert!((best - plain.max(mirrored)).abs() < 1e-3, "{board}");
    let ranks: Vec<u64> = entries
        .iter()
        .map(|e| e["rank"].as_u64().unwrap())
        .collect();
    assert_eq!(ranks, [1, 2, 3]);

    // Scans are private to their user.
    let other = expect_json(
        cal.get(&format!(
            "/api/v1/scans/{}",
            sky["scan_id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(other["error"]["code"], "not_found");
    app.stop().await;
}
