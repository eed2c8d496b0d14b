//! The wire between the engine and the JavaScript wrapper
//! (`pkg-template/`), defined once here: how errors cross (a thrown string
//! holding JSON that `errors.js` `fromWire` turns into the matching
//! `HindcastError` subclass) and the layout of the commit answer, whose
//! word offsets the wrapper reads from [`commit_layout`] rather than
//! restating them.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::error::Error;
use crate::json::write_str;

/// An error as it crosses: `{ code, message, … }` with the fields its
/// JavaScript class carries. `detail` is an `InvalidInputError`'s message
/// without its "Invalid input at <path>:" lead, so that the wrapper can name
/// a longer path (a selector given inside options) without editing text.
pub fn error_json(e: &Error) -> String {
    let mut out = String::with_capacity(128);
    match e {
        Error::InvalidInput { path, message } => {
            out.push_str("{\"code\":\"INVALID_INPUT\",\"path\":");
            write_str(&mut out, path);
            out.push_str(",\"detail\":");
            write_str(&mut out, message);
        }
        Error::Violations(violations) => {
            out.push_str("{\"code\":\"CONSTRAINT_VIOLATION\",\"violations\":[");
            for (i, v) in violations.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                v.write_json(&mut out);
            }
            out.push(']');
        }
        Error::Storage { reason, .. } => {
            out.push_str("{\"code\":\"STORAGE\",\"reason\":");
            write_str(&mut out, reason);
        }
        Error::Corrupt {
            revision, field, ..
        } => {
            out.push_str("{\"code\":\"STORAGE\",\"reason\":\"corrupt\",\"revision\":");
            out.push_str(itoa::Buffer::new().format(*revision));
            if let Some(field) = field {
                out.push_str(",\"field\":");
                write_str(&mut out, field);
            }
        }
    }
    out.push_str(",\"message\":");
    write_str(&mut out, &e.to_string());
    out.push('}');
    out
}

/// Errors cross as a thrown string: the error's JSON form.
pub fn thrown(e: Error) -> JsValue {
    JsValue::from_str(&error_json(&e))
}

/// The commit answer (see `Engine::transact`): `f64` words at these
/// offsets, then per stream written `version, revision`, then the number
/// of subscriptions the commit concerns and their ids.
pub mod commit {
    pub const FIRST_REVISION: usize = 0;
    pub const REVISION: usize = 1;
    pub const REPLAYED: usize = 2;
    pub const RECORDED_AT: usize = 3;
    /// Address and length of the ids' text: the batch id, then (unless
    /// replayed) each event's id, 36 bytes each.
    pub const IDS_AT: usize = 4;
    pub const IDS_LEN: usize = 5;
    /// Where the per-stream words start.
    pub const STREAMS: usize = 6;
}

/// The commit answer's word offsets by name, for the wrapper to read once.
#[wasm_bindgen(js_name = commitLayout)]
pub fn commit_layout() -> Object {
    let layout = Object::new();
    for (name, at) in [
        ("firstRevision", commit::FIRST_REVISION),
        ("revision", commit::REVISION),
        ("replayed", commit::REPLAYED),
        ("recordedAt", commit::RECORDED_AT),
        ("idsAt", commit::IDS_AT),
        ("idsLen", commit::IDS_LEN),
        ("streams", commit::STREAMS),
    ] {
        let _ = Reflect::set(&layout, &name.into(), &(at as u32).into());
    }
    layout
}
