//! Storage: one trait, two backends (PostgreSQL and an embedded SQLite
//! file), the same tables in both.
//!
//! A push runs in one [`Tx`] that holds the log's head row locked: in
//! PostgreSQL `SELECT … FOR UPDATE` (any number of processes serialize
//! there), in SQLite `BEGIN IMMEDIATE` (one writer per file). Revisions are
//! assigned under that lock as head + 1 …, so they have no gaps and commit
//! order is revision order; no sequence is involved. (A PostgreSQL push
//! decided from what its process knew assigns them before it takes the
//! lock, and writes only if, under the lock, the log's stamp shows that
//! nothing was written since: see [`Storage::begin_known`].)
//!
//! Tables:
//! - `heads (log, head, recorded_at)`: the lock point and the head (and in
//!   PostgreSQL `stamp`, written anew by every push transaction).
//! - `events (log, revision, batch_last, body)`: each recorded event as the
//!   JSON a reader receives; `batch_last` is its batch's last revision, so a
//!   page can be completed to whole batches.
//! - `batches (log, batch_id, committed, outcome, events, keys)`: every
//!   decided batch by id, with its final outcome, its events as given (to
//!   tell a replay from a reused id) and, for a rejected one, its events'
//!   keys (the view rule needs them).
//! - `clients (client_id, principal)`: the principal a client id belongs to.
//! - `seqs (log, client_id, seq, outcome)`: each client's decided batches.

use std::future::Future;

use tokio::sync::broadcast;

#[derive(Clone, Debug)]
pub struct StorageError(pub String);

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<tokio_postgres::Error> for StorageError {
    fn from(e: tokio_postgres::Error) -> Self {
        StorageError(format!("postgres: {e}"))
    }
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        StorageError(format!("sqlite: {e}"))
    }
}

impl From<deadpool_postgres::PoolError> for StorageError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StorageError(format!("postgres pool: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// A hint that `log` ("" for any log) may have new events, committed
/// before `at`.
#[derive(Clone, Debug)]
pub struct Hint {
    pub log: String,
    pub at: std::time::Instant,
}

impl Hint {
    pub fn new(log: String) -> Self {
        Hint {
            log,
            at: std::time::Instant::now(),
        }
    }
}

/// A log's head as stored.
#[derive(Clone, Copy, Debug, Default)]
pub struct Head {
    pub head: u64,
    pub recorded_at: f64,
    /// A value that every push transaction writes anew (random), so that
    /// a transaction begun from what was known can check that nothing was
    /// written since (PostgreSQL; SQLite does not keep it).
    pub stamp: i64,
}

/// A decided batch, as recorded under its id.
#[derive(Clone, Debug)]
pub struct BatchRecord {
    pub committed: bool,
    /// The outcome as JSON, without `seq` and `replayed`.
    pub outcome: String,
    /// The batch's events as given, canonical JSON.
    pub events: String,
    /// For a rejected batch, its events' keys as JSON.
    pub keys: Option<String>,
}

/// A recorded event row.
#[derive(Clone, Debug)]
pub struct EventRow {
    pub revision: u64,
    pub batch_last: u64,
    pub body: String,
}

/// What reading a log returns: its head and whole batches of rows.
pub struct Page {
    pub head: u64,
    pub rows: Vec<EventRow>,
}

/// A page holds at most this many bytes of events, unless its one batch
/// is larger (a batch may hold 4 MiB of events, plus what the server adds).
pub const PAGE_BYTES: usize = 4 << 20;

/// Most events in one batch (a push holds at most this many).
pub const BATCH_EVENTS: u64 = hindcast::sync::protocol::PUSH_EVENTS as u64;

/// Rows taken in revision order into a page: whole batches, up to `limit`
/// events and [`PAGE_BYTES`] (or one batch, whatever its size). Rows are
/// offered one at a time, as storage yields them, so that nothing past the
/// page is held: a batch that would not fit is dropped as soon as that is
/// clear.
pub struct PageRows {
    rows: Vec<EventRow>,
    bytes: usize,
    /// The rows of a batch not yet complete.
    batch: Vec<EventRow>,
    batch_bytes: usize,
    limit: usize,
}

impl PageRows {
    pub fn new(limit: u64) -> Self {
        PageRows {
            rows: Vec::new(),
            bytes: 0,
            batch: Vec::new(),
            batch_bytes: 0,
            limit: limit.max(1) as usize,
        }
    }

    /// Takes the next row; false when the page is full (the row, and the
    /// batch it is part of, are left for the next page).
    pub fn offer(&mut self, row: EventRow) -> bool {
        if self.batch.is_empty() && self.rows.len() >= self.limit {
            return false;
        }
        let last = row.revision >= row.batch_last;
        self.batch_bytes += row.body.len();
        self.batch.push(row);
        if !self.rows.is_empty() && self.bytes + self.batch_bytes > PAGE_BYTES {
            self.batch.clear();
            self.batch_bytes = 0;
            return false;
        }
        if last {
            self.bytes += self.batch_bytes;
            self.batch_bytes = 0;
            self.rows.append(&mut self.batch);
        }
        true
    }

    /// The page (with the rows of a batch that storage ended inside).
    pub fn finish(mut self) -> Vec<EventRow> {
        self.rows.append(&mut self.batch);
        self.rows
    }

    /// Rows to ask storage for next, at most: enough to fill the page at
    /// the size of the rows so far (few at first: rows may be large).
    pub fn next_chunk(&self) -> u64 {
        let (n, bytes) = (
            self.rows.len() + self.batch.len(),
            self.bytes + self.batch_bytes,
        );
        let left = (self.limit + BATCH_EVENTS as usize).saturating_sub(n);
        let wanted = match n {
            0 => 16,
            n => PAGE_BYTES.saturating_sub(bytes) / (bytes / n).max(1) + 1,
        };
        wanted.clamp(16, left.max(1)) as u64
    }
}

/// A push transaction on one log, holding its head row locked. Dropped
/// without [`Tx::commit`], it writes nothing.
pub trait Tx: Send {
    /// The head as it was when the lock was taken.
    fn head(&self) -> Head;
    /// Events after `after`, in revision order, to catch an engine up: a
    /// [`PageRows`] page of `limit` events (it may end inside a batch only
    /// when the log does).
    fn events_after(
        &mut self,
        after: u64,
        limit: u64,
    ) -> impl Future<Output = Result<Vec<EventRow>>> + Send;
    /// Binds `client` to `principal` if it is new; returns its owner.
    fn bind_client(
        &mut self,
        client: &str,
        principal: &str,
    ) -> impl Future<Output = Result<String>> + Send;
    /// The client's last decided seq on this log (0 for none).
    fn last_seq(&mut self, client: &str) -> impl Future<Output = Result<u64>> + Send;
    fn seq_outcome(
        &mut self,
        client: &str,
        seq: u64,
    ) -> impl Future<Output = Result<Option<String>>> + Send;
    fn batch(&mut self, id: &str) -> impl Future<Output = Result<Option<BatchRecord>>> + Send;
    /// Writes a newly decided batch: its record and, if committed, its
    /// events. (A backend may hold writes until [`Tx::commit`].)
    fn insert_batch(
        &mut self,
        id: &str,
        record: &BatchRecord,
        rows: &[EventRow],
    ) -> impl Future<Output = Result<()>> + Send;
    fn insert_seq(
        &mut self,
        client: &str,
        seq: u64,
        outcome: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Moves the head (if it changed) and writes `head.stamp`, wakes
    /// readers, commits. The statements are sent when the returned future
    /// is first polled, before it waits for anything.
    fn commit(self, head: Head) -> impl Future<Output = Result<()>> + Send;
}

pub trait Storage: Send + Sync + 'static {
    type Tx: Tx + 'static;
    type Pipeline: Send + Sync + 'static;
    /// Begins a push on `log`, waiting for its lock. `clients` and
    /// `batch_ids` are what deciding will ask about: a backend far away
    /// may read them with the lock, in one go, and answer from memory.
    fn begin(
        &self,
        log: &str,
        clients: &[String],
        batch_ids: &[String],
    ) -> impl Future<Output = Result<Self::Tx>> + Send;
    /// A connection for transactions begun from what was known
    /// ([`Storage::begin_known`]), which it runs in the order they commit;
    /// `None` when the backend does not do this (reading under the lock
    /// costs it little).
    fn pipeline(&self) -> impl Future<Output = Result<Option<Self::Pipeline>>> + Send {
        async { Ok(None) }
    }
    /// Begins a push on `log` that reads nothing: the caller knows the
    /// stored head (`known`, its stamp included), the owners and last seqs
    /// of the group's clients, and that none of `batch_ids` is stored. The
    /// transaction answers from these. Its commit is sent on `pipeline`
    /// behind the ones sent before it, and writes only if, under the log's
    /// lock, the stamp is still `known`'s (so it fails if one before it
    /// failed, or another process wrote); it fails otherwise.
    fn begin_known(
        &self,
        pipeline: &Self::Pipeline,
        log: &str,
        known: Head,
        owners: Vec<(String, String)>,
        last_seqs: Vec<(String, u64)>,
        batch_ids: &[String],
    ) -> Option<Self::Tx> {
        let _ = (pipeline, log, known, owners, last_seqs, batch_ids);
        None
    }
    /// Wakes live readers of `log` (in every process) to what is
    /// committed: transactions begun from what was known do not, so that
    /// a run of them can share one wake-up.
    fn notify(
        &self,
        pipeline: &Self::Pipeline,
        log: &str,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<()>> + Send + 'static>> {
        let _ = (pipeline, log);
        Box::pin(async { Ok(()) })
    }
    /// The log's head and its events after `after`: whole batches, as a
    /// [`PageRows`] page of `limit` events holds them.
    fn read(&self, log: &str, after: u64, limit: u64) -> impl Future<Output = Result<Page>> + Send;
    fn health(&self) -> impl Future<Output = Result<()>> + Send;
    /// Hints that a log may have new events.
    fn hints(&self) -> broadcast::Receiver<Hint>;
}
