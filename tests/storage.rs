#![cfg(not(target_arch = "wasm32"))]
//! The storage flow (`hindcast::storage`) driven as the binding drives it,
//! by several tabs sharing one model database whose reads and writes are
//! atomic, as IndexedDB transactions are, in every interleaving a schedule
//! gives: every group is decided on the database as it stands when it
//! completes, the log stays one gap-free run of whole batches, every commit
//! a tab acknowledged is stored where it said, every refusal was earned,
//! and every tab ends with the database's log.

mod common;

use std::collections::BTreeMap;

use common::*;
use hindcast::storage::{pack, GroupWrite, Reader, Step};
use hindcast::{Error, Store};
use proptest::prelude::*;
use serde_json::{json, Value};

/// A record as stored: its first revision (the key), last, and text.
#[derive(Clone, Debug)]
struct Record {
    first: u64,
    last: u64,
    text: String,
}

/// The database: records by first revision; each call one transaction.
#[derive(Default)]
struct Db {
    records: BTreeMap<u64, Record>,
}

impl Db {
    fn read(&self, from: u64, limit: u32) -> Vec<Record> {
        self.records
            .range(from..)
            .take(limit as usize)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Adds every record, or none if a key is taken.
    fn append(&mut self, records: &[Record]) -> bool {
        if records.iter().any(|r| self.records.contains_key(&r.first)) {
            return false;
        }
        for r in records {
            self.records.insert(r.first, r.clone());
        }
        true
    }
}

/// An append of one event to `stream`, expecting it exactly as the tab saw
/// it when the request was made (`seen` events), or (`seen: None`) only
/// that it exists: a refusal that what another tab stored may overturn.
#[derive(Clone, Debug)]
struct Append {
    stream: &'static str,
    seen: Option<u64>,
}

impl Append {
    fn request(&self) -> String {
        let expect = match self.seen {
            None => json!("stream_exists"),
            Some(0) => json!("no_stream"),
            Some(n) => json!({ "version": n - 1 }),
        };
        json!({ "events": [event(self.stream, "x")], "expect": { self.stream: expect } })
            .to_string()
    }
}

/// What a tab told its caller about an append.
#[derive(Debug)]
enum Answer {
    Committed { revision: u64, version: u64 },
    Refused,
}

struct Group {
    start: u64,
    plan: GroupWrite,
    appends: Vec<Append>,
    theirs: Vec<Record>,
    /// The last staging: the records of others it was staged on, each
    /// append's answer, and the records to write.
    staged_on: Vec<u64>,
    answers: Vec<Answer>,
    records: Vec<Record>,
}

impl Group {
    /// Checked as the group's last transaction completes: after the head,
    /// the database holds what the group was staged on, then the group.
    fn decided_on_the_database(&self, db: &Db) {
        let now: Vec<u64> = db
            .read(self.start + 1, u32::MAX)
            .iter()
            .map(|r| r.first)
            .collect();
        let staged_on: Vec<u64> = self
            .staged_on
            .iter()
            .copied()
            .chain(self.records.iter().map(|r| r.first))
            .collect();
        assert_eq!(now, staged_on, "a group decided on a stale log");
    }
}

#[derive(Default)]
struct Tab {
    store: Store,
    queue: Vec<Append>,
    group: Option<Group>,
    answered: Vec<(Append, Answer)>,
}

impl Tab {
    /// Queues an append to `stream` that expects it at `seen` events.
    fn append(&mut self, stream: &'static str, seen: Option<u64>) {
        self.queue.push(Append { stream, seen });
    }

    fn seen(&self, stream: &str) -> u64 {
        self.store.log().stream(stream).map_or(0, |p| p.version + 1)
    }

    /// Reads what others stored after the head, as the binding's catch-up
    /// does.
    fn catch_up(&mut self, db: &Db) {
        let mut reader = Reader::new(self.store.log().head());
        loop {
            let read = reader.read();
            let records = db.read(read.from, read.limit);
            let spans: Vec<(f64, f64)> = records
                .iter()
                .map(|r| (r.first as f64, r.last as f64))
                .collect();
            let more = reader.received(&spans).expect("records follow one another");
            for r in &records {
                self.store
                    .restore(&r.text)
                    .expect("a stored record restores");
            }
            if !more {
                return;
            }
        }
    }

    /// Stages the group on top of what others stored: each append applied
    /// in turn, failing on its own; the log then put back.
    fn stage(&mut self) {
        let g = self.group.as_mut().unwrap();
        for r in &g.theirs {
            self.store.restore(&r.text).expect("their record restores");
        }
        let mut answers = Vec::new();
        let mut batches: Vec<Vec<Value>> = Vec::new();
        for a in &g.appends {
            match transact_text(&mut self.store, &a.request(), 1_000.0) {
                Ok(c) => {
                    batches.push(recorded_events(&self.store, c.first_revision, c.revision));
                    answers.push(Answer::Committed {
                        revision: c.revision,
                        version: c.streams[0].1,
                    });
                }
                Err(Error::Violations(_)) => answers.push(Answer::Refused),
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        self.store.truncate(g.start);
        let counts: Vec<u32> = batches.iter().map(|b| b.len() as u32).collect();
        let mut from = 0;
        g.records = pack(&counts, None)
            .into_iter()
            .map(|to| {
                let events: Vec<Value> = batches[from..to as usize]
                    .iter()
                    .flatten()
                    .cloned()
                    .collect();
                from = to as usize;
                Record {
                    first: events[0]["revision"].as_u64().unwrap(),
                    last: events.last().unwrap()["revision"].as_u64().unwrap(),
                    text: Value::from(events).to_string(),
                }
            })
            .collect();
        g.answers = answers;
        g.staged_on = g.theirs.iter().map(|r| r.first).collect();
    }

    /// One step: a group starts from the queue, or the one in flight moves
    /// on by one transaction (or one staging). Returns false if idle.
    fn step(&mut self, db: &mut Db) -> bool {
        if self.group.is_none() {
            if self.queue.is_empty() {
                return false;
            }
            self.group = Some(Group {
                start: self.store.log().head(),
                plan: GroupWrite::new(),
                appends: std::mem::take(&mut self.queue),
                theirs: Vec::new(),
                staged_on: Vec::new(),
                answers: Vec::new(),
                records: Vec::new(),
            });
            return true;
        }
        let g = self.group.as_mut().unwrap();
        match g.plan.step() {
            Step::Stage => {
                self.stage();
                let g = self.group.as_mut().unwrap();
                g.plan.staged(g.records.len());
            }
            Step::Write => {
                let stored = db.append(&g.records);
                if g.plan.written(stored) == Step::Done {
                    g.decided_on_the_database(db);
                }
            }
            Step::Read => {
                g.theirs = db.read(g.start + 1, u32::MAX);
                if g.plan.read(g.theirs.len()) == Step::Done {
                    g.decided_on_the_database(db);
                }
            }
            Step::Done => {
                let g = self.group.take().unwrap();
                for r in g.theirs.iter().chain(&g.records) {
                    self.store.restore(&r.text).expect("the group's runs apply");
                }
                self.answered.extend(g.appends.into_iter().zip(g.answers));
            }
        }
        true
    }
}

const STREAMS: [&str; 3] = ["a", "b", "c"];

fn run(tabs: usize, schedule: &[(usize, u8, usize)]) {
    let mut db = Db::default();
    let mut tabs: Vec<Tab> = (0..tabs).map(|_| Tab::default()).collect();
    let n = tabs.len();
    for &(t, action, s) in schedule {
        let tab = &mut tabs[t % n];
        match action {
            0 | 1 => {
                let stream = STREAMS[s % STREAMS.len()];
                let seen = (action == 0).then(|| tab.seen(stream));
                tab.append(stream, seen);
            }
            2..=5 => {
                tab.step(&mut db);
            }
            _ => {
                // A notice: the lane runs catch-up only between groups.
                if tab.group.is_none() {
                    tab.catch_up(&db);
                }
            }
        }
    }
    for tab in &mut tabs {
        while tab.step(&mut db) {}
    }

    // One gap-free run of whole batches that restores as a log.
    let mut whole = Store::new();
    let mut next = 1;
    for r in db.records.values() {
        assert_eq!(r.first, next, "records follow one another");
        whole.restore(&r.text).expect("the database restores");
        next = r.last + 1;
    }
    let log = whole.log();
    let mut committed = 0;
    for tab in &mut tabs {
        for (a, answer) in &tab.answered {
            match *answer {
                Answer::Committed { revision, version } => {
                    committed += 1;
                    let e = log.event(revision as u32);
                    assert_eq!(log.streams.name(e.stream), a.stream);
                    assert_eq!(u64::from(e.version), version, "stored where acknowledged");
                    if let Some(seen) = a.seen {
                        assert_eq!(version, seen);
                    }
                }
                // Earned: the stream had moved past what the tab saw (a
                // refused stream_exists is checked as its group completes).
                Answer::Refused => {
                    if let Some(seen) = a.seen {
                        assert!(log.stream(a.stream).is_some_and(|p| p.version + 1 > seen));
                    }
                }
            }
        }
        tab.catch_up(&db);
        assert_eq!(tab.store.log().head(), log.head());
        for rev in 1..=log.head() as u32 {
            assert_eq!(tab.store.log().event_id(rev), log.event_id(rev));
        }
    }
    // Every stored batch was acknowledged once: nothing written twice.
    assert_eq!(committed, log.head());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn tabs_share_one_log(
        tabs in 1usize..4,
        schedule in prop::collection::vec((0usize..4, 0u8..8, 0usize..3), 0..120),
    ) {
        run(tabs, &schedule);
    }
}

#[test]
fn a_group_whose_key_was_taken_is_decided_again_on_what_the_other_tab_stored() {
    let mut db = Db::default();
    let (mut a, mut b) = (Tab::default(), Tab::default());
    a.append("s", Some(0));
    b.append("s", Some(0));
    b.append("t", Some(0));
    a.step(&mut db); // a's group starts
    b.step(&mut db); // b's too
    for tab in [&mut a, &mut b] {
        tab.step(&mut db); // stage
    }
    assert!(a.step(&mut db)); // a writes first
    b.step(&mut db); // b's key is taken
    assert_eq!(b.group.as_ref().unwrap().plan.step(), Step::Read);
    while b.step(&mut db) {}
    while a.step(&mut db) {}
    assert!(matches!(
        a.answered[0].1,
        Answer::Committed {
            revision: 1,
            version: 0
        }
    ));
    assert!(matches!(b.answered[0].1, Answer::Refused));
    assert!(matches!(
        b.answered[1].1,
        Answer::Committed {
            revision: 2,
            version: 0
        }
    ));
    assert_eq!(db.records.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
}

#[test]
fn refusals_stand_only_if_nothing_was_stored_after_them() {
    let mut db = Db::default();
    let (mut a, mut b) = (Tab::default(), Tab::default());
    // b saw "s" at one event (from a), then a writes again; b's stale
    // append is refused and, the read finding nothing newer, stands.
    a.append("s", Some(0));
    while a.step(&mut db) {}
    b.catch_up(&db);
    a.append("s", Some(1));
    while a.step(&mut db) {}
    b.append("s", Some(0));
    b.step(&mut db);
    b.step(&mut db); // staged: refused on what b knows
    assert_eq!(b.group.as_ref().unwrap().plan.step(), Step::Read);
    b.step(&mut db); // reads a's second batch: stage again
    assert_eq!(b.group.as_ref().unwrap().plan.step(), Step::Stage);
    while b.step(&mut db) {}
    assert!(matches!(b.answered[0].1, Answer::Refused));
    assert_eq!(b.store.log().head(), 2);
}
