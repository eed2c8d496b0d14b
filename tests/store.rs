#![cfg(not(target_arch = "wasm32"))]
//! The store's semantics, natively: the contract's §3 and §4 cases.

mod common;

use common::*;
use hindcast::log::StreamPosition;
use hindcast::{Error, Store, Violation};
use serde_json::json;

fn violations(r: Result<hindcast::Commit, Error>) -> Vec<Violation> {
    match r {
        Err(Error::Violations(v)) => v,
        other => panic!("expected violations, got {other:?}"),
    }
}

fn invalid_path(r: Result<hindcast::Commit, Error>) -> String {
    match r {
        Err(Error::InvalidInput { path, .. }) => path,
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[test]
fn revisions_and_versions_are_contiguous() {
    let mut s = Store::new();
    let c = transact(
        &mut s,
        json!({"events": [event("a", "x"), event("b", "x"), event("a", "y")]}),
    )
    .unwrap();
    assert_eq!((c.first_revision, c.revision, c.replayed), (1, 3, false));
    let streams: Vec<(u64, u64)> = c.streams.iter().map(|&(_, v, r)| (v, r)).collect();
    assert_eq!(streams, vec![(1, 3), (0, 2)]);
    assert_eq!(
        s.log().stream("a"),
        Some(StreamPosition {
            version: 1,
            revision: 3
        })
    );
    assert_eq!(s.log().stream("zz"), None);
    assert_eq!(s.log().head(), 3);
}

#[test]
fn every_expectation_kind() {
    let mut s = Store::new();
    transact(
        &mut s,
        json!({"events": [event("a", "x"), event("a", "x")]}),
    )
    .unwrap();
    transact(&mut s, json!({"events": [event("b", "x")]})).unwrap();
    let ok = |exp: serde_json::Value| json!({"events": [event("c", "x")], "expect": exp});
    for exp in [
        json!({"a": "any"}),
        json!({"zz": "any"}),
        json!({"zz": "no_stream"}),
        json!({"a": "stream_exists"}),
        json!({"a": {"revision": 2}}),
        json!({"zz": {"revision": 0}}),
        json!({"a": {"version": 1}}),
    ] {
        let mut t = Store::new();
        transact(
            &mut t,
            json!({"events": [event("a", "x"), event("a", "x")]}),
        )
        .unwrap();
        transact(&mut t, ok(exp.clone())).unwrap_or_else(|e| panic!("{exp} should hold: {e}"));
    }
    // Raw text: json! would sort the keys, and the order is the point here.
    let v = violations(transact_text(
        &mut s,
        r#"{"events":[{"stream":"c","type":"x"}],"expect":{"a":"no_stream","zz":"stream_exists","b":{"revision":2},"yy":{"version":0}}}"#,
        1.0,
    ));
    let at = |version, revision| Some(StreamPosition { version, revision });
    assert_eq!(
        v,
        vec![
            Violation::VersionMismatch {
                stream: "a".into(),
                expected: "\"no_stream\"".into(),
                actual: at(1, 2)
            },
            Violation::VersionMismatch {
                stream: "zz".into(),
                expected: "\"stream_exists\"".into(),
                actual: None
            },
            Violation::VersionMismatch {
                stream: "b".into(),
                expected: "{\"revision\":2}".into(),
                actual: at(0, 3)
            },
            Violation::VersionMismatch {
                stream: "yy".into(),
                expected: "{\"version\":0}".into(),
                actual: None
            },
        ]
    );
    assert_eq!(s.log().head(), 3);
}

#[test]
fn every_constraint_kind_reports_its_detail() {
    let mut s = Store::new();
    transact(&mut s, json!({"events": [{"stream": "a", "type": "x", "subject": "u"}, {"stream": "b", "type": "y", "tags": ["t"]}]}))
        .unwrap();
    let req = json!({"events": [event("c", "z")], "constraints": [
        {"minRevision": 3},
        {"minRevision": 2, "selector": {"subject": "u"}},
        {"maxRevision": 1},
        {"maxRevision": 1, "selector": {"tags": ["t"]}},
        {"revisionRange": [0, 0], "selector": {"type": "x"}},
        {"failIfEventsMatch": [{"types": ["y"], "tags": ["t"]}], "after": 1},
        {"failIfEventsMatch": {"type": "nothing"}},
        {"revisionRange": [1, 2]}
    ]});
    let text = |i: usize| req["constraints"][i].to_string();
    assert_eq!(
        violations(transact(&mut s, req.clone())),
        vec![
            Violation::MinRevisionNotMet {
                constraint: text(0),
                expected: 3,
                actual: 2
            },
            Violation::MinRevisionNotMet {
                constraint: text(1),
                expected: 2,
                actual: 1
            },
            Violation::MaxRevisionExceeded {
                constraint: text(2),
                max: 1,
                found: 2
            },
            Violation::MaxRevisionExceeded {
                constraint: text(3),
                max: 1,
                found: 2
            },
            Violation::RangeNotSatisfied {
                constraint: text(4),
                start: 0,
                end: 0,
                actual: 1
            },
            Violation::MaxRevisionExceeded {
                constraint: text(5),
                max: 1,
                found: 2
            },
        ]
    );
}

#[test]
fn batch_id_replays_the_first_commit() {
    let mut s = Store::new();
    let id = "6f9619ff-8b86-4011-b42d-00c04fc964ff";
    let req = json!({"id": id, "events": [event("a", "x")], "expect": {"a": "no_stream"}});
    let first = transact(&mut s, req.clone()).unwrap();
    let again = transact(&mut s, req).unwrap();
    assert_eq!(
        again,
        hindcast::Commit {
            replayed: true,
            ..first.clone()
        }
    );
    assert_eq!(s.log().head(), 1);
    let other = json!({"id": id.to_uppercase(), "events": [event("a", "other")]});
    assert_eq!(invalid_path(transact(&mut s, other)), "id");
}

#[test]
fn event_ids_must_be_new() {
    let mut s = Store::new();
    let id = "6f9619ff-8b86-4011-b42d-00c04fc964ff";
    transact(
        &mut s,
        json!({"events": [{"stream": "a", "type": "x", "id": id}]}),
    )
    .unwrap();
    assert_eq!(
        violations(transact(
            &mut s,
            json!({"events": [{"stream": "b", "type": "x", "id": id}]})
        )),
        vec![Violation::DuplicateEventId {
            id: 0x6f9619ff_8b86_4011_b42d_00c04fc964ff,
            revision: 1
        }]
    );
    let twice = json!({"events": [{"stream": "b", "type": "x", "id": "00000000-0000-4000-8000-000000000001"},
                                  {"stream": "b", "type": "x", "id": "00000000-0000-4000-8000-000000000001"}]});
    assert_eq!(invalid_path(transact(&mut s, twice)), "events[1].id");
}

#[test]
fn bad_input_names_the_field() {
    let mut s = Store::new();
    let cases = [
        (json!({"events": []}), "events"),
        (json!({}), "events"),
        (json!({"events": [{"type": "x"}]}), "events[0].stream"),
        (
            json!({"events": [event("a", "x"), {"stream": "a", "type": ""}]}),
            "events[1].type",
        ),
        (
            json!({"events": [{"stream": "a", "type": "x", "steam": 1}]}),
            "events[0].steam",
        ),
        (
            json!({"events": [{"stream": "a", "type": "x", "id": "nope"}]}),
            "events[0].id",
        ),
        (
            json!({"events": [{"stream": "a", "type": "x", "time": "yesterday"}]}),
            "events[0].time",
        ),
        (
            json!({"events": [{"stream": "a", "type": "x", "tags": ["t", "t"]}]}),
            "events[0].tags[1]",
        ),
        (
            json!({"events": [{"stream": "a", "type": "x", "schemaVersion": 0}]}),
            "events[0].schemaVersion",
        ),
        (
            json!({"events": [event("a", "x"), {"stream": "a", "type": "x", "schemaVersion": 1.5}]}),
            "events[1].schemaVersion",
        ),
        (
            json!({"events": [{"stream": "a", "type": "x", "schemaVersion": "2"}]}),
            "events[0].schemaVersion",
        ),
        (
            json!({"events": [event("a", "x")], "expect": {"acc-1": {"revision": -1}}}),
            "expect[\"acc-1\"].revision",
        ),
        (
            json!({"events": [event("a", "x")], "expect": {"a": {"revision": 1.5}}}),
            "expect.a.revision",
        ),
        (
            json!({"events": [event("a", "x")], "expect": {"a": {"versoin": 1}}}),
            "expect.a.versoin",
        ),
        (
            json!({"events": [event("a", "x")], "expect": {"a": "nostream"}}),
            "expect.a",
        ),
        (
            json!({"events": [event("a", "x")], "constraints": [{"minRevisoin": 1}]}),
            "constraints[0]",
        ),
        (
            json!({"events": [event("a", "x")], "constraints": [{"maxRevision": 1, "after": 2}]}),
            "constraints[0].after",
        ),
        (
            json!({"events": [event("a", "x")], "constraints": [{"maxRevision": 1, "selector": {"steam": "a"}}]}),
            "constraints[0].selector.steam",
        ),
        (
            json!({"events": [event("a", "x")], "constraints": [{"revisionRange": [3, 2]}]}),
            "constraints[0].revisionRange",
        ),
        (
            json!({"events": [event("a", "x")], "constraints": [{"maxRevision": 9007199254740992u64}]}),
            "constraints[0].maxRevision",
        ),
        (
            json!({"events": [event("a", "x")], "correlationId": ""}),
            "correlationId",
        ),
        (json!({"events": [event("a", "x")], "colour": 1}), "colour"),
    ];
    for (req, path) in cases {
        assert_eq!(invalid_path(transact(&mut s, req.clone())), path, "{req}");
    }
    assert_eq!(s.log().head(), 0);
}

#[test]
fn recorded_at_never_decreases() {
    let mut s = Store::new();
    transact_text(
        &mut s,
        &json!({"events": [event("a", "x")]}).to_string(),
        2_000.0,
    )
    .unwrap();
    transact_text(
        &mut s,
        &json!({"events": [event("a", "x")]}).to_string(),
        1_000.0,
    )
    .unwrap();
    assert_eq!(s.log().batch(1).recorded_at, 2_000.0);
}

#[test]
fn reads_bound_direction_and_limit() {
    let mut s = Store::new();
    for i in 0..10 {
        let stream = if i % 2 == 0 { "even" } else { "odd" };
        transact(&mut s, json!({"events": [event(stream, "x")]})).unwrap();
    }
    let log = s.log();
    let all = selector(json!({}));
    assert_eq!(log.select(&all, 3, 8, 2, true), vec![8, 7]);
    assert_eq!(
        log.select(&all, 3, 8, usize::MAX, false),
        vec![3, 4, 5, 6, 7, 8]
    );
    assert_eq!(log.select(&all, 8, 3, 10, false), Vec::<u32>::new());
    let even = selector(json!({"stream": "even"}));
    assert_eq!(log.select(&even, 2, 9, 3, false), vec![3, 5, 7]);
    assert_eq!(log.select(&even, 2, 9, 3, true), vec![9, 7, 5]);
    assert_eq!(log.select_stream("odd", 2, u64::MAX, 2, false), &[6, 8]);
    assert_eq!(log.select_stream("odd", 2, u64::MAX, 2, true), &[8, 10]);
    assert_eq!(
        log.select_stream("none", 0, u64::MAX, 5, false),
        &[] as &[u32]
    );
    // toVersion bounds from above, inclusive; `limit` counts from the end a read starts at.
    assert_eq!(log.select_stream("odd", 0, 3, 2, true), &[6, 8]);
    assert_eq!(log.select_stream("odd", 1, 3, 10, false), &[4, 6, 8]);
    assert_eq!(log.select_stream("odd", 3, 1, 10, false), &[] as &[u32]);
    assert_eq!(log.select_stream("odd", 4, 4, 10, false), &[10]);
    assert_eq!(log.last_revision(&even), 9);
    assert_eq!(log.last_revision(&selector(json!({"stream": "never"}))), 0);
}

#[test]
fn a_batch_over_many_streams_reports_each_stream_once_in_order() {
    let mut s = Store::new();
    let events: Vec<_> = (0..60)
        .map(|i| event(&format!("s{}", i % 30), "x"))
        .collect();
    let c = transact(&mut s, json!({ "events": events })).unwrap();
    let got: Vec<(String, u64, u64)> = c
        .streams
        .iter()
        .map(|&(id, v, r)| (s.log().streams.name(id).to_string(), v, r))
        .collect();
    let expected: Vec<(String, u64, u64)> = (0..30)
        .map(|i| (format!("s{i}"), 1, 31 + i as u64))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn a_lone_surrogate_is_named_as_such() {
    let mut s = Store::new();
    // JSON.stringify writes a lone surrogate as an escape.
    let r = transact_text(
        &mut s,
        r#"{"events":[{"stream":"a\ud800","type":"t"}]}"#,
        0.0,
    );
    match r {
        Err(Error::InvalidInput { path, message }) => {
            assert_eq!(path, "events[0].stream");
            assert!(message.contains("lone surrogate"), "{message}");
        }
        other => panic!("expected invalid input, got {other:?}"),
    }
    assert_eq!(s.log().head(), 0);
}
