//! The real `facegate serve` in a child process on the embedded default, for tests that
//! watch the process from outside (its exported traces, its memory, its signals).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The admin API key the server starts with.
pub const ADMIN_KEY: &str = "fgk_child-server-test-key-0123456789abcdefgh";

/// A running `facegate serve`, killed when dropped.
#[derive(Debug)]
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Server {
    /// Starts `facegate serve` on port 0 with its data in `dir`, the settings in `env`
    /// (`FACEGATE__...` variables) over the defaults, and returns it with its base URL,
    /// read from the "facegate is serving" log line. The rest of its log is echoed for
    /// diagnostics.
    pub fn start(models: &Path, dir: &Path, env: &[(&str, String)]) -> (Server, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_facegate"))
            .arg("serve")
            .current_dir(dir)
            .env_remove("FACEGATE_CONFIG")
            .env("RUST_LOG", "info")
            .env("FACEGATE__LOG__FORMAT", "json")
            .env("FACEGATE__HTTP__BIND", "127.0.0.1:0")
            .env("FACEGATE__STORAGE__DATA_DIR", dir.join("data"))
            .env("FACEGATE__STORAGE__BLOB_DIR", dir.join("blobs"))
            .env("FACEGATE__VISION__MODELS_DIR", models)
            .env("FACEGATE__VISION__WORKERS", "1")
            .env("FACEGATE__AUTH__ADMIN_API_KEY", ADMIN_KEY)
            .envs(env.iter().map(|(name, value)| (name, value)))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().unwrap();
        let server = Server(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("facegate: {line}");
                let Ok(event) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if event["message"] == "facegate is serving" {
                    let _ = tx.send(event["address"].as_str().unwrap_or_default().to_owned());
                }
            }
        });
        let address = rx
            .recv_timeout(Duration::from_mins(3))
            .expect("facegate logs its address once serving");
        (server, format!("http://{address}"))
    }

    /// SIGTERM: a graceful stop; asserts that it exits cleanly within 30 s.
    pub async fn stop(&mut self) {
        let pid = self.0.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        let exit = loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "facegate did not stop on SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(exit.success(), "{exit}");
    }
}
