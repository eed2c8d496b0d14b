//! IndexedDB, through web-sys: the durable copy of the log.
//!
//! Object stores: `events`, keyed by the key path `revision` (the log; a
//! syncing store's confirmed prefix), and, for a syncing store,
//! `pending` (its pending batches, keyed by `seq`), `rejected` (rejections
//! not yet dismissed, keyed by `batchId`) and `sync` (its state, keyed by
//! `key`; a store without sync keeps there only the mark that it was made
//! so, see [`open`]), and `snapshots` (projections' snapshots, keyed by
//! `key`, each written alone by [`put`]). What a record holds is decided elsewhere (a run of whole
//! batches as one JSON text keyed by its first revision: [`crate::storage`];
//! the pending and rejected records of `pkg-template/pending.js`); here a
//! record is anything with its key. Writes
//! happen in one readwrite transaction per commit group ([`append`]) or
//! per change of a syncing store's state ([`write`]). Nothing but
//! IndexedDB requests is awaited inside a transaction, and no JavaScript of
//! this package is called from here (only the platform's `setTimeout`, to
//! give up on a blocked open).
//!
//! Errors cross as thrown strings holding a `StorageError`'s JSON form.

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DomException, IdbCursorDirection, IdbCursorWithValue, IdbDatabase, IdbFactory, IdbKeyRange,
    IdbObjectStoreParameters, IdbOpenDbRequest, IdbRequest, IdbTransaction, IdbTransactionMode,
};

use crate::error::Error;
use crate::wasm::wire;

const EVENTS: &str = "events";
/// A syncing store's object stores and their key paths, beside [`EVENTS`].
const SYNC_STORES: [(&str, &str); 3] =
    [("pending", "seq"), ("rejected", "batchId"), ("sync", "key")];
/// Every object store, for the transactions that span them all.
const ALL: [&str; 4] = [EVENTS, "pending", "rejected", "sync"];
/// Projections' snapshots by key (version 4), written on their own: a
/// snapshot is replaced whole by one put, never part of a commit.
const SNAPSHOTS: (&str, &str) = ("snapshots", "key");

fn storage(reason: &'static str, message: impl Into<String>) -> JsValue {
    wire::thrown(Error::Storage {
        reason,
        message: message.into(),
    })
}

/// The reason a DOMException stands for.
fn reason_of(e: Option<DomException>) -> (&'static str, String) {
    match e {
        Some(e) => {
            let reason = match e.name().as_str() {
                "QuotaExceededError" => "quota",
                "InvalidStateError" => "closed",
                _ => "aborted",
            };
            let mut message = format!("IndexedDB: {}: {}", e.name(), e.message());
            if reason == "quota" {
                message.push_str(
                    " (the browser refused to store more for this site: nothing of the batch was written; \
                     free space, e.g. EventStore.delete of stores no longer needed, or ask for more with \
                     navigator.storage.persist())",
                );
            }
            (reason, message)
        }
        None => ("aborted", "IndexedDB: the transaction was aborted".into()),
    }
}

/// Turns anything IndexedDB threw into a StorageError.
fn thrown(e: JsValue) -> JsValue {
    let (reason, message) = reason_of(e.dyn_into::<DomException>().ok());
    storage(reason, message)
}

fn factory() -> Result<IdbFactory, JsValue> {
    let idb = Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
        .unwrap_or(JsValue::UNDEFINED);
    idb.dyn_into::<IdbFactory>().map_err(|_| {
        storage(
            "unavailable",
            "IndexedDB is not available in this environment: use EventStore.memory() instead (in Node, importing \"fake-indexeddb/auto\" first provides one)",
        )
    })
}

/// Waits for a request; its result, or its error as a StorageError.
async fn done(request: &IdbRequest) -> Result<JsValue, JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    let outcome = JsFuture::from(promise).await;
    request.set_onsuccess(None);
    request.set_onerror(None);
    match outcome {
        Ok(_) => request.result(),
        Err(_) => Err({
            let (reason, message) = reason_of(request.error().ok().flatten());
            storage(reason, message)
        }),
    }
}

/// Waits for a transaction to complete; its error if it aborts.
async fn completed(tx: &IdbTransaction) -> Result<(), JsValue> {
    let promise = Promise::new(&mut |resolve, reject| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onabort(Some(&reject));
    });
    let outcome = JsFuture::from(promise).await;
    tx.set_oncomplete(None);
    tx.set_onabort(None);
    outcome.map(|_| ()).map_err(|_| {
        let (reason, message) = reason_of(tx.error());
        storage(reason, message)
    })
}

/// How long an open or delete waits, once blocked, for other connections to
/// close.
const BLOCKED_WAIT_MS: i32 = 3_000;

/// Waits for an open or delete request. Other connections stand in its way
/// only if they do not close on `versionchange` (Hindcast's stores close);
/// once the request is blocked, it waits [`BLOCKED_WAIT_MS`], then gives up
/// (`Ok(None)`) rather than waiting for ever.
async fn unless_blocked(request: &IdbOpenDbRequest) -> Result<Option<JsValue>, JsValue> {
    let give_up = std::rc::Rc::new(std::cell::RefCell::new(None::<Function>));
    let promise = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
        *give_up.borrow_mut() = Some(reject);
    });
    let on_blocked = Closure::<dyn FnMut()>::new({
        let give_up = give_up.clone();
        move || {
            let global = js_sys::global();
            let set_timeout = Reflect::get(&global, &JsValue::from_str("setTimeout")).ok();
            if let (Some(reject), Some(set_timeout)) = (give_up.borrow_mut().take(), set_timeout) {
                let _ = set_timeout.unchecked_into::<Function>().call2(
                    &global,
                    &reject,
                    &JsValue::from(BLOCKED_WAIT_MS),
                );
            }
        }
    });
    request.set_onblocked(Some(on_blocked.as_ref().unchecked_ref()));
    let outcome = JsFuture::from(promise).await;
    request.set_onblocked(None);
    drop(on_blocked);
    match outcome {
        Ok(_) => request.result().map(Some),
        // Rejected with no event: the wait after `blocked` ran out.
        Err(e) if e.is_undefined() => Ok(None),
        Err(_) => {
            let (reason, message) = reason_of(request.error().ok().flatten());
            Err(storage(reason, message))
        }
    }
}

/// The database version: the record format (see the JS layer), which a
/// newer format raises, so that connections of older code close
/// (`versionchange`) rather than misread the newer records. An older
/// database keeps its object stores and gains the ones it lacks (version 3
/// added a syncing store's, version 4 the projections' snapshots); records
/// it cannot read load as corrupt.
const VERSION: u32 = 4;

/// Opens (creating or upgrading if need be) the database `name`. A
/// database this call creates gets `state` as its `sync` record, in the
/// upgrade transaction: whoever creates a database decides, once and for
/// every tab, whether it syncs (a tab opening it at the same moment waits
/// for the upgrade, then reads the record). `undefined`: no record.
#[wasm_bindgen(js_name = idbOpen)]
pub async fn open(name: String, state: JsValue) -> Result<IdbDatabase, JsValue> {
    let request: IdbOpenDbRequest = factory()?.open_with_u32(&name, VERSION).map_err(thrown)?;
    let upgrade = Closure::<dyn FnMut(web_sys::Event)>::new({
        let request = request.clone();
        move |_| {
            if let Ok(db) = request.result().and_then(|r| r.dyn_into::<IdbDatabase>()) {
                // Stores from an older version are kept as they are.
                let names = db.object_store_names();
                let created = names.length() == 0;
                for (name, key) in [(EVENTS, "revision")]
                    .into_iter()
                    .chain(SYNC_STORES)
                    .chain([SNAPSHOTS])
                {
                    if names.contains(name) {
                        continue;
                    }
                    let params = IdbObjectStoreParameters::new();
                    params.set_key_path(&JsValue::from_str(key));
                    // A failure here aborts the upgrade, which fails the open.
                    let _ = db.create_object_store_with_optional_parameters(name, &params);
                }
                if created && !state.is_undefined() {
                    // As above, a failure aborts the upgrade.
                    if let Some(store) = request
                        .transaction()
                        .and_then(|tx| tx.object_store("sync").ok())
                    {
                        let _ = store.put(&state);
                    }
                }
            }
        }
    });
    request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    match unless_blocked(&request).await {
        Ok(Some(db)) => {
            request.set_onupgradeneeded(None);
            db.dyn_into::<IdbDatabase>()
                .map_err(|_| storage("aborted", "IndexedDB: open gave no database"))
        }
        Ok(None) => {
            // The request lives on: let it upgrade if it ever may, then close.
            upgrade.forget();
            let close = Closure::once_into_js({
                let request = request.clone();
                move || {
                    if let Ok(db) = request.result().and_then(|r| r.dyn_into::<IdbDatabase>()) {
                        db.close();
                    }
                }
            });
            request.set_onsuccess(Some(close.unchecked_ref()));
            Err(storage(
                "aborted",
                "another connection to the database holds an older version open and did not close; close or reload the other tabs of this app and open again",
            ))
        }
        Err(e) => Err(e),
    }
}

/// Deletes the database `name`. Open stores on it close themselves (they
/// listen for `versionchange`), which lets the delete proceed; if some other
/// connection stays open, this rejects after [`BLOCKED_WAIT_MS`] instead of
/// waiting for ever.
#[wasm_bindgen(js_name = idbDelete)]
pub async fn delete(name: String) -> Result<(), JsValue> {
    let request = factory()?.delete_database(&name).map_err(thrown)?;
    match unless_blocked(&request).await? {
        Some(_) => Ok(()),
        None => Err(storage(
            "aborted",
            "another connection to the database did not close; close it and delete again",
        )),
    }
}

/// The record with the greatest key, or `undefined` for an empty store.
#[wasm_bindgen(js_name = idbLast)]
pub async fn last(db: IdbDatabase) -> Result<JsValue, JsValue> {
    let tx = db.transaction_with_str(EVENTS).map_err(thrown)?;
    let request = tx
        .object_store(EVENTS)
        .map_err(thrown)?
        .open_cursor_with_range_and_direction(&JsValue::NULL, IdbCursorDirection::Prev)
        .map_err(thrown)?;
    let cursor = done(&request).await?;
    Ok(match cursor.dyn_into::<IdbCursorWithValue>() {
        Ok(cursor) => cursor.value().map_err(thrown)?,
        Err(_) => JsValue::UNDEFINED,
    })
}

/// Up to `limit` stored records from key `from` on, in key order.
#[wasm_bindgen(js_name = idbRead)]
pub async fn read(db: IdbDatabase, from: f64, limit: u32) -> Result<Array, JsValue> {
    let tx = db.transaction_with_str(EVENTS).map_err(thrown)?;
    let store = tx.object_store(EVENTS).map_err(thrown)?;
    let range = IdbKeyRange::lower_bound(&JsValue::from_f64(from)).map_err(thrown)?;
    let request = store
        .get_all_with_key_and_limit(&range, limit)
        .map_err(thrown)?;
    Ok(done(&request).await?.unchecked_into())
}

/// Whether a transaction aborted because a record's key was taken: another
/// tab wrote at the revisions this one meant to write.
fn key_taken(tx: &IdbTransaction) -> bool {
    tx.error().is_some_and(|e| e.name() == "ConstraintError")
}

/// Starts adding `records` in one readwrite transaction and returns it at
/// once, so the caller can do other work while IndexedDB writes (an
/// import checks its events meanwhile) and abort it with [`abort`]. Await
/// its outcome with [`settled`]. A commit group is written this way too:
/// its first key is the revision after the writer's head, so it is free
/// exactly when no other tab stored anything after that head.
#[wasm_bindgen(js_name = idbAppend)]
pub fn append(db: IdbDatabase, records: Array) -> Result<IdbTransaction, JsValue> {
    add_all(&db, &records)
}

/// Starts one readwrite transaction adding `records`; if one cannot even be
/// asked for, the transaction is aborted: none of them, not just none after it.
fn add_all(db: &IdbDatabase, records: &Array) -> Result<IdbTransaction, JsValue> {
    let tx = db
        .transaction_with_str_and_mode(EVENTS, IdbTransactionMode::Readwrite)
        .map_err(thrown)?;
    let store = tx.object_store(EVENTS).map_err(thrown)?;
    for record in records.iter() {
        if let Err(e) = store.add(&record) {
            let _ = tx.abort();
            return Err(thrown(e));
        }
    }
    Ok(tx)
}

/// Aborts a transaction of [`append`]: nothing of it is stored.
#[wasm_bindgen(js_name = idbAbort)]
pub fn abort(tx: IdbTransaction) {
    let _ = tx.abort();
}

/// Resolves with `true` once a transaction of [`append`] has completed
/// (its records are durable), with `false` if it aborted because a key was
/// taken (another tab wrote there first); rejects with a StorageError for
/// any other abort.
#[wasm_bindgen(js_name = idbSettled)]
pub async fn settled(tx: IdbTransaction) -> Result<bool, JsValue> {
    match completed(&tx).await {
        Ok(()) => Ok(true),
        Err(_) if key_taken(&tx) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Every object store's name, as a JS array, for a transaction over them all.
fn all_stores() -> Array {
    ALL.iter().map(|s| JsValue::from_str(s)).collect()
}

/// A syncing store's state as one snapshot (one readonly transaction, so
/// it never shows half of another tab's change): `{ events, pending,
/// rejected, sync }`, the `events` records after key `after`, every
/// `pending` and `rejected` record in key order, and the `sync` record
/// `"state"` (undefined if none).
#[wasm_bindgen(js_name = idbSyncRead)]
pub async fn sync_read(db: IdbDatabase, after: f64) -> Result<JsValue, JsValue> {
    let tx = db
        .transaction_with_str_sequence(&all_stores())
        .map_err(thrown)?;
    let store = |name: &str| tx.object_store(name).map_err(thrown);
    let range =
        IdbKeyRange::lower_bound_with_open(&JsValue::from_f64(after), true).map_err(thrown)?;
    // All four asked for at once; IndexedDB answers them in order.
    let events = store(EVENTS)?.get_all_with_key(&range).map_err(thrown)?;
    let pending = store("pending")?.get_all().map_err(thrown)?;
    let rejected = store("rejected")?.get_all().map_err(thrown)?;
    let state = store("sync")?
        .get(&JsValue::from_str("state"))
        .map_err(thrown)?;
    let out = js_sys::Object::new();
    for (key, request) in [
        ("events", &events),
        ("pending", &pending),
        ("rejected", &rejected),
        ("sync", &state),
    ] {
        let value = done(request).await?;
        Reflect::set(&out, &JsValue::from_str(key), &value)?;
    }
    Ok(out.into())
}

/// Makes one change to a syncing store's state, in one readwrite
/// transaction over every object store: `ops` is a list of `{ store, add }`,
/// `{ store, put }` or `{ store, delete: key }`, done in order, once the
/// transaction has read the `sync` record `"state"` and found its
/// `changes` to be `changes` (the change is decided on that state; another
/// tab's change since makes it stale). Resolves with `true` once it has
/// completed (durable), `false` if the state had changed (nothing asked,
/// nothing stored); rejects with a StorageError if it aborted otherwise,
/// nothing of it stored.
#[wasm_bindgen(js_name = idbWrite)]
pub async fn write(db: IdbDatabase, ops: Array, changes: f64) -> Result<bool, JsValue> {
    let tx = db
        .transaction_with_str_sequence_and_mode(&all_stores(), IdbTransactionMode::Readwrite)
        .map_err(thrown)?;
    let state = tx
        .object_store("sync")
        .and_then(|s| s.get(&JsValue::from_str("state")))
        .map_err(thrown)?;
    // Decided in the read's success event, while the transaction is active.
    let stale = std::rc::Rc::new(std::cell::Cell::new(false));
    let on_read = Closure::once({
        let (tx, state, stale) = (tx.clone(), state.clone(), stale.clone());
        move || {
            let now = state
                .result()
                .and_then(|s| Reflect::get(&s, &JsValue::from_str("changes")))
                .ok()
                .and_then(|c| c.as_f64());
            if now != Some(changes) {
                stale.set(true);
            }
            // (An op IndexedDB refuses at once aborts the transaction too.)
            if now != Some(changes) || ask(&tx, &ops).is_err() {
                let _ = tx.abort();
            }
        }
    });
    state.set_onsuccess(Some(on_read.as_ref().unchecked_ref()));
    let outcome = completed(&tx).await;
    state.set_onsuccess(None);
    drop(on_read);
    match outcome {
        Ok(()) => Ok(true),
        Err(_) if stale.get() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Asks for each of `ops` in `tx`, in order.
fn ask(tx: &IdbTransaction, ops: &Array) -> Result<(), JsValue> {
    let field = |op: &JsValue, key: &str| Reflect::get(op, &JsValue::from_str(key));
    for op in ops.iter() {
        let name = field(&op, "store")?.as_string().unwrap_or_default();
        let store = tx.object_store(&name)?;
        let (add, put, delete) = (
            field(&op, "add")?,
            field(&op, "put")?,
            field(&op, "delete")?,
        );
        if !add.is_undefined() {
            store.add(&add)?;
        } else if !put.is_undefined() {
            store.put(&put)?;
        } else {
            store.delete(&delete)?;
        }
    }
    Ok(())
}

/// The record of `store` with key `key`, or undefined.
#[wasm_bindgen(js_name = idbGet)]
pub async fn get(db: IdbDatabase, store: String, key: JsValue) -> Result<JsValue, JsValue> {
    let tx = db.transaction_with_str(&store).map_err(thrown)?;
    let request = tx
        .object_store(&store)
        .map_err(thrown)?
        .get(&key)
        .map_err(thrown)?;
    done(&request).await
}

/// Puts `value` in `store` in a transaction of its own, at the call (the
/// value is cloned then: a connection closed right after still completes
/// it); the caller awaits [`settled`]. The record is replaced whole or not
/// at all. Throws the DataCloneError of a value that cannot be stored.
#[wasm_bindgen(js_name = idbPut)]
pub fn put(db: IdbDatabase, store: String, value: JsValue) -> Result<IdbTransaction, JsValue> {
    let tx = db
        .transaction_with_str_and_mode(&store, IdbTransactionMode::Readwrite)
        .map_err(thrown)?;
    if let Err(e) = tx.object_store(&store).and_then(|s| s.put(&value)) {
        let _ = tx.abort();
        return Err(e);
    }
    Ok(tx)
}
