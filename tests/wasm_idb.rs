//! The IndexedDB layer in headless Chromium (real IndexedDB), through
//! wasm-bindgen-test. Run by scripts/test with chromedriver.
#![cfg(target_arch = "wasm32")]

use hindcast::wasm::idb;
use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn record(revision: u32, stream: &str) -> JsValue {
    let r = Object::new();
    Reflect::set(&r, &"revision".into(), &revision.into()).unwrap();
    Reflect::set(&r, &"stream".into(), &stream.into()).unwrap();
    r.into()
}

/// A `decide` that records what it was given and returns `records`.
fn decide(seen: &Array, records: Vec<JsValue>) -> Function {
    let out: Array = records.into_iter().collect();
    let f = Function::new_with_args("seen, out, theirs", "seen.push(theirs.length); return out;");
    f.bind2(&JsValue::NULL, seen, &out).unchecked_into()
}

fn reason(e: &JsValue) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&e.as_string().expect("a StorageError's JSON")).unwrap();
    v["reason"].as_str().unwrap().to_string()
}

fn stream_of(r: &JsValue) -> String {
    Reflect::get(r, &"stream".into())
        .unwrap()
        .as_string()
        .unwrap()
}

fn none() -> Array {
    Array::new()
}

#[wasm_bindgen_test]
async fn commits_are_durable_and_read_back_in_order() {
    let name = "wbt-durable".to_string();
    let _ = idb::delete(name.clone()).await;
    let db = idb::open(name.clone()).await.unwrap();
    assert!(idb::last(db.clone()).await.unwrap().is_undefined());
    let seen = Array::new();
    // With nothing decided beforehand, `decide` runs inside the transaction.
    idb::commit(
        db.clone(),
        0.0,
        none(),
        decide(&seen, vec![record(1, "a"), record(2, "b")]),
    )
    .await
    .unwrap();
    idb::commit(db.clone(), 2.0, none(), decide(&seen, vec![record(3, "c")]))
        .await
        .unwrap();
    db.close();
    let db = idb::open(name.clone()).await.unwrap();
    assert_eq!(stream_of(&idb::last(db.clone()).await.unwrap()), "c");
    let rows = idb::read(db.clone(), 2.0, 10).await.unwrap();
    let streams: Vec<String> = rows.iter().map(|r| stream_of(&r)).collect();
    assert_eq!(streams, ["b", "c"]);
    assert_eq!(seen.to_vec(), vec![JsValue::from(0), JsValue::from(0)]);
    db.close();
    idb::delete(name).await.unwrap();
}

#[wasm_bindgen_test]
async fn records_decided_beforehand_are_added_without_deciding_again() {
    let name = "wbt-fast".to_string();
    let _ = idb::delete(name.clone()).await;
    let db = idb::open(name.clone()).await.unwrap();
    let seen = Array::new();
    let ours: Array = [record(1, "a"), record(2, "b")].into_iter().collect();
    idb::commit(
        db.clone(),
        0.0,
        ours,
        decide(&seen, vec![record(1, "never")]),
    )
    .await
    .unwrap();
    assert_eq!(seen.length(), 0);
    let rows = idb::read(db.clone(), 1.0, 10).await.unwrap();
    let streams: Vec<String> = rows.iter().map(|r| stream_of(&r)).collect();
    assert_eq!(streams, ["a", "b"]);
    db.close();
    idb::delete(name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_writer_that_is_behind_sees_the_others_records_inside_its_transaction() {
    let name = "wbt-behind".to_string();
    let _ = idb::delete(name.clone()).await;
    let a = idb::open(name.clone()).await.unwrap();
    let b = idb::open(name.clone()).await.unwrap();
    let seen = Array::new();
    let ours: Array = [record(1, "from-a")].into_iter().collect();
    idb::commit(a.clone(), 0.0, ours, decide(&seen, vec![]))
        .await
        .unwrap();
    // b still thinks the head is 0: its record at 1 collides, so its decide
    // is handed a's record, and what it returns is stored instead.
    let stale: Array = [record(1, "from-b-stale")].into_iter().collect();
    idb::commit(
        b.clone(),
        0.0,
        stale,
        decide(&seen, vec![record(2, "from-b")]),
    )
    .await
    .unwrap();
    assert_eq!(seen.to_vec(), vec![JsValue::from(1)]);
    let rows = idb::read(a.clone(), 1.0, 10).await.unwrap();
    let streams: Vec<String> = rows.iter().map(|r| stream_of(&r)).collect();
    assert_eq!(streams, ["from-a", "from-b"]);
    a.close();
    b.close();
    idb::delete(name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_failed_transaction_stores_nothing() {
    let name = "wbt-abort".to_string();
    let _ = idb::delete(name.clone()).await;
    let db = idb::open(name.clone()).await.unwrap();
    // A record without its key (revision) aborts the whole group.
    let seen = Array::new();
    let err = idb::commit(
        db.clone(),
        0.0,
        none(),
        decide(&seen, vec![record(1, "a"), Object::new().into()]),
    )
    .await
    .unwrap_err();
    assert_eq!(reason(&err), "aborted");
    let ours: Array = [record(1, "a"), Object::new().into()].into_iter().collect();
    let err = idb::commit(db.clone(), 0.0, ours, decide(&seen, vec![]))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "aborted");
    // A decide that throws aborts too, and its error comes back as it is.
    let thrower = Function::new_no_args("throw 'no'");
    let err = idb::commit(db.clone(), 0.0, none(), thrower)
        .await
        .unwrap_err();
    assert_eq!(err.as_string().as_deref(), Some("no"));
    assert!(idb::last(db.clone()).await.unwrap().is_undefined());
    db.close();
    let err = idb::commit(db.clone(), 0.0, none(), decide(&seen, vec![record(1, "a")]))
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "closed");
    idb::delete(name).await.unwrap();
}
