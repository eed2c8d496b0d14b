//! The protocol against the real server process, on both backends: §3's
//! conditions as in memory, the view rule's cases, seq and replay, auth,
//! limits and malformed input.

mod common;

use common::*;
use serde_json::{json, Value};

/// A violation without its message (the core's form has none).
fn bare(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("message");
    v
}

/// Every §3 condition, holding and failing, through the server on an
/// up-to-date view, decided exactly as the in-memory store decides it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_condition_is_decided_as_in_memory() {
    let stored_id = new_id();
    let e = |stream: &str, type_: &str| json!({ "stream": stream, "type": type_ });
    let tagged = json!({ "stream": "acc-1", "type": "deposited", "subject": "acc-1", "tags": ["account:acc-1"], "id": stored_id });
    // (events, expect, constraints)
    let batches: Vec<(Value, Value, Value)> = vec![
        (json!([tagged]), json!({}), json!([])),
        (json!([e("acc-2", "opened")]), json!({}), json!([])),
        (json!([e("acc-1", "withdrawn")]), json!({}), json!([])),
        (
            json!([e("acc-3", "opened")]),
            json!({ "acc-3": "no_stream", "acc-2": "any" }),
            json!([]),
        ),
        (
            json!([e("acc-4", "opened")]),
            json!({ "acc-1": "no_stream" }),
            json!([]),
        ),
        (
            json!([e("acc-1", "x")]),
            json!({ "acc-1": "stream_exists" }),
            json!([]),
        ),
        (
            json!([e("acc-9", "x")]),
            json!({ "acc-9": "stream_exists" }),
            json!([]),
        ),
        (
            json!([e("acc-1", "x")]),
            json!({ "acc-1": { "revision": 5 } }),
            json!([]),
        ),
        (
            json!([e("acc-1", "x")]),
            json!({ "acc-1": { "revision": 1 } }),
            json!([]),
        ),
        (
            json!([e("acc-1", "x")]),
            json!({ "acc-1": { "version": 3 } }),
            json!([]),
        ),
        (
            json!([e("acc-1", "x")]),
            json!({ "acc-1": { "version": 0 } }),
            json!([]),
        ),
        (
            json!([e("acc-5", "x")]),
            json!({ "acc-5": { "revision": 0 } }),
            json!([]),
        ),
        (
            json!([e("acc-6", "x")]),
            json!({ "acc-5": { "version": 0 } }),
            json!([]),
        ),
        (
            json!([e("a", "x")]),
            json!({}),
            json!([{ "minRevision": 3 }]),
        ),
        (
            json!([e("a", "x")]),
            json!({}),
            json!([{ "minRevision": 99 }]),
        ),
        (
            json!([e("a", "x")]),
            json!({}),
            json!([{ "minRevision": 1, "selector": { "stream": "acc-2" } }]),
        ),
        (
            json!([e("a", "x")]),
            json!({}),
            json!([{ "minRevision": 1, "selector": { "stream": "nope" } }]),
        ),
        (
            json!([e("a", "x")]),
            json!({}),
            json!([{ "maxRevision": 0, "selector": { "stream": "nope" } }]),
        ),
        (
            json!([e("a", "x")]),
            json!({}),
            json!([{ "maxRevision": 0, "selector": { "stream": "acc-2" } }]),
        ),
        (
            json!([e("a", "x")]),
            json!({}),
            json!([{ "maxRevision": 3 }]),
        ),
        (
            json!([e("a", "x")]),
            json!({}),
            json!([{ "revisionRange": [2, 2], "selector": { "stream": "acc-2" } }]),
        ),
        (
            json!([e("a", "x")]),
            json!({}),
            json!([{ "revisionRange": [3, 4], "selector": { "subject": "acc-1" } }]),
        ),
        (
            json!([e("a", "x")]),
            json!({}),
            json!([{ "revisionRange": [1, 1000] }]),
        ),
        (
            json!([e("a", "x")]),
            json!({}),
            json!([{ "failIfEventsMatch": [{ "types": ["opened"], "tags": [] }], "after": 100 }]),
        ),
        (
            json!([e("a", "x")]),
            json!({}),
            json!([{ "failIfEventsMatch": [{ "types": [], "tags": ["account:acc-1"] }] }]),
        ),
        (
            json!([e("a", "x")]),
            json!({}),
            json!([{ "failIfEventsMatch": { "type": "opened" }, "after": 2 }]),
        ),
        (
            json!([e("acc-1", "x")]),
            json!({ "acc-1": "no_stream", "acc-2": { "version": 7 } }),
            json!([{ "maxRevision": 1 }, { "minRevision": 1, "selector": { "tags": ["t"] } }, { "revisionRange": [1, 2] }]),
        ),
        (
            json!([{ "stream": "b", "type": "x", "id": stored_id }]),
            json!({}),
            json!([]),
        ),
    ];
    for backend in backends() {
        let server = Server::start(&backend);
        let log = new_id();
        let mut device = Device::new(&server, &log, "alice");
        let mut memory = hindcast::Store::new();
        let mut head = 0;
        let (mut committed, mut rejected) = (0, 0);
        for (i, (events, expect, constraints)) in batches.iter().enumerate() {
            let id = new_id();
            let request =
                json!({ "id": id, "events": events, "expect": expect, "constraints": constraints });
            let text = request.to_string();
            let expected = hindcast::request::parse_request(&text)
                .and_then(|parsed| memory.transact(&parsed, 0.0));
            let mut batch = request.clone();
            batch["view"] = view(head);
            let got = device.push(batch).await;
            let what = format!("{} batch {i}: {got}", backend.name);
            match expected {
                Ok(commit) => {
                    committed += 1;
                    assert_eq!(got["status"], "committed", "{what}");
                    assert_eq!(got["firstRevision"], commit.first_revision, "{what}");
                    assert_eq!(got["revision"], commit.revision, "{what}");
                    for (stream, version, revision) in commit.streams {
                        let name = memory.log().streams.name(stream);
                        assert_eq!(
                            got["streams"][name],
                            json!({ "version": version, "revision": revision }),
                            "{what}"
                        );
                    }
                    head = commit.revision;
                }
                Err(err) => {
                    rejected += 1;
                    let hindcast::Error::Violations(expected) = &err else {
                        panic!("{what}: in memory {err}");
                    };
                    let expected: Vec<Value> = expected.iter().map(violation_json).collect();
                    assert_eq!(got["status"], "rejected", "{what}");
                    let violations: Vec<Value> = got["violations"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .cloned()
                        .map(bare)
                        .collect();
                    assert_eq!(violations, expected, "{what}");
                }
            }
        }
        assert!(committed > 10 && rejected > 10);
        // The log holds exactly what the memory store holds.
        let pulled = device.pull(0).await;
        assert_eq!(pulled["head"], memory.log().head());
        assert_eq!(
            pulled["events"].as_array().unwrap().len() as u64,
            memory.log().head()
        );
    }
}

/// §8.3's example, verbatim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overdraft_example() {
    for backend in backends() {
        let server = Server::start(&backend);
        let log = new_id();
        let mut setup = Device::new(&server, &log, "bank");
        for _ in 0..10 {
            let o = setup.push(json!({ "events": [{ "stream": "acc-1", "type": "deposited", "data": { "amount": 10 } }], "view": view(0) })).await;
            assert_eq!(o["status"], "committed");
        }
        let mut a = Device::new(&server, &log, "a");
        let mut b = Device::new(&server, &log, "b");
        let (deposit, withdrawal) = (new_id(), new_id());
        // B withdrew at global 11.
        let o = b.push(json!({ "events": [{ "stream": "acc-1", "type": "money_withdrawn", "data": { "amount": 30 } }], "constraints": [{ "maxRevision": 10, "selector": { "stream": "acc-1" } }], "view": view(10) })).await;
        assert_eq!(
            (o["status"].as_str(), o["revision"].as_u64()),
            (Some("committed"), Some(11))
        );
        // A, offline at 10: deposit (local 11), then withdrawal.
        let o = a.push(json!({ "id": deposit, "events": [{ "stream": "acc-1", "type": "money_deposited", "data": { "amount": 5 } }], "view": view(10) })).await;
        assert_eq!(
            (o["status"].as_str(), o["firstRevision"].as_u64()),
            (Some("committed"), Some(12))
        );
        let o = a.push(json!({ "id": withdrawal, "events": [{ "stream": "acc-1", "type": "money_withdrawn", "data": { "amount": 100 } }],
            "constraints": [{ "maxRevision": 11, "selector": { "stream": "acc-1" } }],
            "view": { "base": 10, "own": [deposit] } })).await;
        assert_eq!(o["status"], "rejected", "{}: {o}", backend.name);
        assert_eq!(
            bare(o["violations"][0].clone()),
            json!({ "kind": "max_revision_exceeded", "constraint": { "maxRevision": 11, "selector": { "stream": "acc-1" } }, "max": 11, "found": 11 })
        );
        assert_eq!(o["violations"].as_array().unwrap().len(), 1);
        assert_eq!(a.pull(0).await["head"], 12);
    }
}

/// A rejected batch rejects a later batch of the same device only when one
/// of its events is in the scope of one of that batch's conditions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_own_batch_rejects_only_in_its_scope() {
    for backend in backends() {
        let server = Server::start(&backend);
        let log = new_id();
        let mut a = Device::new(&server, &log, "a");
        let o = a
            .push(json!({ "events": [{ "stream": "s1", "type": "created" }], "view": view(0) }))
            .await;
        assert_eq!(o["status"], "committed");
        // Offline at 1: R (refused: s1 exists), then two more batches.
        let r = new_id();
        let o = a.push(json!({ "id": r, "events": [{ "stream": "s1", "type": "created" }], "expect": { "s1": "no_stream" }, "view": view(0) })).await;
        assert_eq!(o["status"], "rejected");
        let o = a.push(json!({ "events": [{ "stream": "s2", "type": "x" }], "constraints": [{ "maxRevision": 2, "selector": { "stream": "s2" } }], "view": { "base": 1, "own": [r] } })).await;
        assert_eq!(o["status"], "committed", "{}: {o}", backend.name);
        let o = a.push(json!({ "events": [{ "stream": "s3", "type": "x" }], "constraints": [{ "maxRevision": 2, "selector": { "stream": "s1" } }], "expect": { "s1": { "version": 1 } }, "view": { "base": 1, "own": [r] } })).await;
        assert_eq!(o["status"], "rejected", "{}: {o}", backend.name);
        let v = o["violations"].as_array().unwrap();
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|v| v["rejectedBatchId"] == json!(r)), "{o}");
        assert_eq!(v[0]["kind"], "version_mismatch");
        assert_eq!(v[0]["actual"], json!({ "version": 0, "revision": 1 }));
        assert_eq!(v[1]["found"], 1);
        // An unseen event gives no rejectedBatchId.
        let mut b = Device::new(&server, &log, "b");
        let o = b.push(json!({ "events": [{ "stream": "s4", "type": "x" }], "expect": { "s2": "no_stream" }, "view": view(1) })).await;
        assert_eq!(o["status"], "rejected");
        assert!(o["violations"][0].get("rejectedBatchId").is_none());
        assert_eq!(
            o["violations"][0]["actual"],
            json!({ "version": 0, "revision": 2 })
        );
    }
}

/// Numbers above base name the device's own batches in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_numbers_above_base_name_own_events() {
    for backend in backends() {
        let server = Server::start(&backend);
        let log = new_id();
        let mut a = Device::new(&server, &log, "a");
        let mut b = Device::new(&server, &log, "b");
        // B's event at 1 (unseen by A), on another stream.
        b.push(json!({ "events": [{ "stream": "other", "type": "x" }], "view": view(0) }))
            .await;
        // A offline at 0: two own batches (local 1, local 2-3).
        let (x, y) = (new_id(), new_id());
        let o = a
            .push(
                json!({ "id": x, "events": [{ "stream": "mine", "type": "x" }], "view": view(0) }),
            )
            .await;
        assert_eq!(o["revision"], 2);
        let o = a.push(json!({ "id": y, "events": [{ "stream": "mine", "type": "x" }, { "stream": "mine", "type": "y" }], "view": { "base": 0, "own": [x] } })).await;
        assert_eq!(o["revision"], 4);
        // Local 3 is global 4; local 2 is global 3.
        let o = a.push(json!({ "events": [{ "stream": "mine", "type": "z" }],
            "expect": { "mine": { "revision": 3 } },
            "constraints": [{ "revisionRange": [2, 2], "selector": { "type": "x", "stream": "mine" } }, { "maxRevision": 3, "selector": { "stream": "mine" } }],
            "view": { "base": 0, "own": [x, y] } })).await;
        assert_eq!(o["status"], "committed", "{}: {o}", backend.name);
        assert_eq!(o["firstRevision"], 5);
        // The same with a wrong local number: reported in the device's numbers.
        let o = a
            .push(json!({ "events": [{ "stream": "mine", "type": "z" }],
            "expect": { "mine": { "revision": 2 } },
            "view": { "base": 0, "own": [x, y] } }))
            .await;
        assert_eq!(o["status"], "rejected");
        assert_eq!(o["violations"][0]["expected"], json!({ "revision": 2 }));
        assert_eq!(
            o["violations"][0]["actual"],
            json!({ "version": 3, "revision": 5 })
        );
    }
}

/// seq: a retried push gets the recorded outcome; a gap is 409 and decides
/// nothing; a batch id is known across clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seq_replay_and_batch_ids() {
    for backend in backends() {
        let server = Server::start(&backend);
        let log = new_id();
        let a = Device::new(&server, &log, "a");
        let id = new_id();
        let batch = json!({ "seq": 1, "id": id, "events": [{ "stream": "s", "type": "x", "data": { "n": 1 } }], "view": view(0) });
        let (status, first) = a.push_raw(json!([batch])).await;
        assert_eq!(status, 200);
        assert_eq!(first["results"][0]["status"], "committed");
        // The same push again: the recorded outcome, nothing written twice.
        let (status, again) = a.push_raw(json!([batch])).await;
        assert_eq!(status, 200);
        assert_eq!(again["results"][0]["revision"], 1);
        // Exactly as first answered: a retried push is transport.
        assert_eq!(again["results"][0]["replayed"], false);
        // A rejection is never judged again.
        let refused = json!({ "seq": 2, "id": new_id(), "events": [{ "stream": "s", "type": "x" }], "expect": { "s": "no_stream" }, "view": view(1) });
        let (_, r1) = a.push_raw(json!([refused])).await;
        assert_eq!(r1["results"][0]["status"], "rejected");
        let (_, r2) = a.push_raw(json!([refused])).await;
        assert_eq!(
            r2["results"][0]["violations"],
            r1["results"][0]["violations"]
        );
        // A gap: 409, nothing decided (not even the batch before it).
        let ok3 = json!({ "seq": 3, "id": new_id(), "events": [{ "stream": "t", "type": "x" }], "view": view(1) });
        let gap = json!({ "seq": 5, "id": new_id(), "events": [{ "stream": "t", "type": "x" }], "view": view(1) });
        let (status, body) = a.push_raw(json!([ok3, gap])).await;
        assert_eq!(
            (status, body),
            (409, json!({ "error": "out_of_order", "expected": 4 }))
        );
        assert_eq!(a.pull(0).await["head"], 1);
        // Another client pushing a known batch id: the first outcome, replayed.
        let mut b = Device::new(&server, &log, "a");
        let o = b.push(json!({ "id": id, "events": [{ "stream": "s", "type": "x", "data": { "n": 1 } }], "view": view(0) })).await;
        assert_eq!(
            (
                o["status"].as_str(),
                o["revision"].as_u64(),
                o["replayed"].as_bool()
            ),
            (Some("committed"), Some(1), Some(true))
        );
        // ... with other events: invalid_input.
        let o = b.push(json!({ "id": id, "events": [{ "stream": "s", "type": "x", "data": { "n": 2 } }], "view": view(0) })).await;
        assert_eq!(o["status"], "rejected");
        assert_eq!(o["violations"][0]["kind"], "invalid_input");
        assert_eq!(o["violations"][0]["path"], "id");
        // Malformed batches are outcomes: invalid_input with its path.
        let o = b.push(json!({ "events": [{ "stream": "s", "type": "x", "revision": 3 }], "view": view(0) })).await;
        assert_eq!(
            (
                o["violations"][0]["kind"].as_str(),
                o["violations"][0]["path"].as_str()
            ),
            (Some("invalid_input"), Some("events[0].revision"))
        );
        let o = b
            .push(json!({ "events": [{ "stream": "s", "type": "" }], "view": view(0) }))
            .await;
        assert_eq!(o["violations"][0]["path"], "events[0].type");
        // A batch that is not well formed says where, and its seq keeps
        // that outcome.
        let o = b
            .push(
                json!({ "events": [{ "stream": "s", "type": "x" }], "view": view(0), "extra": 1 }),
            )
            .await;
        assert_eq!(
            (o["status"].as_str(), o["violations"][0]["path"].as_str()),
            (Some("rejected"), Some("extra")),
            "{o}"
        );
        let o = b
            .push(json!({ "events": { "stream": "s", "type": "x" }, "view": view(0) }))
            .await;
        assert_eq!(
            (
                o["violations"][0]["kind"].as_str(),
                o["violations"][0]["path"].as_str()
            ),
            (Some("invalid_input"), Some("events")),
            "{o}"
        );
        let (status, again) = b
            .push_raw(json!([{ "seq": b.seq, "id": new_id(), "events": { "stream": "s", "type": "x" }, "view": view(0) }]))
            .await;
        assert_eq!(status, 200);
        assert_eq!(again["results"][0]["violations"], o["violations"]);
        assert_eq!(again["results"][0]["seq"], b.seq);
        assert_eq!(a.pull(0).await["head"], 1, "{}", backend.name);
        // Events read back as given, stamped by the server.
        let e = &a.pull(0).await["events"][0];
        assert_eq!(
            (
                e["data"].clone(),
                e["batchId"].clone(),
                e["version"].clone()
            ),
            (json!({ "n": 1 }), json!(id), json!(0))
        );
        assert!(e["id"].as_str().is_some() && e["recordedAt"].as_u64().is_some());
    }
}

/// 401, 403 and the client id's principal; nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth() {
    for backend in backends() {
        let server = Server::start(&backend);
        let log = new_id();
        let http = http();
        let client = new_id();
        let body = |seq: u64| {
            json!({ "protocol": 1, "clientId": client, "batches": [{ "seq": seq, "id": new_id(), "events": [{ "stream": "s", "type": "x" }], "view": view(0) }] }).to_string()
        };
        let push = |token: Option<String>, seq: u64| {
            let (http, url, log) = (http.clone(), server.url.clone(), log.clone());
            let b = body(seq);
            async move { post(&http, &url, &log, token.as_deref(), b).await.0 }
        };
        assert_eq!(push(None, 1).await, 401);
        assert_eq!(push(Some("not.a.jwt".into()), 1).await, 401);
        assert_eq!(push(Some(token("alice", &[&log], -10)), 1).await, 401);
        let forged = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &json!({ "sub": "alice", "exp": 4_000_000_000u64, "logs": ["*"] }),
            &jsonwebtoken::EncodingKey::from_secret(b"another secret"),
        )
        .unwrap();
        assert_eq!(push(Some(forged), 1).await, 401);
        assert_eq!(
            push(Some(token("alice", &["other-log"], 600)), 1).await,
            403
        );
        let reader = http
            .get(format!("{}/v1/logs/{log}/events", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(reader.status(), 401);
        let reader = http
            .get(format!("{}/v1/logs/{log}/events", server.url))
            .bearer_auth(token("x", &["other"], 600))
            .send()
            .await
            .unwrap();
        assert_eq!(reader.status(), 403);
        let head = |url: String, log: String| async move {
            pull(&common::http(), &url, &log, &token("x", &["*"], 600), 0).await["head"].clone()
        };
        assert_eq!(head(server.url.clone(), log.clone()).await, 0);
        // The client id belongs to its first principal.
        assert_eq!(push(Some(token("alice", &["*"], 600)), 1).await, 200);
        assert_eq!(push(Some(token("mallory", &[&log], 600)), 2).await, 403);
        assert_eq!(
            head(server.url.clone(), log.clone()).await,
            1,
            "{}",
            backend.name
        );
    }
    // No secret: refused, unless --insecure-no-auth on loopback.
    let b = sqlite();
    let mut args: Vec<&str> = b.args.iter().map(String::as_str).collect();
    args.extend(["--listen", "127.0.0.1:0"]);
    assert_eq!(Server::exit_code(&args), Some(2));
    let mut open = args.clone();
    open.extend(["--listen", "0.0.0.0:0", "--insecure-no-auth"]);
    assert_eq!(Server::exit_code(&open), Some(2));
    let server = Server::start_with(&b, &["--insecure-no-auth"]);
    let o = post(
        &http(),
        &server.url,
        "open",
        None,
        json!({ "protocol": 1, "clientId": new_id(), "batches": [] }).to_string(),
    )
    .await;
    assert_eq!(o.0, 200);
    let health = http()
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

/// Size limits and malformed input: the right status, nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_malformed_input() {
    for backend in backends() {
        let server = Server::start(&backend);
        let log = new_id();
        let device = Device::new(&server, &log, "a");
        let event = json!({ "stream": "s", "type": "x" });
        let many: Vec<Value> = (0..1001).map(|_| event.clone()).collect();
        let (status, _) = device
            .push_raw(json!([{ "seq": 1, "id": new_id(), "events": many, "view": view(0) }]))
            .await;
        assert_eq!(status, 413);
        // 1,000 events over two batches is fine; 1,001 is not.
        let half: Vec<Value> = (0..500).map(|_| event.clone()).collect();
        let (status, _) = device.push_raw(json!([
            { "seq": 1, "id": new_id(), "events": half, "view": view(0) },
            { "seq": 2, "id": new_id(), "events": [event, event.clone()], "view": view(0) },
            { "seq": 3, "id": new_id(), "events": (0..499).map(|_| event.clone()).collect::<Vec<_>>(), "view": view(0) },
        ])).await;
        assert_eq!(status, 413);
        // Just above 4 MiB of events (the body's cap leaves room for the
        // envelope, so the server reads it and refuses it whole).
        let big = "x".repeat((1 << 20) + 1000);
        let heavy: Vec<Value> = (0..4)
            .map(|_| json!({ "stream": "s", "type": "x", "data": big }))
            .collect();
        let (status, _) = device
            .push_raw(json!([{ "seq": 1, "id": new_id(), "events": heavy, "view": view(0) }]))
            .await;
        assert_eq!(status, 413);
        let http = http();
        let raw = |body: &str| {
            post(
                &http,
                &device.url,
                &log,
                Some(&device.token),
                body.to_string(),
            )
        };
        let (status, body) = raw("{\"protocol\":1,").await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_input"))
        );
        let (status, body) =
            raw(&json!({ "protocol": 1, "clientId": "nope", "batches": [] }).to_string()).await;
        assert_eq!((status, body["path"].as_str()), (400, Some("clientId")));
        let (status, body) = raw(
            &json!({ "protocol": 1, "clientId": new_id(), "batches": [{ "id": new_id() }] })
                .to_string(),
        )
        .await;
        assert_eq!(
            (status, body["path"].as_str()),
            (400, Some("batches[0].seq"))
        );
        let (status, body) = raw(
            &json!({ "protocol": 1, "clientId": new_id(), "batches": [], "extra": 1 }).to_string(),
        )
        .await;
        assert_eq!((status, body["path"].as_str()), (400, Some("extra")));
        let (status, body) =
            raw(&json!({ "protocol": 1, "clientId": new_id(), "batches": 3 }).to_string()).await;
        assert_eq!((status, body["path"].as_str()), (400, Some("batches")));
        let pulled = device.pull(0).await;
        assert_eq!(pulled["head"], 0, "{}", backend.name);
        let bad = http
            .get(format!("{}/v1/logs/{log}/events?after=x", device.url))
            .bearer_auth(&device.token)
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
    }
}

/// A violation's JSON form as the core writes it (§3's fields).
fn violation_json(v: &hindcast::Violation) -> Value {
    let mut text = String::new();
    v.write_json(&mut text);
    serde_json::from_str(&text).unwrap()
}

/// A view that does not fit the log is a malformed batch: an outcome,
/// `invalid_input` with its path, recorded like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_that_do_not_fit_are_invalid_input() {
    for backend in backends() {
        let server = Server::start(&backend);
        let log = new_id();
        let mut a = Device::new(&server, &log, "a");
        let event = json!([{ "stream": "s", "type": "x" }]);
        let path = |o: &Value| o["violations"][0]["path"].as_str().map(str::to_string);
        let o = a.push(json!({ "events": event })).await;
        assert_eq!(
            (o["status"].as_str(), path(&o).as_deref()),
            (Some("rejected"), Some("view"))
        );
        let o = a.push(json!({ "events": event, "view": view(5) })).await;
        assert_eq!(
            path(&o).as_deref(),
            Some("view.base"),
            "{}: {o}",
            backend.name
        );
        let o = a
            .push(json!({ "events": event, "view": { "base": 0, "own": [new_id()] } }))
            .await;
        assert_eq!(path(&o).as_deref(), Some("view.own[0]"));
        let o = a
            .push(json!({ "events": event, "view": { "base": 0, "own": ["nope"] } }))
            .await;
        assert_eq!(path(&o).as_deref(), Some("view.own[0]"));
        assert_eq!(a.pull(0).await["head"], 0);
        // Retried, the same outcome: it was recorded.
        let (_, again) = a
            .push_raw(json!([{ "seq": 2, "id": new_id(), "events": event, "view": view(0) }]))
            .await;
        assert_eq!(path(&again["results"][0]).as_deref(), Some("view.base"));
    }
}

/// A page on another origin may call the API with its token: preflights are
/// answered without one, and answers name any origin as allowed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_on_other_origins_may_call_it_with_a_token() {
    let backend = sqlite();
    let server = Server::start(&backend);
    let http = http();
    let url = format!("{}/v1/logs/{}/push", server.url, new_id());
    let preflight = http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let h = preflight.headers();
    assert_eq!(h["access-control-allow-origin"], "*");
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for name in ["authorization", "content-type", "last-event-id"] {
        assert!(allowed.contains(name), "{allowed}");
    }
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    // The request itself still needs its token.
    let refused = http
        .post(&url)
        .header("origin", "https://app.example")
        .json(&json!({ "protocol": 1, "clientId": new_id(), "batches": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["access-control-allow-origin"], "*");
}

/// The null rule (SEMANTICS.md, "Input"), as the client follows it: an
/// optional field that is `null` is absent. A pushed event with `null`
/// subject, tags, time, metadata, id or schemaVersion commits, and is
/// recorded without them, exactly as the same event without the fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_in_an_optional_field_is_absent() {
    for backend in backends() {
        let server = Server::start(&backend);
        let log = new_id();
        let mut device = Device::new(&server, &log, "a");
        let nulls = json!({ "stream": "s", "type": "t", "subject": null, "tags": null, "time": null,
                            "metadata": null, "id": null, "schemaVersion": null, "data": null });
        let outcome = device
            .push(json!({ "events": [nulls], "view": view(0), "correlationId": null, "expect": null, "constraints": null }))
            .await;
        assert_eq!(outcome["status"], "committed", "{outcome}");
        let bare_event = json!({ "stream": "s", "type": "t" });
        let outcome = device
            .push(json!({ "events": [bare_event], "view": view(1) }))
            .await;
        assert_eq!(outcome["status"], "committed", "{outcome}");
        let events = device.pull(0).await["events"].as_array().unwrap().clone();
        let keys = |e: &Value| {
            let mut k: Vec<String> = e.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        let expected = [
            "batchId",
            "data",
            "id",
            "recordedAt",
            "revision",
            "stream",
            "type",
            "version",
        ];
        assert_eq!(keys(&events[0]), expected, "{}", events[0]);
        assert_eq!(keys(&events[1]), expected, "{}", events[1]);
        assert_eq!(events[0]["data"], Value::Null);
        assert_eq!(events[0]["version"], 0);
        assert_eq!(events[1]["version"], 1);
    }
}

/// A view's `own` in the compact form (SPEC §8.3): this client's seqs
/// `from` … `to` less `except`, expanded by the server from the outcomes it
/// recorded, and deciding exactly as the list of batch ids does; after a
/// restart too (the seqs are then read from storage). A form that does not
/// fit is `invalid_input` at `view.own`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_in_the_compact_form() {
    for backend in backends() {
        let mut server = Server::start(&backend);
        let log = new_id();
        let mut a = Device::new(&server, &log, "a");
        // seq 1 commits (global 1), seq 2 is rejected, seq 3 commits (global 2-3).
        let (x, y) = (new_id(), new_id());
        a.push(json!({ "id": x, "events": [{ "stream": "mine", "type": "x" }], "view": view(0) }))
            .await;
        let o = a
            .push(json!({ "events": [{ "stream": "mine", "type": "r" }], "expect": { "mine": "no_stream" }, "view": view(0) }))
            .await;
        assert_eq!(o["status"], "rejected");
        let o = a.push(json!({ "id": y, "events": [{ "stream": "mine", "type": "x" }, { "stream": "mine", "type": "y" }], "view": view(0) })).await;
        assert_eq!(o["revision"], 3);
        // Seq 4, decided on a view of seqs 1 and 3: local 1 is global 1,
        // local 2–3 are global 2–3. The same conditions as a list of ids.
        let conditions = |own: Value| {
            json!({ "events": [{ "stream": "mine", "type": "z" }],
                    "expect": { "mine": { "revision": 3 } },
                    "constraints": [{ "revisionRange": [2, 2], "selector": { "type": "x", "stream": "mine" } }],
                    "view": { "base": 0, "own": own } })
        };
        let compact = json!({ "from": 1, "to": 3, "except": [2] });
        let o = a.push(conditions(compact.clone())).await;
        assert_eq!(o["status"], "committed", "{}: {o}", backend.name);
        assert_eq!(o["firstRevision"], 4);
        // Another device's event on the stream, then seq 5 on the old view:
        // refused the same way in both forms.
        let mut b = Device::new(&server, &log, "b");
        b.push(json!({ "events": [{ "stream": "mine", "type": "b" }], "view": view(4) }))
            .await;
        let by_ids = a.push(conditions(json!([x, y]))).await;
        // After a restart the lane remembers nothing: seqs are read.
        server.stop(libc::SIGTERM, std::time::Duration::from_secs(10));
        server = Server::start(&backend);
        a.url = server.url.clone();
        let by_seqs = a.push(conditions(compact)).await;
        assert_eq!(by_ids["status"], "rejected");
        let bare_all = |v: &Value| {
            v.as_array()
                .unwrap()
                .iter()
                .cloned()
                .map(bare)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            bare_all(&by_ids["violations"]),
            bare_all(&by_seqs["violations"]),
            "{}",
            backend.name
        );
        assert_eq!(
            by_seqs["violations"][0]["actual"],
            json!({ "version": 4, "revision": 5 })
        );
        // Forms that do not fit.
        for (own, why) in [
            (json!({ "from": 1, "to": 9 }), "below the batch's own seq"),
            (json!({ "from": 0, "to": 1 }), "1 or more"),
            (
                json!({ "from": 1, "to": 3, "except": [3, 2] }),
                "each once, in order",
            ),
        ] {
            let o = a.push(conditions(own)).await;
            assert_eq!(o["status"], "rejected");
            let v = &o["violations"][0];
            assert_eq!(
                (v["kind"].as_str(), v["path"].as_str()),
                (Some("invalid_input"), Some("view.own")),
                "{o}"
            );
            assert!(v["message"].as_str().unwrap().contains(why), "{o}");
        }
        let o = a
            .push(conditions(json!({ "from": 1, "to": 2, "but": [] })))
            .await;
        assert_eq!(o["violations"][0]["path"], "view.own", "{o}");
    }
}
