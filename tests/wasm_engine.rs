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

/// The commit words at the address `transact` returned: 7, then 2 per
/// stream written.
fn words(engine: &mut Engine, request: &str, now: f64) -> Result<Vec<f64>, JsValue> {
    let at = engine.transact(request, now)? as usize as *const f64;
    let streams = serde_json::from_str::<Value>(request).unwrap()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["stream"].as_str().unwrap().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    // SAFETY: the engine keeps the words at `at` until its next call.
    Ok(unsafe { std::slice::from_raw_parts(at, 7 + 2 * streams) }.to_vec())
}

fn open_account(engine: &mut Engine) -> Vec<f64> {
    let req = json!({"id": "6f9619ff-8b86-4011-b42d-00c04fc964ff",
        "events": [{"stream": "acc-1", "type": "opened", "data": {"owner": "Ann"}},
                   {"stream": "acc-2", "type": "opened"},
                   {"stream": "acc-1", "type": "deposited", "data": {"amount": 30}}],
        "expect": {"acc-1": "no_stream"}});
    words(engine, &req.to_string(), 1_700_000_000_000.0).unwrap()
}

#[wasm_bindgen_test]
fn transact_returns_the_commit_as_words() {
    let mut engine = Engine::new();
    let words = open_account(&mut engine);
    // first, last, replayed, the batch id's four words, then per stream (version, revision).
    assert_eq!(
        words,
        vec![1.0, 3.0, 0.0, 1_872_108_031.0, 2_340_831_249.0, 3_022_848_192.0, 1_338_598_655.0, 1.0, 3.0, 0.0, 2.0]
    );
    assert_eq!(engine.head(), 3.0);
    // The same batch id again: the first commit, replayed.
    let again = open_account(&mut engine);
    assert_eq!(again[2], 1.0);
    assert_eq!(again[..2], words[..2]);
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
    let err = thrown(words(&mut engine, r#"{"events":[{"stream":"a","type":""}]}"#, 0.0).unwrap_err());
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
fn reads_cross_as_json_text() {
    let mut engine = Engine::new();
    open_account(&mut engine);
    let events: Value = serde_json::from_str(&engine.read(r#"{"stream":"acc-1"}"#, r#"{"backwards":true}"#).unwrap()).unwrap();
    assert_eq!(events.as_array().unwrap().len(), 2);
    assert_eq!(events[0]["revision"], 3);
    assert_eq!(events[0]["data"], json!({"amount": 30}));
    assert_eq!(events[0]["batchId"], "6f9619ff-8b86-4011-b42d-00c04fc964ff");
    assert_eq!(events[0]["recordedAt"], 1_700_000_000_000u64);
    let stream: Value = serde_json::from_str(&engine.read_stream(r#""acc-2""#, "").unwrap()).unwrap();
    assert_eq!(stream[0]["version"], 0);
    assert_eq!(stream[0]["data"], Value::Null);
    assert_eq!(engine.last_revision(r#"{"type":"opened"}"#).unwrap(), 2.0);
    assert_eq!(engine.last_revision("").unwrap(), 3.0);
    assert_eq!(engine.stream(r#""acc-1""#).unwrap(), vec![1.0, 3.0]);
    assert_eq!(engine.stream(r#""nope""#).unwrap(), Vec::<f64>::new());
}

#[wasm_bindgen_test]
fn generated_ids_are_random_v4() {
    let mut engine = Engine::new();
    for _ in 0..300 {
        engine.transact(r#"{"events":[{"stream":"a","type":"x"}]}"#, 0.0).unwrap();
    }
    let events: Value = serde_json::from_str(&engine.read("", "").unwrap()).unwrap();
    let ids: std::collections::HashSet<&str> = events.as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 300);
    assert!(ids.iter().all(|id| id.as_bytes()[14] == b'4'));
}
