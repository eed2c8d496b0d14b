//! Many clients at once, two processes on one PostgreSQL, live readers,
//! and `kill -9`: against the real server processes.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// Revisions 1 … n, each once, in order; batches whole and contiguous.
fn assert_gap_free(events: &[Value]) {
    for (i, e) in events.iter().enumerate() {
        assert_eq!(
            e["revision"],
            i as u64 + 1,
            "revision {} at position {i}",
            e["revision"]
        );
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut previous = String::new();
    for e in events {
        let b = e["batchId"].as_str().unwrap().to_string();
        if b != previous {
            assert!(!seen.contains_key(&b), "batch {b} is split");
            seen.insert(b.clone(), 0);
            previous = b.clone();
        }
        *seen.get_mut(&b).unwrap() += 1;
    }
}

/// 20 clients, spread over the servers, each claim 10 decisions (each
/// claim expects `no_stream`) and write notes of their own in between.
async fn race(servers: &[Server], name: &str) {
    let log = new_id();
    let mut tasks = Vec::new();
    for i in 0..20usize {
        let mut device = Device::new(&servers[i % servers.len()], &log, &format!("user-{i}"));
        tasks.push(tokio::spawn(async move {
            let mut won = Vec::new();
            for round in 0..10usize {
                let k = (round + i) % 10;
                let o = device
                    .push(json!({
                        "events": [{ "stream": format!("decision-{k}"), "type": "claimed", "data": { "by": i } }],
                        "expect": { format!("decision-{k}"): "no_stream" },
                        "view": view(0),
                    }))
                    .await;
                match o["status"].as_str() {
                    Some("committed") => won.push((k, o["revision"].as_u64().unwrap())),
                    Some("rejected") => assert_eq!(o["violations"][0]["kind"], "version_mismatch"),
                    _ => panic!("{o}"),
                }
                let o = device
                    .push(json!({ "events": [{ "stream": format!("notes-{i}"), "type": "noted" }, { "stream": format!("notes-{i}"), "type": "noted" }], "view": view(0) }))
                    .await;
                assert_eq!(o["status"], "committed", "{o}");
            }
            won
        }));
    }
    let mut winners: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
    for t in tasks {
        for (k, rev) in t.await.unwrap() {
            winners.entry(k).or_default().push(rev);
        }
    }
    assert_eq!(winners.len(), 10, "{name}: every decision has a winner");
    assert!(
        winners.values().all(|w| w.len() == 1),
        "{name}: exactly one winner per decision: {winners:?}"
    );
    // One log, gap-free, the same through every process.
    let token = token("reader", &[&log], 600);
    let first = pull(&http(), &servers[0].url, &log, &token, 0).await;
    let events = first["events"].as_array().unwrap();
    assert_eq!(events.len(), 10 + 20 * 10 * 2, "{name}");
    assert_gap_free(events);
    for (k, revs) in &winners {
        assert_eq!(
            events[revs[0] as usize - 1]["stream"],
            format!("decision-{k}")
        );
    }
    for s in &servers[1..] {
        assert_eq!(
            pull(&http(), &s.url, &log, &token, 0).await,
            first,
            "{name}: the same log through each process"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_clients_race_one_winner_per_decision() {
    race(&[Server::start(&sqlite())], "sqlite").await;
    if let Some(pg) = postgres() {
        race(
            &[Server::start(&pg), Server::start(&pg)],
            "postgres, two processes",
        )
        .await;
    }
}

/// A live reader on one process while 20 clients push through another: no
/// gap, no repeat; then `Last-Event-ID` and `after` resume where asked.
async fn live(reader: &Server, writer: &Server, name: &str) {
    let log = new_id();
    let token = token("reader", &[&log], 600);
    // Several readers: they wake together and share reads.
    let mut stream = Live::open(&reader.url, &log, &token, 0, None).await;
    let mut others = Vec::new();
    for _ in 0..4 {
        others.push(Live::open(&reader.url, &log, &token, 0, None).await);
    }
    let mut tasks = Vec::new();
    for i in 0..20usize {
        let mut device = Device::new(writer, &log, &format!("w{i}"));
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let o = device
                    .push(json!({ "events": [{ "stream": format!("s{i}"), "type": "a" }, { "stream": format!("s{i}"), "type": "b" }], "view": view(0) }))
                    .await;
                assert_eq!(o["status"], "committed");
            }
        }));
    }
    let total = 20 * 10 * 2;
    let mut received: Vec<Value> = Vec::new();
    let mut ids = Vec::new();
    while received.len() < total {
        // Well within the keep-alive period: a commit wakes its readers.
        let (id, events) = stream
            .next(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{name}: the live stream stalled at {}", received.len()));
        assert_eq!(
            events.last().unwrap()["revision"],
            id,
            "{name}: the message id is its last revision"
        );
        ids.push(id);
        received.extend(events);
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(received.len(), total, "{name}: nothing repeated");
    assert_gap_free(&received);
    for other in &mut others {
        let mut got = Vec::new();
        while got.len() < total {
            let (_, events) = other
                .next(Duration::from_secs(5))
                .await
                .expect("every reader gets every event");
            got.extend(events);
        }
        assert_eq!(got, received, "{name}: every reader sees the same log");
    }
    // Nothing more arrives (a keep-alive at most).
    assert!(stream.next(Duration::from_millis(300)).await.is_none());
    // Resume from a message id, by header and by `after`.
    let mid = ids[ids.len() / 2];
    let mut resumed = Live::open(&reader.url, &log, &token, 0, Some(mid)).await;
    let (_, events) = resumed.next(Duration::from_secs(10)).await.unwrap();
    assert_eq!(events[0]["revision"], mid + 1, "{name}: Last-Event-ID");
    let mut after = Live::open(&writer.url, &log, &token, mid, None).await;
    let mut got = Vec::new();
    while got.len() < total - mid as usize {
        let (_, events) = after.next(Duration::from_secs(10)).await.unwrap();
        got.extend(events);
    }
    assert_eq!(got[..], received[mid as usize..], "{name}: after=N");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_readers_miss_nothing_and_resume() {
    let file = sqlite();
    let s = Server::start(&file);
    live(&s, &s, "sqlite").await;
    if let Some(pg) = postgres() {
        let (a, b) = (Server::start(&pg), Server::start(&pg));
        live(&a, &b, "postgres, two processes").await;
    }
}

/// `kill -9` while 8 clients push: after a restart every acknowledged
/// batch is there, whole, in a gap-free log, and pushing goes on.
async fn kill_nine(backend: &Backend) {
    let server = Server::start(backend);
    let log = new_id();
    let acked = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for i in 0..8usize {
        let mut device = Device::new(&server, &log, "writer");
        let (acked, enough) = (acked.clone(), enough.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                device.seq += 1;
                let id = new_id();
                let batch = json!({ "seq": device.seq, "id": id, "events": [
                    { "stream": format!("k{i}"), "type": "a" }, { "stream": format!("k{i}"), "type": "b" }, { "stream": "shared", "type": "c" }
                ], "view": view(0) });
                let body = json!({ "protocol": 1, "clientId": device.client, "batches": [batch] }).to_string();
                let sent = device
                    .http
                    .post(format!("{}/v1/logs/{}/push", device.url, device.log))
                    .bearer_auth(&device.token)
                    .body(body)
                    .send()
                    .await;
                let Ok(resp) = sent else { return mine };
                let Ok(v) = resp.json::<Value>().await else { return mine };
                assert_eq!(v["results"][0]["status"], "committed", "{v}");
                mine.push(id);
                if acked.fetch_add(1, Ordering::SeqCst) + 1 == 150 {
                    enough.notify_one();
                }
            }
        }));
    }
    enough.notified().await;
    server.kill();
    let mut acknowledged = Vec::new();
    for t in tasks {
        acknowledged.extend(t.await.unwrap());
    }
    assert!(acknowledged.len() >= 150);
    let server = Server::start(backend);
    let mut device = Device::new(&server, &log, "after");
    let pulled = device.pull(0).await;
    let events = pulled["events"].as_array().unwrap();
    assert_gap_free(events);
    let mut sizes: HashMap<&str, usize> = HashMap::new();
    for e in events {
        *sizes.entry(e["batchId"].as_str().unwrap()).or_default() += 1;
    }
    assert!(
        sizes.values().all(|&n| n == 3),
        "{}: nothing half-written",
        backend.name
    );
    for id in &acknowledged {
        assert_eq!(
            sizes.get(id.as_str()),
            Some(&3),
            "{}: acknowledged batch {id} is there",
            backend.name
        );
    }
    let head = pulled["head"].as_u64().unwrap();
    assert_eq!(head as usize, events.len());
    let o = device
        .push(json!({ "events": [{ "stream": "shared", "type": "c" }], "expect": { "shared": { "revision": head } }, "view": view(head) }))
        .await;
    assert_eq!(
        (o["status"].as_str(), o["revision"].as_u64()),
        (Some("committed"), Some(head + 1)),
        "{o}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_nine_loses_no_acknowledged_batch() {
    for backend in backends() {
        kill_nine(&backend).await;
    }
}

/// An idle live stream gets a comment line within 15 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_live_stream_gets_keep_alives() {
    use futures_util::StreamExt;
    let file = sqlite();
    let server = Server::start(&file);
    let log = new_id();
    let resp = http()
        .get(format!("{}/v1/logs/{log}/events", server.url))
        .bearer_auth(token("reader", &[&log], 600))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let mut body = resp.bytes_stream();
    let mut text = String::new();
    while !text.contains(": keep-alive") {
        let chunk = tokio::time::timeout_at(started + Duration::from_secs(15), body.next())
            .await
            .expect("a keep-alive within 15 s")
            .expect("the stream stays open")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(!text.contains("data:"), "no events on an idle log: {text}");
}

/// A process decides a push from what it knows (its lane's last head, the
/// client's last seq) without reading first; another process's writes make
/// that stale. Each kind of staleness is caught: the head moved (the check
/// under the lock), a seq decided elsewhere without moving the head (its
/// key), and the answers are those of a process that read first.
async fn stale_knowledge(a: &Server, b: &Server, name: &str) {
    let log = new_id();
    let mut d = Device::new(a, &log, "user-d");
    let mut e = Device::new(a, &log, "user-e");
    for device in [&mut d, &mut e] {
        for _ in 0..2 {
            let o = device
                .push(json!({ "events": [{ "stream": "s", "type": "t" }], "view": view(0) }))
                .await;
            assert_eq!(o["status"], "committed", "{name}: {o}");
        }
    }
    // d's seq 5 is decided on b and rejected: b's head does not move.
    d.url = b.url.clone();
    let rejected = d
        .push(json!({ "events": [{ "stream": "s", "type": "t" }], "expect": { "s": "no_stream" }, "view": view(0) }))
        .await;
    assert_eq!(rejected["status"], "rejected", "{name}: {rejected}");
    // The same seq on a, with another batch that would commit: a knew
    // seq 2 as d's last, but seq 3 is decided; its recorded outcome stands.
    d.url = a.url.clone();
    let (status, body) = d
        .push_raw(json!([{ "seq": 3, "id": new_id(), "events": [{ "stream": "other", "type": "t" }], "view": view(0) }]))
        .await;
    assert_eq!(status, 200, "{name}: {body}");
    assert_eq!(
        bare(body["results"][0].clone()),
        bare(rejected.clone()),
        "{name}"
    );
    let o = d
        .push(json!({ "events": [{ "stream": "s", "type": "t" }], "view": view(0) }))
        .await;
    assert_eq!(
        (o["status"].as_str(), o["revision"].as_u64()),
        (Some("committed"), Some(5)),
        "{name}: {o}"
    );
    // The head moves on b; e, known on a, pushes there next.
    d.url = b.url.clone();
    let o = d
        .push(json!({ "events": [{ "stream": "s", "type": "t" }], "view": view(0) }))
        .await;
    assert_eq!(o["revision"], 6, "{name}: {o}");
    let o = e
        .push(json!({ "events": [{ "stream": "s", "type": "t" }], "expect": { "s": { "version": 5 } }, "view": view(6) }))
        .await;
    assert_eq!(
        (o["status"].as_str(), o["revision"].as_u64()),
        (Some("committed"), Some(7)),
        "{name}: {o}"
    );
    let o = e
        .push(json!({ "events": [{ "stream": "s", "type": "t" }], "expect": { "s": { "version": 5 } }, "view": view(6) }))
        .await;
    assert_eq!(o["status"], "rejected", "{name}: {o}");
    let events = d.pull(0).await;
    let events = events["events"].as_array().unwrap();
    assert_eq!(events.len(), 7, "{name}");
    assert!(
        events.iter().all(|e| e["stream"] == "s"),
        "{name}: {events:?}"
    );
    assert_gap_free(events);
}

/// The outcome without `replayed`.
fn bare(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("replayed");
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_a_process_knows_is_checked_against_the_others() {
    let s = Server::start(&sqlite());
    stale_knowledge(&s, &s, "sqlite").await;
    if let Some(pg) = postgres() {
        stale_knowledge(
            &Server::start(&pg),
            &Server::start(&pg),
            "postgres, two processes",
        )
        .await;
    }
}

/// More busy logs than a process keeps pipelines for (half of its 16
/// connections): every push is decided, each log gap-free.
async fn many_logs(server: &Server, name: &str) {
    let logs: Vec<String> = (0..24).map(|_| new_id()).collect();
    let mut tasks = Vec::new();
    for log in &logs {
        for d in 0..2 {
            let mut device = Device::new(server, log, &format!("user-{d}"));
            tasks.push(tokio::spawn(async move {
                for _ in 0..10 {
                    let o = device
                        .push(
                            json!({ "events": [{ "stream": "s", "type": "t" }], "view": view(0) }),
                        )
                        .await;
                    assert_eq!(o["status"], "committed", "{o}");
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    for log in &logs {
        let token = token("reader", &[log], 600);
        let page = pull(&http(), &server.url, log, &token, 0).await;
        let events = page["events"].as_array().unwrap();
        assert_eq!(events.len(), 20, "{name}");
        assert_gap_free(events);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn more_busy_logs_than_pipelines() {
    many_logs(&Server::start(&sqlite()), "sqlite").await;
    if let Some(pg) = postgres() {
        many_logs(&Server::start(&pg), "postgres").await;
    }
}
