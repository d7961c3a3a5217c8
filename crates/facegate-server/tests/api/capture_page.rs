//! The browser capture page in headless Chromium (driven over WebDriver by chromedriver),
//! with a fake camera that plays a video built from photos: one person looking straight,
//! then turning as the challenge asks, passes as live; a still photo fails. Screenshots of
//! both end states are written under the target's temporary folder.
//!
//! Needs Debian's `chromium` and `chromium-driver` (installed by `scripts/test-services.sh`);
//! skips without them unless `FACEGATE_REQUIRE_MODELS=1`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::accounts::{UserSession, sign_up};
use crate::helpers::{Fixtures, TestApp, expect_json, settings, temp_dir};
use crate::liveness_sessions::{PERSON, draw, filmed_photos, in_frame, photo};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The fake camera's frame rate.
const FPS: u32 = 10;
/// How long the page shows each prompt (`STEP_MS` in capture.html).
const STEP_MS: u32 = 2000;

/// A headless Chromium behind chromedriver, its camera playing one video.
struct Browser {
    driver: Child,
    url: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// `None` when Chromium or chromedriver is missing and not required.
    async fn open(video: &Path) -> Option<Self> {
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            assert!(
                !facegate_vision::testing::required(),
                "{CHROMIUM} and {CHROMEDRIVER} are needed: scripts/test-services.sh installs them"
            );
            eprintln!("skipping: {CHROMIUM} or {CHROMEDRIVER} is missing");
            return None;
        }
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            let ready = http.get(format!("{url}/status")).send().await.ok();
            if let Some(response) = ready {
                let status: Value = response.json().await.unwrap_or_default();
                if status["value"]["ready"] == true {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=720,1100".to_owned(),
            "--use-fake-ui-for-media-stream".to_owned(),
            "--use-fake-device-for-media-stream".to_owned(),
            format!("--use-file-for-fake-video-capture={}", video.display()),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let mut browser = Self {
            driver,
            url,
            session: String::new(),
            http,
            _profile: profile,
        };
        let created = browser.command("POST", "/session", capabilities).await;
        created["sessionId"]
            .as_str()
            .unwrap()
            .clone_into(&mut browser.session);
        Some(browser)
    }

    /// One WebDriver command; its `value`.
    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.url);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let response = request.send().await.expect("chromedriver answers");
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {answer}");
        answer["value"].clone()
    }

    fn at(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    async fn visit(&self, url: &str) {
        self.command("POST", &self.at("/url"), json!({"url": url}))
            .await;
    }

    async fn run(&self, script: &str) -> Value {
        let body = json!({"script": script, "args": []});
        self.command("POST", &self.at("/execute/sync"), body).await
    }

    /// Waits until the page says it is done (or failed to run); its `data-state`.
    async fn settled(&self) -> String {
        for _ in 0..900 {
            let state = self.run("return document.body.dataset.state").await;
            if state == "done" || state == "error" {
                return state.as_str().unwrap().to_owned();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the capture page did not finish within 90 s");
    }

    async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .command("GET", &self.at("/screenshot"), Value::Null)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
        path
    }

    async fn close(mut self) {
        self.command("DELETE", &self.at(""), Value::Null).await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A YUV4MPEG2 video (4:2:0, full range) showing each photo for `STEP_MS`, at its own size
/// in a picture 2.4 times the largest photo (even sides), as the API tests frame them.
fn video(photos: &[image::RgbImage], path: &Path) {
    let side = |f: fn(&image::RgbImage) -> u32| {
        (photos.iter().map(f).max().unwrap() * 12 / 5).next_multiple_of(2)
    };
    let (width, height) = (side(image::RgbImage::width), side(image::RgbImage::height));
    let mut out = format!("YUV4MPEG2 W{width} H{height} F{FPS}:1 Ip A1:1 C420jpeg\n").into_bytes();
    for photo in photos {
        let frame = yuv420(&in_frame(photo, width, height));
        for _ in 0..STEP_MS * FPS / 1000 {
            out.extend_from_slice(b"FRAME\n");
            out.extend_from_slice(&frame);
        }
    }
    std::fs::write(path, out).unwrap();
}

/// The Y plane, then Cb and Cr averaged over 2x2 blocks (BT.601, full range).
fn yuv420(picture: &image::RgbImage) -> Vec<u8> {
    let (w, h) = picture.dimensions();
    let rgb = |x: u32, y: u32| picture.get_pixel(x, y).0.map(f32::from);
    let mut planes: Vec<u8> = Vec::with_capacity((w * h * 3 / 2) as usize);
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = rgb(x, y);
            planes.push((0.299 * r + 0.587 * g + 0.114 * b).round() as u8);
        }
    }
    let chroma = |weights: [f32; 3]| {
        let mut plane = Vec::with_capacity((w * h / 4) as usize);
        for y in (0..h).step_by(2) {
            for x in (0..w).step_by(2) {
                let mut sum = 0.0;
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let [r, g, b] = rgb(x + dx, y + dy);
                    sum += weights[0] * r + weights[1] * g + weights[2] * b;
                }
                plane.push((128.0 + sum / 4.0).round().clamp(0.0, 255.0) as u8);
            }
        }
        plane
    };
    planes.extend(chroma([-0.168_736, -0.331_264, 0.5]));
    planes.extend(chroma([0.5, -0.418_688, -0.081_312]));
    planes
}

/// Opens the capture page for `user`'s session `id`, films it with `video`, presses Start
/// and waits; the page's verdict and a screenshot named `name`.
async fn capture(
    app: &TestApp,
    user: &UserSession<'_>,
    session: (&str, &str),
    video: &Path,
    name: &str,
) -> Option<String> {
    let browser = Browser::open(video).await?;
    let (id, nonce) = session;
    let token = &user.token;
    browser
        .visit(&app.url(&format!(
            "/liveness/capture#token={token}&session={id}&nonce={nonce}"
        )))
        .await;
    browser
        .run("document.getElementById('start').click()")
        .await;
    // Mid-way through the second prompt.
    tokio::time::sleep(Duration::from_millis(u64::from(STEP_MS) * 3 / 2)).await;
    browser.screenshot(&format!("filming-{name}")).await;
    let state = browser.settled().await;
    let page = browser.run("return document.body.innerText").await;
    assert_eq!(state, "done", "{page}");
    browser.screenshot(name).await;
    let verdict = browser.run("return document.body.dataset.verdict").await;
    browser.close().await;
    Some(verdict.as_str().unwrap().to_owned())
}

async fn session_status(user: &UserSession<'_>, id: &str) -> Value {
    expect_json(
        user.get(&format!("/api/v1/liveness/sessions/{id}"))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await
}

/// The person turning as asked passes as live; a still photo of them fails for want of
/// movement. Both through the page, as a user's browser would send them.
#[tokio::test]
async fn the_capture_page_films_a_live_session_and_fails_a_still_photo() {
    let Some(fx) = Fixtures::get() else { return };
    let dir = temp_dir();
    let app = TestApp::spawn(&settings(&fx.models, dir.path())).await;
    let grace = sign_up(&app, "grace").await;

    let (id, nonce, challenge) = draw(&grace).await;
    let moving = dir.path().join("moving.y4m");
    video(&filmed_photos(PERSON, &challenge), &moving);
    let Some(verdict) = capture(&app, &grace, (&id, &nonce), &moving, "capture-live.png").await
    else {
        return;
    };
    let stored = session_status(&grace, &id).await;
    assert_eq!(
        (verdict.as_str(), &stored["status"]),
        ("live", &json!("live")),
        "{stored}"
    );

    let (id, nonce, challenge) = draw(&grace).await;
    let still = dir.path().join("still.y4m");
    let frontal = photo(PERSON, "frontal_01.jpg", false);
    video(&vec![frontal; 2 * challenge.len() + 1], &still);
    let verdict = capture(&app, &grace, (&id, &nonce), &still, "capture-still.png")
        .await
        .unwrap();
    let stored = session_status(&grace, &id).await;
    assert_eq!(verdict, "failed", "{stored}");
    assert_eq!(stored["reasons"], json!(["no_movement"]), "{stored}");
    app.stop().await;
}
