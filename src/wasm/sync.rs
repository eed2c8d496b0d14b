//! The binding of [`crate::sync::rebase`] for the JavaScript sync client
//! (`pkg-template/sync.js`): the plan crosses as JSON text both ways.
//!
//! In: `{ confirmed, pending: [{ id, len, committed?: [first, last] }],
//! pulled: [{ id, first, len }], outcomes: [{ id, committed: [first, last] }
//! | { id, rejected: true }] }`, ids as UUID text. Out: `{ confirmed,
//! joined: [id], rejected: [id], pending: [{ id, first, committed? }] }`.

use serde::Deserialize;
use wasm_bindgen::prelude::*;

use crate::error::Error;
use crate::json::{parse_uuid, write_uuid};
use crate::sync::rebase::{rebase, Known, Outcome, PendingBatch, PulledBatch};
use crate::wasm::wire::thrown;

#[derive(Deserialize)]
struct PlanIn<'a> {
    confirmed: u64,
    #[serde(borrow)]
    pending: Vec<PendingIn<'a>>,
    #[serde(borrow)]
    pulled: Vec<PulledIn<'a>>,
    #[serde(borrow)]
    outcomes: Vec<OutcomeIn<'a>>,
}

#[derive(Deserialize)]
struct PendingIn<'a> {
    id: &'a str,
    len: u64,
    #[serde(default)]
    committed: Option<(u64, u64)>,
}

#[derive(Deserialize)]
struct PulledIn<'a> {
    id: &'a str,
    first: u64,
    len: u64,
}

#[derive(Deserialize)]
struct OutcomeIn<'a> {
    id: &'a str,
    #[serde(default)]
    committed: Option<(u64, u64)>,
    #[serde(default)]
    rejected: bool,
}

fn uuid(s: &str, path: &str) -> Result<u128, JsValue> {
    parse_uuid(s).ok_or_else(|| thrown(Error::invalid(path, "expected a UUID")))
}

/// Plans a rebase (see [`crate::sync::rebase::rebase`]).
#[wasm_bindgen(js_name = rebasePlan)]
pub fn rebase_plan(input: &str) -> Result<String, JsValue> {
    let plan: PlanIn =
        serde_json::from_str(input).map_err(|e| thrown(Error::invalid("", e.to_string())))?;
    let pending = plan
        .pending
        .iter()
        .map(|p| {
            Ok(PendingBatch {
                id: uuid(p.id, "pending")?,
                len: p.len,
                known: match p.committed {
                    Some((first, last)) => Known::Committed { first, last },
                    None => Known::Pending,
                },
            })
        })
        .collect::<Result<Vec<_>, JsValue>>()?;
    let pulled = plan
        .pulled
        .iter()
        .map(|b| {
            Ok(PulledBatch {
                id: uuid(b.id, "pulled")?,
                first: b.first,
                len: b.len,
            })
        })
        .collect::<Result<Vec<_>, JsValue>>()?;
    let outcomes = plan
        .outcomes
        .iter()
        .map(|o| {
            let outcome = match (o.committed, o.rejected) {
                (Some((first, last)), false) => Outcome::Committed { first, last },
                (None, true) => Outcome::Rejected,
                _ => return Err(thrown(Error::invalid("outcomes", "committed or rejected"))),
            };
            Ok((uuid(o.id, "outcomes")?, outcome))
        })
        .collect::<Result<Vec<_>, JsValue>>()?;
    let r = rebase(plan.confirmed, &pending, &pulled, &outcomes).map_err(thrown)?;
    let mut out = format!("{{\"confirmed\":{},\"joined\":[", r.confirmed);
    let ids = |out: &mut String, ids: &[u128]| {
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_uuid(out, *id);
        }
    };
    ids(&mut out, &r.joined);
    out.push_str("],\"rejected\":[");
    ids(&mut out, &r.rejected);
    out.push_str("],\"pending\":[");
    for (i, (p, first)) in r.pending.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"id\":");
        write_uuid(&mut out, p.id);
        out.push_str(&format!(",\"first\":{first}"));
        if let Known::Committed { first, last } = p.known {
            out.push_str(&format!(",\"committed\":[{first},{last}]"));
        }
        out.push('}');
    }
    out.push_str("]}");
    Ok(out)
}
