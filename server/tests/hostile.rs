//! What a hostile client or a bad day must not break, against the real
//! server process (both backends where the storage matters): input nested
//! too deep, pages bounded by bytes, batch ids reused with other events,
//! connections and logs in memory capped, commits lost by the database,
//! tokens and inputs at their edges.

mod common;

use std::io::Read;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

/// A push body with one batch whose JSON is given as text (serde_json
/// cannot hold values nested this deep).
fn raw_batch(client: &str, seq: u64, id: &str, events: &str) -> String {
    format!(
        r#"{{"protocol":1,"clientId":"{client}","batches":[{{"seq":{seq},"id":"{id}","events":{events},"view":{{"base":0,"own":[]}}}}]}}"#
    )
}

fn violation(result: &Value) -> (String, String) {
    let v = &result["violations"][0];
    (
        v["kind"].as_str().unwrap_or("").to_string(),
        v["path"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_nested_deeper_than_a_device_accepts_is_refused() {
    for backend in backends() {
        let server = Server::start(&backend);
        let log = format!("deep-{}", new_id());
        let d = Device::new(&server, &log, "alice");
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let cases = [
            (
                format!(r#"[{{"stream":"s","type":"t","data":{}}}]"#, deep(1001)),
                "events[0].data",
            ),
            (
                format!(
                    r#"[{{"stream":"s","type":"t","data":{}}}]"#,
                    deep(1_000_000)
                ),
                "events[0].data",
            ),
            (
                format!(
                    r#"[{{"stream":"s","type":"t","data":1}},{{"stream":"s","type":"t","metadata":{{"a":{}}}}}]"#,
                    deep(1000)
                ),
                "events[1].metadata",
            ),
        ];
        for (seq, (events, path)) in cases.iter().enumerate() {
            let id = new_id();
            let body = raw_batch(&d.client, seq as u64 + 1, &id, events);
            let (status, answer) = post(&d.http, &d.url, &log, Some(&d.token), body).await;
            assert_eq!(status, 200, "{}: {answer}", backend.name);
            let result = &answer["results"][0];
            assert_eq!(result["status"], "rejected", "{}: {path}", backend.name);
            assert_eq!(result["id"], id);
            assert_eq!(
                violation(result),
                ("invalid_input".into(), path.to_string())
            );
        }
        // 1,000 levels is what a device accepts: taken as given.
        let events = format!(r#"[{{"stream":"s","type":"t","data":{}}}]"#, deep(1000));
        let body = raw_batch(&d.client, 4, &new_id(), &events);
        let (status, answer) = post(&d.http, &d.url, &log, Some(&d.token), body).await;
        assert_eq!(status, 200);
        assert_eq!(answer["results"][0]["status"], "committed", "{answer}");
        assert_eq!(answer["head"], 1);
        let page = d.page_text(&log, 0).await;
        assert!(
            page.contains(&format!(r#""data":{}"#, deep(1000))),
            "{}",
            backend.name
        );
    }
}

/// Pushes one batch of `n` events, each with a string of `size` bytes.
async fn push_big(d: &mut Device, n: usize, size: usize) -> Value {
    let events: Vec<Value> = (0..n)
        .map(|_| json!({ "stream": "s", "type": "t", "data": "x".repeat(size) }))
        .collect();
    d.push(json!({ "events": events, "view": view(0) })).await
}

async fn page(d: &Device, query: &str) -> Vec<u64> {
    let resp = d
        .http
        .get(format!("{}/v1/logs/{}/events?{query}", d.url, d.log))
        .bearer_auth(&d.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let page: Value = resp.json().await.unwrap();
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["revision"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_bounded_by_bytes_in_whole_batches() {
    for backend in backends() {
        let server = Server::start(&backend);
        let log = format!("pages-{}", new_id());
        let mut d = Device::new(&server, &log, "alice");
        // Three batches of one 1 MB event, then one of four (4 MB): a page
        // holds at most 4 MiB of events, unless its one batch is larger.
        for _ in 0..3 {
            assert_eq!(push_big(&mut d, 1, 1_000_000).await["status"], "committed");
        }
        assert_eq!(push_big(&mut d, 4, 1_040_000).await["status"], "committed");
        assert_eq!(push_big(&mut d, 1, 10).await["status"], "committed");
        assert_eq!(page(&d, "after=0").await, [1, 2, 3], "{}", backend.name);
        assert_eq!(page(&d, "after=3").await, [4, 5, 6, 7, 8]);
        assert_eq!(page(&d, "after=2").await, [3]);
        assert_eq!(page(&d, "after=7").await, [8]);
        assert_eq!(page(&d, "after=0&limit=2").await, [1, 2]);
        assert_eq!(page(&d, "after=3&limit=1").await, [4, 5, 6, 7]);
        // A live reader gets the same pages.
        let mut live = Live::open(&d.url, &log, &d.token, 0, None).await;
        let (id, events) = live.next(Duration::from_secs(30)).await.unwrap();
        assert_eq!((id, events.len()), (3, 3));
        let (id, events) = live.next(Duration::from_secs(30)).await.unwrap();
        assert_eq!((id, events.len()), (8, 5));
    }
}

/// The metrics as name → value (label sets summed).
async fn metrics(url: &str) -> std::collections::HashMap<String, f64> {
    let text = http()
        .get(format!("{url}/metrics"))
        .bearer_auth(token("ops", &["*"], 3600))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("the Prometheus text format");
    let mut out = std::collections::HashMap::new();
    for s in scrape.samples {
        let v = match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => continue,
        };
        *out.entry(s.metric).or_insert(0.0) += v;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_pages_are_let_go_once_sent() {
    for backend in backends() {
        let server = Server::start(&backend);
        let log = format!("shared-{}", new_id());
        let mut d = Device::new(&server, &log, "alice");
        for _ in 0..6 {
            push_big(&mut d, 1, 100_000).await;
        }
        // Readers at six places, each sent its page.
        let mut readers = Vec::new();
        for after in 0..6 {
            let mut live = Live::open(&d.url, &log, &d.token, after, None).await;
            let (id, _) = live.next(Duration::from_secs(30)).await.unwrap();
            assert_eq!(id, 6);
            readers.push(live);
        }
        let m = metrics(&server.url).await;
        assert_eq!(m["hindcast_live_readers"], 6.0, "{}", backend.name);
        assert_eq!(m["hindcast_live_pages"], 0.0, "{}", backend.name);
        assert_eq!(m["hindcast_live_page_bytes"], 0.0, "{}", backend.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_id_again_with_other_events_is_refused() {
    for backend in backends() {
        let server = Server::start(&backend);
        let log = format!("same-{}", new_id());
        let mut d = Device::new(&server, &log, "alice");
        // Pairs of event lists: (first, again). Different in value, equal
        // through f64 or serde_json::Value.
        let differ = [
            (r#"{"n":0.1}"#, r#"{"n":0.10000000000000001}"#),
            (
                r#"{"n":18446744073709551616}"#,
                r#"{"n":18446744073709551617}"#,
            ),
            (r#"{"n":1e400}"#, r#"{"n":2e400}"#),
            (r#""\ud800""#, r#""\ud801""#),
            (
                &*format!("{}1{}", "[".repeat(200), "]".repeat(200)),
                &*format!("{}2{}", "[".repeat(200), "]".repeat(200)),
            ),
            (r#"{"a":1,"b":2}"#, r#"{"b":2,"a":1}"#),
        ];
        for (first, again) in differ {
            let (id, event) = (new_id(), new_id());
            let events = |data: &str| {
                format!(r#"[{{"id":"{event}","stream":"s","type":"t","data":{data}}}]"#)
            };
            d.seq += 1;
            let body = raw_batch(&d.client, d.seq, &id, &events(first));
            let (_, a) = post(&d.http, &d.url, &log, Some(&d.token), body).await;
            assert_eq!(a["results"][0]["status"], "committed", "{a}");
            d.seq += 1;
            let body = raw_batch(&d.client, d.seq, &id, &events(again));
            let (_, b) = post(&d.http, &d.url, &log, Some(&d.token), body).await;
            let result = &b["results"][0];
            assert_eq!(
                result["status"], "rejected",
                "{}: {first} vs {again}: {b}",
                backend.name
            );
            assert_eq!(violation(result), ("invalid_input".into(), "id".into()));
        }
        // The same batch written another way is the same batch: a replay.
        let same = [
            (
                r#"{"n":1.0,"s":"\u0041\/"}"#,
                r#"{"n":1,"s":"A/"}"#,
                None,
                None,
            ),
            (
                r#"{"n":-0}"#,
                r#"{ "n" : 0 }"#,
                Some(r#""c-1""#),
                Some(r#""c-1""#),
            ),
        ];
        for (first, again, c1, c2) in same {
            let id = new_id();
            let event = new_id();
            let body = |seq: u64, data: &str, c: Option<&str>| {
                let c = c.map_or(String::new(), |c| format!(r#","correlationId":{c}"#));
                format!(
                    r#"{{"protocol":1,"clientId":"{}","batches":[{{"seq":{seq},"id":"{id}","events":[{{"type":"t","id":"{event}","stream":"s","data":{data},"tags":null}}]{c},"view":{{"base":0,"own":[]}}}}]}}"#,
                    d.client
                )
            };
            d.seq += 1;
            let (_, a) = post(
                &d.http,
                &d.url,
                &log,
                Some(&d.token),
                body(d.seq, first, c1),
            )
            .await;
            assert_eq!(a["results"][0]["status"], "committed", "{a}");
            d.seq += 1;
            let (_, b) = post(
                &d.http,
                &d.url,
                &log,
                Some(&d.token),
                body(d.seq, again, c2),
            )
            .await;
            assert_eq!(
                b["results"][0]["status"], "committed",
                "{}: {b}",
                backend.name
            );
            assert_eq!(b["results"][0]["replayed"], true);
            assert_eq!(b["results"][0]["revision"], a["results"][0]["revision"]);
        }
        // A correlationId is part of the batch.
        let id = new_id();
        let body = |seq: u64, c: &str| {
            format!(
                r#"{{"protocol":1,"clientId":"{}","batches":[{{"seq":{seq},"id":"{id}","events":[{{"stream":"s","type":"t"}}],"correlationId":"{c}","view":{{"base":0,"own":[]}}}}]}}"#,
                d.client
            )
        };
        d.seq += 1;
        let (_, a) = post(&d.http, &d.url, &log, Some(&d.token), body(d.seq, "one")).await;
        assert_eq!(a["results"][0]["status"], "committed");
        d.seq += 1;
        let (_, b) = post(&d.http, &d.url, &log, Some(&d.token), body(d.seq, "two")).await;
        assert_eq!(
            violation(&b["results"][0]),
            ("invalid_input".into(), "id".into())
        );
        let page = d.page_text(&log, 0).await;
        assert_eq!(
            page.matches("\"revision\":").count(),
            6 + 2 + 1,
            "{}",
            backend.name
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_seq_is_answered_exactly_as_first() {
    for backend in backends() {
        let server = Server::start(&backend);
        let log = format!("retry-{}", new_id());
        let mut d = Device::new(&server, &log, "alice");
        let id = new_id();
        let batch =
            json!({ "id": id, "events": [{ "stream": "s", "type": "t" }], "view": view(0) });
        let first = d.push(batch.clone()).await;
        assert_eq!(first["replayed"], false);
        // seq 2 names the same batch: a replay.
        let replay = d.push(batch.clone()).await;
        assert_eq!(replay["replayed"], true);
        for (seq, answer) in [(1, &first), (2, &replay)] {
            let mut b = batch.clone();
            b["seq"] = json!(seq);
            let (status, again) = d.push_raw(json!([b])).await;
            assert_eq!(status, 200);
            assert_eq!(&again["results"][0], answer, "{} seq {seq}", backend.name);
        }
        // A batch that is not well formed is named by its id.
        for events in [json!(null), json!({ "stream": "s" }), json!("x")] {
            let id = new_id();
            let mut b = json!({ "seq": d.seq + 1, "id": id, "view": view(0) });
            if !events.is_null() {
                b["events"] = events;
            }
            let (status, answer) = d.push_raw(json!([b])).await;
            assert_eq!(status, 200);
            d.seq += 1;
            assert_eq!(answer["results"][0]["id"], id, "{}", backend.name);
            assert_eq!(answer["results"][0]["status"], "rejected");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_versions_are_kept_as_given_and_checked() {
    for backend in backends() {
        let server = Server::start(&backend);
        let log = format!("schema-{}", new_id());
        let mut d = Device::new(&server, &log, "alice");
        let ok = d
            .push(json!({ "events": [{ "stream": "s", "type": "t", "data": { "v": 3 }, "schemaVersion": 3 }], "view": view(0) }))
            .await;
        assert_eq!(ok["status"], "committed", "{ok}");
        for bad in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("2"),
            json!(9007199254740992u64),
            json!(true),
        ] {
            let r = d
                .push(json!({ "events": [{ "stream": "s", "type": "t" }, { "stream": "s", "type": "t", "schemaVersion": bad }], "view": view(0) }))
                .await;
            assert_eq!(r["status"], "rejected", "{}: {bad}", backend.name);
            assert_eq!(
                violation(&r),
                ("invalid_input".into(), "events[1].schemaVersion".into()),
                "{bad}"
            );
        }
        // Unknown fields are refused, with their path.
        let r = d
            .push(json!({ "events": [{ "stream": "s", "type": "t", "colour": "red" }], "view": view(0) }))
            .await;
        assert_eq!(
            violation(&r),
            ("invalid_input".into(), "events[0].colour".into())
        );
        let pulled = d.pull(0).await;
        let events = pulled["events"].as_array().unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["schemaVersion"], 3);
        assert_eq!(events[0]["data"], json!({ "v": 3 }));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_capped_and_the_idle_longest_goes_first() {
    let backend = sqlite();
    let server = Server::start_with(
        &backend,
        &["--jwt-secret", SECRET, "--max-connections", "3"],
    );
    let addr = server.url.trim_start_matches("http://").to_string();
    // Three silent peers fill the server.
    let peers: Vec<std::net::TcpStream> = (0..3)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    // Each is admitted in order (a request answered on a fresh connection
    // shows the ones before it were taken).
    let resp = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
        .get(format!("{}/healthz", server.url))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Room was made by closing the first peer, the idle longest.
    let mut first = &peers[0];
    first
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        first.read(&mut buf).unwrap(),
        0,
        "the idle longest is closed"
    );
    for mut p in &peers[1..] {
        p.set_nonblocking(true).unwrap();
        let open = matches!(p.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        assert!(open, "newer peers stay");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_logs_are_let_go_past_max_logs() {
    for backend in backends() {
        let server = Server::start_with(&backend, &["--jwt-secret", SECRET, "--max-logs", "4"]);
        let prefix = new_id();
        let mut devices = Vec::new();
        for i in 0..10 {
            let mut d = Device::new(&server, &format!("many-{prefix}-{i}"), "alice");
            assert_eq!(
                d.push(json!({ "events": [{ "stream": "s", "type": "t" }], "view": view(0) }))
                    .await["revision"],
                1
            );
            devices.push(d);
        }
        let m = metrics(&server.url).await;
        assert!(
            m["hindcast_logs_in_memory"] <= 4.0,
            "{}: {}",
            backend.name,
            m["hindcast_logs_in_memory"]
        );
        // A log let go is taken up again from storage, its checks whole.
        let d = &mut devices[0];
        let r = d
            .push(json!({ "events": [{ "stream": "s", "type": "t" }], "expect": { "s": "no_stream" }, "view": view(0) }))
            .await;
        assert_eq!(r["status"], "rejected", "{}", backend.name);
        let r = d
            .push(json!({ "events": [{ "stream": "s", "type": "t" }], "expect": { "s": { "version": 0 } }, "view": view(1) }))
            .await;
        assert_eq!(
            (r["status"].clone(), r["revision"].clone()),
            (json!("committed"), json!(2))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_lost_by_postgres_are_decided_again() {
    let Some(backend) = postgres() else { return };
    let url = std::env::var("HINDCAST_TEST_DATABASE_URL").unwrap();
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let server = Server::start(&backend);
    let log = format!("lost-{}", new_id());
    let mut a = Device::new(&server, &log, "alice");
    let mut b = Device::new(&server, &log, "bob");
    let event = || json!({ "events": [{ "stream": "s", "type": "t" }], "view": view(0) });
    assert_eq!(a.push(event()).await["revision"], 1);
    assert_eq!(b.push(event()).await["revision"], 2);
    let stamp: i64 = db
        .query_one("SELECT stamp FROM heads WHERE log = $1", &[&log])
        .await
        .unwrap()
        .get(0);
    let lost_id = new_id();
    let lost =
        json!({ "id": lost_id, "events": [{ "stream": "s", "type": "t" }], "view": view(0) });
    assert_eq!(a.push(lost.clone()).await["revision"], 3);
    // The database goes back to before a's seq 2 (a failover to a replica
    // that had not received it).
    db.batch_execute(&format!(
        "DELETE FROM events WHERE log = '{log}' AND revision = 3;
         DELETE FROM batches WHERE log = '{log}' AND batch_id = '{lost_id}';
         DELETE FROM seqs WHERE log = '{log}' AND client_id = '{}' AND seq = 2;
         UPDATE heads SET head = 2, stamp = {stamp} WHERE log = '{log}';",
        a.client
    ))
    .await
    .unwrap();
    // A new client's push is decided after reading: storage is behind the
    // lane.
    let mut c = Device::new(&server, &log, "carol");
    assert_eq!(c.push(event()).await["revision"], 3);
    // a's seq 3 is out of order now: seq 2 is to be pushed again.
    let mut next = event();
    next["seq"] = json!(3);
    next["id"] = json!(new_id());
    let (status, body) = a.push_raw(json!([next.clone()])).await;
    assert_eq!(
        (status, body),
        (409, json!({ "error": "out_of_order", "expected": 2 }))
    );
    let mut again = lost.clone();
    again["seq"] = json!(2);
    let (status, body) = a.push_raw(json!([again, next])).await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(
        results
            .iter()
            .map(|r| (
                r["status"].clone(),
                r["revision"].clone(),
                r["replayed"].clone()
            ))
            .collect::<Vec<_>>(),
        [
            (json!("committed"), json!(4), json!(false)),
            (json!("committed"), json!(5), json!(false))
        ]
    );
    let pulled = a.pull(0).await;
    let revisions: Vec<u64> = pulled["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["revision"].as_u64().unwrap())
        .collect();
    assert_eq!(revisions, [1, 2, 3, 4, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_at_their_edges() {
    let backend = sqlite();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let sign = |claims: Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    };
    let claims = |extra: Value| {
        let mut c = json!({ "sub": "alice", "exp": now + 600, "logs": ["*"] });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        sign(c)
    };
    let status = |url: String, token: String| async move {
        http()
            .get(format!("{url}/v1/logs/l/events"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    let server = Server::start(&backend);
    let u = || server.url.clone();
    assert_eq!(status(u(), claims(json!({ "nbf": now + 3600 }))).await, 401);
    assert_eq!(status(u(), claims(json!({ "nbf": now + 30 }))).await, 200);
    assert_eq!(status(u(), claims(json!({ "nbf": now - 30 }))).await, 200);
    assert_eq!(status(u(), claims(json!({ "aud": "anything" }))).await, 200);
    assert_eq!(status(u(), claims(json!({ "sub": "" }))).await, 401);
    assert_eq!(status(u(), claims(json!({ "sub": "a\u{0}b" }))).await, 401);
    let server = Server::start_with(
        &backend,
        &["--jwt-secret", SECRET, "--jwt-audience", "hindcast"],
    );
    let u = || server.url.clone();
    assert_eq!(status(u(), claims(json!({ "aud": "hindcast" }))).await, 200);
    assert_eq!(
        status(u(), claims(json!({ "aud": ["other", "hindcast"] }))).await,
        200
    );
    assert_eq!(status(u(), claims(json!({ "aud": "other" }))).await, 401);
    assert_eq!(status(u(), claims(json!({}))).await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_stream_ends_when_its_token_expires() {
    use futures_util::StreamExt;
    let backend = sqlite();
    let server = Server::start(&backend);
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let t = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "sub": "alice", "exp": exp, "logs": ["l"] }),
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let resp = http()
        .get(format!("{}/v1/logs/l/events", server.url))
        .bearer_auth(&t)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.bytes_stream();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(_)) = body.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream ends at exp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now > exp, "not before exp");
}

#[test]
fn settings_that_weaken_auth_are_refused() {
    let db = std::env::temp_dir().join(format!("hindcast-test-{}.db", new_id()));
    let db = db.to_str().unwrap();
    let base = ["--listen", "127.0.0.1:0", "--data", db];
    fn with<'a>(base: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
        [base, more].concat()
    }
    assert_eq!(
        Server::exit_code(&with(
            &base,
            &["--jwt-secret", SECRET, "--insecure-no-auth"]
        )),
        Some(2)
    );
    assert_eq!(
        Server::exit_code(&with(&base, &["--jwt-secret", "short"])),
        Some(2)
    );
    assert_eq!(
        Server::exit_code(&with(&base, &["--jwt-secret", &"s".repeat(31)])),
        Some(2)
    );
    assert_eq!(Server::exit_code(&["--version"]), Some(0));
    assert_eq!(Server::exit_code(&["--help"]), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_at_their_edges() {
    for backend in backends() {
        let server = Server::start(&backend);
        let log = format!("edges-{}", new_id());
        let d = Device::new(&server, &log, "alice");
        let t = token("alice", &["*"], 3600);
        let envelope = json!({ "protocol": 1, "clientId": d.client, "batches": [] }).to_string();
        // One JSON document, nothing after it.
        for body in [format!("{envelope} x"), format!("{envelope}{envelope}")] {
            let (status, answer) = post(&d.http, &d.url, &log, Some(&t), body).await;
            assert_eq!(
                (status, answer["error"].clone()),
                (400, json!("invalid_input")),
                "{}",
                backend.name
            );
        }
        // Revisions beyond what a client can name exactly.
        for query in ["after=9223372036854775808", "after=9007199254740992"] {
            let resp = d
                .http
                .get(format!("{}/v1/logs/{log}/events?{query}", d.url))
                .bearer_auth(&t)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 400);
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["path"], "after");
        }
        let resp = d
            .http
            .get(format!("{}/v1/logs/{log}/events", d.url))
            .bearer_auth(&t)
            .header("accept", "text/event-stream")
            .header("last-event-id", "18446744073709551615")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        // A log name holding NUL.
        let (status, answer) = post(&d.http, &d.url, "a%00b", Some(&t), envelope.clone()).await;
        assert_eq!(
            (status, answer["path"].clone()),
            (400, json!("log")),
            "{}",
            backend.name
        );
        // At most 1,000 batches per push: above, nothing is decided.
        let batches: Vec<Value> = (1..=1001)
            .map(|seq| json!({ "seq": seq, "id": new_id(), "events": [], "view": view(0) }))
            .collect();
        let (status, _) = d.push_raw(json!(batches)).await;
        assert_eq!(status, 413);
        let (status, answer) = d.push_raw(json!(batches[..1000])).await;
        assert_eq!(status, 200);
        assert_eq!(answer["results"][0]["seq"], 1, "{}", backend.name);
    }
}
