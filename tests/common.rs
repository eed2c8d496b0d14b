//! Helpers shared by the native test files.
#![allow(dead_code)]

use hindcast::log::{Log, Rev};
use hindcast::request::parse_request;
use hindcast::selector::Item;
use hindcast::{Error, Selector, Store};
use serde_json::{json, Value};

pub fn transact(store: &mut Store, request: Value) -> Result<hindcast::Commit, Error> {
    transact_text(store, &request.to_string(), 1_000.0)
}

/// Parses a request given as JSON text, as a binding does, and transacts it.
pub fn transact_text(store: &mut Store, text: &str, now: f64) -> Result<hindcast::Commit, Error> {
    store.transact(&parse_request(text)?, now)
}

/// A store's events from `first` to `last` as the JS layer records and
/// stores them (with data and metadata, which the engine skips).
pub fn recorded_events(s: &Store, first: u64, last: u64) -> Vec<Value> {
    let log = s.log();
    (first as u32..=last as u32)
        .map(|rev| {
            let e = log.event(rev);
            let b = log.batch(e.batch);
            let mut event = json!({
                "revision": rev,
                "stream": log.streams.name(e.stream),
                "version": e.version,
                "id": uuid::Uuid::from_u128(log.event_id(rev)).to_string(),
                "type": log.types.name(e.type_),
                "data": {"note": "LONE", "n": [1, {"deep": null}]},
            });
            if let Some(sub) = e.subject() {
                event["subject"] = json!(log.subjects.name(sub));
            }
            if let Some(tags) = &e.tags {
                event["tags"] = json!(tags.iter().map(|&t| log.tags.name(t)).collect::<Vec<_>>());
            }
            event["metadata"] = json!({"by": "test"});
            event["batchId"] = json!(uuid::Uuid::from_u128(b.id).to_string());
            event["recordedAt"] = json!(b.recorded_at);
            event
        })
        .collect()
}

pub fn event(stream: &str, type_: &str) -> Value {
    json!({ "stream": stream, "type": type_ })
}

pub fn selector(v: Value) -> Selector {
    Selector::parse(&v, "selector").expect("a valid selector")
}

/// The reference matcher: a selector tested field by field on one event.
pub fn naive_matches(log: &Log, rev: Rev, sel: &Selector) -> bool {
    let e = log.event(rev);
    let stream = log.streams.name(e.stream).to_string();
    let type_ = log.types.name(e.type_).to_string();
    let subject = e.subject().map(|s| log.subjects.name(s).to_string());
    let tags: Vec<String> = e
        .tags
        .iter()
        .flatten()
        .map(|&t| log.tags.name(t).to_string())
        .collect();
    let one_of = |values: &Option<Vec<String>>, v: Option<&String>| match values {
        None => true,
        Some(values) => v.is_some_and(|v| values.contains(v)),
    };
    sel.items.iter().any(|item: &Item| {
        one_of(&item.streams, Some(&stream))
            && one_of(&item.types, Some(&type_))
            && one_of(&item.subjects, subject.as_ref())
            && item.tags.iter().all(|t| tags.contains(t))
    })
}

/// sel_rev by scanning the whole log.
pub fn naive_last_revision(log: &Log, sel: &Selector) -> u64 {
    (1..=log.head() as Rev)
        .rev()
        .find(|&r| naive_matches(log, r, sel))
        .map_or(0, |r| r as u64)
}
