//! The view rule against a naive model: rebuild the device's view as the
//! device had it, evaluate each condition there with the plain checks of
//! §3, and apply the unseen and rejected scope rules by scanning every event.

use std::borrow::Cow;

use proptest::prelude::*;
use rustc_hash::FxHashSet;

use super::*;
use crate::constraint::{check_constraint, expectation_holds};
use crate::log::NewEvent;
use crate::request::parse_request;

const STREAMS: [&str; 3] = ["a", "b", "c"];
const TYPES: [&str; 2] = ["x", "y"];
const TAGS: [&str; 2] = ["t", "u"];

#[derive(Clone, Debug)]
struct Ev {
    stream: usize,
    type_: usize,
    subject: bool,
    tags: u8,
}

impl Ev {
    fn keys(&self) -> Keys {
        Keys {
            stream: STREAMS[self.stream].into(),
            type_: TYPES[self.type_].into(),
            subject: self.subject.then(|| "s".into()),
            tags: (0..2)
                .filter(|i| self.tags & (1 << i) != 0)
                .map(|i| TAGS[i].to_string())
                .collect(),
        }
    }
}

fn ev() -> impl Strategy<Value = Ev> {
    (0..3usize, 0..2usize, any::<bool>(), 0..4u8).prop_map(|(stream, type_, subject, tags)| Ev {
        stream,
        type_,
        subject,
        tags,
    })
}

/// Appends a batch whose events get ids `ids`.
fn append(log: &mut Log, batch: u128, events: &[Ev], ids: &[u128]) {
    let keys: Vec<Keys> = events.iter().map(Ev::keys).collect();
    let tags: Vec<Vec<Cow<str>>> = keys
        .iter()
        .map(|k| k.tags.iter().map(|t| Cow::Borrowed(t.as_str())).collect())
        .collect();
    let new: Vec<NewEvent> = keys
        .iter()
        .zip(&tags)
        .zip(ids)
        .map(|((k, tags), &id)| NewEvent {
            id,
            stream: &k.stream,
            type_: &k.type_,
            subject: k.subject.as_deref(),
            tags: (!tags.is_empty()).then_some(tags.as_slice()),
        })
        .collect();
    log.append(batch, 0.0, &new);
}

fn selector_json(s: &(Option<usize>, Option<usize>, bool, u8)) -> String {
    let mut fields = Vec::new();
    if let Some(i) = s.0 {
        fields.push(format!("\"stream\":\"{}\"", STREAMS[i]));
    }
    if let Some(i) = s.1 {
        fields.push(format!("\"type\":\"{}\"", TYPES[i]));
    }
    if s.2 {
        fields.push("\"subject\":\"s\"".into());
    }
    let tags: Vec<String> = (0..2)
        .filter(|i| s.3 & (1 << i) != 0)
        .map(|i| format!("\"{}\"", TAGS[i]))
        .collect();
    if !tags.is_empty() {
        fields.push(format!("\"tags\":[{}]", tags.join(",")));
    }
    format!("{{{}}}", fields.join(","))
}

type Sel = (Option<usize>, Option<usize>, bool, u8);

fn sel() -> impl Strategy<Value = Sel> {
    (
        proptest::option::of(0..3usize),
        proptest::option::of(0..2usize),
        proptest::bool::weighted(0.2),
        0..4u8,
    )
}

#[derive(Clone, Debug)]
struct Case {
    prefix: Vec<Vec<Ev>>,
    /// 0: another device's batch; 1: an own batch, committed; 2: an own
    /// batch, rejected.
    steps: Vec<(u8, Vec<Ev>)>,
    expect: Vec<(usize, u8, u8)>,
    constraints: Vec<(u8, Option<Sel>, u8, u8)>,
    events: Vec<Ev>,
    duplicate: Option<u8>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(proptest::collection::vec(ev(), 1..3), 0..4),
        proptest::collection::vec((0..3u8, proptest::collection::vec(ev(), 1..3)), 0..6),
        proptest::collection::vec((0..3usize, 0..6u8, any::<u8>()), 0..3),
        proptest::collection::vec(
            (
                0..4u8,
                proptest::option::of(sel()),
                any::<u8>(),
                any::<u8>(),
            ),
            0..4,
        ),
        proptest::collection::vec(ev(), 1..3),
        proptest::option::weighted(0.15, any::<u8>()),
    )
        .prop_map(
            |(prefix, steps, expect, constraints, events, duplicate)| Case {
                prefix,
                steps,
                expect,
                constraints,
                events,
                duplicate,
            },
        )
}

fn uuid(id: u128) -> String {
    uuid::Uuid::from_u128(id).hyphenated().to_string()
}

struct World {
    shared: Log,
    device: Log,
    view: View,
    /// Device numbers of rejected events.
    rejected_local: FxHashSet<u64>,
    /// Device number → global revision, for in-view events.
    to_global: Vec<u64>,
    own_committed: FxHashSet<u64>,
    rejected: Vec<(u128, Vec<Keys>)>,
}

fn world(c: &Case) -> World {
    let (mut shared, mut device) = (Log::default(), Log::default());
    let mut next_id = 1u128;
    let mut ids = |n: usize| -> Vec<u128> {
        let v = (next_id..next_id + n as u128).collect();
        next_id += n as u128;
        v
    };
    let mut to_global = vec![0];
    for (i, b) in c.prefix.iter().enumerate() {
        let ids = ids(b.len());
        append(&mut shared, 1000 + i as u128, b, &ids);
        append(&mut device, 1000 + i as u128, b, &ids);
        to_global.extend((to_global.len()..to_global.len() + b.len()).map(|r| r as u64));
    }
    let base = shared.head();
    let (mut own, mut rejected_local, mut own_committed, mut rejected) = (
        Vec::new(),
        FxHashSet::default(),
        FxHashSet::default(),
        Vec::new(),
    );
    for (i, (kind, b)) in c.steps.iter().enumerate() {
        let batch = 2000 + i as u128;
        let ids = ids(b.len());
        if *kind != 2 {
            append(&mut shared, batch, b, &ids);
        }
        if *kind == 0 {
            continue;
        }
        let local_first = device.head() + 1;
        append(&mut device, batch, b, &ids);
        if *kind == 1 {
            own.push(Own::Committed(batch));
            let first = shared.head() - b.len() as u64 + 1;
            for j in 0..b.len() as u64 {
                to_global.push(first + j);
                own_committed.insert(first + j);
            }
        } else {
            let keys: Vec<Keys> = b.iter().map(Ev::keys).collect();
            own.push(Own::Rejected {
                id: batch,
                events: keys.clone(),
            });
            rejected.push((batch, keys));
            for j in 0..b.len() as u64 {
                to_global.push(0);
                rejected_local.insert(local_first + j);
            }
        }
    }
    World {
        shared,
        device,
        view: View { base, own },
        rejected_local,
        to_global,
        own_committed,
        rejected,
    }
}

/// The batch as JSON, with every number drawn among the device's numbers
/// that name an in-view event (or 0).
fn request(c: &Case, w: &World) -> String {
    let numbers: Vec<u64> = (0..=w.device.head())
        .filter(|n| !w.rejected_local.contains(n))
        .collect();
    let num = |raw: u8| numbers[raw as usize % numbers.len()];
    let mut expect = Vec::new();
    let mut named = FxHashSet::default();
    for &(stream, kind, raw) in &c.expect {
        if !named.insert(stream) {
            continue;
        }
        let e = match kind {
            0 => "\"any\"".to_string(),
            1 => "\"no_stream\"".into(),
            2 => "\"stream_exists\"".into(),
            3 => format!("{{\"revision\":{}}}", num(raw)),
            4 => format!("{{\"version\":{}}}", raw % 4),
            _ => "{\"revision\":0}".into(),
        };
        expect.push(format!("\"{}\":{e}", STREAMS[stream]));
    }
    let mut constraints = Vec::new();
    for (kind, s, a, b) in &c.constraints {
        let sel = s.as_ref().map(selector_json);
        let with = |body: String| match &sel {
            Some(sel) => format!("{{{body},\"selector\":{sel}}}"),
            None => format!("{{{body}}}"),
        };
        constraints.push(match kind {
            0 => with(format!("\"minRevision\":{}", num(*a))),
            1 => with(format!("\"maxRevision\":{}", num(*a))),
            2 => {
                let (x, y) = (num(*a), num(*b));
                with(format!("\"revisionRange\":[{},{}]", x.min(y), x.max(y)))
            }
            _ => format!(
                "{{\"failIfEventsMatch\":{},\"after\":{}}}",
                sel.clone().unwrap_or_else(|| "{}".into()),
                num(*a)
            ),
        });
    }
    let events: Vec<String> = c
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let id = match c.duplicate {
                Some(d) if i == 0 && w.shared.head() > 0 => {
                    w.shared.event_id((d as u64 % w.shared.head()) as Rev + 1)
                }
                _ => 9000 + i as u128,
            };
            format!(
                "{{\"stream\":\"{}\",\"type\":\"{}\",\"id\":\"{}\"}}",
                STREAMS[e.stream],
                TYPES[e.type_],
                uuid(id)
            )
        })
        .collect();
    format!(
        "{{\"events\":[{}],\"expect\":{{{}}},\"constraints\":[{}]}}",
        events.join(","),
        expect.join(","),
        constraints.join(",")
    )
}

/// The naive model of §8.3.
fn model(w: &World, req: &Request) -> Vec<ViewViolation> {
    let base = w.view.base;
    let unseen = |scope: &dyn Fn(Rev) -> bool| {
        (base + 1..=w.shared.head())
            .rev()
            .find(|&r| !w.own_committed.contains(&r) && scope(r as Rev))
    };
    // The newest in-view event of a scope, found in the device's view.
    let in_view = |scope: &dyn Fn(Rev) -> bool| {
        (1..=w.device.head())
            .rev()
            .find(|&n| !w.rejected_local.contains(&n) && scope(n as Rev))
            .map_or(0, |n| w.to_global[n as usize])
    };
    let rejected_in = |scope: &dyn Fn(&Keys) -> bool| {
        w.rejected
            .iter()
            .find(|(_, events)| events.iter().any(scope))
            .map(|(id, _)| *id)
    };
    let mut out = Vec::new();
    for (stream, expectation, text) in &req.expect {
        if *expectation == Expectation::Any {
            continue;
        }
        let on_shared = |r: Rev| w.shared.streams.name(w.shared.event(r).stream) == &**stream;
        let rejected = rejected_in(&|k: &Keys| k.stream == **stream);
        let unseen = unseen(&on_shared);
        let holds = expectation_holds(expectation, w.device.stream(stream));
        let fails = match expectation {
            Expectation::StreamExists => rejected.is_some() || (!holds && unseen.is_none()),
            _ => rejected.is_some() || unseen.is_some() || !holds,
        };
        if fails {
            out.push(ViewViolation {
                violation: Violation::VersionMismatch {
                    stream: stream.to_string(),
                    expected: text.to_string(),
                    actual: w.shared.stream(stream),
                },
                rejected_batch_id: rejected,
            });
        }
    }
    for c in &req.constraints {
        let all = Selector::all();
        let sel = c.selector.as_ref().unwrap_or(&all);
        let rejected = rejected_in(&|k: &Keys| k.matches(sel));
        let unseen = unseen(&|r| w.shared.matches(r, sel));
        let found = unseen.unwrap_or_else(|| in_view(&|n| w.device.matches(n, sel)));
        let holds = check_constraint(&w.device, c).is_none();
        let fails = match c.kind {
            ConstraintKind::Min(_) => rejected.is_some() || (!holds && unseen.is_none()),
            _ => rejected.is_some() || unseen.is_some() || !holds,
        };
        if fails {
            let constraint = c.text.clone();
            let violation = match c.kind {
                ConstraintKind::Min(expected) => Violation::MinRevisionNotMet {
                    constraint,
                    expected,
                    actual: found,
                },
                ConstraintKind::Max(max) => Violation::MaxRevisionExceeded {
                    constraint,
                    max,
                    found,
                },
                ConstraintKind::Range(start, end) => Violation::RangeNotSatisfied {
                    constraint,
                    start,
                    end,
                    actual: found,
                },
            };
            out.push(ViewViolation {
                violation,
                rejected_batch_id: rejected,
            });
        }
    }
    for e in &req.events {
        let id = e.id.expect("the model gives every event an id");
        if let Some(rev) = w.shared.revision_of_event_id(id) {
            out.push(ViewViolation {
                violation: Violation::DuplicateEventId {
                    id,
                    revision: rev as u64,
                },
                rejected_batch_id: None,
            });
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn view_rule_matches_the_model(c in case()) {
        let w = world(&c);
        let text = request(&c, &w);
        let req = parse_request(&text).expect("the model writes valid requests");
        let got = check_view(&w.shared, &req, &w.view).expect("a view that fits the log");
        prop_assert_eq!(got, model(&w, &req), "request {}", text);
    }

    /// What the prefix proves is never wrong: a batch flagged certain to
    /// fail is refused by the view rule.
    #[test]
    fn certain_to_fail_only_when_the_view_rule_refuses(c in case()) {
        let w = world(&c);
        let text = request(&c, &w);
        let req = parse_request(&text).expect("the model writes valid requests");
        let own: FxHashSet<u128> = w.view.own.iter().map(|o| match o {
            Own::Committed(id) | Own::Rejected { id, .. } => *id,
        }).collect();
        if certain_to_fail(&w.shared, w.shared.head(), &req, w.view.base, &own) {
            let got = check_view(&w.shared, &req, &w.view).expect("a view that fits the log");
            prop_assert!(!got.is_empty(), "flagged but committed: request {}", text);
        }
    }
}

/// A log of one-event batches on these streams.
fn log_of(streams: &[&str], first_id: u128) -> Log {
    let mut log = Log::default();
    for (i, s) in streams.iter().enumerate() {
        single(
            &mut log,
            first_id + 100 + i as u128,
            first_id + i as u128,
            s,
        );
    }
    log
}

fn single(log: &mut Log, batch: u128, event: u128, stream: &str) {
    log.append(
        batch,
        0.0,
        &[NewEvent {
            id: event,
            stream,
            type_: "e",
            subject: None,
            tags: None,
        }],
    );
}

#[test]
fn the_overdraft_example_of_the_contract() {
    // The shared log is at 10; B withdraws from acc-1 at 11; A's deposit
    // (local 11, no condition) commits at 12; A's withdrawal, decided on
    // base 10 plus its deposit, is refused with found 11.
    let mut log = log_of(&["acc-1"; 10], 1);
    single(&mut log, 500, 50, "acc-1"); // B's withdrawal: 11
    let deposit = parse_request(r#"{"events":[{"stream":"acc-1","type":"deposited"}]}"#).unwrap();
    let view = View {
        base: 10,
        own: vec![],
    };
    assert_eq!(check_view(&log, &deposit, &view).unwrap(), vec![]);
    single(&mut log, 600, 60, "acc-1"); // A's deposit: 12
    let withdrawal = parse_request(
        r#"{"events":[{"stream":"acc-1","type":"withdrawn"}],"constraints":[{"maxRevision":11,"selector":{"stream":"acc-1"}}]}"#,
    )
    .unwrap();
    let view = View {
        base: 10,
        own: vec![Own::Committed(600)],
    };
    assert_eq!(
        check_view(&log, &withdrawal, &view).unwrap(),
        vec![ViewViolation {
            violation: Violation::MaxRevisionExceeded {
                constraint: r#"{"maxRevision":11,"selector":{"stream":"acc-1"}}"#.into(),
                max: 11,
                found: 11,
            },
            rejected_batch_id: None,
        }]
    );
    // Without B's withdrawal the same withdrawal commits: local 11 is 12.
    let mut alone = log_of(&["acc-1"; 10], 1);
    single(&mut alone, 600, 60, "acc-1");
    assert_eq!(check_view(&alone, &withdrawal, &view).unwrap(), vec![]);
}

#[test]
fn a_rejected_own_batch_rejects_only_conditions_whose_scope_holds_its_events() {
    let log = log_of(&["a", "b"], 1);
    let rejected = Own::Rejected {
        id: 77,
        events: vec![Keys {
            stream: "a".into(),
            type_: "e".into(),
            ..Keys::default()
        }],
    };
    let view = View {
        base: 2,
        own: vec![rejected],
    };
    let on = |stream: &str| {
        format!(
            r#"{{"events":[{{"stream":"{stream}","type":"e"}}],"constraints":[{{"maxRevision":3,"selector":{{"stream":"{stream}"}}}}]}}"#
        )
    };
    let b = on("b");
    assert_eq!(
        check_view(&log, &parse_request(&b).unwrap(), &view).unwrap(),
        vec![]
    );
    let a = on("a");
    let got = check_view(&log, &parse_request(&a).unwrap(), &view).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rejected_batch_id, Some(77));
    // found: the newest in-view event of the scope (no unseen one).
    assert!(matches!(
        got[0].violation,
        Violation::MaxRevisionExceeded { found: 1, .. }
    ));
    // A constraint on the head has every event in scope.
    let head = r#"{"events":[{"stream":"b","type":"e"}],"constraints":[{"maxRevision":3}]}"#;
    let got = check_view(&log, &parse_request(head).unwrap(), &view).unwrap();
    assert_eq!(got[0].rejected_batch_id, Some(77));
    // So does an expectation on its stream; "any" has no scope.
    let exp = r#"{"events":[{"stream":"b","type":"e"}],"expect":{"a":"stream_exists","b":"any"}}"#;
    let got = check_view(&log, &parse_request(exp).unwrap(), &view).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rejected_batch_id, Some(77));
}

#[test]
fn a_number_naming_a_rejected_event_stands_for_the_newest_in_view_event_before_it() {
    // Shared: 1 (a), 2 (b); the device had base 2, then own batches
    // C1 (a, committed at 3), R (a, rejected, local 4), C2 (b, committed at 4).
    let mut log = log_of(&["a", "b"], 1);
    single(&mut log, 300, 30, "a");
    single(&mut log, 400, 40, "b");
    let view = View {
        base: 2,
        own: vec![
            Own::Committed(300),
            Own::Rejected {
                id: 350,
                events: vec![Keys {
                    stream: "a".into(),
                    type_: "e".into(),
                    ..Keys::default()
                }],
            },
            Own::Committed(400),
        ],
    };
    // Local 5 is C2's event, global 4; local 4 (rejected) stands for 3.
    let text =
        |c: &str| format!(r#"{{"events":[{{"stream":"b","type":"e"}}],"constraints":[{c}]}}"#);
    let ok_on = |c: &str, view: &View| {
        let t = text(c);
        check_view(&log, &parse_request(&t).unwrap(), view)
            .unwrap()
            .is_empty()
    };
    let ok = |c: &str| ok_on(c, &view);
    assert!(ok(r#"{"revisionRange":[5,5],"selector":{"stream":"b"}}"#));
    assert!(!ok(r#"{"revisionRange":[4,4],"selector":{"stream":"b"}}"#));
    assert!(ok(r#"{"maxRevision":4,"selector":{"type":"nothing"}}"#));
    assert!(ok(r#"{"minRevision":3,"selector":{"stream":"b"}}"#));
    // Above everything the device had: any maximum holds, no minimum.
    assert!(ok(r#"{"maxRevision":99,"selector":{"stream":"b"}}"#));
    assert!(!ok(r#"{"minRevision":99,"selector":{"stream":"b"}}"#));
    // An unseen event makes a minimum hold.
    let stale = View {
        base: 2,
        own: vec![],
    };
    assert!(ok_on(
        r#"{"minRevision":99,"selector":{"stream":"b"}}"#,
        &stale
    ));
}

#[test]
fn a_view_that_does_not_fit_the_log_is_invalid_input() {
    let log = log_of(&["a"], 1);
    let req = parse_request(r#"{"events":[{"stream":"a","type":"e"}]}"#).unwrap();
    let path = |view: View| match check_view(&log, &req, &view) {
        Err(Error::InvalidInput { path, .. }) => path,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        path(View {
            base: 2,
            own: vec![]
        }),
        "view.base"
    );
    assert_eq!(
        path(View {
            base: 1,
            own: vec![Own::Committed(5)]
        }),
        "view.own[0]"
    );
}

#[test]
fn a_pending_batch_is_certain_to_fail_once_the_prefix_holds_an_unseen_event_in_a_nothing_changed_scope(
) {
    // The device's prefix is at 10 and holds its deposit (batch 600) at 11;
    // its withdrawal, decided on base 10 with the deposit in `own`, waits.
    let mut log = log_of(&["acc-1"; 10], 1);
    let withdrawal = parse_request(
        r#"{"events":[{"stream":"acc-1","type":"withdrawn"}],"constraints":[{"maxRevision":11,"selector":{"stream":"acc-1"}}]}"#,
    )
    .unwrap();
    let exists = parse_request(
        r#"{"events":[{"stream":"acc-1","type":"withdrawn"}],"expect":{"acc-1":"stream_exists"},"constraints":[{"minRevision":1}]}"#,
    )
    .unwrap();
    let own: FxHashSet<u128> = [600].into_iter().collect();
    single(&mut log, 600, 60, "acc-1"); // its own deposit joined the prefix: in view
    assert!(!certain_to_fail(&log, 11, &withdrawal, 10, &own));
    single(&mut log, 500, 50, "acc-2"); // another device, out of scope
    assert!(!certain_to_fail(&log, 12, &withdrawal, 10, &own));
    single(&mut log, 700, 70, "acc-1"); // another device's withdrawal: unseen, in scope
    assert!(!certain_to_fail(&log, 12, &withdrawal, 10, &own)); // not yet in the prefix
    assert!(certain_to_fail(&log, 13, &withdrawal, 10, &own));
    // "Something exists" conditions are never certain to fail this way.
    assert!(!certain_to_fail(&log, 13, &exists, 10, &own));
    // An exact expectation on the stream is.
    let exact = parse_request(
        r#"{"events":[{"stream":"acc-1","type":"w"}],"expect":{"acc-1":{"version":10}}}"#,
    )
    .unwrap();
    assert!(certain_to_fail(&log, 13, &exact, 10, &own));
    assert!(!certain_to_fail(&log, 13, &exact, 13, &own));
}
