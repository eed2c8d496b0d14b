#![cfg(not(target_arch = "wasm32"))]
//! Dispatch: a commit wakes exactly the subscriptions that match one of its
//! events, and a subscription's deliverable revisions are its selector's.

mod common;

use common::*;
use hindcast::Store;
use proptest::prelude::*;
use serde_json::json;

#[test]
fn a_commit_wakes_only_the_subscriptions_it_concerns() {
    let mut s = Store::new();
    let acc1 = s.subscribe(selector(json!({"stream": "acc-1"})), None);
    let deposits = s.subscribe(selector(json!({})), Some(&["money_deposited".to_string()]));
    let tagged = s.subscribe(selector(json!({"tags": ["vip"]})), None);
    let everything = s.subscribe(selector(json!({})), None);
    let nothing = s.subscribe(selector(json!({"stream": "acc-1"})), Some(&[]));
    let idle: Vec<u32> = (0..1000)
        .map(|i| s.subscribe(selector(json!({"stream": format!("other-{i}")})), None))
        .collect();

    let c = transact(
        &mut s,
        json!({"events": [event("acc-1", "account_opened")]}),
    )
    .unwrap();
    assert_eq!(c.woken, vec![everything, acc1]);
    let c = transact(&mut s, json!({"events": [event("acc-2", "money_deposited"), {"stream": "acc-3", "type": "x", "tags": ["vip"]}]})).unwrap();
    assert_eq!(c.woken, vec![everything, deposits, tagged]);
    assert_eq!(s.deliverable(deposits, 1, 10), vec![2]);
    assert_eq!(s.deliverable(acc1, 1, 10), vec![1]);
    assert_eq!(s.deliverable(everything, 2, 10), vec![2, 3]);
    assert_eq!(s.deliverable(nothing, 1, 10), Vec::<u32>::new());
    assert!(idle.iter().all(|&id| s.deliverable(id, 1, 10).is_empty()));
}

#[test]
fn removed_subscriptions_are_not_woken_and_ids_are_reused() {
    let mut s = Store::new();
    let a = s.subscribe(selector(json!({"stream": "a"})), None);
    s.unsubscribe(a);
    s.unsubscribe(a); // twice is harmless
    assert!(s.subscriptions().is_empty());
    let c = transact(&mut s, json!({"events": [event("a", "x")]})).unwrap();
    assert!(c.woken.is_empty());
    let b = s.subscribe(selector(json!({"type": "x"})), None);
    assert_eq!(b, a);
    assert_eq!(s.deliverable(b, 1, 10), vec![1]);
}

#[test]
fn subscribing_to_unseen_names_leaves_reads_unchanged() {
    let mut s = Store::new();
    s.subscribe(
        selector(json!({"stream": "future", "subject": "s", "tags": ["t"]})),
        None,
    );
    assert_eq!(s.log().stream("future"), None);
    assert_eq!(
        s.log()
            .last_revision(&selector(json!({"stream": "future"}))),
        0
    );
    let c = transact(
        &mut s,
        json!({"events": [{"stream": "future", "type": "x", "subject": "s", "tags": ["t"]}]}),
    )
    .unwrap();
    assert_eq!(c.woken, vec![0]);
}

fn arb_selector_json() -> impl Strategy<Value = serde_json::Value> {
    let name = |names: &'static [&'static str]| prop::sample::select(names);
    (
        prop::option::of(name(&["s0", "s1", "s2"])),
        prop::option::of(name(&["t0", "t1"])),
        prop::option::of(name(&["u0", "u1"])),
        prop::option::of(name(&["g0", "g1"])),
    )
        .prop_map(|(stream, type_, subject, tag)| {
            let mut sel = json!({});
            if let Some(v) = stream {
                sel["stream"] = json!(v);
            }
            if let Some(v) = type_ {
                sel["type"] = json!(v);
            }
            if let Some(v) = subject {
                sel["subject"] = json!(v);
            }
            if let Some(v) = tag {
                sel["tags"] = json!([v]);
            }
            sel
        })
}

fn arb_batch() -> impl Strategy<Value = Vec<serde_json::Value>> {
    let e = (
        prop::sample::select(&["s0", "s1", "s2"][..]),
        prop::sample::select(&["t0", "t1"][..]),
        prop::option::of(prop::sample::select(&["u0", "u1"][..])),
        prop::option::of(prop::sample::select(&["g0", "g1"][..])),
    )
        .prop_map(|(stream, type_, subject, tag)| {
            let mut e = json!({"stream": stream, "type": type_});
            if let Some(s) = subject {
                e["subject"] = json!(s);
            }
            if let Some(t) = tag {
                e["tags"] = json!([t]);
            }
            e
        });
    prop::collection::vec(e, 1..5)
}

proptest! {
    #[test]
    fn woken_equals_a_scan_of_the_batch(
        sels in prop::collection::vec((arb_selector_json(), prop::option::of(prop::sample::subsequence(&["t0", "t1"][..], 0..=2))), 1..8),
        batches in prop::collection::vec(arb_batch(), 1..6),
    ) {
        let mut s = Store::new();
        let subs: Vec<(u32, hindcast::Selector)> = sels
            .iter()
            .map(|(sel, types)| {
                let types: Option<Vec<String>> = types.as_ref().map(|t| t.iter().map(|x| x.to_string()).collect());
                let parsed = selector(sel.clone());
                let effective = match &types {
                    Some(t) => parsed.clone().restrict_types(t),
                    None => parsed.clone(),
                };
                (s.subscribe(parsed, types.as_deref()), effective)
            })
            .collect();
        for events in batches {
            let c = transact(&mut s, json!({ "events": events })).unwrap();
            let mut expected: Vec<u32> = subs
                .iter()
                .filter(|(_, sel)| (c.first_revision..=c.revision).any(|r| naive_matches(s.log(), r as u32, sel)))
                .map(|(id, _)| *id)
                .collect();
            let mut woken = c.woken.clone();
            woken.sort_unstable();
            expected.sort_unstable();
            prop_assert_eq!(woken, expected);
            for (id, sel) in &subs {
                let all: Vec<u32> = (1..=s.log().head() as u32).filter(|&r| naive_matches(s.log(), r, sel)).collect();
                prop_assert_eq!(s.deliverable(*id, 1, usize::MAX), all);
            }
        }
    }
}
