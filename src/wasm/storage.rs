//! The binding of [`crate::storage`], the storage flow's decisions, for
//! `pkg-template/persistent.js`, which performs the IO they ask for.

use wasm_bindgen::prelude::*;

use crate::storage::{self, Step};
use crate::wasm::wire::{error_json, thrown};

/// [`storage::pack`]: the end of each record's batches, given each batch's
/// event count and, if made, its JSON text length (empty if not).
#[wasm_bindgen(js_name = packRecords)]
pub fn pack_records(events: &[u32], chars: &[u32]) -> Vec<u32> {
    storage::pack(events, (!chars.is_empty()).then_some(chars))
}

/// [`storage::fits`].
#[wasm_bindgen(js_name = recordFits)]
pub fn record_fits(len: f64, batches: u32) -> bool {
    storage::fits(len as u64, batches)
}

/// A record's fault found while decoding it ([`storage::corrupt`]), as a
/// wire error for `errors.js` `fromWire`.
#[wasm_bindgen(js_name = corruptRecord)]
pub fn corrupt_record(revision: f64, why: String) -> String {
    error_json(&storage::corrupt(revision as u64, why))
}

/// [`storage::Reader`].
#[wasm_bindgen]
pub struct Reader(storage::Reader);

#[wasm_bindgen]
impl Reader {
    #[wasm_bindgen(constructor)]
    pub fn new(head: f64) -> Reader {
        Reader(storage::Reader::new(head as u64))
    }

    /// The first key of the read to make now.
    #[wasm_bindgen(getter)]
    pub fn from(&self) -> f64 {
        self.0.read().from as f64
    }

    /// How many records the read asks for.
    #[wasm_bindgen(getter)]
    pub fn limit(&self) -> u32 {
        self.0.read().limit
    }

    /// [`storage::Reader::received`], the spans given flat:
    /// `[first, last, first, last, …]`.
    pub fn received(&mut self, spans: &[f64]) -> Result<bool, JsValue> {
        let spans: Vec<(f64, f64)> = spans.chunks_exact(2).map(|s| (s[0], s[1])).collect();
        self.0.received(&spans).map_err(thrown)
    }
}

/// [`storage::Step`], for JavaScript.
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub enum GroupStep {
    Stage = "stage",
    Write = "write",
    Read = "read",
    Done = "done",
}

impl From<Step> for GroupStep {
    fn from(step: Step) -> Self {
        match step {
            Step::Stage => GroupStep::Stage,
            Step::Write => GroupStep::Write,
            Step::Read => GroupStep::Read,
            Step::Done => GroupStep::Done,
        }
    }
}

/// [`storage::GroupWrite`].
#[wasm_bindgen]
pub struct GroupWrite(storage::GroupWrite);

#[wasm_bindgen]
impl GroupWrite {
    #[wasm_bindgen(constructor)]
    pub fn new() -> GroupWrite {
        GroupWrite(storage::GroupWrite::new())
    }

    /// Starts the next group (one machine serves a store's groups, one
    /// at a time).
    pub fn begin(&mut self) {
        self.0 = storage::GroupWrite::new();
    }

    pub fn staged(&mut self, records: u32) -> GroupStep {
        self.0.staged(records as usize).into()
    }

    pub fn written(&mut self, stored: bool) -> GroupStep {
        self.0.written(stored).into()
    }

    pub fn read(&mut self, records: u32) -> GroupStep {
        self.0.read(records as usize).into()
    }
}

impl Default for GroupWrite {
    fn default() -> Self {
        Self::new()
    }
}

/// [`storage::Notices`].
#[wasm_bindgen]
#[derive(Default)]
pub struct Notices(storage::Notices);

#[wasm_bindgen]
impl Notices {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Notices {
        Notices::default()
    }

    /// [`storage::Notices::committed`]: the delay in ms, or -1 if a notice
    /// is owed already.
    pub fn committed(&mut self, now: f64) -> f64 {
        self.0.committed(now).unwrap_or(-1.0)
    }

    pub fn send(&mut self, now: f64) -> bool {
        self.0.send(now)
    }
}
