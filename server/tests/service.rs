//! The server as an operator runs it, against the real process: settings
//! from flags and the environment, `--version` and `--help`, `/metrics` in
//! the Prometheus text format, one log line per request, and a graceful
//! stop on SIGTERM in the middle of pushes and live streams.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn output(args: &[&str]) -> (Option<i32>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hindcast-server"))
        .args(args)
        .output()
        .expect("the server binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn version_and_help() {
    let (code, text) = output(&["--version"]);
    assert_eq!(
        (code, text.trim()),
        (
            Some(0),
            concat!("hindcast-server ", env!("CARGO_PKG_VERSION"))
        )
    );
    let (code, text) = output(&["--help"]);
    assert_eq!(code, Some(0));
    for name in [
        "--listen",
        "HINDCAST_LISTEN",
        "--data",
        "HINDCAST_DATA",
        "--database-url",
        "HINDCAST_DATABASE_URL",
        "DATABASE_URL",
        "--jwt-secret",
        "HINDCAST_JWT_SECRET",
        "--jwt-audience",
        "HINDCAST_JWT_AUDIENCE",
        "--insecure-no-auth",
        "HINDCAST_INSECURE_NO_AUTH",
        "--max-connections",
        "HINDCAST_MAX_CONNECTIONS",
        "--max-logs",
        "HINDCAST_MAX_LOGS",
        "--metrics-listen",
        "HINDCAST_METRICS_LISTEN",
        "--log-format",
        "HINDCAST_LOG_FORMAT",
        "RUST_LOG",
        "--version",
    ] {
        assert!(text.contains(name), "--help names {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_come_from_the_environment_and_flags_win() {
    let backend = sqlite();
    let file = backend.args[1].clone();
    // Everything from the environment.
    let server = Server::launch(
        &[],
        &[
            ("HINDCAST_LISTEN", "127.0.0.1:0"),
            ("HINDCAST_DATA", &file),
            ("HINDCAST_JWT_SECRET", SECRET),
        ],
        false,
    );
    let mut d = Device::new(&server, "env", "alice");
    assert_eq!(
        d.push(json!({ "events": [{ "stream": "s", "type": "t" }], "view": view(0) }))
            .await["revision"],
        1
    );
    drop(server);
    // A flag wins: the environment's secret is not the one in force.
    let other = "another-secret-of-at-least-32-bytes!";
    let server = Server::launch(
        &["--jwt-secret", SECRET, "--data", &file],
        &[
            ("HINDCAST_LISTEN", "127.0.0.1:0"),
            ("HINDCAST_JWT_SECRET", other),
            ("HINDCAST_DATA", "/nonexistent/x.db"),
        ],
        false,
    );
    let d = Device::new(&server, "env", "alice");
    assert_eq!(d.pull(0).await["head"], 1, "the flag's file and secret");
    // A bad value in the environment is refused.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_hindcast-server"))
        .env("HINDCAST_MAX_CONNECTIONS", "many")
        .env("HINDCAST_JWT_SECRET", SECRET)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(2));
}

/// A metrics page: (name, labels) → value.
type Samples = HashMap<(String, Vec<(String, String)>), f64>;

/// The metrics page, parsed.
fn parse(text: &str) -> Samples {
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("the Prometheus text format");
    let mut out = HashMap::new();
    for s in scrape.samples {
        let mut labels: Vec<(String, String)> = s
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.sort();
        let value = match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(h) => h.iter().map(|b| b.count).fold(0.0, f64::max),
            _ => continue,
        };
        out.insert((s.metric, labels), value);
    }
    out
}

fn get(m: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let key = (
        name.to_string(),
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    *m.get(&key)
        .unwrap_or_else(|| panic!("{name} {labels:?} in {:?}", m.keys().collect::<Vec<_>>()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_scraped_in_the_prometheus_format() {
    for backend in backends() {
        let log = format!("metrics-{}", new_id());
        let other = format!("other-{}", new_id());
        let mut args = vec![
            "--metrics-logs",
            &log,
            "--listen",
            "127.0.0.1:0",
            "--jwt-secret",
            SECRET,
            "--metrics-listen",
            "127.0.0.1:0",
        ];
        args.extend(backend.args.iter().map(String::as_str));
        let server = Server::launch(&args, &[], true);
        let mut d = Device::new(&server, &log, "alice");
        // A log not named by --metrics-logs is counted in the totals only.
        let mut o = Device::new(&server, &other, "alice");
        o.push(json!({ "events": [{ "stream": "s", "type": "t" }], "view": view(0) }))
            .await;
        for _ in 0..3 {
            d.push(json!({ "events": [{ "stream": "s", "type": "t" }, { "stream": "s", "type": "t" }], "view": view(0) }))
                .await;
        }
        d.push(json!({ "events": [{ "stream": "s", "type": "t" }], "expect": { "s": "no_stream" }, "view": view(0) }))
            .await;
        let (status, _) = d
            .push_raw(json!([{ "seq": 99, "id": new_id(), "events": [], "view": view(0) }]))
            .await;
        assert_eq!(status, 409);
        let scrape = |t: Option<String>| {
            let url = server.url.clone();
            async move {
                let mut req = http().get(format!("{url}/metrics"));
                if let Some(t) = t {
                    req = req.bearer_auth(t);
                }
                let resp = req.send().await.unwrap();
                (resp.status().as_u16(), resp.text().await.unwrap())
            }
        };
        // Guarded like the API: a token that grants every log.
        assert_eq!(scrape(None).await.0, 401);
        assert_eq!(scrape(Some(token("alice", &[&log], 60))).await.0, 403);
        let (status, text) = scrape(Some(token("ops", &["*"], 60))).await;
        assert_eq!(status, 200);
        let m = parse(&text);
        assert_eq!(
            get(
                &m,
                "hindcast_log_pushes_total",
                &[("log", &log), ("outcome", "ok")]
            ),
            4.0
        );
        assert_eq!(
            get(
                &m,
                "hindcast_log_pushes_total",
                &[("log", &log), ("outcome", "out_of_order")]
            ),
            1.0
        );
        assert!(!text.contains(&other), "no series names the other log");
        assert_eq!(
            get(&m, "hindcast_pushes_total", &[("outcome", "ok")]),
            5.0,
            "{}",
            backend.name
        );
        assert_eq!(
            get(&m, "hindcast_pushes_total", &[("outcome", "out_of_order")]),
            1.0
        );
        assert_eq!(
            get(&m, "hindcast_batches_total", &[("outcome", "committed")]),
            4.0
        );
        assert_eq!(
            get(&m, "hindcast_batches_total", &[("outcome", "rejected")]),
            1.0
        );
        assert_eq!(get(&m, "hindcast_events_committed_total", &[]), 7.0);
        assert_eq!(get(&m, "hindcast_push_seconds_count", &[]), 6.0);
        // The pushes came one after another: every group held one.
        let groups = get(&m, "hindcast_group_pushes_count", &[]);
        assert!(groups >= 5.0, "{groups} groups");
        assert_eq!(get(&m, "hindcast_group_pushes_sum", &[]), groups);
        assert_eq!(get(&m, "hindcast_storage_errors_total", &[]), 0.0);
        assert_eq!(get(&m, "hindcast_logs_in_memory", &[]), 2.0);
        assert!(get(&m, "hindcast_connections", &[]) >= 1.0);
        assert_eq!(get(&m, "hindcast_live_readers", &[]), 0.0);
        // The same page on --metrics-listen, without a token.
        let line = loop {
            let lines = server.stderr.lock().unwrap().clone();
            if let Some(l) = lines.iter().find(|l| l.contains("metrics served")) {
                break l.clone();
            }
            tokio::task::yield_now().await;
        };
        let addr = line
            .split("address=")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        let text = http()
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            get(
                &parse(&text),
                "hindcast_batches_total",
                &[("outcome", "committed")]
            ),
            4.0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_log_line_per_request_without_tokens_or_data() {
    let backend = sqlite();
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--jwt-secret",
        SECRET,
        "--log-format",
        "json",
    ];
    args.extend(backend.args.iter().map(String::as_str));
    let server = Server::launch(&args, &[("RUST_LOG", "info")], true);
    let log = format!("logs-{}", new_id());
    let mut d = Device::new(&server, &log, "alice");
    let secret_data = "do-not-log-this-data";
    d.push(
        json!({ "events": [{ "stream": "s", "type": "t", "data": secret_data }], "view": view(0) }),
    )
    .await;
    d.pull(0).await;
    // The server logs a request once it has answered it; wait for the lines.
    let lines = loop {
        let lines = server.stderr.lock().unwrap().clone();
        if lines.iter().filter(|l| l.contains(&log)).count() >= 3 {
            break lines;
        }
        tokio::task::yield_now().await;
    };
    let entries: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let push = entries
        .iter()
        .find(|e| e["message"] == "push")
        .expect("a push line");
    assert_eq!(push["log"], json!(log));
    assert_eq!(push["principal"], "alice");
    assert_eq!(
        (
            push["batches"].clone(),
            push["committed"].clone(),
            push["rejected"].clone()
        ),
        (json!(1), json!(1), json!(0))
    );
    assert_eq!(push["outcome"], "ok");
    assert!(push["ms"].is_u64());
    assert_eq!(push["level"], "INFO");
    let reads = entries
        .iter()
        .filter(|e| e["message"] == "read" && e["log"] == json!(log))
        .count();
    assert_eq!(reads, 2, "the pull's two pages");
    let all = lines.join("\n");
    assert!(
        !all.contains(secret_data) && !all.contains(&d.token),
        "never data or tokens"
    );
}

/// One device pushing one batch after another until a push is not
/// answered: (seq, batch, outcome) answered, and the one that was not.
async fn pushing(
    mut d: Device,
    k: usize,
    answered: Arc<Mutex<usize>>,
    go: Arc<tokio::sync::Notify>,
) -> (Device, Vec<(Value, Value)>, Option<Value>) {
    let mut done = Vec::new();
    loop {
        let batch = json!({ "seq": d.seq + 1, "id": new_id(), "events": [{ "stream": format!("s-{k}"), "type": "t" }], "view": view(0) });
        let body = json!({ "protocol": 1, "clientId": d.client, "batches": [batch] }).to_string();
        let sent = d
            .http
            .post(format!("{}/v1/logs/{}/push", d.url, d.log))
            .bearer_auth(&d.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        let answer = match sent {
            Ok(resp) if resp.status() == 200 => resp.json::<Value>().await.ok(),
            _ => None,
        };
        match answer {
            Some(a) => {
                d.seq += 1;
                done.push((batch, a["results"][0].clone()));
                *answered.lock().unwrap() += 1;
                go.notify_one();
            }
            None => return (d, done, Some(batch)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_answers_what_it_received_and_exits_0() {
    use futures_util::StreamExt;
    for backend in backends() {
        let mut server = Server::start(&backend);
        let log = format!("stop-{}", new_id());
        let reader = token("reader", &[&log], 3600);
        let live = http()
            .get(format!("{}/v1/logs/{log}/events", server.url))
            .bearer_auth(&reader)
            .header("accept", "text/event-stream")
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .unwrap();
        assert_eq!(live.status(), 200);
        let answered = Arc::new(Mutex::new(0));
        let go = Arc::new(tokio::sync::Notify::new());
        let devices: Vec<_> = (0..8)
            .map(|k| {
                let d = Device::new(&server, &log, &format!("p{k}"));
                tokio::spawn(pushing(d, k, answered.clone(), go.clone()))
            })
            .collect();
        while *answered.lock().unwrap() < 100 {
            go.notified().await;
        }
        // SIGTERM while eight clients push.
        let code = server.stop(libc::SIGTERM, Duration::from_secs(10));
        assert_eq!(code, Some(0), "{}: exits 0 within 10 s", backend.name);
        // The live stream ended cleanly (its body finished, no error).
        let mut body = live.bytes_stream();
        while let Some(chunk) = body.next().await {
            chunk.expect("the live stream ends cleanly");
        }
        let mut results = Vec::new();
        for t in devices {
            results.push(t.await.unwrap());
        }
        // Started again on the same storage: every answered push is there.
        let server = Server::start(&backend);
        let pulled = pull(&http(), &server.url, &log, &reader, 0).await;
        let by_batch: HashMap<String, u64> = pulled["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["batchId"].as_str().unwrap().to_string(),
                    e["revision"].as_u64().unwrap(),
                )
            })
            .collect();
        let mut answered = 0;
        for (_, done, _) in &results {
            for (batch, outcome) in done {
                answered += 1;
                assert_eq!(outcome["status"], "committed");
                assert_eq!(
                    by_batch.get(batch["id"].as_str().unwrap()),
                    outcome["revision"].as_u64().as_ref(),
                    "{}",
                    backend.name
                );
            }
        }
        assert!(answered >= 100);
        // Each unanswered push is absent, or answered the same on retry.
        for (mut d, _, unanswered) in results {
            let Some(batch) = unanswered else { continue };
            d.url = server.url.clone();
            let (status, answer) = d.push_raw(json!([batch.clone()])).await;
            assert_eq!(status, 200, "{answer}");
            let outcome = &answer["results"][0];
            assert_eq!(outcome["status"], "committed");
            if let Some(revision) = by_batch.get(batch["id"].as_str().unwrap()) {
                assert_eq!(
                    outcome["revision"].as_u64(),
                    Some(*revision),
                    "{}",
                    backend.name
                );
            } else {
                assert!(outcome["revision"].as_u64().unwrap() > pulled["head"].as_u64().unwrap());
            }
        }
        // Gap-free, each batch once.
        let all = pull(&http(), &server.url, &log, &reader, 0).await;
        let revisions: Vec<u64> = all["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["revision"].as_u64().unwrap())
            .collect();
        assert_eq!(revisions, (1..=revisions.len() as u64).collect::<Vec<_>>());
    }
}
