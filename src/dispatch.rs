//! Subscriptions' selectors, and which subscriptions a commit concerns.
//!
//! A commit is offered only to subscriptions that can match one of its
//! events: each subscription is filed under one key per selector item (a
//! stream, else a type, else a subject, else a tag, else "everything"), and
//! an event looks up only its own keys. Subscriptions on other streams are
//! never looked at, so idle ones cost a commit nothing. Keys are names, not
//! the log's interned ids, so subscribing leaves the log untouched and a
//! cancelled subscription leaves nothing behind.

use rustc_hash::FxHashMap;

use crate::log::{Event, Log, Rev};
use crate::selector::{Item, Selector};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Stream,
    Type,
    Subject,
    Tag,
}

/// The keys to file an item under; empty for an item matching everything.
fn keys(item: &Item) -> Vec<(Field, &str)> {
    fn all(field: Field, values: &[String]) -> Vec<(Field, &str)> {
        values.iter().map(|v| (field, v.as_str())).collect()
    }
    if let Some(v) = &item.streams {
        all(Field::Stream, v)
    } else if let Some(v) = &item.types {
        all(Field::Type, v)
    } else if let Some(v) = &item.subjects {
        all(Field::Subject, v)
    } else {
        item.tags
            .first()
            .map(|t| (Field::Tag, t.as_str()))
            .into_iter()
            .collect()
    }
}

struct Entry {
    selector: Selector,
    everything: bool,
}

#[derive(Default)]
pub struct Dispatch {
    /// Subscriptions by id; `None` once removed (its id is then reused).
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
    by_stream: FxHashMap<Box<str>, Vec<u32>>,
    by_type: FxHashMap<Box<str>, Vec<u32>>,
    by_subject: FxHashMap<Box<str>, Vec<u32>>,
    by_tag: FxHashMap<Box<str>, Vec<u32>>,
    /// Subscriptions with an item that matches every event.
    everything: Vec<u32>,
    /// Per subscription, the last commit that woke it (dedupes within one).
    woken_at: Vec<u64>,
    commits: u64,
}

impl Dispatch {
    fn index(&mut self, field: Field) -> &mut FxHashMap<Box<str>, Vec<u32>> {
        match field {
            Field::Stream => &mut self.by_stream,
            Field::Type => &mut self.by_type,
            Field::Subject => &mut self.by_subject,
            Field::Tag => &mut self.by_tag,
        }
    }

    /// Registers a subscription to the events `selector` matches; returns
    /// its id.
    pub fn add(&mut self, selector: Selector) -> u32 {
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.entries.push(None);
                self.woken_at.push(0);
                self.entries.len() as u32 - 1
            }
        };
        let everything = selector.is_all();
        if everything {
            self.everything.push(id);
        } else {
            let mut filed: Vec<(Field, &str)> = selector.items.iter().flat_map(keys).collect();
            filed.dedup();
            for (field, name) in filed {
                let list = self.index(field).entry(name.into()).or_default();
                if !list.contains(&id) {
                    list.push(id);
                }
            }
        }
        self.entries[id as usize] = Some(Entry {
            selector,
            everything,
        });
        self.woken_at[id as usize] = 0;
        id
    }

    /// Forgets a subscription; unknown ids are ignored.
    pub fn remove(&mut self, id: u32) {
        let Some(entry) = self.entries.get_mut(id as usize).and_then(Option::take) else {
            return;
        };
        if entry.everything {
            self.everything.retain(|&s| s != id);
        } else {
            for (field, name) in entry.selector.items.iter().flat_map(keys) {
                let index = self.index(field);
                if let Some(list) = index.get_mut(name) {
                    list.retain(|&s| s != id);
                    if list.is_empty() {
                        index.remove(name);
                    }
                }
            }
        }
        self.free.push(id);
    }

    /// The number of live subscriptions.
    pub fn len(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The subscription's selector (with its matcher types applied).
    pub fn selector(&self, id: u32) -> Option<&Selector> {
        self.entries.get(id as usize)?.as_ref().map(|e| &e.selector)
    }

    /// The subscriptions that match at least one event of `first..=last`,
    /// each once, in the order first matched.
    pub fn woken(&mut self, log: &Log, first: Rev, last: Rev) -> Vec<u32> {
        let mut woken = Vec::new();
        if self.is_empty() {
            return woken;
        }
        self.commits += 1;
        let stamp = self.commits;
        let mut previous: Option<&Event> = None;
        for rev in first..=last {
            let e = log.event(rev);
            // Events alike in every key match alike: batches often repeat them.
            if previous.is_some_and(|p| same_keys(p, e)) {
                continue;
            }
            previous = Some(e);
            let mut offer = |ids: &[u32]| {
                for &id in ids {
                    if self.woken_at[id as usize] == stamp {
                        continue;
                    }
                    let entry = self.entries[id as usize]
                        .as_ref()
                        .expect("filed ids are live");
                    if log.matches(rev, &entry.selector) {
                        self.woken_at[id as usize] = stamp;
                        woken.push(id);
                    }
                }
            };
            offer(&self.everything);
            let lookups = [
                (&self.by_stream, Some(e.stream).map(|s| log.streams.name(s))),
                (&self.by_type, Some(log.types.name(e.type_))),
                (&self.by_subject, e.subject().map(|s| log.subjects.name(s))),
            ];
            for (index, name) in lookups {
                if let Some(ids) = name.and_then(|n| index.get(n)) {
                    offer(ids);
                }
            }
            for &t in e.tags.as_deref().unwrap_or_default() {
                if let Some(ids) = self.by_tag.get(log.tags.name(t)) {
                    offer(ids);
                }
            }
        }
        woken
    }
}

fn same_keys(a: &Event, b: &Event) -> bool {
    a.stream == b.stream && a.type_ == b.type_ && a.subject() == b.subject() && a.tags == b.tags
}
