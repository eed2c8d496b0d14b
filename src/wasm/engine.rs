//! The binding of [`Store`]: its JavaScript class is `Engine`.

use wasm_bindgen::prelude::*;

use crate::error::Error;
use crate::json::{uuid_text, UUID_LEN};
use crate::read_options::{parse_read_options, parse_stream_name, parse_stream_read_options};
use crate::request::parse_request;
use crate::selector::Selector;
use crate::store::Store;
use crate::stored::{parse_stored, StoredBatch};
use crate::wasm::wire::{commit, thrown};

/// A selector given as JSON text; "" (the JS `undefined`) selects everything.
fn selector(text: &str) -> Result<Selector, JsValue> {
    if text.is_empty() {
        return Ok(Selector::all());
    }
    Selector::parse_json(text, "selector").map_err(thrown)
}

/// Appends a UUID's text (36 bytes, lowercase, hyphenated).
fn push_uuid(out: &mut Vec<u8>, id: u128) {
    let mut buf = [0u8; UUID_LEN];
    out.extend_from_slice(uuid_text(id, &mut buf).as_bytes());
}

#[wasm_bindgen]
#[derive(Default)]
pub struct Engine {
    store: Store,
    /// The last commit's words (see [`Engine::transact`]).
    commit: Vec<f64>,
    /// The last commit's ids as text, 36 bytes each.
    ids: Vec<u8>,
    /// Batches kept by [`Engine::stage_bytes`], and the head they follow.
    staged: Vec<StoredBatch<'static>>,
    staged_from: u64,
}

#[wasm_bindgen]
impl Engine {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Engine {
        Engine::default()
    }

    /// The head revision.
    pub fn head(&self) -> f64 {
        self.store.log().head() as f64
    }

    /// Checks and appends a batch given as the JSON text of a transact
    /// request without the events' `data` and `metadata` (which the wrapper
    /// keeps). `now`: `Date.now()`.
    ///
    /// Returns the address of the commit, written as `f64`s into a buffer
    /// the engine keeps until its next call, which the wrapper reads through
    /// a view of the module's memory: cheaper than a new array or JSON text.
    /// The words are laid out as [`commit`] says (the wrapper reads the
    /// offsets from `commitLayout()`); per stream written, in order of first
    /// appearance. The ids' text is decoded once and sliced by the wrapper
    /// (one string per commit is far cheaper than one per id).
    pub fn transact(&mut self, request: &str, now: f64) -> Result<u32, JsValue> {
        self.commit(request, now)
    }

    /// [`Engine::transact`] with the request as UTF-8 bytes: for long
    /// requests, `TextEncoder` and one copy beat passing a string.
    #[wasm_bindgen(js_name = transactBytes)]
    pub fn transact_bytes(&mut self, request: &[u8], now: f64) -> Result<u32, JsValue> {
        let request = std::str::from_utf8(request)
            .map_err(|_| thrown(Error::invalid("", "the request is not valid UTF-8")))?;
        self.commit(request, now)
    }
}

impl Engine {
    fn commit(&mut self, request: &str, now: f64) -> Result<u32, JsValue> {
        let request = parse_request(request).map_err(thrown)?;
        let c = self.store.transact(&request, now).map_err(thrown)?;
        let log = self.store.log();
        let batch = log.batch(log.event(c.first_revision as u32).batch);
        let ids = &mut self.ids;
        ids.clear();
        push_uuid(ids, c.batch_id);
        if !c.replayed {
            for rev in c.first_revision..=c.revision {
                push_uuid(ids, log.event_id(rev as u32));
            }
        }
        let out = &mut self.commit;
        out.clear();
        out.resize(commit::STREAMS, 0.0);
        out[commit::FIRST_REVISION] = c.first_revision as f64;
        out[commit::REVISION] = c.revision as f64;
        out[commit::REPLAYED] = c.replayed as u8 as f64;
        out[commit::RECORDED_AT] = batch.recorded_at;
        out[commit::IDS_AT] = ids.as_ptr() as usize as f64;
        out[commit::IDS_LEN] = ids.len() as f64;
        for &(_, version, revision) in &c.streams {
            out.extend([version as f64, revision as f64]);
        }
        out.push(c.woken.len() as f64);
        out.extend(c.woken.iter().map(|&id| f64::from(id)));
        Ok(out.as_ptr() as u32)
    }
}

#[wasm_bindgen]
impl Engine {
    /// Appends a batch already committed elsewhere (stored, or another
    /// tab's): see [`Store::restore`]. Returns the subscriptions it concerns.
    pub fn restore(&mut self, batch: &str) -> Result<Vec<u32>, JsValue> {
        self.store.restore(batch).map_err(thrown)
    }

    /// [`Engine::restore`] with the text as UTF-8 bytes: for long texts,
    /// `TextEncoder` and one copy beat passing a string.
    #[wasm_bindgen(js_name = restoreBytes)]
    pub fn restore_bytes(&mut self, batch: &[u8]) -> Result<Vec<u32>, JsValue> {
        let batch = std::str::from_utf8(batch).map_err(|_| {
            thrown(Error::Corrupt {
                revision: self.store.log().head() + 1,
                field: None,
                message: "not valid UTF-8".into(),
            })
        })?;
        self.store.restore(batch).map_err(thrown)
    }

    /// Restores stored text (UTF-8 bytes) like [`Engine::restore_bytes`]
    /// and keeps its parsed batches, so that once the engine has been put
    /// back ([`Engine::truncate`]) they can be restored again without
    /// parsing ([`Engine::apply_staged`]): an import checks its log, waits
    /// for storage, then applies it. A failure discards what was staged.
    #[wasm_bindgen(js_name = stageBytes)]
    pub fn stage_bytes(&mut self, text: &[u8]) -> Result<Vec<u32>, JsValue> {
        let head = self.store.log().head();
        let staged = std::str::from_utf8(text)
            .map_err(|_| Error::Corrupt {
                revision: head + 1,
                field: None,
                message: "not valid UTF-8".into(),
            })
            .and_then(|text| parse_stored(text, head))
            .and_then(|batches| {
                let woken = self.store.restore_batches(&batches)?;
                Ok((batches.into_iter().map(|b| b.into_owned()), woken))
            });
        match staged {
            Ok((batches, woken)) => {
                if self.staged.is_empty() {
                    self.staged_from = head;
                }
                self.staged.extend(batches);
                Ok(woken)
            }
            Err(e) => {
                self.staged.clear();
                Err(thrown(e))
            }
        }
    }

    /// Restores what [`Engine::stage_bytes`] kept, if the engine is where
    /// staging began; returns the subscriptions it concerns.
    #[wasm_bindgen(js_name = applyStaged)]
    pub fn apply_staged(&mut self) -> Result<Vec<u32>, JsValue> {
        let batches = std::mem::take(&mut self.staged);
        if batches.is_empty() {
            return Ok(Vec::new());
        }
        if self.store.log().head() != self.staged_from {
            return Err(thrown(Error::invalid(
                "",
                "the log moved since it was staged",
            )));
        }
        self.store.restore_batches(&batches).map_err(thrown)
    }

    /// Forgets what [`Engine::stage_bytes`] kept.
    #[wasm_bindgen(js_name = discardStaged)]
    pub fn discard_staged(&mut self) {
        self.staged.clear();
    }

    /// Undoes every batch after `head` (see [`Store::truncate`]).
    pub fn truncate(&mut self, head: f64) {
        self.store.truncate(head as u64);
    }

    /// Registers a subscription to what `selector_json` selects ("" for
    /// everything), narrowed to the types in `types_json` (a JSON array, or
    /// "" for all types); returns its id.
    pub fn subscribe(&mut self, selector_json: &str, types_json: &str) -> Result<u32, JsValue> {
        let sel = selector(selector_json)?;
        let types: Option<Vec<String>> = if types_json.is_empty() {
            None
        } else {
            Some(
                serde_json::from_str(types_json)
                    .map_err(|e| thrown(Error::invalid("handlers", e.to_string())))?,
            )
        };
        Ok(self.store.subscribe(sel, types.as_deref()))
    }

    pub fn unsubscribe(&mut self, id: u32) {
        self.store.unsubscribe(id);
    }

    /// The revisions subscription `id` is to receive from `from` on, at most
    /// `limit`, oldest first.
    pub fn deliverable(&self, id: u32, from: f64, limit: u32) -> Vec<u32> {
        self.store.deliverable(id, from as u64, limit as usize)
    }

    /// `read(selector, options)`: the revisions of the matching events.
    pub fn read(&self, selector_json: &str, options_json: &str) -> Result<Vec<u32>, JsValue> {
        let sel = selector(selector_json)?;
        let o = parse_read_options(options_json).map_err(thrown)?;
        Ok(self
            .store
            .log()
            .select(&sel, o.from, o.to, o.limit, o.backwards))
    }

    /// `readStream(stream, options)`: the revisions of the stream's events.
    #[wasm_bindgen(js_name = readStream)]
    pub fn read_stream(&self, stream_json: &str, options_json: &str) -> Result<Vec<u32>, JsValue> {
        let stream = parse_stream_name(stream_json).map_err(thrown)?;
        let o = parse_stream_read_options(options_json).map_err(thrown)?;
        let revs = self.store.log().select_stream(
            &stream,
            o.from_version,
            o.to_version,
            o.limit,
            o.backwards,
        );
        Ok(if o.backwards {
            revs.iter().rev().copied().collect()
        } else {
            revs.to_vec()
        })
    }

    /// sel_rev(selector).
    #[wasm_bindgen(js_name = lastRevision)]
    pub fn last_revision(&self, selector_json: &str) -> Result<f64, JsValue> {
        Ok(self.store.log().last_revision(&selector(selector_json)?) as f64)
    }

    /// `stream(name)`: `[version, revision]`, or an empty array for a stream
    /// with no events.
    pub fn stream(&self, stream_json: &str) -> Result<Vec<f64>, JsValue> {
        let stream = parse_stream_name(stream_json).map_err(thrown)?;
        Ok(match self.store.log().stream(&stream) {
            Some(p) => vec![p.version as f64, p.revision as f64],
            None => Vec::new(),
        })
    }

    /// Whether a pending batch (its transact request's JSON text, as given
    /// to [`Engine::transact`]) is certain to be refused by the server: see
    /// [`crate::sync::view::certain_to_fail`]. `base` and `own` (a JSON array of
    /// batch ids) are its view; `confirmed`, the prefix this device holds.
    #[wasm_bindgen(js_name = certainToFail)]
    pub fn certain_to_fail(
        &self,
        request: &str,
        base: f64,
        confirmed: f64,
        own: &str,
    ) -> Result<bool, JsValue> {
        let req = parse_request(request).map_err(thrown)?;
        let ids: Vec<&str> =
            serde_json::from_str(own).map_err(|e| thrown(Error::invalid("own", e.to_string())))?;
        let own = ids
            .iter()
            .map(|s| crate::json::parse_uuid(s))
            .collect::<Option<rustc_hash::FxHashSet<u128>>>()
            .ok_or_else(|| thrown(Error::invalid("own", "expected batch ids")))?;
        Ok(crate::sync::view::certain_to_fail(
            self.store.log(),
            confirmed as u64,
            &req,
            base as u64,
            &own,
        ))
    }
}
