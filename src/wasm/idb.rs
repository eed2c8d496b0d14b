//! IndexedDB, through web-sys: the durable copy of the log.
//!
//! One object store, `events`, holds every recorded event as a record keyed
//! by its revision (the key path `revision`). Writes happen in one readwrite
//! transaction per commit group, which first reads what other tabs wrote
//! since this tab's head: the caller's `decide` runs inside the transaction
//! with those records, and returns the records to put. Nothing but IndexedDB
//! requests is awaited inside a transaction.
//!
//! Errors cross as thrown strings holding a `StorageError`'s JSON form.

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DomException, IdbDatabase, IdbFactory, IdbKeyRange, IdbObjectStoreParameters, IdbOpenDbRequest,
    IdbRequest, IdbTransaction, IdbTransactionMode,
};

use crate::error::Error;

const EVENTS: &str = "events";

fn storage(reason: &'static str, message: impl Into<String>) -> JsValue {
    JsValue::from_str(
        &Error::Storage {
            reason,
            message: message.into(),
        }
        .to_json(),
    )
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
            (reason, format!("IndexedDB: {}: {}", e.name(), e.message()))
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
            "IndexedDB is not available here; in Node, import \"fake-indexeddb/auto\" first, or use EventStore.memory()",
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

/// Opens (creating if need be) the database `name`.
#[wasm_bindgen(js_name = idbOpen)]
pub async fn open(name: String) -> Result<IdbDatabase, JsValue> {
    let request: IdbOpenDbRequest = factory()?.open_with_u32(&name, 1).map_err(thrown)?;
    let upgrade = Closure::<dyn FnMut(web_sys::Event)>::new({
        let request = request.clone();
        move |_| {
            if let Ok(db) = request.result().and_then(|r| r.dyn_into::<IdbDatabase>()) {
                let params = IdbObjectStoreParameters::new();
                params.set_key_path(&JsValue::from_str("revision"));
                // A failure here aborts the upgrade, which fails the open.
                let _ = db.create_object_store_with_optional_parameters(EVENTS, &params);
            }
        }
    });
    request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let db = done(&request).await;
    request.set_onupgradeneeded(None);
    drop(upgrade);
    db?.dyn_into::<IdbDatabase>()
        .map_err(|_| storage("aborted", "IndexedDB: open gave no database"))
}

/// How long a delete waits, once blocked, for other connections to close.
const BLOCKED_WAIT_MS: i32 = 3_000;

/// Deletes the database `name`. Open stores on it close themselves (they
/// listen for `versionchange`), which lets the delete proceed; if some other
/// connection stays open for [`BLOCKED_WAIT_MS`] after the delete is
/// blocked, this rejects instead of waiting for ever.
#[wasm_bindgen(js_name = idbDelete)]
pub async fn delete(name: String) -> Result<(), JsValue> {
    let request = factory()?.delete_database(&name).map_err(thrown)?;
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
        Ok(_) => Ok(()),
        // Rejected with no event: the wait after `blocked` ran out.
        Err(e) if e.is_undefined() => Err(storage(
            "aborted",
            "another connection to the database did not close; close it and delete again",
        )),
        Err(_) => {
            let (reason, message) = reason_of(request.error().ok().flatten());
            Err(storage(reason, message))
        }
    }
}

/// The number of stored events.
#[wasm_bindgen(js_name = idbCount)]
pub async fn count(db: IdbDatabase) -> Result<f64, JsValue> {
    let tx = db.transaction_with_str(EVENTS).map_err(thrown)?;
    let request = tx
        .object_store(EVENTS)
        .map_err(thrown)?
        .count()
        .map_err(thrown)?;
    Ok(done(&request).await?.as_f64().unwrap_or(0.0))
}

/// Up to `limit` stored events from revision `from` on, in revision order.
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

/// One commit group: in one readwrite transaction, reads the events stored
/// after revision `after` (other tabs' commits), calls `decide(thoseEvents)`
/// synchronously, inside the transaction, and puts the records it returns.
/// Resolves once the transaction has completed (the group is durable);
/// rejects with a StorageError if it aborted, nothing of it stored.
#[wasm_bindgen(js_name = idbCommit)]
pub async fn commit(db: IdbDatabase, after: f64, decide: Function) -> Result<(), JsValue> {
    let tx = db
        .transaction_with_str_and_mode(EVENTS, IdbTransactionMode::Readwrite)
        .map_err(thrown)?;
    let store = tx.object_store(EVENTS).map_err(thrown)?;
    let range =
        IdbKeyRange::lower_bound_with_open(&JsValue::from_f64(after), true).map_err(thrown)?;
    let request = store.get_all_with_key(&range).map_err(thrown)?;
    // Runs in the request's success event, while the transaction is active.
    let failure = std::rc::Rc::new(std::cell::RefCell::new(None::<JsValue>));
    let on_read = Closure::<dyn FnMut(web_sys::Event)>::new({
        let (request, tx, failure) = (request.clone(), tx.clone(), failure.clone());
        move |_| {
            let outcome = request
                .result()
                .and_then(|theirs| decide.call1(&JsValue::NULL, &theirs))
                .and_then(|ours| {
                    for record in ours.unchecked_into::<Array>().iter() {
                        store.put(&record).map_err(thrown)?;
                    }
                    Ok(())
                });
            if let Err(e) = outcome {
                *failure.borrow_mut() = Some(e);
                let _ = tx.abort();
            }
        }
    });
    request.set_onsuccess(Some(on_read.as_ref().unchecked_ref()));
    let outcome = completed(&tx).await;
    request.set_onsuccess(None);
    drop(on_read);
    // A failure of `decide` itself (not of storage) is reported as it is.
    if let Some(e) = failure.borrow_mut().take() {
        return Err(e);
    }
    outcome
}
