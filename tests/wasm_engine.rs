//! The binding layer in Node (wasm-bindgen-test): what crosses the boundary.
//! Run with `cargo test --target wasm32-unknown-unknown --test wasm_engine`.
#![cfg(target_arch = "wasm32")]

use hindcast::wasm::Engine;
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

/// The error the engine threw, decoded from its JSON form.
fn thrown(e: JsValue) -> Value {
    serde_json::from_str(&e.as_string().expect("errors cross as strings")).unwrap()
}

/// A commit as `transact` leaves it: its words (6, then 2 per stream
/// written, then the woken subscriptions' count and ids) and its ids' text.
fn words(engine: &mut Engine, request: &str, now: f64) -> Result<(Vec<f64>, String), JsValue> {
    let at = engine.transact(request, now)? as usize as *const f64;
    let events = serde_json::from_str::<Value>(request).unwrap()["events"]
        .as_array()
        .unwrap()
        .clone();
    let streams = events
        .iter()
        .map(|e| e["stream"].as_str().unwrap().to_string())
        .collect::<std::collections::BTreeSet<_>>();
    // SAFETY: the engine keeps the words and the ids at these addresses until its next call.
    let woken = unsafe { *at.add(6 + 2 * streams.len()) } as usize;
    let words = unsafe { std::slice::from_raw_parts(at, 7 + 2 * streams.len() + woken) }.to_vec();
    let ids =
        unsafe { std::slice::from_raw_parts(words[4] as usize as *const u8, words[5] as usize) };
    Ok((words, String::from_utf8(ids.to_vec()).unwrap()))
}

fn open_account(engine: &mut Engine) -> (Vec<f64>, String) {
    let req = json!({"id": "6f9619ff-8b86-4011-b42d-00c04fc964ff",
        "events": [{"stream": "acc-1", "type": "opened"},
                   {"stream": "acc-2", "type": "opened"},
                   {"stream": "acc-1", "type": "deposited"}],
        "expect": {"acc-1": "no_stream"}});
    words(engine, &req.to_string(), 1_700_000_000_000.0).unwrap()
}

#[wasm_bindgen_test]
fn transact_returns_the_commit_as_words() {
    let mut engine = Engine::new();
    let (w, ids) = open_account(&mut engine);
    // first, last, replayed, recordedAt, the ids' text, then per stream (version, revision).
    assert_eq!(w[..4], [1.0, 3.0, 0.0, 1_700_000_000_000.0]);
    assert_eq!(w[6..], [1.0, 3.0, 0.0, 2.0, 0.0]);
    assert_eq!(ids.len(), 36 * 4);
    assert_eq!(&ids[..36], "6f9619ff-8b86-4011-b42d-00c04fc964ff");
    assert_eq!(engine.head(), 3.0);
    // The same batch id again: the first commit, replayed, without event ids.
    let (again, again_ids) = open_account(&mut engine);
    assert_eq!(again[..3], [1.0, 3.0, 1.0]);
    assert_eq!(again[6..], w[6..]);
    assert_eq!(again_ids, &ids[..36]);
    assert_eq!(engine.head(), 3.0);
}

#[wasm_bindgen_test]
fn violations_cross_as_json_with_their_detail() {
    let mut engine = Engine::new();
    open_account(&mut engine);
    let req = json!({"events": [{"stream": "acc-1", "type": "withdrawn"}], "expect": {"acc-1": {"version": 0}}});
    let err = thrown(words(&mut engine, &req.to_string(), 0.0).unwrap_err());
    assert_eq!(err["code"], "CONSTRAINT_VIOLATION");
    assert_eq!(
        err["violations"],
        json!([{"kind": "version_mismatch", "stream": "acc-1", "expected": {"version": 0}, "actual": {"version": 1, "revision": 3}}])
    );
    assert!(err["message"].as_str().unwrap().contains("acc-1"));
    assert_eq!(engine.head(), 3.0);
}

#[wasm_bindgen_test]
fn bad_input_crosses_with_its_path() {
    let mut engine = Engine::new();
    let err =
        thrown(words(&mut engine, r#"{"events":[{"stream":"a","type":""}]}"#, 0.0).unwrap_err());
    assert_eq!(err["code"], "INVALID_INPUT");
    assert_eq!(err["path"], "events[0].type");
    let err = thrown(engine.read(r#"{"steam":"a"}"#, "").unwrap_err());
    assert_eq!(err["path"], "selector.steam");
    let err = thrown(engine.read("", r#"{"limit":-1}"#).unwrap_err());
    assert_eq!(err["path"], "options.limit");
    let err = thrown(engine.stream("").unwrap_err());
    assert_eq!(err["path"], "stream");
}

#[wasm_bindgen_test]
fn reads_cross_as_revisions() {
    let mut engine = Engine::new();
    open_account(&mut engine);
    assert_eq!(
        engine
            .read(r#"{"stream":"acc-1"}"#, r#"{"backwards":true}"#)
            .unwrap(),
        vec![3, 1]
    );
    assert_eq!(engine.read("", r#"{"from":2}"#).unwrap(), vec![2, 3]);
    assert_eq!(
        engine
            .read_stream(r#""acc-1""#, r#"{"fromVersion":1}"#)
            .unwrap(),
        vec![3]
    );
    assert_eq!(
        engine
            .read_stream(r#""acc-1""#, r#"{"backwards":true,"limit":1}"#)
            .unwrap(),
        vec![3]
    );
    assert_eq!(engine.last_revision(r#"{"type":"opened"}"#).unwrap(), 2.0);
    assert_eq!(engine.last_revision("").unwrap(), 3.0);
    assert_eq!(engine.stream(r#""acc-1""#).unwrap(), vec![1.0, 3.0]);
    assert_eq!(engine.stream(r#""nope""#).unwrap(), Vec::<f64>::new());
}

#[wasm_bindgen_test]
fn generated_ids_are_random_v4() {
    let mut engine = Engine::new();
    let mut ids = std::collections::HashSet::new();
    for _ in 0..300 {
        let (_, text) = words(
            &mut engine,
            r#"{"events":[{"stream":"a","type":"x"}]}"#,
            0.0,
        )
        .unwrap();
        for id in [&text[..36], &text[36..]] {
            assert_eq!(&id[14..15], "4", "version 4: {id}");
            ids.insert(id.to_string());
        }
    }
    assert_eq!(ids.len(), 600);
}

#[wasm_bindgen_test]
fn subscriptions_cross_as_ids_woken_by_commits() {
    let mut engine = Engine::new();
    let acc1 = engine.subscribe(r#"{"stream":"acc-1"}"#, "").unwrap();
    let opened = engine.subscribe("", r#"["opened"]"#).unwrap();
    let (w, _) = open_account(&mut engine);
    // After the streams' words: the number of woken subscriptions, then their ids.
    assert_eq!(w[10..], [2.0, f64::from(acc1), f64::from(opened)]);
    assert_eq!(engine.deliverable(acc1, 1.0, 10), vec![1, 3]);
    assert_eq!(engine.deliverable(opened, 2.0, 10), vec![2]);
    engine.unsubscribe(acc1);
    assert_eq!(engine.deliverable(acc1, 1.0, 10), Vec::<u32>::new());
    let err = thrown(engine.subscribe(r#"{"steam":"a"}"#, "").unwrap_err());
    assert_eq!(err["path"], "selector.steam");
}
