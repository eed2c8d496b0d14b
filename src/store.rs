//! The store: the log, plus what writing needs around it (ids, the clock,
//! batch-id replay). Free of JavaScript; the binding layer wraps it.

use crate::constraint::check;
use crate::dispatch::Dispatch;
use crate::error::{Error, Result};
use crate::json::{index_path, key_path};
use crate::log::{Log, NewEvent, Rev};
use crate::random_ids::IdPool;
use crate::request::{EventSpec, Request};
use crate::selector::Selector;
use crate::stored::{parse_stored, StoredBatch};

/// Holds the log and its id source; `Debug` shows the log's head.
#[derive(Default)]
pub struct Store {
    log: Log,
    ids: IdPool,
    subscriptions: Dispatch,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("head", &self.log.head())
            .finish_non_exhaustive()
    }
}

/// The result of a transact: the batch's place in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    pub batch_id: u128,
    pub first_revision: u64,
    pub revision: u64,
    /// Per stream written, in order of first appearance: (stream id, version
    /// and revision of its last event in the batch).
    pub streams: Vec<(u32, u64, u64)>,
    pub replayed: bool,
    /// The subscriptions this commit concerns (none for a replay).
    pub woken: Vec<u32>,
}

impl Store {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Checks and, if everything holds, appends one batch (a request parsed
    /// by [`crate::request::parse_request`]). `now` is the wall clock in ms
    /// since the epoch.
    ///
    /// On any error nothing changes: all checks run before the first write.
    pub fn transact(&mut self, req: &Request, now: f64) -> Result<Commit> {
        if let Some(id) = req.id {
            if let Some(batch) = self.log.batch_by_id(id) {
                same_batch(&self.log, batch.first, batch.last, req)?;
                return Ok(self.commit_of(batch.first, batch.last, true));
            }
        }
        let violations = check(&self.log, req);
        if !violations.is_empty() {
            return Err(Error::Violations(violations));
        }
        let batch_id = match req.id {
            Some(id) => id,
            None => self.ids.v4()?,
        };
        let mut events = Vec::with_capacity(req.events.len());
        for e in &req.events {
            events.push(NewEvent {
                id: match e.id {
                    Some(id) => id,
                    None => self.ids.v4()?,
                },
                stream: &e.stream,
                type_: &e.type_,
                subject: e.subject.as_deref(),
                tags: e.tags.as_deref(),
            });
        }
        // recordedAt never decreases, even if the wall clock steps back.
        let recorded_at = self
            .log
            .last_recorded_at()
            .map_or(now, |last| last.max(now));
        let batch = self.log.append(batch_id, recorded_at, &events);
        let (first, last) = (batch.first, batch.last);
        let mut commit = self.commit_of(first, last, false);
        commit.woken = self.subscriptions.woken(&self.log, first, last);
        Ok(commit)
    }

    /// Appends batches that were already checked and committed (loaded from
    /// storage, or written by another tab), given as the JSON array of their
    /// recorded events in revision order, as stored: `[{ revision, stream,
    /// version, id, type, subject?, tags?, batchId, recordedAt, … }]`; other
    /// fields are ignored. The array holds whole batches. Returns the
    /// subscriptions they concern.
    ///
    /// All or nothing: events that do not fit the log (not next, a version
    /// that does not follow, a known id, a malformed field) are
    /// [`Error::Corrupt`], naming the revision; then nothing changes.
    pub fn restore(&mut self, stored: &str) -> Result<Vec<u32>> {
        let batches = parse_stored(stored, self.log.head())?;
        self.restore_batches(&batches)
    }

    /// [`Store::restore`] of batches already parsed.
    pub fn restore_batches(&mut self, batches: &[StoredBatch]) -> Result<Vec<u32>> {
        let head = self.log.head();
        for b in batches {
            if let Err(e) = self.restore_batch(b) {
                self.log.truncate(head);
                return Err(e);
            }
        }
        let new_head = self.log.head();
        if new_head == head {
            return Ok(Vec::new());
        }
        Ok(self
            .subscriptions
            .woken(&self.log, head as Rev + 1, new_head as Rev))
    }

    /// Checks one stored batch against the log and appends it. Linear in
    /// the batch: versions and ids within it are tracked in hash maps.
    fn restore_batch(&mut self, b: &StoredBatch) -> Result<()> {
        let corrupt = |revision: u64, field: &'static str, message: String| {
            Err(Error::Corrupt {
                revision,
                field: Some(field),
                message,
            })
        };
        if b.revision != self.log.head() + 1 {
            return corrupt(
                b.revision,
                "revision",
                format!("expected revision {} next", self.log.head() + 1),
            );
        }
        if self.log.batch_by_id(b.id).is_some() {
            return corrupt(
                b.revision,
                "batchId",
                "its batch id is already stored".into(),
            );
        }
        let mut next_version: rustc_hash::FxHashMap<&str, u64> = Default::default();
        let mut ids: rustc_hash::FxHashSet<u128> = Default::default();
        for (i, e) in b.events.iter().enumerate() {
            let revision = b.revision + i as u64;
            let expected = match next_version.get_mut(&*e.stream) {
                Some(v) => {
                    *v += 1;
                    *v
                }
                None => {
                    let v = self.log.stream(&e.stream).map_or(0, |p| p.version + 1);
                    next_version.insert(&e.stream, v);
                    v
                }
            };
            if e.version != expected {
                return corrupt(
                    revision,
                    "version",
                    format!("version {} where {expected} follows", e.version),
                );
            }
            if self.log.revision_of_event_id(e.id).is_some() || !ids.insert(e.id) {
                return corrupt(revision, "id", "its event id is already stored".into());
            }
        }
        self.log.append(b.id, b.recorded_at, &b.new_events());
        Ok(())
    }

    /// Undoes every batch after `head` (a batch boundary): the log is again
    /// as it was then.
    pub fn truncate(&mut self, head: u64) {
        self.log.truncate(head);
    }

    /// Registers a subscription to the events `selector` matches, or, with
    /// `types`, to those of these types among them; returns its id.
    pub fn subscribe(&mut self, selector: Selector, types: Option<&[String]>) -> u32 {
        let selector = match types {
            Some(types) => selector.restrict_types(types),
            None => selector,
        };
        self.subscriptions.add(selector)
    }

    pub fn unsubscribe(&mut self, id: u32) {
        self.subscriptions.remove(id);
    }

    /// The revisions a subscription is to receive from `from` on, at most
    /// `limit`, oldest first; empty for an unknown subscription.
    pub fn deliverable(&self, id: u32, from: u64, limit: usize) -> Vec<Rev> {
        match self.subscriptions.selector(id) {
            Some(sel) => self.log.select(sel, from, u64::MAX, limit, false),
            None => Vec::new(),
        }
    }

    pub fn subscriptions(&self) -> &Dispatch {
        &self.subscriptions
    }

    fn commit_of(&self, first: Rev, last: Rev, replayed: bool) -> Commit {
        let log = &self.log;
        // Per stream, its last event in the batch. Most batches name few
        // streams, where a linear search beats hashing; past 16, an index.
        let mut streams: Vec<(u32, u64, u64)> = Vec::new();
        let mut index: Option<rustc_hash::FxHashMap<u32, usize>> = None;
        for rev in first..=last {
            let e = log.event(rev);
            let entry = (e.stream, e.version as u64, rev as u64);
            let at = match &index {
                Some(ix) => ix.get(&e.stream).copied(),
                None => streams.iter().position(|s| s.0 == e.stream),
            };
            match at {
                Some(i) => streams[i] = entry,
                None => {
                    if let Some(ix) = &mut index {
                        ix.insert(e.stream, streams.len());
                    }
                    streams.push(entry);
                    if index.is_none() && streams.len() > 16 {
                        index = Some(streams.iter().enumerate().map(|(i, s)| (s.0, i)).collect());
                    }
                }
            }
        }
        Commit {
            batch_id: log.batch(log.event(first).batch).id,
            first_revision: first as u64,
            revision: last as u64,
            streams,
            replayed,
            woken: Vec::new(),
        }
    }
}

/// A replayed batch id must carry the same events: otherwise the caller has
/// reused an id for a different batch, which is a bug to report. (What the
/// engine does not hold, such as data, the JavaScript layer compares.)
fn same_batch(log: &Log, first: Rev, last: Rev, req: &Request) -> Result<()> {
    let differs = |path: String| {
        Err(Error::invalid(
            "id",
            format!("this batch id was already committed with different events ({path} differs); give a different batch a new id"),
        ))
    };
    let stored = (last - first + 1) as usize;
    if stored != req.events.len() {
        return differs(format!("the number of events ({stored} stored)"));
    }
    for (i, (rev, spec)) in (first..=last).zip(&req.events).enumerate() {
        if let Some(field) = event_difference(log, rev, spec) {
            return differs(key_path(&index_path("events", i), field));
        }
    }
    Ok(())
}

/// The first field in which the stored event differs from `spec`.
fn event_difference(log: &Log, rev: Rev, spec: &EventSpec) -> Option<&'static str> {
    let e = log.event(rev);
    let tags_equal = match (&e.tags, &spec.tags) {
        (None, None) => true,
        (Some(stored), Some(given)) => {
            stored.len() == given.len()
                && stored
                    .iter()
                    .zip(given)
                    .all(|(&t, s)| log.tags.get(s) == Some(t))
        }
        _ => false,
    };
    if log.streams.get(&spec.stream) != Some(e.stream) {
        Some("stream")
    } else if log.types.get(&spec.type_) != Some(e.type_) {
        Some("type")
    } else if e.subject() != spec.subject.as_deref().and_then(|s| log.subjects.get(s))
        || e.subject().is_some() != spec.subject.is_some()
    {
        Some("subject")
    } else if !tags_equal {
        Some("tags")
    } else if spec.id.is_some_and(|id| id != log.event_id(rev)) {
        Some("id")
    } else {
        None
    }
}
