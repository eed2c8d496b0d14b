//! The view rule (SPEC §8.3): checking a batch that a device decided on its
//! own, possibly stale, view of a shared log.
//!
//! A device decided its batch against the shared log up to `base` plus its
//! own pending batches (`own`, in local order). On the shared log an event
//! is *in view* when its revision is ≤ `base` or it belongs to a committed
//! `own` batch; every other event is *unseen*. Events of a rejected `own`
//! batch are in no log, only in the device's view as it was; the caller
//! hands their keys in.
//!
//! A condition's scope is what its selector matches (its stream, for an
//! expectation; everything, for a constraint without a selector). Then:
//! - "nothing changed" conditions (`maxRevision`, `failIfEventsMatch`,
//!   `revisionRange`, `no_stream`, `{ revision }`, `{ version }`) hold when
//!   no unseen event and no rejected event is in scope and the condition
//!   holds over the in-view events;
//! - "something exists" conditions (`minRevision`, `stream_exists`) hold
//!   when no rejected event is in scope and the condition holds over the
//!   in-view events or an unseen event is in scope;
//! - duplicate event ids are checked against the whole shared log.
//!
//! Numbers in conditions are the device's: above `base` they name the
//! events of `own` in order, mapped here to global revisions; one that
//! named an event of a rejected batch stands for the newest in-view event
//! before it, one above everything the device had stands above every
//! revision. Violations report global revisions.

use crate::condition::{ConstraintKind, Expectation};
use crate::error::{Error, Result, Violation};
use crate::json::index_path;
use crate::log::{Log, Rev, StreamPosition};
use crate::request::Request;
use crate::selector::Selector;

/// The keys of an event the log does not hold (one of a rejected batch).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keys {
    pub stream: String,
    pub type_: String,
    pub subject: Option<String>,
    pub tags: Vec<String>,
}

impl Keys {
    /// Whether `sel` matches an event with these keys.
    pub fn matches(&self, sel: &Selector) -> bool {
        let one_of = |values: &Option<Vec<String>>, v: Option<&str>| match values {
            None => true,
            Some(values) => v.is_some_and(|v| values.iter().any(|x| x == v)),
        };
        sel.items.iter().any(|item| {
            one_of(&item.streams, Some(&self.stream))
                && one_of(&item.types, Some(&self.type_))
                && one_of(&item.subjects, self.subject.as_deref())
                && item.tags.iter().all(|t| self.tags.contains(t))
        })
    }
}

/// One batch of the device's pending part, with the outcome the shared log
/// gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Own {
    /// Committed: the log holds it under this batch id.
    Committed(u128),
    /// Rejected: its events' keys, in order.
    Rejected { id: u128, events: Vec<Keys> },
}

/// What a device had when it decided a batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    pub base: u64,
    pub own: Vec<Own>,
}

/// A violation found under the view rule; `rejected_batch_id` is the first
/// rejected `own` batch with an event in the condition's scope, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct ViewViolation {
    pub violation: Violation,
    pub rejected_batch_id: Option<u128>,
}

/// The device's numbering: `own` batches one after the other above `base`.
#[derive(Clone, Debug)]
struct Segment {
    local_first: u64,
    len: u64,
    /// The global revision of the batch's first event, when committed.
    global_first: Option<u64>,
}

/// A view resolved against the shared log: what the rule asks of it.
/// Built one `own` batch at a time ([`ResolvedView::push`]), so that the
/// views of a device's successive batches, each the one before plus a
/// batch, cost what they add (the server keeps one while it decides a
/// push).
#[derive(Clone, Debug)]
pub struct ResolvedView {
    base: u64,
    /// Committed `own` batches as global revision ranges, sorted.
    committed: Vec<(u64, u64)>,
    segments: Vec<Segment>,
    local_head: u64,
    /// Rejected `own` batches, in `own` order.
    rejected: Vec<(u128, Vec<Keys>)>,
    /// The `own` batches so far, to refuse one named twice.
    seen: rustc_hash::FxHashSet<u128>,
}

/// The newest in-view and the newest unseen event of a scope.
struct Scan {
    in_view: u64,
    unseen: Option<u64>,
}

impl ResolvedView {
    /// A view of the shared log up to `base` and no `own` batch yet.
    pub fn new(log: &Log, base: u64) -> Result<Self> {
        if base > log.head() {
            return Err(Error::invalid(
                "view.base",
                format!(
                    "the shared log has {} events; a view cannot be based beyond them",
                    log.head()
                ),
            ));
        }
        Ok(ResolvedView {
            base,
            committed: Vec::new(),
            segments: Vec::new(),
            local_head: base,
            rejected: Vec::new(),
            seen: Default::default(),
        })
    }

    /// The view's base.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Adds the next `own` batch; `path` names it in errors.
    pub fn push(&mut self, log: &Log, own: &Own, path: impl FnOnce() -> String) -> Result<()> {
        let id = match own {
            Own::Committed(id) | Own::Rejected { id, .. } => *id,
        };
        if !self.seen.insert(id) {
            return Err(Error::invalid(path(), "a batch is named twice in `own`"));
        }
        let (len, global_first) = match own {
            Own::Committed(id) => {
                let b = log
                    .batch_by_id(*id)
                    .ok_or_else(|| Error::invalid(path(), "no such committed batch"))?;
                let range = (b.first as u64, b.last as u64);
                // Kept sorted: one device's batches commit in its order.
                match self.committed.last() {
                    Some(&last) if last > range => {
                        let at = self.committed.partition_point(|&r| r < range);
                        self.committed.insert(at, range);
                    }
                    _ => self.committed.push(range),
                }
                ((b.last - b.first + 1) as u64, Some(b.first as u64))
            }
            Own::Rejected { id, events } => {
                self.rejected.push((*id, events.clone()));
                (events.len() as u64, None)
            }
        };
        if len > 0 {
            self.segments.push(Segment {
                local_first: self.local_head + 1,
                len,
                global_first,
            });
            self.local_head += len;
        }
        Ok(())
    }

    fn in_view(&self, rev: u64) -> bool {
        if rev <= self.base {
            return true;
        }
        let i = self.committed.partition_point(|&(first, _)| first <= rev);
        i > 0 && rev <= self.committed[i - 1].1
    }

    /// A device number as a global revision, for comparing with in-view
    /// revisions.
    fn map(&self, n: u64) -> u64 {
        if n <= self.base {
            return n;
        }
        if n > self.local_head {
            return u64::MAX;
        }
        let i = self.segments.partition_point(|s| s.local_first <= n) - 1;
        let s = &self.segments[i];
        if let Some(g) = s.global_first {
            return g + (n - s.local_first);
        }
        // A rejected batch's event: the newest in-view event before it.
        self.segments[..i]
            .iter()
            .rev()
            .find_map(|s| s.global_first.map(|g| g + s.len - 1))
            .unwrap_or(self.base)
    }

    /// Scans a scope's events above `base`, newest first (`above_base`
    /// yields them so), until the newest in-view and unseen ones are known;
    /// `at_or_below_base` gives the newest one at or below `base`.
    fn scan(
        &self,
        above_base: impl Iterator<Item = u64>,
        at_or_below_base: impl FnOnce() -> u64,
    ) -> Scan {
        let (mut in_view, mut unseen) = (None, None);
        for rev in above_base {
            if self.in_view(rev) {
                in_view.get_or_insert(rev);
            } else {
                unseen.get_or_insert(rev);
            }
            if in_view.is_some() && unseen.is_some() {
                break;
            }
        }
        Scan {
            in_view: in_view.unwrap_or_else(at_or_below_base),
            unseen,
        }
    }

    fn rejected_in(&self, scope: impl Fn(&Keys) -> bool) -> Option<u128> {
        self.rejected
            .iter()
            .find(|(_, events)| events.iter().any(&scope))
            .map(|(id, _)| *id)
    }
}

fn resolve(log: &Log, view: &View) -> Result<ResolvedView> {
    let mut resolved = ResolvedView::new(log, view.base)?;
    for (i, own) in view.own.iter().enumerate() {
        resolved.push(log, own, || index_path("view.own", i))?;
    }
    Ok(resolved)
}

/// A selector's matching revisions in `from..=to`, newest first, read from
/// the indexes a page at a time.
fn matches_desc<'a>(
    log: &'a Log,
    sel: &'a Selector,
    from: u64,
    to: u64,
) -> impl Iterator<Item = u64> + 'a {
    let mut upper = Some(to);
    let mut page: Vec<Rev> = Vec::new();
    let mut at = 0;
    std::iter::from_fn(move || loop {
        if at < page.len() {
            at += 1;
            return Some(page[at - 1] as u64);
        }
        let to = upper?;
        if to < from {
            return None;
        }
        page = log.select(sel, from, to, 64, true);
        at = 0;
        upper = match page.last() {
            Some(&last) if page.len() == 64 && last as u64 > from => Some(last as u64 - 1),
            _ => None,
        };
        if page.is_empty() {
            return None;
        }
    })
}

/// Checks `req`, decided on `view`, against the shared `log`: the
/// violations under the view rule, empty when the batch commits, in the
/// order expectations, constraints, stored event ids. `Err` when the view
/// itself does not fit the log (a base beyond its head, an unknown or
/// repeated `own` batch).
pub fn check_view(log: &Log, req: &Request, view: &View) -> Result<Vec<ViewViolation>> {
    Ok(check_resolved(log, req, &resolve(log, view)?))
}

/// [`check_view`] on a view already resolved.
pub fn check_resolved(log: &Log, req: &Request, r: &ResolvedView) -> Vec<ViewViolation> {
    let mut out = Vec::new();
    let head = log.head();
    for (stream, expectation, text) in &req.expect {
        if *expectation == Expectation::Any {
            continue;
        }
        let postings: &[Rev] = log
            .streams
            .get(stream)
            .map_or(&[], |id| log.streams.postings(id));
        let split = postings.partition_point(|&rev| rev as u64 <= r.base);
        let scan = r.scan(
            postings[split..].iter().rev().map(|&rev| rev as u64),
            || postings[..split].last().map_or(0, |&rev| rev as u64),
        );
        // The stream's newest in-view event, with its version.
        let in_view = (scan.in_view > 0).then(|| StreamPosition {
            version: postings.partition_point(|&rev| (rev as u64) < scan.in_view) as u64,
            revision: scan.in_view,
        });
        let rejected = r.rejected_in(|k| k.stream == **stream);
        let fails = match expectation {
            Expectation::Any => false,
            Expectation::StreamExists => {
                rejected.is_some() || (in_view.is_none() && scan.unseen.is_none())
            }
            _ => {
                let holds = match expectation {
                    Expectation::Revision(0) | Expectation::NoStream => in_view.is_none(),
                    Expectation::Revision(n) => in_view.is_some_and(|p| p.revision == r.map(*n)),
                    Expectation::Version(n) => in_view.is_some_and(|p| p.version == *n),
                    _ => true,
                };
                rejected.is_some() || scan.unseen.is_some() || !holds
            }
        };
        if fails {
            out.push(ViewViolation {
                violation: Violation::VersionMismatch {
                    stream: stream.to_string(),
                    expected: text.to_string(),
                    actual: log.stream(stream),
                },
                rejected_batch_id: rejected,
            });
        }
    }
    for c in &req.constraints {
        let (scan, rejected) = match &c.selector {
            None => (
                r.scan((r.base + 1..=head).rev(), || r.base),
                r.rejected_in(|_| true),
            ),
            Some(sel) => (
                r.scan(matches_desc(log, sel, r.base + 1, head), || {
                    log.select(sel, 1, r.base, 1, true)
                        .first()
                        .map_or(0, |&rev| rev as u64)
                }),
                r.rejected_in(|k| k.matches(sel)),
            ),
        };
        let found = scan.unseen.unwrap_or(scan.in_view);
        let v = scan.in_view;
        let constraint = c.text.clone();
        let violation = match c.kind {
            ConstraintKind::Min(expected) => {
                let holds = v >= r.map(expected) || scan.unseen.is_some();
                (rejected.is_some() || !holds).then_some(Violation::MinRevisionNotMet {
                    constraint,
                    expected,
                    actual: found,
                })
            }
            ConstraintKind::Max(max) => {
                let holds = v <= r.map(max) && scan.unseen.is_none();
                (rejected.is_some() || !holds).then_some(Violation::MaxRevisionExceeded {
                    constraint,
                    max,
                    found,
                })
            }
            ConstraintKind::Range(start, end) => {
                let holds = r.map(start) <= v && v <= r.map(end) && scan.unseen.is_none();
                (rejected.is_some() || !holds).then_some(Violation::RangeNotSatisfied {
                    constraint,
                    start,
                    end,
                    actual: found,
                })
            }
        };
        if let Some(violation) = violation {
            out.push(ViewViolation {
                violation,
                rejected_batch_id: rejected,
            });
        }
    }
    for e in &req.events {
        if let Some(id) = e.id {
            if let Some(rev) = log.revision_of_event_id(id) {
                out.push(ViewViolation {
                    violation: Violation::DuplicateEventId {
                        id,
                        revision: rev as u64,
                    },
                    rejected_batch_id: None,
                });
            }
        }
    }
    out
}

/// Whether the view rule must refuse a batch still pending on its device,
/// whatever else happens: one of its "nothing changed" conditions has in
/// its scope an event of the shared log after `base` (up to `confirmed`,
/// the prefix the device holds) from a batch not in `own`. That event is
/// unseen, and stays so. Only what the confirmed prefix proves: the server
/// still decides (other reasons may refuse the batch too).
pub fn certain_to_fail(
    log: &Log,
    confirmed: u64,
    req: &Request,
    base: u64,
    own: &rustc_hash::FxHashSet<u128>,
) -> bool {
    let confirmed = confirmed.min(log.head());
    if base >= confirmed {
        return false;
    }
    let unseen = |rev: u64| !own.contains(&log.batch(log.event(rev as Rev).batch).id);
    for (stream, expectation, _) in &req.expect {
        if matches!(expectation, Expectation::Any | Expectation::StreamExists) {
            continue;
        }
        let Some(id) = log.streams.get(stream) else {
            continue;
        };
        let postings = log.streams.postings(id);
        let lo = postings.partition_point(|&rev| rev as u64 <= base);
        let hi = postings.partition_point(|&rev| rev as u64 <= confirmed);
        if postings[lo..hi].iter().any(|&rev| unseen(rev as u64)) {
            return true;
        }
    }
    req.constraints.iter().any(|c| {
        !matches!(c.kind, ConstraintKind::Min(_))
            && match &c.selector {
                None => (base + 1..=confirmed).any(unseen),
                Some(sel) => matches_desc(log, sel, base + 1, confirmed).any(unseen),
            }
    })
}

#[cfg(test)]
mod tests;
