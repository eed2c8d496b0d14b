//! The IndexedDB layer in headless Chromium (real IndexedDB), through
//! wasm-bindgen-test. Run by scripts/test with chromedriver.
#![cfg(target_arch = "wasm32")]

use hindcast::wasm::idb;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn record(revision: u32, stream: &str) -> JsValue {
    let r = Object::new();
    Reflect::set(&r, &"revision".into(), &revision.into()).unwrap();
    Reflect::set(&r, &"stream".into(), &stream.into()).unwrap();
    r.into()
}

/// Adds `records` in one transaction: `Ok(true)` once stored, `Ok(false)`
/// if a key was taken (nothing stored).
async fn add(db: &web_sys::IdbDatabase, records: Vec<JsValue>) -> Result<bool, JsValue> {
    idb::settled(idb::append(db.clone(), records.into_iter().collect())?).await
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

#[wasm_bindgen_test]
async fn commits_are_durable_and_read_back_in_order() {
    let name = "wbt-durable".to_string();
    let _ = idb::delete(name.clone()).await;
    let db = idb::open(name.clone(), JsValue::UNDEFINED).await.unwrap();
    assert!(idb::last(db.clone()).await.unwrap().is_undefined());
    assert!(add(&db, vec![record(1, "a"), record(2, "b")])
        .await
        .unwrap());
    assert!(add(&db, vec![record(3, "c")]).await.unwrap());
    db.close();
    let db = idb::open(name.clone(), JsValue::UNDEFINED).await.unwrap();
    assert_eq!(stream_of(&idb::last(db.clone()).await.unwrap()), "c");
    let rows = idb::read(db.clone(), 2.0, 10).await.unwrap();
    let streams: Vec<String> = rows.iter().map(|r| stream_of(&r)).collect();
    assert_eq!(streams, ["b", "c"]);
    db.close();
    idb::delete(name).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_writer_that_is_behind_finds_its_key_taken_and_stores_nothing() {
    let name = "wbt-behind".to_string();
    let _ = idb::delete(name.clone()).await;
    let a = idb::open(name.clone(), JsValue::UNDEFINED).await.unwrap();
    let b = idb::open(name.clone(), JsValue::UNDEFINED).await.unwrap();
    assert!(add(&a, vec![record(1, "from-a")]).await.unwrap());
    // b still thinks the head is 0: its group from 1 collides, whole.
    assert!(!add(
        &b,
        vec![record(1, "from-b-stale"), record(2, "from-b-stale")]
    )
    .await
    .unwrap());
    // Having read what a stored, it writes after it.
    assert_eq!(
        idb::read(b.clone(), 1.0, 0xffff_ffff)
            .await
            .unwrap()
            .length(),
        1
    );
    assert!(add(&b, vec![record(2, "from-b")]).await.unwrap());
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
    let db = idb::open(name.clone(), JsValue::UNDEFINED).await.unwrap();
    // A record without its key (revision) aborts the whole group.
    let err = add(&db, vec![record(1, "a"), Object::new().into()])
        .await
        .unwrap_err();
    assert_eq!(reason(&err), "aborted");
    assert!(idb::last(db.clone()).await.unwrap().is_undefined());
    // An aborted append stores nothing either.
    let tx = idb::append(db.clone(), [record(1, "a")].into_iter().collect()).unwrap();
    idb::abort(tx.clone());
    assert_eq!(reason(&idb::settled(tx).await.unwrap_err()), "aborted");
    assert!(idb::last(db.clone()).await.unwrap().is_undefined());
    db.close();
    let err = add(&db, vec![record(1, "a")]).await.unwrap_err();
    assert_eq!(reason(&err), "closed");
    idb::delete(name).await.unwrap();
}

/// `{ store, <kind>: value }`, one operation of [`idb::write`].
fn op(store: &str, kind: &str, value: JsValue) -> JsValue {
    let o = Object::new();
    Reflect::set(&o, &"store".into(), &store.into()).unwrap();
    Reflect::set(&o, &kind.into(), &value).unwrap();
    o.into()
}

fn keyed(key: &str, k: JsValue, note: &str) -> JsValue {
    let r = Object::new();
    Reflect::set(&r, &key.into(), &k).unwrap();
    Reflect::set(&r, &"note".into(), &note.into()).unwrap();
    r.into()
}

fn field(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &key.into()).unwrap()
}

#[wasm_bindgen_test]
async fn a_syncing_stores_change_is_one_transaction_over_every_object_store() {
    let name = "wbt-sync".to_string();
    let _ = idb::delete(name.clone()).await;
    // The state a change is decided on: `changes` counts the changes.
    let state = |note: &str, changes: u32| {
        let s = keyed("key", "state".into(), note);
        Reflect::set(&s, &"changes".into(), &changes.into()).unwrap();
        s
    };
    let db = idb::open(name.clone(), state("s0", 0)).await.unwrap();
    let ops: Array = [
        op("events", "add", record(1, "a")),
        op("pending", "put", keyed("seq", 1.into(), "p1")),
        op("pending", "put", keyed("seq", 2.into(), "p2")),
        op("sync", "put", state("s1", 1)),
    ]
    .into_iter()
    .collect();
    assert!(idb::write(db.clone(), ops, 0.0).await.unwrap());
    let ops: Array = [
        op("pending", "delete", 1.into()),
        op("rejected", "put", keyed("batchId", "b".into(), "r")),
    ]
    .into_iter()
    .collect();
    assert!(idb::write(db.clone(), ops, 1.0).await.unwrap());
    // A change decided on a state that changed since stores nothing.
    let ops: Array = [
        op("pending", "delete", 2.into()),
        op("sync", "put", state("stale", 1)),
    ]
    .into_iter()
    .collect();
    assert!(!idb::write(db.clone(), ops, 0.0).await.unwrap());
    // An op that fails (a key taken) stores nothing of its change.
    let ops: Array = [
        op("pending", "delete", 2.into()),
        op("sync", "put", state("s2", 2)),
        op("events", "add", record(1, "again")),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        reason(&idb::write(db.clone(), ops, 1.0).await.unwrap_err()),
        "aborted"
    );
    let snap = idb::sync_read(db.clone(), 0.0).await.unwrap();
    let events: Array = field(&snap, "events").unchecked_into();
    assert_eq!(events.length(), 1);
    assert_eq!(stream_of(&events.get(0)), "a");
    let pending: Array = field(&snap, "pending").unchecked_into();
    assert_eq!(pending.length(), 1);
    assert_eq!(field(&pending.get(0), "note").as_string().unwrap(), "p2");
    let rejected: Array = field(&snap, "rejected").unchecked_into();
    assert_eq!(field(&rejected.get(0), "note").as_string().unwrap(), "r");
    assert_eq!(
        field(&field(&snap, "sync"), "note").as_string().unwrap(),
        "s1"
    );
    // `after` bounds the events read; get reads one record.
    let later = idb::sync_read(db.clone(), 1.0).await.unwrap();
    assert_eq!(Array::from(&field(&later, "events")).length(), 0);
    let state = idb::get(db.clone(), "sync".into(), "state".into())
        .await
        .unwrap();
    assert_eq!(field(&state, "note").as_string().unwrap(), "s1");
    assert!(idb::get(db.clone(), "sync".into(), "none".into())
        .await
        .unwrap()
        .is_undefined());
    db.close();
    idb::delete(name).await.unwrap();
}

#[wasm_bindgen_test]
async fn the_state_given_to_the_open_that_creates_a_database_is_stored_once() {
    let name = "wbt-created".to_string();
    let _ = idb::delete(name.clone()).await;
    let state = |note: &str| keyed("key", "state".into(), note);
    // Two opens at once: the one that creates the database decides.
    let opening = |s: JsValue| {
        let name = name.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            idb::open(name, s).await.map(JsValue::from)
        })
    };
    let both = Array::of2(&opening(state("first")), &opening(state("second")));
    let both: Array = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::all(&both))
        .await
        .unwrap()
        .into();
    let a: web_sys::IdbDatabase = both.get(0).into();
    let b: web_sys::IdbDatabase = both.get(1).into();
    let stored = |db: web_sys::IdbDatabase| async move {
        let state = idb::get(db, "sync".into(), "state".into()).await.unwrap();
        field(&state, "note").as_string().unwrap()
    };
    assert_eq!(stored(b.clone()).await, "first");
    a.close();
    b.close();
    // An existing database is opened as it is.
    let c = idb::open(name.clone(), state("third")).await.unwrap();
    assert_eq!(stored(c.clone()).await, "first");
    c.close();
    idb::delete(name).await.unwrap();
}
