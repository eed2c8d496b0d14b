//! The log: committed events, in revision order, and their indexes.
//!
//! Invariants (relied on by every reader, by the constraint checks and by the
//! subscriptions):
//! - `events[i]` has revision `i + 1`; revisions have no gaps.
//! - Every posting list (per stream, type, subject, tag) is strictly
//!   increasing, so "newest match ≤ x" and "oldest match ≥ x" are binary
//!   searches, and a stream's posting list index is the event's version.
//! - The log only changes in [`Log::append`], and only with a whole batch that
//!   already passed its checks: a reader never sees part of a batch.

use std::borrow::Cow;

use rustc_hash::FxHashMap as HashMap;

use crate::id_index::IdIndex;
use crate::selector::{Item, Selector};

pub use crate::position::StreamPosition;

/// Revisions inside the log (an in-memory log never reaches 2³² events).
pub type Rev = u32;

/// Marks an absent subject in [`Event::subject`].
const NO_SUBJECT: u32 = u32::MAX;

/// Interned names (streams, types, subjects, tags), each with its posting
/// list of revisions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Names {
    ids: HashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
    postings: Vec<Vec<Rev>>,
}

impl Names {
    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(name.into(), id);
        self.names.push(name.into());
        self.postings.push(Vec::new());
        id
    }

    pub fn postings(&self, id: u32) -> &[Rev] {
        &self.postings[id as usize]
    }

    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    fn postings_of<'a>(&'a self, names: &[String]) -> Vec<&'a [Rev]> {
        names
            .iter()
            .filter_map(|n| self.get(n))
            .map(|id| self.postings(id))
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// `None` when the event was given no tags at all.
    pub tags: Option<Box<[u32]>>,
    pub stream: u32,
    pub version: u32,
    pub type_: u32,
    subject: u32,
    pub batch: u32,
}

impl Event {
    pub fn subject(&self) -> Option<u32> {
        (self.subject != NO_SUBJECT).then_some(self.subject)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub id: u128,
    pub first: Rev,
    pub last: Rev,
    pub recorded_at: f64,
}

/// An event ready to append: checked, with its id decided.
#[derive(Clone, Debug)]
pub struct NewEvent<'a> {
    pub id: u128,
    pub stream: &'a str,
    pub type_: &'a str,
    pub subject: Option<&'a str>,
    pub tags: Option<&'a [Cow<'a, str>]>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Log {
    events: Vec<Event>,
    batches: Vec<Batch>,
    batch_ids: IdIndex,
    /// Event ids by revision (index `rev - 1`), and their index.
    ids: Vec<u128>,
    event_ids: IdIndex,
    pub streams: Names,
    pub types: Names,
    pub subjects: Names,
    pub tags: Names,
}

impl Log {
    /// The head: the newest revision, 0 when empty.
    pub fn head(&self) -> u64 {
        self.events.len() as u64
    }

    pub fn event(&self, rev: Rev) -> &Event {
        &self.events[rev as usize - 1]
    }

    /// The id of the event at `rev`.
    pub fn event_id(&self, rev: Rev) -> u128 {
        self.ids[rev as usize - 1]
    }

    pub fn batch(&self, index: u32) -> &Batch {
        &self.batches[index as usize]
    }

    pub fn batch_by_id(&self, id: u128) -> Option<&Batch> {
        self.batch_ids
            .get(id, |i| self.batches[i as usize].id)
            .map(|i| self.batch(i))
    }

    pub fn revision_of_event_id(&self, id: u128) -> Option<Rev> {
        self.event_ids
            .get(id, |at| self.ids[at as usize])
            .map(|at| at + 1)
    }

    pub fn stream(&self, name: &str) -> Option<StreamPosition> {
        let id = self.streams.get(name)?;
        let revs = self.streams.postings(id);
        revs.last().map(|&rev| StreamPosition {
            version: revs.len() as u64 - 1,
            revision: rev as u64,
        })
    }

    /// Appends one batch. The caller has checked it: this cannot fail.
    pub fn append(&mut self, batch_id: u128, recorded_at: f64, events: &[NewEvent]) -> &Batch {
        let batch = self.batches.len() as u32;
        let first = self.events.len() as Rev + 1;
        self.events.reserve(events.len());
        for e in events {
            let rev = self.events.len() as Rev + 1;
            let stream = self.streams.intern(e.stream);
            let type_ = self.types.intern(e.type_);
            let subject = e.subject.map_or(NO_SUBJECT, |s| self.subjects.intern(s));
            let tags: Option<Box<[u32]>> = e
                .tags
                .map(|tags| tags.iter().map(|t| self.tags.intern(t)).collect());
            let versions = &mut self.streams.postings[stream as usize];
            let version = versions.len() as u32;
            versions.push(rev);
            self.types.postings[type_ as usize].push(rev);
            if subject != NO_SUBJECT {
                self.subjects.postings[subject as usize].push(rev);
            }
            for &t in tags.iter().flatten() {
                self.tags.postings[t as usize].push(rev);
            }
            let ids = &self.ids;
            self.event_ids.insert(e.id, rev - 1, |at| ids[at as usize]);
            self.ids.push(e.id);
            self.events.push(Event {
                tags,
                stream,
                version,
                type_,
                subject,
                batch,
            });
        }
        self.batches.push(Batch {
            id: batch_id,
            first,
            last: self.events.len() as Rev,
            recorded_at,
        });
        let batches = &self.batches;
        self.batch_ids
            .insert(batch_id, batch, |i| batches[i as usize].id);
        &self.batches[batch as usize]
    }

    /// Removes every event after `head`, whole batches at a time, leaving
    /// the log as it was when its head was `head` (names stay interned).
    /// `head` must be a batch boundary at or below the current head.
    pub fn truncate(&mut self, head: u64) {
        while self.events.len() as u64 > head {
            let rev = self.events.len() as Rev;
            let e = self.events.pop().expect("a non-empty log");
            let id = self.ids.pop().expect("an id per event");
            self.event_ids.remove(id, rev - 1);
            for list in [
                Some(&mut self.streams.postings[e.stream as usize]),
                Some(&mut self.types.postings[e.type_ as usize]),
                e.subject().map(|s| &mut self.subjects.postings[s as usize]),
            ]
            .into_iter()
            .flatten()
            {
                debug_assert_eq!(list.last(), Some(&rev));
                list.pop();
            }
            for &t in e.tags.iter().flatten() {
                self.tags.postings[t as usize].pop();
            }
            if self.batches.last().is_some_and(|b| b.first == rev) {
                let b = self.batches.pop().expect("the event's batch");
                self.batch_ids.remove(b.id, self.batches.len() as u32);
            }
        }
    }

    /// The `recordedAt` of the newest batch, if any.
    pub fn last_recorded_at(&self) -> Option<f64> {
        self.batches.last().map(|b| b.recorded_at)
    }

    /// sel_rev: the revision of the newest event matching `sel`, 0 if none.
    pub fn last_revision(&self, sel: &Selector) -> u64 {
        Query::new(self, sel).prev_le(self.head()).unwrap_or(0)
    }

    /// The revisions of events matching `sel` within `from..=to`, oldest first
    /// (or newest first when `backwards`), at most `limit` of them. Costs time
    /// in proportion to what it returns, not to the size of the log.
    pub fn select(
        &self,
        sel: &Selector,
        from: u64,
        to: u64,
        limit: usize,
        backwards: bool,
    ) -> Vec<Rev> {
        let (from, to) = (from.max(1), to.min(self.head()));
        let mut out = Vec::new();
        if from > to || limit == 0 {
            return out;
        }
        let query = Query::new(self, sel);
        // A single posting list (or the whole log) is read as a slice.
        if let Some(slice) = query.single_list(self) {
            let lo = slice.partition_point(|&r| (r as u64) < from);
            let hi = slice.partition_point(|&r| (r as u64) <= to);
            let range = &slice[lo..hi];
            if backwards {
                out.extend(range.iter().rev().take(limit));
            } else {
                out.extend(range.iter().take(limit));
            }
            return out;
        }
        if query.all {
            let n = ((to - from + 1) as usize).min(limit);
            if backwards {
                out.extend((0..n as u64).map(|i| (to - i) as Rev));
            } else {
                out.extend((0..n as u64).map(|i| (from + i) as Rev));
            }
            return out;
        }
        if backwards {
            let mut cursor = query.prev_le(to);
            while let Some(rev) = cursor.filter(|&r| r >= from) {
                out.push(rev as Rev);
                if out.len() == limit {
                    break;
                }
                cursor = query.prev_le(rev - 1);
            }
        } else {
            let mut cursor = query.next_ge(from);
            while let Some(rev) = cursor.filter(|&r| r <= to) {
                out.push(rev as Rev);
                if out.len() == limit {
                    break;
                }
                cursor = query.next_ge(rev + 1);
            }
        }
        out
    }

    /// The revisions of a stream's events of versions `from_version` to
    /// `to_version` (inclusive), oldest first (or newest first when
    /// `backwards`, the limit then counting from the newest), at most `limit`.
    pub fn select_stream(
        &self,
        stream: &str,
        from_version: u64,
        to_version: u64,
        limit: usize,
        backwards: bool,
    ) -> &[Rev] {
        let Some(id) = self.streams.get(stream) else {
            return &[];
        };
        // A stream's postings are its events by version (0-based, contiguous).
        let revs = self.streams.postings(id);
        let len = revs.len() as u64;
        let from = from_version.min(len) as usize;
        let to = to_version.saturating_add(1).min(len) as usize;
        let revs = if from < to { &revs[from..to] } else { &[][..] };
        let n = limit.min(revs.len());
        if backwards {
            &revs[revs.len() - n..]
        } else {
            &revs[..n]
        }
    }

    /// Whether the event at `rev` matches `sel` (an O(fields) test).
    pub fn matches(&self, rev: Rev, sel: &Selector) -> bool {
        let e = self.event(rev);
        let named = |names: &Names, values: &Option<Vec<String>>, id: Option<u32>| match values {
            None => true,
            Some(values) => id.is_some_and(|id| values.iter().any(|v| names.get(v) == Some(id))),
        };
        sel.items.iter().any(|item| {
            named(&self.streams, &item.streams, Some(e.stream))
                && named(&self.types, &item.types, Some(e.type_))
                && named(&self.subjects, &item.subjects, e.subject())
                && item.tags.iter().all(|t| {
                    self.tags
                        .get(t)
                        .is_some_and(|id| e.tags.as_deref().unwrap_or_default().contains(&id))
                })
        })
    }
}

/// A selector resolved against the log's indexes: an OR of items, each an AND
/// of fields, each field an OR of posting lists. Names the log has never seen
/// resolve to nothing, so queries never intern.
struct Query<'a> {
    /// True when some item has no condition: every event matches.
    all: bool,
    items: Vec<Vec<Vec<&'a [Rev]>>>,
    head: u64,
}

impl<'a> Query<'a> {
    fn new(log: &'a Log, sel: &Selector) -> Self {
        let all = sel.is_all();
        let items = if all {
            Vec::new()
        } else {
            sel.items
                .iter()
                .filter_map(|item| resolve(log, item))
                .collect()
        };
        Query {
            all,
            items,
            head: log.head(),
        }
    }

    /// The one posting list this query reads, when it is that simple.
    fn single_list(&self, _log: &Log) -> Option<&'a [Rev]> {
        match self.items.as_slice() {
            [fields] if fields.len() == 1 && fields[0].len() == 1 => Some(fields[0][0]),
            _ if !self.all && self.items.is_empty() => Some(&[]),
            _ => None,
        }
    }

    /// The newest matching revision ≤ `x`.
    fn prev_le(&self, x: u64) -> Option<u64> {
        let x = x.min(self.head);
        if self.all {
            return (x >= 1).then_some(x);
        }
        self.items
            .iter()
            .filter_map(|fields| item_prev_le(fields, x))
            .max()
    }

    /// The oldest matching revision ≥ `x`.
    fn next_ge(&self, x: u64) -> Option<u64> {
        let x = x.max(1);
        if self.all {
            return (x <= self.head).then_some(x);
        }
        self.items
            .iter()
            .filter_map(|fields| item_next_ge(fields, x))
            .min()
    }
}

/// Resolves an item to its fields' posting lists, or `None` if a field names
/// only values the log has never seen (the item can match nothing).
fn resolve<'a>(log: &'a Log, item: &Item) -> Option<Vec<Vec<&'a [Rev]>>> {
    let mut fields = Vec::with_capacity(3 + item.tags.len());
    for (names, values) in [
        (&log.streams, &item.streams),
        (&log.types, &item.types),
        (&log.subjects, &item.subjects),
    ] {
        if let Some(values) = values {
            let lists = names.postings_of(values);
            if lists.is_empty() {
                return None;
            }
            fields.push(lists);
        }
    }
    for tag in &item.tags {
        fields.push(vec![log.tags.postings(log.tags.get(tag)?)]);
    }
    // Shortest lists first: they move the search fastest.
    fields.sort_by_key(|lists: &Vec<&[Rev]>| lists.iter().map(|l| l.len()).sum::<usize>());
    Some(fields)
}

fn list_prev_le(list: &[Rev], x: u64) -> Option<u64> {
    match list.last() {
        None => None,
        Some(&last) if last as u64 <= x => Some(last as u64),
        Some(_) => {
            let i = list.partition_point(|&r| r as u64 <= x);
            (i > 0).then(|| list[i - 1] as u64)
        }
    }
}

fn list_next_ge(list: &[Rev], x: u64) -> Option<u64> {
    let i = list.partition_point(|&r| (r as u64) < x);
    list.get(i).map(|&r| r as u64)
}

/// Leapfrog search: lower the candidate to each field's newest match until
/// all fields agree on it.
fn item_prev_le(fields: &[Vec<&[Rev]>], x: u64) -> Option<u64> {
    let mut cur = x;
    loop {
        let mut agreed = true;
        for lists in fields {
            let p = lists.iter().filter_map(|l| list_prev_le(l, cur)).max()?;
            if p < cur {
                cur = p;
                agreed = false;
            }
        }
        if agreed {
            return (cur >= 1).then_some(cur);
        }
    }
}

fn item_next_ge(fields: &[Vec<&[Rev]>], x: u64) -> Option<u64> {
    let mut cur = x;
    loop {
        let mut agreed = true;
        for lists in fields {
            let n = lists.iter().filter_map(|l| list_next_ge(l, cur)).min()?;
            if n > cur {
                cur = n;
                agreed = false;
            }
        }
        if agreed {
            return Some(cur);
        }
    }
}
