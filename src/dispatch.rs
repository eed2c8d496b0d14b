//! Subscriptions' selectors, and which subscriptions a commit concerns.
//!
//! A commit is offered only to subscriptions that can match one of its
//! events: each subscription is filed under one key per selector item (a
//! stream, else a type, else a subject, else a tag, else "everything"), and
//! an event looks up only its own keys. Subscriptions on other streams are
//! never looked at, so idle ones cost a commit nothing.

use rustc_hash::FxHashMap;

use crate::log::{Event, Log, Names, Rev};
use crate::selector::{Item, Selector};

/// A key a subscription is filed under: a field and an interned name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Key {
    Stream(u32),
    Type(u32),
    Subject(u32),
    Tag(u32),
}

/// A selector item with interned names, matched against events directly.
#[derive(Clone, Debug)]
struct IdItem {
    streams: Option<Vec<u32>>,
    types: Option<Vec<u32>>,
    subjects: Option<Vec<u32>>,
    tags: Vec<u32>,
}

impl IdItem {
    fn new(log: &mut Log, item: &Item) -> Self {
        let intern = |names: &mut Names, values: &Option<Vec<String>>| {
            values
                .as_ref()
                .map(|v| v.iter().map(|n| names.intern(n)).collect())
        };
        IdItem {
            streams: intern(&mut log.streams, &item.streams),
            types: intern(&mut log.types, &item.types),
            subjects: intern(&mut log.subjects, &item.subjects),
            tags: item.tags.iter().map(|t| log.tags.intern(t)).collect(),
        }
    }

    fn matches(&self, e: &Event) -> bool {
        let one_of = |values: &Option<Vec<u32>>, id: Option<u32>| match values {
            None => true,
            Some(v) => id.is_some_and(|id| v.contains(&id)),
        };
        one_of(&self.streams, Some(e.stream))
            && one_of(&self.types, Some(e.type_))
            && one_of(&self.subjects, e.subject())
            && self
                .tags
                .iter()
                .all(|t| e.tags.as_deref().is_some_and(|tags| tags.contains(t)))
    }

    /// The keys to file the item under; empty for an item matching everything.
    fn keys(&self) -> Vec<Key> {
        if let Some(s) = &self.streams {
            s.iter().map(|&id| Key::Stream(id)).collect()
        } else if let Some(t) = &self.types {
            t.iter().map(|&id| Key::Type(id)).collect()
        } else if let Some(s) = &self.subjects {
            s.iter().map(|&id| Key::Subject(id)).collect()
        } else {
            self.tags
                .first()
                .map(|&id| Key::Tag(id))
                .into_iter()
                .collect()
        }
    }
}

struct Entry {
    selector: Selector,
    items: Vec<IdItem>,
    keys: Vec<Key>,
    everything: bool,
}

#[derive(Default)]
pub struct Dispatch {
    /// Subscriptions by id; `None` once removed (its id is reused).
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
    by_key: FxHashMap<Key, Vec<u32>>,
    /// Subscriptions with an item that matches every event.
    everything: Vec<u32>,
    /// Per subscription, the last commit that woke it (dedupes within one).
    woken_at: Vec<u64>,
    commits: u64,
}

impl Dispatch {
    /// Registers a subscription to the events `selector` matches; returns
    /// its id. Interns the selector's names into the log (as names without
    /// events, which readers never see).
    pub fn add(&mut self, log: &mut Log, selector: Selector) -> u32 {
        let items: Vec<IdItem> = selector.items.iter().map(|i| IdItem::new(log, i)).collect();
        let everything = selector.items.iter().any(Item::is_all);
        let mut keys: Vec<Key> = if everything {
            Vec::new()
        } else {
            items.iter().flat_map(IdItem::keys).collect()
        };
        keys.sort_unstable();
        keys.dedup();
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.entries.push(None);
                self.woken_at.push(0);
                self.entries.len() as u32 - 1
            }
        };
        if everything {
            self.everything.push(id);
        }
        for key in &keys {
            self.by_key.entry(*key).or_default().push(id);
        }
        self.entries[id as usize] = Some(Entry {
            selector,
            items,
            keys,
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
        }
        for key in entry.keys {
            if let Some(list) = self.by_key.get_mut(&key) {
                list.retain(|&s| s != id);
                if list.is_empty() {
                    self.by_key.remove(&key);
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
        for rev in first..=last {
            let e = log.event(rev);
            let mut offer = |ids: &[u32], woken: &mut Vec<u32>| {
                for &id in ids {
                    if self.woken_at[id as usize] == stamp {
                        continue;
                    }
                    let entry = self.entries[id as usize]
                        .as_ref()
                        .expect("filed ids are live");
                    if entry.items.iter().any(|i| i.matches(e)) {
                        self.woken_at[id as usize] = stamp;
                        woken.push(id);
                    }
                }
            };
            offer(&self.everything, &mut woken);
            let keys = [
                Some(Key::Stream(e.stream)),
                Some(Key::Type(e.type_)),
                e.subject().map(Key::Subject),
            ];
            for key in keys.into_iter().flatten() {
                if let Some(ids) = self.by_key.get(&key) {
                    offer(ids, &mut woken);
                }
            }
            for &t in e.tags.as_deref().unwrap_or_default() {
                if let Some(ids) = self.by_key.get(&Key::Tag(t)) {
                    offer(ids, &mut woken);
                }
            }
        }
        woken
    }
}
