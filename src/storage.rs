//! A persistent store's storage flow, decided without IO.
//!
//! As quinn-proto's connections are, this module is a set of small state
//! machines that say what to read and write next and decide on what comes
//! back; the binding performs the IO (`pkg-template/persistent.js` over
//! IndexedDB through `wasm/idb.rs`) and builds the event objects. The
//! tests drive the same machines against a model database shared by
//! several tabs (`tests/storage.rs`).
//!
//! **Records.** The log is stored as records, each a run of whole batches:
//! `{ revision: first, last, events: "<JSON array of recorded events>" }`,
//! keyed by its first revision. [`pack`] closes a record before a batch
//! that would take it past [`RECORD_EVENTS`] events or [`RECORD_CHARS`]
//! characters (a batch is never split), so reads and writes cost one value
//! per run rather than one per event, and the engine restores from the
//! same text.
//!
//! **Reading** ([`Reader`]): loading and catching up read the records after
//! the head in chunks of about [`CHUNK_EVENTS`] events, each record checked
//! to follow the one before it.
//!
//! **Writing** ([`GroupWrite`]): concurrent transacts are committed as one
//! group. The group is staged (each request checked and applied in turn
//! against the log as this tab knows it, failing on its own; the log then
//! put back) and its records are added in one transaction. If another tab
//! stored anything after this tab's head, the first record's key is taken
//! and nothing is stored: what the others stored is read, the group is
//! staged again on top of it and written again, until a write finds its key
//! free. A group with nothing to write (only refusals) stands only if
//! nothing was stored after its head, since what others stored may
//! overturn a refusal. Only once a write has completed are its batches
//! applied and published.
//!
//! **Notices** ([`Notices`]): after commits, other tabs are told there is
//! more to read, at most once per [`NOTICE_GAP_MS`].
//!
//! Invariants: every tab's head is at a record boundary of the database,
//! and every write starts at its head + 1; so a record keyed head + 1
//! exists exactly when some tab wrote after that head, and a write whose
//! first key is free sees the database as it stands. Outside staging the
//! engine holds exactly the events published.

use crate::error::{Error, Result};

/// A record holds whole batches; another starts once one holds this many
/// events…
pub const RECORD_EVENTS: u32 = 1_000;
/// …or this many characters of JSON.
pub const RECORD_CHARS: u32 = 1 << 22;
/// Events aimed at per read while loading or catching up.
pub const CHUNK_EVENTS: u64 = 10_000;
/// Records asked for by the first read; later reads adapt to the record
/// size.
pub const FIRST_READ: u32 = 16;
/// The least time between two notices to other tabs, in ms.
pub const NOTICE_GAP_MS: f64 = 10.0;

/// Splits whole batches, given in order by their event counts, into
/// records; returns the end (exclusive batch index) of each record. With
/// `chars`, each batch's JSON text length, a record also closes before
/// [`RECORD_CHARS`]; without, the texts are made per record afterwards,
/// and a record whose text is too long for [`fits`] calls for packing
/// again with the lengths.
pub fn pack(events: &[u32], chars: Option<&[u32]>) -> Vec<u32> {
    let mut ends = Vec::new();
    let (mut n, mut c) = (0u64, 0u64);
    for (i, &count) in events.iter().enumerate() {
        let len = chars.map_or(0, |chars| u64::from(chars[i]));
        let opened = n > 0;
        if opened
            && (n + u64::from(count) > u64::from(RECORD_EVENTS)
                || c + len > u64::from(RECORD_CHARS))
        {
            ends.push(i as u32);
            (n, c) = (0, 0);
        }
        n += u64::from(count);
        c += len;
    }
    if !events.is_empty() {
        ends.push(events.len() as u32);
    }
    ends
}

/// Whether a record's text of `len` characters holding `batches` batches
/// may be stored as it is: past [`RECORD_CHARS`] a record holds one batch.
pub fn fits(len: u64, batches: u32) -> bool {
    len <= u64::from(RECORD_CHARS) || batches <= 1
}

/// A read of up to `limit` records from the one keyed `from` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read {
    pub from: u64,
    pub limit: u32,
}

/// Reading what is stored after a head, chunk by chunk.
#[derive(Debug)]
pub struct Reader {
    read: Read,
}

impl Reader {
    pub fn new(head: u64) -> Self {
        Reader {
            read: Read {
                from: head + 1,
                limit: FIRST_READ,
            },
        }
    }

    /// The read to make now.
    pub fn read(&self) -> Read {
        self.read
    }

    /// Takes the spans (first and last revision, as stored: any number) of
    /// the records the last read returned, checking that each follows the
    /// one before; returns whether another read follows (the read was
    /// full), then [`Reader::read`] says which. A record that does not
    /// follow is [`Error::Corrupt`] at the revision expected.
    pub fn received(&mut self, spans: &[(f64, f64)]) -> Result<bool> {
        let start = self.read.from;
        let mut next = start;
        for &(first, last) in spans {
            if first != next as f64 {
                return Err(corrupt(
                    next,
                    format!("found a record at revision {first} where {next} follows"),
                ));
            }
            if !(last >= first && last.fract() == 0.0 && last < 2f64.powi(53)) {
                return Err(corrupt(
                    next,
                    "not a record of a run of batches ({ revision, last, events })".into(),
                ));
            }
            next = last as u64 + 1;
        }
        if spans.len() < self.read.limit as usize {
            return Ok(false);
        }
        // Events per record so far tell how many records make a chunk.
        let per_record = (next - start) as f64 / spans.len() as f64;
        let limit = (CHUNK_EVENTS as f64 / per_record)
            .round()
            .clamp(1.0, CHUNK_EVENTS as f64);
        self.read = Read {
            from: next,
            limit: limit as u32,
        };
        Ok(true)
    }
}

/// A record's fault, found by the binding as it decodes the record's
/// events: [`Error::Corrupt`] at `revision`.
pub fn corrupt(revision: u64, why: String) -> Error {
    Error::Corrupt {
        revision,
        field: None,
        message: why,
    }
}

/// What a group's write asks for next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Stage the group on top of the records read (none at first).
    Stage,
    /// Add the staged records in one transaction; report with
    /// [`GroupWrite::written`] whether it stored them (false: a key was
    /// taken, nothing stored).
    Write,
    /// Read every record after the group's head; report their number with
    /// [`GroupWrite::read`].
    Read,
    /// The group stands as last staged: publish what it wrote, settle its
    /// transacts.
    Done,
}

/// One commit group's way into storage (see the module's doc).
#[derive(Debug)]
pub struct GroupWrite {
    /// Records others stored after the head, as last read.
    theirs: usize,
    /// Records the last staging wrote.
    records: usize,
    step: Step,
}

impl Default for GroupWrite {
    fn default() -> Self {
        Self::new()
    }
}

impl GroupWrite {
    /// A group about to be staged on the log as this tab knows it.
    pub fn new() -> Self {
        GroupWrite {
            theirs: 0,
            records: 0,
            step: Step::Stage,
        }
    }

    pub fn step(&self) -> Step {
        self.step
    }

    /// The group was staged: `records` to write (none if every transact
    /// was refused).
    pub fn staged(&mut self, records: usize) -> Step {
        self.expect(Step::Stage);
        self.records = records;
        self.step = if records > 0 { Step::Write } else { Step::Read };
        self.step
    }

    /// The write completed (`stored`) or found its first key taken.
    pub fn written(&mut self, stored: bool) -> Step {
        self.expect(Step::Write);
        self.step = if stored { Step::Done } else { Step::Read };
        self.step
    }

    /// The read found `records` records after the head.
    pub fn read(&mut self, records: usize) -> Step {
        self.expect(Step::Read);
        // Refusals stand if nothing new was stored since they were decided.
        self.step = if self.records == 0 && records == self.theirs {
            Step::Done
        } else {
            Step::Stage
        };
        self.theirs = records;
        self.step
    }

    /// A binding that drives the steps out of order has a bug; debug
    /// builds (the tests) catch it.
    fn expect(&self, step: Step) {
        debug_assert_eq!(self.step, step, "GroupWrite driven out of order");
    }
}

/// When to tell other tabs there is more to read: at once after a quiet
/// spell, then at most once per [`NOTICE_GAP_MS`] while commits keep coming
/// (a message costs a writer as much as a commit).
#[derive(Debug)]
pub struct Notices {
    last: f64,
    owed: bool,
}

impl Default for Notices {
    fn default() -> Self {
        Notices {
            last: f64::NEG_INFINITY,
            owed: false,
        }
    }
}

impl Notices {
    /// A commit at `now` (ms): the delay after which to send the notice, or
    /// `None` if one is owed already.
    pub fn committed(&mut self, now: f64) -> Option<f64> {
        if self.owed {
            return None;
        }
        self.owed = true;
        Some((self.last + NOTICE_GAP_MS - now).max(0.0))
    }

    /// Whether a notice is owed; if so it is now sent, at `now`.
    pub fn send(&mut self, now: f64) -> bool {
        let owed = std::mem::take(&mut self.owed);
        if owed {
            self.last = now;
        }
        owed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_closes_records_by_events_then_chars() {
        assert_eq!(pack(&[], None), Vec::<u32>::new());
        assert_eq!(pack(&[1, 1, 1], None), vec![3]);
        assert_eq!(pack(&[600, 400, 1], None), vec![2, 3]);
        assert_eq!(pack(&[600, 401, 2_000, 1], None), vec![1, 2, 3, 4]);
        let big = RECORD_CHARS - 10;
        assert_eq!(pack(&[1, 1, 1], Some(&[big, 10, 1])), vec![2, 3]);
        assert_eq!(pack(&[1, 1], Some(&[RECORD_CHARS * 2, 1])), vec![1, 2]);
        assert!(fits(u64::from(RECORD_CHARS) + 1, 1));
        assert!(!fits(u64::from(RECORD_CHARS) + 1, 2));
    }

    #[test]
    fn reader_checks_spans_and_sizes_chunks() {
        let mut r = Reader::new(4);
        assert_eq!(
            r.read(),
            Read {
                from: 5,
                limit: FIRST_READ
            }
        );
        let spans: Vec<(f64, f64)> = (0..16)
            .map(|i| (5.0 + 10.0 * i as f64, 14.0 + 10.0 * i as f64))
            .collect();
        assert_eq!(r.received(&spans), Ok(true));
        assert_eq!(
            r.read(),
            Read {
                from: 165,
                limit: 1_000
            }
        );
        assert_eq!(r.received(&[(165.0, 165.0)]), Ok(false));

        let mut r = Reader::new(0);
        let err = r.received(&[(1.0, 3.0), (5.0, 6.0)]).unwrap_err();
        assert_eq!(
            err,
            corrupt(4, "found a record at revision 5 where 4 follows".into())
        );
        let err = Reader::new(0).received(&[(1.0, f64::NAN)]).unwrap_err();
        assert!(matches!(err, Error::Corrupt { revision: 1, .. }));
        let err = Reader::new(0).received(&[(1.0, 0.0)]).unwrap_err();
        assert!(matches!(err, Error::Corrupt { revision: 1, .. }));
    }

    #[test]
    fn group_write_steps() {
        // Written at once.
        let mut g = GroupWrite::new();
        assert_eq!(g.staged(1), Step::Write);
        assert_eq!(g.written(true), Step::Done);
        // Key taken: read, stage again, write again.
        let mut g = GroupWrite::new();
        assert_eq!(g.staged(2), Step::Write);
        assert_eq!(g.written(false), Step::Read);
        assert_eq!(g.read(1), Step::Stage);
        assert_eq!(g.staged(1), Step::Write);
        assert_eq!(g.written(true), Step::Done);
        // Refusals only: stand once a read finds nothing new.
        let mut g = GroupWrite::new();
        assert_eq!(g.staged(0), Step::Read);
        assert_eq!(g.read(0), Step::Done);
        let mut g = GroupWrite::new();
        assert_eq!(g.staged(0), Step::Read);
        assert_eq!(g.read(2), Step::Stage);
        assert_eq!(g.staged(0), Step::Read);
        assert_eq!(g.read(2), Step::Done);
    }

    #[test]
    #[should_panic(expected = "out of order")]
    fn group_write_refuses_a_step_out_of_order() {
        GroupWrite::new().written(true);
    }

    #[test]
    fn notices_are_spaced() {
        let mut n = Notices::default();
        assert!(!n.send(0.0));
        assert_eq!(n.committed(100.0), Some(0.0));
        assert_eq!(n.committed(101.0), None);
        assert!(n.send(100.0));
        assert_eq!(n.committed(104.0), Some(6.0));
        assert!(n.send(110.0));
        assert_eq!(n.committed(200.0), Some(0.0));
    }
}
