//! The binding of [`Store`]: its JavaScript class is `Engine`.

use wasm_bindgen::prelude::*;

use crate::error::Error;
use crate::input::{parse_read_options, parse_stream_name, parse_stream_read_options};
use crate::selector::Selector;
use crate::store::Store;

/// Errors cross as a thrown string: the error's JSON form.
fn thrown(e: Error) -> JsValue {
    JsValue::from_str(&e.to_json())
}

/// A selector given as JSON text; "" (the JS `undefined`) selects everything.
fn selector(text: &str) -> Result<Selector, JsValue> {
    if text.is_empty() {
        return Ok(Selector::all());
    }
    Selector::parse_json(text, "selector").map_err(thrown)
}

#[wasm_bindgen]
#[derive(Default)]
pub struct Engine {
    store: Store,
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
    /// request; returns the commit's JSON text. `now`: `Date.now()`.
    pub fn transact(&mut self, request: &str, now: f64) -> Result<String, JsValue> {
        let commit = self.store.transact(request, now).map_err(thrown)?;
        Ok(self.store.commit_json(&commit))
    }

    /// `read(selector, options)`: JSON text of the recorded events.
    pub fn read(&self, selector_json: &str, options_json: &str) -> Result<String, JsValue> {
        let sel = selector(selector_json)?;
        let o = parse_read_options(options_json).map_err(thrown)?;
        let log = self.store.log();
        Ok(log.events_json(&log.select(&sel, o.from, o.to, o.limit, o.backwards)))
    }

    /// `readStream(stream, options)`: JSON text of the recorded events.
    #[wasm_bindgen(js_name = readStream)]
    pub fn read_stream(&self, stream_json: &str, options_json: &str) -> Result<String, JsValue> {
        let stream = parse_stream_name(stream_json).map_err(thrown)?;
        let o = parse_stream_read_options(options_json).map_err(thrown)?;
        let log = self.store.log();
        let revs = log.select_stream(&stream, o.from_version, o.limit, o.backwards);
        if o.backwards {
            let revs: Vec<_> = revs.iter().rev().copied().collect();
            Ok(log.events_json(&revs))
        } else {
            Ok(log.events_json(revs))
        }
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
}
