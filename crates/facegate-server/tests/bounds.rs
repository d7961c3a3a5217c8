//! Resource bounds seen from outside a real `facegate serve` process, whose memory the
//! tests read: clients that send their headers or bodies slowly are dropped after the
//! timeouts while memory stays near idle and a normal client is served, and a PNG whose
//! header inflates to hundreds of MiB is refused without the memory.

use std::time::{Duration, Instant};

use facegate_vision::testing::{datasets_dir, models_dir, png_with_icc_profile};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

#[path = "common/server.rs"]
mod server;
use server::{ADMIN_KEY, Server};

const MIB: u64 = 1024 * 1024;
const HEADER_TIMEOUT_MS: u64 = 1_000;
const BODY_TIMEOUT_MS: u64 = 2_000;
/// Connections of each kind: slow headers, slow bodies.
const SLOW_CLIENTS: usize = 50;
/// What each slow body declares, and how much of it is sent before stalling.
const DECLARED: usize = 13_500_000;
const SENT: usize = 1024 * 1024;

/// The resident memory of process `pid`, in bytes (Linux); `None` once it has exited.
fn rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())?;
    Some(kib * 1024)
}

/// The server's memory now, and a thread that samples it every 20 ms until `stop` and
/// returns the highest reading.
fn watch_memory(
    server: &Server,
    stop: tokio::sync::watch::Receiver<bool>,
) -> (u64, std::thread::JoinHandle<u64>) {
    let pid = server.0.id();
    let idle = rss(pid).expect("the server's memory");
    let peak = std::thread::spawn(move || {
        let mut peak = 0;
        while !*stop.borrow() {
            peak = peak.max(rss(pid).unwrap_or_default());
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    });
    (idle, peak)
}

/// A real photo of one face.
fn photo() -> Option<Vec<u8>> {
    let path = datasets_dir()?.join("lfw/Aaron_Peirsol/Aaron_Peirsol_0001.jpg");
    Some(std::fs::read(path).expect("reading an LFW photo"))
}

fn client() -> reqwest::Client {
    // reqwest is built with TLS but no crypto provider of its own (see facegate-notify).
    facegate_notify::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_mins(1))
        .build()
        .unwrap()
}

async fn detect(base: String, image: Vec<u8>) -> (StatusCode, Value) {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(image).file_name("photo"),
    );
    let response = client()
        .post(format!("{base}/api/v1/detect"))
        .header("x-api-key", ADMIN_KEY)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Connects, sends `head` and then `body` (the write may fail once the server gives up),
/// stalls, and returns what the server sent before closing and how long it kept the
/// connection; `None` if it was still open after `limit`.
async fn stall(
    address: String,
    head: String,
    body: Vec<u8>,
    limit: Duration,
) -> Option<(String, Duration)> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(&body).await;
        // Keep the write half open: the client stalls rather than finishing.
        tokio::time::sleep(Duration::from_mins(5)).await;
        drop(writer);
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(limit, reader.read_to_end(&mut answer)).await;
    writing.abort();
    match read {
        Ok(_) => Some((
            String::from_utf8_lossy(&answer).into_owned(),
            started.elapsed(),
        )),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_dropped_while_memory_stays_bounded_and_others_are_served() {
    let (Some(models), Some(photo)) = (models_dir(), photo()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut server, base) = Server::start(
        &models,
        dir.path(),
        &[
            (
                "FACEGATE__HTTP__HEADER_TIMEOUT_MS",
                HEADER_TIMEOUT_MS.to_string(),
            ),
            (
                "FACEGATE__HTTP__BODY_TIMEOUT_MS",
                BODY_TIMEOUT_MS.to_string(),
            ),
        ],
    );
    let address = base.trim_start_matches("http://").to_owned();
    let (status, _) = detect(base.clone(), photo.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (idle, peak) = watch_memory(&server, stopped);

    let limit = Duration::from_millis(BODY_TIMEOUT_MS + 10_000);
    let mut clients = Vec::new();
    for _ in 0..SLOW_CLIENTS {
        let head = "POST /api/v1/detect HTTP/1.1\r\nHost: facegate\r\nX-Api-Key: ".to_owned();
        clients.push((
            "head",
            tokio::spawn(stall(address.clone(), head, Vec::new(), limit)),
        ));
    }
    for _ in 0..SLOW_CLIENTS {
        let head = format!(
            "POST /api/v1/detect HTTP/1.1\r\nHost: facegate\r\nX-Api-Key: {ADMIN_KEY}\r\n\
             Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {DECLARED}\r\n\r\n\
             --b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n"
        );
        let body = vec![0xA5; SENT];
        clients.push((
            "body",
            tokio::spawn(stall(address.clone(), head, body, limit)),
        ));
    }
    // Meanwhile a normal client is served.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = detect(base.clone(), photo).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["faces"].as_array().map(Vec::len), Some(1), "{body}");

    let (mut timed_out, mut refused) = (0, 0);
    for (kind, client) in clients {
        let (answer, kept) = client
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("a slow {kind} was still connected after {limit:?}"));
        let status = answer.split(' ').nth(1).unwrap_or_default();
        match kind {
            // Dropped at the header deadline, with or without a response.
            "head" => assert!(
                kept >= Duration::from_millis(HEADER_TIMEOUT_MS) && matches!(status, "" | "408"),
                "{kept:?} {answer}"
            ),
            // Past the in-flight budget: refused at once; within it: timed out.
            _ => match status {
                "429" => refused += 1,
                "408" => {
                    assert!(kept >= Duration::from_millis(BODY_TIMEOUT_MS), "{kept:?}");
                    assert!(answer.contains("request_timeout"), "{answer}");
                    timed_out += 1;
                }
                _ => panic!("a slow body got {answer:?}"),
            },
        }
    }
    stop.send(true).unwrap();
    let peak = peak.join().unwrap();
    eprintln!(
        "idle {} MiB, peak {} MiB; slow bodies: {timed_out} timed out, {refused} refused",
        idle / MIB,
        peak / MIB
    );
    assert!(timed_out >= 1 && refused >= 1, "{timed_out} {refused}");
    assert!(peak < idle + 150 * MIB, "idle {idle}, peak {peak}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_png_whose_header_inflates_to_500_mib_is_refused_without_the_memory() {
    let Some(models) = models_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut server, base) = Server::start(&models, dir.path(), &[]);
    let bomb = png_with_icc_profile(500 * 1024 * 1024);
    let (status, _) = detect(base.clone(), facegate_vision::testing::png(64, 64)).await;
    assert_eq!(status, StatusCode::OK);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let (idle, peak) = watch_memory(&server, stopped);

    let started = Instant::now();
    let (status, body) = detect(base.clone(), bomb.clone()).await;
    let alone = started.elapsed();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_image", "{body}");
    let started = Instant::now();
    let answers: Vec<_> = (0..16)
        .map(|_| tokio::spawn(detect(base.clone(), bomb.clone())))
        .collect();
    for answer in answers {
        let (status, body) = answer.await.unwrap();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    }
    let sixteen = started.elapsed();
    stop.send(true).unwrap();
    let peak = peak.join().unwrap();
    eprintln!(
        "a {} KiB PNG bomb: refused in {alone:?} alone, 16 at once in {sixteen:?}; \
         idle {} MiB, peak {} MiB",
        bomb.len() / 1024,
        idle / MIB,
        peak / MIB
    );
    assert!(peak < idle + 50 * MIB, "idle {idle}, peak {peak}");
    server.stop().await;
}
