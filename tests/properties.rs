#![cfg(not(target_arch = "wasm32"))]
//! Property tests of the engine's algebra: for random logs, the indexed
//! answers equal a naive scan; each stream expectation equals its constraint
//! form; a failing batch leaves the log exactly as it was.

mod common;

use common::*;
use hindcast::constraint::check;
use hindcast::request::parse_request;
use hindcast::Store;
use proptest::prelude::*;
use serde_json::{json, Value};

const STREAMS: &[&str] = &["s0", "s1", "s2", "s3"];
const TYPES: &[&str] = &["t0", "t1", "t2"];
const SUBJECTS: &[&str] = &["u0", "u1", "u2"];
const TAGS: &[&str] = &["g0", "g1", "g2", "g3"];

fn pick(names: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(names).prop_map(String::from)
}

fn arb_event() -> impl Strategy<Value = Value> {
    (
        pick(STREAMS),
        pick(TYPES),
        prop::option::of(pick(SUBJECTS)),
        prop::sample::subsequence(TAGS, 0..=2),
    )
        .prop_map(|(stream, type_, subject, tags)| {
            let mut e = json!({"stream": stream, "type": type_});
            if let Some(s) = subject {
                e["subject"] = json!(s);
            }
            if !tags.is_empty() {
                e["tags"] = json!(tags);
            }
            e
        })
}

/// A log of random batches.
fn arb_store() -> impl Strategy<Value = Store> {
    prop::collection::vec(prop::collection::vec(arb_event(), 1..4), 0..25).prop_map(|batches| {
        let mut store = Store::new();
        for events in batches {
            transact(&mut store, json!({ "events": events }))
                .expect("unconstrained batches commit");
        }
        store
    })
}

/// Values for one selector field, sometimes naming something never stored.
fn values(names: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let with_unknown: &'static [&'static str] =
        Box::leak([names, &["never"]].concat().into_boxed_slice());
    prop_oneof![
        pick(with_unknown).prop_map(Value::from),
        prop::collection::vec(pick(with_unknown), 1..3).prop_map(|v| json!(v)),
    ]
}

fn arb_item() -> impl Strategy<Value = Value> {
    (
        prop::option::of(values(STREAMS)),
        prop::option::of(values(TYPES)),
        prop::option::of(values(SUBJECTS)),
        prop::sample::subsequence(TAGS, 0..=2),
    )
        .prop_map(|(stream, type_, subject, tags)| {
            let mut item = json!({});
            for (key, v) in [("stream", stream), ("type", type_), ("subject", subject)] {
                if let Some(v) = v {
                    item[key] = v;
                }
            }
            if !tags.is_empty() {
                item["tags"] = json!(tags);
            }
            item
        })
}

fn arb_selector() -> impl Strategy<Value = Value> {
    prop_oneof![
        arb_item(),
        prop::collection::vec(arb_item(), 1..3).prop_map(Value::from)
    ]
}

fn arb_constraint() -> impl Strategy<Value = Value> {
    let rev = 0u64..30;
    (
        0..4usize,
        rev.clone(),
        rev,
        prop::option::of(arb_selector()),
    )
        .prop_map(|(kind, a, b, sel)| {
            let (lo, hi) = (a.min(b), a.max(b));
            let mut c = match kind {
                0 => json!({"minRevision": a}),
                1 => json!({"maxRevision": a}),
                2 => json!({"revisionRange": [lo, hi]}),
                _ => json!({"failIfEventsMatch": sel.clone().unwrap_or(json!({})), "after": a}),
            };
            if kind < 3 {
                if let Some(sel) = sel {
                    c["selector"] = sel;
                }
            }
            c
        })
}

/// Whether a constraint holds, by scanning the log.
fn naive_holds(store: &Store, c: &Value) -> bool {
    let log = store.log();
    let sel_rev = |key: &str| match c.get(key) {
        Some(s) => naive_last_revision(log, &selector(s.clone())),
        None => log.head(),
    };
    if let Some(r) = c.get("minRevision") {
        sel_rev("selector") >= r.as_u64().unwrap()
    } else if let Some(r) = c.get("maxRevision") {
        sel_rev("selector") <= r.as_u64().unwrap()
    } else if let Some(range) = c.get("revisionRange") {
        let v = sel_rev("selector");
        range[0].as_u64().unwrap() <= v && v <= range[1].as_u64().unwrap()
    } else {
        sel_rev("failIfEventsMatch") <= c["after"].as_u64().unwrap()
    }
}

fn request(extra: Value) -> String {
    let mut req = json!({"events": [{"stream": "new", "type": "x"}]});
    for (k, v) in extra.as_object().unwrap() {
        req[k] = v.clone();
    }
    req.to_string()
}

/// The violations a request would meet, without writing it.
fn violation_count(store: &Store, extra: Value) -> usize {
    let text = request(extra);
    check(store.log(), &parse_request(&text).unwrap()).len()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn last_revision_equals_a_scan(store in arb_store(), sel in arb_selector()) {
        let sel = selector(sel);
        prop_assert_eq!(store.log().last_revision(&sel), naive_last_revision(store.log(), &sel));
    }

    #[test]
    fn selected_reads_equal_a_scan(
        store in arb_store(), sel in arb_selector(),
        from in 0u64..40, to in 0u64..40, limit in 0usize..8, backwards: bool,
    ) {
        let log = store.log();
        let sel = selector(sel);
        let mut expected: Vec<u32> = (1..=log.head() as u32)
            .filter(|&r| r as u64 >= from && r as u64 <= to && naive_matches(log, r, &sel))
            .collect();
        if backwards {
            expected.reverse();
        }
        expected.truncate(limit);
        prop_assert_eq!(log.select(&sel, from, to, limit, backwards), expected);
    }

    #[test]
    fn constraint_check_equals_a_scan(store in arb_store(), cs in prop::collection::vec(arb_constraint(), 1..4)) {
        let failing = cs.iter().filter(|c| !naive_holds(&store, c)).count();
        prop_assert_eq!(violation_count(&store, json!({ "constraints": cs })), failing);
    }

    #[test]
    fn expectations_equal_their_constraint_form(store in arb_store(), stream in pick(STREAMS), r in 0u64..30) {
        let pairs = [
            (json!("no_stream"), json!({"maxRevision": 0, "selector": {"stream": stream}})),
            (json!("stream_exists"), json!({"minRevision": 1, "selector": {"stream": stream}})),
            (json!({"revision": r}), json!({"revisionRange": [r, r], "selector": {"stream": stream}})),
            (json!("any"), json!({"minRevision": 0})),
        ];
        for (expectation, constraint) in pairs {
            let by_expectation = violation_count(&store, json!({ "expect": { stream.clone(): expectation } }));
            let by_constraint = violation_count(&store, json!({ "constraints": [constraint] }));
            prop_assert_eq!(by_expectation, by_constraint);
        }
        // `{ version: n }` holds exactly when the stream's version-n event is its last.
        let version_holds = violation_count(&store, json!({ "expect": { stream.clone(): {"version": r} } })) == 0;
        let last = store.log().stream(&stream);
        prop_assert_eq!(version_holds, last.is_some_and(|p| p.version == r));
    }

    #[test]
    fn a_failing_batch_changes_nothing(mut store in arb_store(), cs in prop::collection::vec(arb_constraint(), 1..4), events in prop::collection::vec(arb_event(), 1..4)) {
        let before = store.log().clone();
        let text = json!({ "events": events, "constraints": cs }).to_string();
        let expected_ok = cs.iter().all(|c| naive_holds(&store, c));
        let result = parse_request(&text).and_then(|req| store.transact(&req, 1.0));
        prop_assert_eq!(result.is_ok(), expected_ok);
        if !expected_ok {
            prop_assert_eq!(store.log(), &before);
        }
    }
}
