//! Rebase: a syncing device's local log after a pull and push outcomes
//! (SPEC §8.4), as one pure function.
//!
//! The local log is the confirmed prefix `1 ..= confirmed`, identical to
//! the shared log, followed by the device's pending batches in local order
//! with provisional numbers `confirmed + 1 …`. What comes from the server
//! moves it on:
//!
//! - pulled batches (whole, the shared log's next ones) extend the prefix;
//!   a pulled batch that is one of the device's own pending batches (known
//!   by its batch id) joins the prefix with its global numbers and leaves
//!   the pending part;
//! - a committed outcome marks a pending batch as committed: it stays in the
//!   pending part, with provisional numbers, until the prefix reaches it;
//! - a rejected outcome takes the batch out of the local log.
//!
//! The pending batches that remain keep their local order and are numbered
//! again after the new prefix. The function says what changed; applying it
//! to the engine and to stored state is the binding's work.
//!
//! Invariant (property-tested in `tests/rebase.rs`): the local log after a
//! rebase is the shared log up to the new prefix followed by the surviving
//! pending batches in local order.

use crate::error::{Error, Result};

/// What the device knows of a pending batch's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Known {
    /// Not decided yet, as far as the device knows.
    Pending,
    /// The server committed it at these global revisions; the prefix has
    /// not reached it yet.
    Committed { first: u64, last: u64 },
}

/// One of the device's pending batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PendingBatch {
    pub id: u128,
    /// How many events it holds (at least one).
    pub len: u64,
    pub known: Known,
}

/// A batch of the shared log as pulled: its id, first revision and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PulledBatch {
    pub id: u128,
    pub first: u64,
    pub len: u64,
}

/// A push outcome for one of the device's batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Committed { first: u64, last: u64 },
    Rejected,
}

/// The local log after a rebase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rebased {
    /// The new confirmed prefix's head.
    pub confirmed: u64,
    /// Pending batches that joined the prefix, in the order they did.
    pub joined: Vec<u128>,
    /// Pending batches rejected, which left the local log, in local order.
    pub rejected: Vec<u128>,
    /// The pending batches that remain, in local order, each with its new
    /// provisional first revision.
    pub pending: Vec<(PendingBatch, u64)>,
}

/// Rebases the local log: `pending` (local order) after the prefix
/// `confirmed`, moved on by `pulled` (the shared log's batches from
/// `confirmed + 1` on, in order) and `outcomes` (by batch id; for batches
/// not pending they say nothing new and are ignored).
///
/// Pulled batches that do not follow the prefix (a gap, a repeat, an empty
/// batch) are an [`Error::InvalidInput`]: the caller pulled wrongly and
/// nothing changes.
pub fn rebase(
    confirmed: u64,
    pending: &[PendingBatch],
    pulled: &[PulledBatch],
    outcomes: &[(u128, Outcome)],
) -> Result<Rebased> {
    let mut head = confirmed;
    for (i, b) in pulled.iter().enumerate() {
        if b.first != head + 1 || b.len == 0 {
            return Err(Error::invalid(
                format!("pulled[{i}]"),
                format!(
                    "expected a batch from revision {} on, got {} event(s) from {}",
                    head + 1,
                    b.len,
                    b.first
                ),
            ));
        }
        head += b.len;
    }
    let pulled_ids: rustc_hash::FxHashSet<u128> = pulled.iter().map(|b| b.id).collect();
    let outcome_of = |id: u128| {
        outcomes
            .iter()
            .rev()
            .find(|(o, _)| *o == id)
            .map(|(_, o)| *o)
    };
    let mut out = Rebased {
        confirmed: head,
        joined: Vec::new(),
        rejected: Vec::new(),
        pending: Vec::with_capacity(pending.len()),
    };
    let mut next = head + 1;
    for p in pending {
        if pulled_ids.contains(&p.id) {
            continue; // joined, reported in the shared log's order below
        }
        let known = match outcome_of(p.id) {
            Some(Outcome::Rejected) => {
                out.rejected.push(p.id);
                continue;
            }
            Some(Outcome::Committed { first, last }) => Known::Committed { first, last },
            None => p.known,
        };
        out.pending.push((PendingBatch { known, ..*p }, next));
        next += p.len;
    }
    let own: rustc_hash::FxHashSet<u128> = pending.iter().map(|p| p.id).collect();
    out.joined = pulled
        .iter()
        .filter(|b| own.contains(&b.id))
        .map(|b| b.id)
        .collect();
    Ok(out)
}
