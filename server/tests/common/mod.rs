//! Helpers for tests against the real server process: start the built
//! binary on a free port (waiting for the line it prints once listening),
//! on either backend, and speak the protocol to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

pub const SECRET: &str = "hindcast-server-test-secret-of-32-bytes";

/// A storage for servers under test: the embedded file, or PostgreSQL.
#[derive(Clone, Debug)]
pub struct Backend {
    pub name: &'static str,
    pub args: Vec<String>,
    /// The embedded store's file, removed when the last clone goes.
    _file: Option<std::sync::Arc<TempFile>>,
}

#[derive(Debug)]
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Both backends. PostgreSQL needs `HINDCAST_TEST_DATABASE_URL` (set by
/// `scripts/test-server`, which starts a cluster); without it those runs are
/// skipped, unless `HINDCAST_TEST_REQUIRE_PG` is set.
pub fn backends() -> Vec<Backend> {
    let mut out = vec![sqlite()];
    if let Some(pg) = postgres() {
        out.push(pg);
    }
    out
}

pub fn sqlite() -> Backend {
    let path = std::env::temp_dir().join(format!("hindcast-test-{}.db", uuid::Uuid::new_v4()));
    Backend {
        name: "sqlite",
        args: vec!["--data".into(), path.to_string_lossy().into_owned()],
        _file: Some(std::sync::Arc::new(TempFile(path))),
    }
}

pub fn postgres() -> Option<Backend> {
    match std::env::var("HINDCAST_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(Backend {
            name: "postgres",
            args: vec!["--database-url".into(), url],
            _file: None,
        }),
        _ => {
            assert!(
                std::env::var_os("HINDCAST_TEST_REQUIRE_PG").is_none(),
                "HINDCAST_TEST_DATABASE_URL is not set"
            );
            eprintln!("PostgreSQL runs skipped: HINDCAST_TEST_DATABASE_URL is not set (scripts/test-server sets it)");
            None
        }
    }
}

pub struct Server {
    child: Child,
    pub url: String,
    /// Its stderr lines, when captured ([`Server::launch`]).
    pub stderr: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts a server with a JWT secret.
    pub fn start(backend: &Backend) -> Server {
        Self::start_with(backend, &["--jwt-secret", SECRET])
    }

    pub fn start_with(backend: &Backend, auth: &[&str]) -> Server {
        let mut args = vec!["--listen", "127.0.0.1:0"];
        args.extend(backend.args.iter().map(String::as_str));
        args.extend(auth);
        Self::launch(&args, &[], false)
    }

    /// Starts the binary with exactly these arguments and environment
    /// variables (others inherited), its stderr captured if asked.
    pub fn launch(args: &[&str], envs: &[(&str, &str)], capture: bool) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hindcast-server"))
            .args(args)
            // Only trouble on the test's own stderr.
            .env("RUST_LOG", if capture { "info" } else { "warn" })
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(if capture {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .expect("the server binary starts");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        if let Some(err) = child.stderr.take() {
            let lines = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let stdout = child.stdout.take().expect("its stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep reading so the server never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("the server did not start listening: {args:?}"));
        let url = line
            .rsplit(' ')
            .next()
            .expect("listening on URL")
            .to_string();
        Server { child, url, stderr }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `signal` and waits up to `within` for the process to exit;
    /// its exit code (None if it did not exit in time).
    pub fn stop(&mut self, signal: i32, within: Duration) -> Option<i32> {
        // SAFETY: kill only sends a signal to our own child.
        unsafe { libc::kill(self.pid(), signal) };
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("the child's status") {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// `kill -9`.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Runs the binary with these arguments and returns its exit code.
    pub fn exit_code(args: &[&str]) -> Option<i32> {
        Command::new(env!("CARGO_BIN_EXE_hindcast-server"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("the server binary runs")
            .code()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn token(sub: &str, logs: &[&str], exp_in: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "sub": sub, "exp": now + exp_in, "logs": logs }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// One device: a client id, its next seq, a token for its log.
pub struct Device {
    pub http: reqwest::Client,
    pub url: String,
    pub log: String,
    pub client: String,
    pub seq: u64,
    pub token: String,
}

impl Device {
    pub fn new(server: &Server, log: &str, sub: &str) -> Device {
        Device {
            http: http(),
            url: server.url.clone(),
            log: log.into(),
            client: new_id(),
            seq: 0,
            token: token(sub, &[log], 3600),
        }
    }

    /// Pushes one batch (events, expect, constraints as JSON; its view)
    /// with the next seq; returns its outcome.
    pub async fn push(&mut self, batch: Value) -> Value {
        self.seq += 1;
        let mut batch = batch;
        batch["seq"] = json!(self.seq);
        if batch.get("id").is_none() {
            batch["id"] = json!(new_id());
        }
        let (status, body) = self.push_raw(json!([batch])).await;
        assert_eq!(status, 200, "push answered {body}");
        body["results"][0].clone()
    }

    pub async fn push_raw(&self, batches: Value) -> (u16, Value) {
        let body = json!({ "protocol": 1, "clientId": self.client, "batches": batches });
        post(
            &self.http,
            &self.url,
            &self.log,
            Some(&self.token),
            body.to_string(),
        )
        .await
    }

    pub async fn pull(&self, after: u64) -> Value {
        pull(&self.http, &self.url, &self.log, &self.token, after).await
    }

    /// The first page of `log` after `after`, as the text the server sent
    /// (serde_json's values nest 128 levels at most).
    pub async fn page_text(&self, log: &str, after: u64) -> String {
        self.http
            .get(format!("{}/v1/logs/{log}/events?after={after}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

pub async fn post(
    http: &reqwest::Client,
    url: &str,
    log: &str,
    token: Option<&str>,
    body: String,
) -> (u16, Value) {
    let mut req = http
        .post(format!("{url}/v1/logs/{log}/push"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("the server answers");
    let status = resp.status().as_u16();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

/// Every event after `after`, page by page.
pub async fn pull(http: &reqwest::Client, url: &str, log: &str, token: &str, after: u64) -> Value {
    let mut events = Vec::new();
    let mut after = after;
    loop {
        let resp = http
            .get(format!(
                "{url}/v1/logs/{log}/events?after={after}&limit=500"
            ))
            .bearer_auth(token)
            .send()
            .await
            .expect("the server answers");
        assert_eq!(resp.status(), 200);
        let page: Value = resp.json().await.unwrap();
        let got = page["events"].as_array().unwrap().clone();
        if got.is_empty() {
            return json!({ "head": page["head"], "events": events });
        }
        after = got.last().unwrap()["revision"].as_u64().unwrap();
        events.extend(got);
    }
}

/// A view that has seen everything up to `base` and nothing pending.
pub fn view(base: u64) -> Value {
    json!({ "base": base, "own": [] })
}

/// A live stream's messages: (id, events).
pub struct Live {
    stream:
        std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl Live {
    pub async fn open(
        url: &str,
        log: &str,
        token: &str,
        after: u64,
        last_event_id: Option<u64>,
    ) -> Live {
        let mut req = http()
            .get(format!("{url}/v1/logs/{log}/events?after={after}"))
            .bearer_auth(token)
            .header("accept", "text/event-stream")
            .timeout(Duration::from_secs(3600));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        Live {
            stream: Box::pin(resp.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// The next message with events (comments skipped), or None after
    /// `wait` without one.
    pub async fn next(&mut self, wait: Duration) -> Option<(u64, Vec<Value>)> {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let message: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut data) = (None, None);
                for line in message.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse::<u64>().ok();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = serde_json::from_str::<Value>(v).ok();
                    }
                }
                if let (Some(id), Some(data)) = (id, data) {
                    return Some((id, data["events"].as_array().unwrap().clone()));
                }
                continue;
            }
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }
}
