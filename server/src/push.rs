//! Deciding pushed batches: the per-log engine, caught up from storage
//! inside the log's lock, and the outcome of each batch, recorded with it.
//!
//! The engine is the core's [`Log`]: keys and indexes (streams, types,
//! subjects, tags, ids), no event data, so a check costs here what it costs
//! in the browser. It is only ever ahead of storage while a push is being
//! decided; if that push does not commit, it is cut back to where it was.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use hindcast::error::Error;
use hindcast::json::{index_path, key_path, parse_uuid, write_str};
use hindcast::log::{Log, NewEvent, StreamPosition};
use hindcast::request::{parse_request, Request};
use hindcast::stored::parse_stored;
use hindcast::sync::protocol::{absent, violation_message, OwnIn, OwnSeqs, RecordedJson, STAMPED};
use hindcast::sync::view::{check_resolved, Keys, Own, ResolvedView, ViewViolation};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::canonical::{canonical, depth, MAX_DEPTH};
use crate::storage::{BatchRecord, EventRow, Head, Storage, StorageError, Tx};

/// How long a push may wait for its log (behind other pushes, in this
/// process or, through the database, in others) and be decided.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub enum PushError {
    /// The client id belongs to another principal.
    Forbidden,
    /// A seq beyond the next expected one; nothing was decided.
    OutOfOrder(u64),
    Storage(StorageError),
    Timeout,
}

impl From<StorageError> for PushError {
    fn from(e: StorageError) -> Self {
        PushError::Storage(e)
    }
}

/// One pushed batch: its seq, its JSON as sent, and that JSON read once
/// (`None` if it is not a well-formed batch: deciding it then says why).
pub struct Pushed {
    pub seq: u64,
    pub raw: Box<RawValue>,
    batch: Option<BatchIn>,
    /// The batch's id, as results name it, when it is a UUID.
    id: Option<String>,
    /// The number of its events, and the length of its `events` as sent.
    pub events: usize,
    pub event_bytes: usize,
}

impl Pushed {
    /// Reads a pushed batch; `None` if it has no seq (a number).
    pub fn new(raw: Box<RawValue>) -> Option<Pushed> {
        if let Ok(b) = serde_json::from_str::<BatchIn>(raw.get()) {
            let Ok(events) =
                serde_json::from_str::<Vec<&RawValue>>(b.events.get()).map(|v| v.len())
            else {
                return Self::malformed(raw);
            };
            return Some(Pushed {
                seq: b.seq,
                event_bytes: b.events.get().len(),
                events,
                id: b.id.as_deref().and_then(normal_id),
                batch: Some(b),
                raw,
            });
        }
        Self::malformed(raw)
    }

    fn malformed(raw: Box<RawValue>) -> Option<Pushed> {
        /// What the envelope needs of a batch that is not well formed.
        #[derive(Deserialize)]
        struct BatchHead {
            seq: u64,
            #[serde(default)]
            id: Option<Box<RawValue>>,
            #[serde(default)]
            events: Option<Box<RawValue>>,
        }
        let head: BatchHead = serde_json::from_str(raw.get()).ok()?;
        let (events, event_bytes) = head.events.as_ref().map_or((0, 0), |e| {
            let n =
                serde_json::from_str::<Vec<serde::de::IgnoredAny>>(e.get()).map_or(0, |v| v.len());
            (n, e.get().len())
        });
        let id = head
            .id
            .and_then(|id| serde_json::from_str::<String>(id.get()).ok())
            .and_then(|id| normal_id(&id));
        Some(Pushed {
            seq: head.seq,
            raw,
            batch: None,
            id,
            events,
            event_bytes,
        })
    }
}

/// A batch id as results and storage write it, if it is a UUID.
fn normal_id(id: &str) -> Option<String> {
    parse_uuid(id).map(|id| uuid::Uuid::from_u128(id).hyphenated().to_string())
}

/// A log's engine. `clean` is false while a group is being decided: if
/// that is abandoned midway, the next group starts over from storage
/// instead of trusting a log that may hold undecided events.
///
/// What the lane knows besides: `known`, the stored head as of this
/// lane's last transaction (the engine holds exactly the log up to it),
/// and the owner and last seq of the clients it decided for. A group whose
/// pushes these answer is decided without reading first (see
/// [`decide_known`]).
#[derive(Default)]
struct Engine {
    log: Log,
    clean: bool,
    known: Option<Head>,
    owners: HashMap<String, String>,
    last_seqs: HashMap<String, u64>,
    seqs: Seqs,
}

/// Each client's recently decided seqs on this log, with their batch id
/// and whether it committed: a compact `own` (SPEC §8.3) is expanded from
/// these without reading. A seq not here is read from storage.
#[derive(Default)]
struct Seqs {
    clients: HashMap<String, Decided>,
    total: usize,
}

/// One client's decided seqs `first` … `first + batches.len() - 1`, and
/// which of them were rejected.
#[derive(Default)]
struct Decided {
    first: u64,
    batches: VecDeque<(u128, bool)>,
    rejected: std::collections::BTreeSet<u64>,
}

impl Decided {
    fn get(&self, seq: u64) -> Option<(u128, bool)> {
        let i = usize::try_from(seq.checked_sub(self.first)?).ok()?;
        self.batches.get(i).copied()
    }
}

/// Seqs remembered per client, and over all clients (about 32 bytes each).
const SEQS_PER_CLIENT: usize = 1 << 16;
const SEQS_TOTAL: usize = 1 << 20;

impl Seqs {
    fn client(&self, client: &str) -> Option<&Decided> {
        self.clients.get(client)
    }

    /// Remembers a seq just decided (tentatively until its group commits:
    /// a group that does not is followed by [`Seqs::clear`]).
    fn record(&mut self, client: &str, seq: u64, id: u128, committed: bool) {
        if self.total >= SEQS_TOTAL {
            self.clear();
        }
        let d = self.clients.entry(client.to_string()).or_default();
        if d.first + d.batches.len() as u64 != seq || d.batches.is_empty() {
            self.total -= d.batches.len();
            *d = Decided {
                first: seq,
                ..Decided::default()
            };
        }
        d.batches.push_back((id, committed));
        if !committed {
            d.rejected.insert(seq);
        }
        self.total += 1;
        if d.batches.len() > SEQS_PER_CLIENT {
            d.batches.pop_front();
            d.rejected.remove(&d.first);
            d.first += 1;
            self.total -= 1;
        }
    }

    /// Whether every batch a compact `own` names is here and committed
    /// (a rejected one's keys are read from storage).
    fn answers(&self, client: &str, own: &OwnSeqs) -> bool {
        let Some(d) = self.client(client) else {
            return own.to < own.from;
        };
        own.to < own.from
            || (own.from >= d.first
                && own.to < d.first + d.batches.len() as u64
                && d.rejected
                    .range(own.from..=own.to)
                    .all(|r| own.except.binary_search(r).is_ok()))
    }

    fn clear(&mut self) {
        self.clients.clear();
        self.total = 0;
    }
}

/// Clients remembered per lane; past this the memory is dropped (pushes
/// then read before deciding, as on a lane's first push).
const KNOWN_CLIENTS: usize = 100_000;

/// A push waiting for its group.
struct Waiting {
    principal: String,
    client: String,
    batches: Vec<Pushed>,
    events: usize,
    reply: oneshot::Sender<PushResult>,
}

/// The head after a push, and each batch's outcome as JSON.
pub type PushResult = Result<(u64, Vec<String>), PushError>;

#[derive(Default)]
struct Lane {
    /// When it was last asked for, to evict the idle longest first.
    used: std::sync::atomic::AtomicU64,
    engine: tokio::sync::Mutex<Engine>,
    waiting: Mutex<VecDeque<Waiting>>,
    /// Told when a push starts waiting.
    arrived: tokio::sync::Notify,
    /// Whether a task is deciding the lane's pushes.
    running: std::sync::atomic::AtomicBool,
}

/// Marks a lane's task as ended when it ends, even by a panic.
struct Running<'a>(&'a Lane);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.store(false, SeqCst);
    }
}

/// The per-log lanes of this process, at most `max` of them idle: past
/// that, the lanes idle the longest are dropped (a lane is rebuilt from
/// storage when its log is pushed to again).
pub struct Engines {
    lanes: Mutex<HashMap<String, Arc<Lane>>>,
    max: usize,
    clock: std::sync::atomic::AtomicU64,
}

impl Engines {
    pub fn new(max: usize) -> Self {
        Engines {
            lanes: Mutex::default(),
            max: max.max(1),
            clock: Default::default(),
        }
    }

    /// Logs held in memory.
    pub fn count(&self) -> usize {
        self.lanes.lock().expect("lanes lock").len()
    }

    fn lane(&self, log: &str) -> Arc<Lane> {
        let now = self.clock.fetch_add(1, SeqCst);
        let mut lanes = self.lanes.lock().expect("lanes lock");
        if !lanes.contains_key(log) && lanes.len() >= self.max {
            // A lane is idle when only this map holds it (a push holds
            // its lane until answered, and the lane's task while it runs).
            // Down to three quarters at once, so that this runs seldom.
            let mut idle: Vec<(u64, String)> = lanes
                .iter()
                .filter(|(_, l)| Arc::strong_count(l) == 1)
                .map(|(k, l)| (l.used.load(SeqCst), k.clone()))
                .collect();
            idle.sort_unstable();
            let excess = (lanes.len() + 1).saturating_sub(self.max * 3 / 4);
            for (_, k) in idle.into_iter().take(excess) {
                lanes.remove(&k);
            }
        }
        let lane = lanes.entry(log.to_string()).or_default().clone();
        lane.used.store(now, SeqCst);
        lane
    }
}

/// The client ids of a group, the batch ids its batches name (their own
/// and those of their views), as stored, and whether `log` answers every
/// question about them: each batch's id is new to it and each view's `own`
/// batch is committed in it.
fn named(group: &[Waiting], log: &Log, seqs: &Seqs) -> (Vec<String>, Vec<String>, bool) {
    let normal =
        |s: &str| parse_uuid(s).map(|id| uuid::Uuid::from_u128(id).hyphenated().to_string());
    let mut clients: Vec<String> = group.iter().map(|w| w.client.clone()).collect();
    clients.sort_unstable();
    clients.dedup();
    let mut ids = Vec::new();
    let mut answered = true;
    // (A batch that is not well formed is refused without reading.)
    for (client, b) in group
        .iter()
        .flat_map(|w| w.batches.iter().map(|b| (&w.client, b)))
    {
        if let Some(named) = &b.batch {
            match named.id.as_deref().and_then(parse_uuid) {
                Some(id) if log.batch_by_id(id).is_none() => {}
                _ => answered = false,
            }
            ids.extend(named.id.as_deref().and_then(normal));
            match named.view.as_ref().map(|v| &v.own) {
                Some(OwnIn::Ids(own)) => {
                    for own in own {
                        if parse_uuid(own).is_none_or(|id| log.batch_by_id(id).is_none()) {
                            answered = false;
                        }
                        ids.extend(normal(own));
                    }
                }
                Some(OwnIn::Seqs(own)) => answered &= seqs.answers(client, own),
                None => {}
            }
        } else {
            answered = false;
        }
    }
    ids.sort_unstable();
    ids.dedup();
    (clients, ids, answered)
}

/// Events read per page while catching an engine up.
const CATCH_UP_PAGE: u64 = 20_000;

/// A group holds at most this many events (one transaction).
const GROUP_EVENTS: usize = 10_000;

/// Decides `batches` of `client` on `log`, in seq order: all outcomes are
/// recorded, or none. Pushes waiting on the same log share one
/// transaction (group commit), each batch still decided alone, in arrival
/// order. Returns the head after the push and one outcome per batch.
pub async fn push<S: Storage>(
    storage: Arc<S>,
    engines: &Engines,
    log: &str,
    principal: &str,
    client: &str,
    batches: Vec<Pushed>,
    events: usize,
) -> PushResult {
    let lane = engines.lane(log);
    let (reply, answer) = oneshot::channel();
    lane.waiting.lock().expect("queue lock").push_back(Waiting {
        principal: principal.to_string(),
        client: client.to_string(),
        batches,
        events,
        reply,
    });
    lane.arrived.notify_one();
    // The lane's task decides every push waiting; one is started when none
    // runs. It runs apart from the requests, so a request that gives up
    // (or a client that goes away) never cuts a transaction short.
    if !lane.running.swap(true, SeqCst) {
        let log = log.to_string();
        tokio::spawn(async move {
            let mut engine = lane.engine.lock().await;
            let running = Running(&lane);
            loop {
                run_lane(&*storage, &lane, &mut engine, &log).await;
                // Nothing waits and nothing is in flight: the task ends,
                // unless a push came in meanwhile and found it running.
                lane.running.store(false, SeqCst);
                let idle = lane.waiting.lock().expect("queue lock").is_empty();
                if idle || lane.running.swap(true, SeqCst) {
                    break;
                }
            }
            // Ended in order: the flag is already the next task's.
            std::mem::forget(running);
        });
    }
    match tokio::time::timeout(PUSH_TIMEOUT, answer).await {
        Ok(Ok(result)) => result,
        _ => Err(PushError::Timeout),
    }
}

/// Every push waiting on the lane, up to [`GROUP_EVENTS`] events.
fn take_group(lane: &Lane) -> Vec<Waiting> {
    let mut waiting = lane.waiting.lock().expect("queue lock");
    let mut group = Vec::new();
    let mut events = 0;
    while let Some(w) = waiting.front() {
        if !group.is_empty() && events + w.events > GROUP_EVENTS {
            break;
        }
        events += w.events;
        group.extend(waiting.pop_front());
    }
    if !group.is_empty() {
        crate::metrics::METRICS
            .group_pushes
            .observe(group.len() as f64);
    }
    group
}

/// Groups decided from what the lane knows whose commits are in flight,
/// at most this many at once.
/// (Measured with 16 clients on 2 cores: 2 decides a race's groups 10 %
/// faster than 1; 4 was slower than 2, more and smaller transactions.)
const IN_FLIGHT: usize = 2;

/// A group sent while another is in flight holds at least this many
/// pushes; fewer wait for that flight to land (or for more pushes). Its
/// commit would wait behind the other's in PostgreSQL anyway, and a
/// transaction of one push costs nearly as much as one of several.
/// (Measured with 16 clients on 2 cores: sent at once, half of these
/// groups held one push; at least 4 made appends 6 % faster and the race
/// no slower; 2 and 6 gained less, 8 lost.)
const BEHIND: usize = 4;

/// While flights follow one another, a lane wakes live readers at least
/// once per this many commits (and whenever nothing is left in flight):
/// PostgreSQL's NOTIFY cost about as much CPU as the rest of a small
/// group's writes.
const WAKE_EVERY: usize = 4;

/// A group decided from what the lane knew, its commit sent.
struct Flight {
    group: Vec<Waiting>,
    results: Vec<Result<(Vec<String>, u64), PushError>>,
    /// The engine's head before the group, and the head after it.
    start: u64,
    head: Head,
    commit: std::pin::Pin<Box<dyn Future<Output = Result<(), StorageError>> + Send>>,
}

/// Decides the lane's groups while pushes wait. A group that the lane
/// knows enough to decide (see [`send_known`]) is decided at once, on top
/// of the groups still in flight (behind one, once [`BEHIND`] pushes
/// wait), and its commit sent behind theirs; the
/// lane then goes on with the next group without waiting for it. Any other
/// group waits until every commit in flight has landed, and is decided
/// after reading under the log's lock ([`decide_group`]). Answers go out
/// in commit order, each once its commit succeeded; if one fails, those
/// after it fail too (their stamp is not there) and every one of them is
/// decided again after reading.
async fn run_lane<S: Storage>(storage: &S, lane: &Lane, engine: &mut Engine, log: &str) {
    let mut flights: VecDeque<Flight> = VecDeque::new();
    let mut pipeline: Option<S::Pipeline> = None;
    // Committed flights that moved the head, readers not yet woken.
    let mut unwoken = 0;
    let wake = |pipeline: &Option<S::Pipeline>, unwoken: &mut usize| {
        if let (Some(s), true) = (pipeline, *unwoken > 0) {
            // A lost wake-up costs a reader at most its keep-alive period.
            tokio::spawn(storage.notify(s, log));
        }
        *unwoken = 0;
    };
    loop {
        let ready = || lane.waiting.lock().expect("queue lock").len() >= BEHIND;
        if flights.is_empty() || (flights.len() < IN_FLIGHT && ready()) {
            let group = take_group(lane);
            if !group.is_empty() {
                match send_known(storage, engine, &mut pipeline, log, group).await {
                    Ok(flight) => flights.push_back(flight),
                    Err(group) => {
                        let (mut again, moved) = land_all(engine, &mut flights).await;
                        unwoken += moved;
                        wake(&pipeline, &mut unwoken);
                        pipeline = None;
                        again.push(group);
                        for group in again {
                            decide_group(storage, engine, log, group).await;
                        }
                    }
                }
                continue;
            }
        }
        let room = flights.len() < IN_FLIGHT;
        let Some(front) = flights.front_mut() else {
            break;
        };
        tokio::select! {
            landed = &mut front.commit => {
                let flight = flights.pop_front().expect("a flight");
                let moved = flight.head.head > flight.start;
                match land(engine, flight, landed) {
                    Ok(()) => {
                        unwoken += usize::from(moved);
                        // Readers are woken when the lane has nothing more
                        // in flight, and at least every few commits.
                        if flights.is_empty() || unwoken >= WAKE_EVERY {
                            wake(&pipeline, &mut unwoken);
                        }
                    }
                    Err(flight) => {
                        let mut again = vec![flight];
                        let (rest, moved) = land_all(engine, &mut flights).await;
                        again.extend(rest);
                        unwoken += moved;
                        wake(&pipeline, &mut unwoken);
                        pipeline = None;
                        for group in again {
                            decide_group(storage, engine, log, group).await;
                        }
                    }
                }
            }
            _ = lane.arrived.notified(), if room => {}
        }
    }
}

/// Answers a flight whose commit landed, or gives its group back (and
/// cuts the engine back to before it) if the commit failed.
fn land(
    engine: &mut Engine,
    flight: Flight,
    landed: Result<(), StorageError>,
) -> Result<(), Vec<Waiting>> {
    match landed {
        Ok(()) => {
            for (w, r) in flight.group.into_iter().zip(flight.results) {
                let _ = w
                    .reply
                    .send(r.map(|(outcomes, _)| (flight.head.head, outcomes)));
            }
            Ok(())
        }
        Err(_) => {
            engine.log.truncate(flight.start);
            engine.known = None;
            engine.owners.clear();
            engine.last_seqs.clear();
            engine.seqs.clear();
            Err(flight.group)
        }
    }
}

/// Waits for every flight; returns the groups of those that failed (after
/// one fails, every later one does: its stamp check fails), and how many
/// of those that committed moved the head.
async fn land_all(
    engine: &mut Engine,
    flights: &mut VecDeque<Flight>,
) -> (Vec<Vec<Waiting>>, usize) {
    let mut again = Vec::new();
    let mut moved = 0;
    while let Some(mut flight) = flights.pop_front() {
        let landed = (&mut flight.commit).await;
        if landed.is_ok() && flight.head.head > flight.start {
            moved += 1;
        }
        if !again.is_empty() && landed.is_ok() {
            // Decided on top of a group that failed, yet committed: this
            // cannot be (the stamp it checked was never written), but if it
            // were, the engine no longer matches storage: start over.
            engine.clean = false;
        }
        if let Err(group) = land(engine, flight, landed) {
            again.push(group);
        }
    }
    (again, moved)
}

async fn decide_group<S: Storage>(
    storage: &S,
    engine: &mut Engine,
    log_name: &str,
    group: Vec<Waiting>,
) {
    let fail = |group: Vec<Waiting>, e: PushError| {
        for w in group {
            let _ = w.reply.send(Err(e.clone()));
        }
    };
    if !engine.clean {
        engine.log = Log::default();
        engine.known = None;
    }
    let (clients, ids, _) = named(&group, &engine.log, &engine.seqs);
    engine.known = None;
    let mut tx = match storage.begin(log_name, &clients, &ids).await {
        Ok(tx) => tx,
        Err(e) => return fail(group, e.into()),
    };
    let stored = tx.head();
    engine.clean = false;
    let log = &mut engine.log;
    if stored.head < log.head() {
        // Storage is behind the engine (acknowledged commits lost: a
        // failover to a replica behind, a restore): nothing the lane
        // remembers holds any more. Start over from storage; a client's
        // lost batches are decided again when it pushes them again.
        *log = Log::default();
        engine.owners.clear();
        engine.last_seqs.clear();
        engine.seqs.clear();
    }
    // Caught up a page at a time (a page ends at a batch end, or it is
    // the rest of the log), so memory stays bounded on a long log.
    while stored.head > log.head() {
        let caught_up = match tx.events_after(log.head(), CATCH_UP_PAGE).await {
            Ok(bodies) => catch_up(log, &bodies).map_err(StorageError),
            Err(e) => Err(e),
        };
        if let Err(e) = caught_up {
            return fail(group, e.into());
        }
    }
    let start = log.head();
    let mut head = stored;
    let mut results = Vec::with_capacity(group.len());
    let seqs = &mut engine.seqs;
    for w in &group {
        match decide_all(&mut tx, log, seqs, &mut head, w).await {
            Err(PushError::Storage(e)) => {
                log.truncate(start);
                seqs.clear();
                engine.clean = true;
                return fail(group, PushError::Storage(e));
            }
            r => results.push(r),
        }
    }
    head.stamp = new_stamp();
    if let Err(e) = tx.commit(head).await {
        log.truncate(start);
        engine.seqs.clear();
        engine.clean = true;
        return fail(group, e.into());
    }
    engine.clean = true;
    answer(engine, head, group, results);
}

/// Answers a committed group's pushes and remembers what they showed: the
/// stored head, and each client's owner and last seq.
fn answer(
    engine: &mut Engine,
    head: Head,
    group: Vec<Waiting>,
    results: Vec<Result<(Vec<String>, u64), PushError>>,
) {
    engine.known = Some(head);
    remember(engine, &group, &results);
    for (w, r) in group.into_iter().zip(results) {
        let _ = w.reply.send(r.map(|(outcomes, _)| (head.head, outcomes)));
    }
}

/// Each client's owner and last seq after a group.
fn remember(
    engine: &mut Engine,
    group: &[Waiting],
    results: &[Result<(Vec<String>, u64), PushError>],
) {
    if engine.owners.len() + group.len() > KNOWN_CLIENTS {
        engine.owners.clear();
        engine.last_seqs.clear();
    }
    for (w, r) in group.iter().zip(results) {
        if let Ok((_, last)) = r {
            engine.last_seqs.insert(w.client.clone(), *last);
            engine.owners.insert(w.client.clone(), w.principal.clone());
        }
    }
}

/// A new random stamp for a transaction to write.
fn new_stamp() -> i64 {
    uuid::Uuid::new_v4().as_u64_pair().0 as i64
}

/// Decides a group from what the lane knows, without reading first, and
/// sends its commit: when the engine is the stored log as of the lane's
/// last transaction (or of the ones in flight, once they land), every
/// client is known (its owner, and each push's seqs the next ones), and
/// the engine answers every batch id (see [`named`]). The commit, in one
/// round trip, first checks under the log's lock that the stamp is the one
/// the lane knows (written by the lane's last transaction); if it is not
/// (another process wrote, or the transaction before failed), or anything
/// else fails, nothing is written and the group is decided again after
/// reading. A write that another process made meanwhile can only be missed
/// here by a group that reuses a batch id or a seq of it, and those are
/// primary keys: the insert fails. Gives the group back when the lane does
/// not know enough.
async fn send_known<S: Storage>(
    storage: &S,
    engine: &mut Engine,
    pipeline: &mut Option<S::Pipeline>,
    log_name: &str,
    group: Vec<Waiting>,
) -> Result<Flight, Vec<Waiting>> {
    let Some(known) = engine.known else {
        return Err(group);
    };
    if !engine.clean || known.head != engine.log.head() {
        return Err(group);
    }
    if pipeline.is_none() {
        match storage.pipeline().await {
            Ok(Some(s)) => *pipeline = Some(s),
            _ => return Err(group),
        }
    }
    let (_, ids, answered) = named(&group, &engine.log, &engine.seqs);
    if !answered {
        return Err(group);
    }
    let mut owners = Vec::with_capacity(group.len());
    let mut lasts = Vec::with_capacity(group.len());
    for w in &group {
        let last = match (
            engine.owners.get(&w.client),
            engine.last_seqs.get(&w.client),
        ) {
            (Some(owner), Some(&last)) if *owner == w.principal => last,
            _ => return Err(group),
        };
        // A client twice in one group, or seqs that are not the next ones
        // (replays, gaps), are read about under the lock.
        if lasts.iter().any(|(c, _)| *c == w.client)
            || w.batches
                .iter()
                .enumerate()
                .any(|(i, b)| b.seq != last + 1 + i as u64)
        {
            return Err(group);
        }
        owners.push((w.client.clone(), w.principal.clone()));
        lasts.push((w.client.clone(), last));
    }
    let Some(mut tx) = pipeline
        .as_ref()
        .and_then(|s| storage.begin_known(s, log_name, known, owners, lasts, &ids))
    else {
        return Err(group);
    };
    engine.clean = false;
    let log = &mut engine.log;
    let start = log.head();
    let mut head = known;
    let mut results = Vec::with_capacity(group.len());
    let seqs = &mut engine.seqs;
    for w in &group {
        match decide_all(&mut tx, log, seqs, &mut head, w).await {
            Ok(r) => results.push(Ok(r)),
            Err(_) => {
                log.truncate(start);
                seqs.clear();
                engine.clean = true;
                return Err(group);
            }
        }
    }
    engine.clean = true;
    head.stamp = new_stamp();
    // Polled once here: that sends every statement of the commit, so the
    // next group's commit goes behind it on the pipeline.
    let mut commit: std::pin::Pin<Box<dyn Future<Output = Result<(), StorageError>> + Send>> =
        Box::pin(tx.commit(head));
    if let Poll::Ready(r) = std::future::poll_fn(|cx| Poll::Ready(commit.as_mut().poll(cx))).await {
        commit = Box::pin(std::future::ready(r));
    }
    engine.known = Some(head);
    remember(engine, &group, &results);
    Ok(Flight {
        group,
        results,
        start,
        head,
        commit,
    })
}

/// Appends stored events to the engine: the whole batches among `rows`
/// (a page may end inside a batch; that batch waits for the next page).
fn catch_up(log: &mut Log, rows: &[EventRow]) -> Result<(), String> {
    let whole = rows
        .iter()
        .rposition(|r| r.revision == r.batch_last)
        .map_or(0, |i| i + 1);
    if whole == 0 {
        return Err(format!(
            "no whole batch is stored after revision {}",
            log.head()
        ));
    }
    let mut text = String::from("[");
    for (i, r) in rows[..whole].iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&r.body);
    }
    text.push(']');
    let batches = parse_stored(&text, log.head()).map_err(|e| e.to_string())?;
    for b in &batches {
        if b.revision != log.head() + 1 {
            return Err(format!(
                "stored revision {} does not follow {}",
                b.revision,
                log.head()
            ));
        }
        log.append(b.id, b.recorded_at, &b.new_events());
    }
    Ok(())
}

async fn decide_all<T: Tx>(
    tx: &mut T,
    log: &mut Log,
    seqs: &mut Seqs,
    head: &mut Head,
    push: &Waiting,
) -> Result<(Vec<String>, u64), PushError> {
    let (principal, client, batches) =
        (push.principal.as_str(), push.client.as_str(), &push.batches);
    if tx.bind_client(client, principal).await? != principal {
        return Err(PushError::Forbidden);
    }
    let last = tx.last_seq(client).await?;
    let mut expected = last + 1;
    for b in batches {
        if b.seq == expected {
            expected += 1;
        } else if b.seq > last || b.seq == 0 {
            return Err(PushError::OutOfOrder(expected));
        }
    }
    let mut outcomes = Vec::with_capacity(batches.len());
    let mut view = None;
    for b in batches {
        let outcome = if b.seq <= last {
            // Exactly as first answered: a retried push is transport.
            tx.seq_outcome(client, b.seq).await?.ok_or_else(|| {
                PushError::Storage(StorageError(format!("seq {} has no outcome", b.seq)))
            })?
        } else {
            let (outcome, decided) = decide(tx, log, (seqs, &mut view), head, client, b).await?;
            let outcome = with_seq(&outcome, b.seq);
            tx.insert_seq(client, b.seq, &outcome).await?;
            if let Some((id, committed)) = decided {
                seqs.record(client, b.seq, id, committed);
            }
            outcome
        };
        outcomes.push(outcome);
    }
    Ok((outcomes, expected - 1))
}

/// An outcome (a JSON object) with the batch's seq.
fn with_seq(outcome: &str, seq: u64) -> String {
    debug_assert!(outcome.starts_with("{\"") && outcome.len() > 2);
    let mut out = String::with_capacity(outcome.len() + 24);
    out.push_str("{\"seq\":");
    out.push_str(&seq.to_string());
    out.push(',');
    out.push_str(&outcome[1..]);
    out
}

/// A pushed batch as read: its events as sent (an array; `E` is
/// `Vec<Box<RawValue>>` only to say what is wrong with a batch that is not
/// well formed, see [`BatchShape`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct BatchIn<E = Box<RawValue>> {
    seq: u64,
    #[serde(default)]
    id: Option<String>,
    events: E,
    #[serde(default)]
    expect: Option<Box<RawValue>>,
    #[serde(default)]
    constraints: Option<Box<RawValue>>,
    #[serde(default)]
    correlation_id: Option<Box<RawValue>>,
    #[serde(default)]
    view: Option<ViewIn>,
}

/// The shape of a pushed batch, to say what is wrong with one that is
/// not well formed.
type BatchShape = BatchIn<Vec<Box<RawValue>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ViewIn {
    base: u64,
    own: OwnIn,
}

fn invalid(id: Option<&str>, path: &str, message: &str) -> Value {
    json!({
        "id": id,
        "status": "rejected",
        "violations": [{ "kind": "invalid_input", "path": path, "message": message }],
    })
}

fn invalid_error(id: Option<&str>, e: &Error) -> Value {
    match e {
        Error::InvalidInput { path, message } => invalid(id, path, message),
        other => invalid(id, "", &other.to_string()),
    }
}

/// Decides one new batch of `client`; records it under its id (unless it
/// has none). Returns its outcome as JSON and, when it has an id, that id
/// and whether it committed.
async fn decide<T: Tx>(
    tx: &mut T,
    log: &mut Log,
    (seqs, view): (&Seqs, &mut Option<CachedView>),
    head: &mut Head,
    client: &str,
    pushed: &Pushed,
) -> Result<(String, Option<(u128, bool)>), PushError> {
    let Some(batch) = &pushed.batch else {
        let de = &mut serde_json::Deserializer::from_str(pushed.raw.get());
        let (path, message) = match serde_path_to_error::deserialize::<_, BatchShape>(de) {
            Err(e) => (e.path().to_string(), e.inner().to_string()),
            Ok(_) => (String::new(), "malformed batch".into()),
        };
        let path = if path == "." { String::new() } else { path };
        return Ok((
            invalid(pushed.id.as_deref(), &path, &message).to_string(),
            None,
        ));
    };
    let Some(id_text) = batch.id.as_deref() else {
        return Ok((
            invalid(None, "id", "a pushed batch needs its id").to_string(),
            None,
        ));
    };
    let Some(batch_id) = parse_uuid(id_text) else {
        return Ok((invalid(Some(id_text), "id", "not a UUID").to_string(), None));
    };
    let id = uuid::Uuid::from_u128(batch_id).hyphenated().to_string();
    // An array: Pushed::new checked it.
    let events: Vec<&RawValue> = serde_json::from_str(batch.events.get()).unwrap_or_default();
    // Each event's fields, read once (`None`: not an object), the ones
    // that are null left out (the null rule).
    let parsed: Vec<Option<Fields>> = events
        .iter()
        .map(|e| {
            let mut f = serde_json::from_str::<Fields>(e.get()).ok()?;
            f.retain(|_, v| !absent(v.get()));
            Some(f)
        })
        .collect();
    let events_text = same_batch_text(
        &parsed,
        batch.events.get().len(),
        batch.correlation_id.as_deref(),
    );
    if let Some(first) = tx.batch(&id).await? {
        if !same_batch(&first.events, &events_text, &events) {
            return Ok((invalid(
                Some(&id),
                "id",
                "this batch id was already decided with different events; give a different batch a new id",
            ).to_string(), None));
        }
        let mut outcome: Value = serde_json::from_str(&first.outcome)
            .map_err(|e| PushError::Storage(StorageError(e.to_string())))?;
        outcome["replayed"] = json!(true);
        return Ok((outcome.to_string(), Some((batch_id, first.committed))));
    }
    let asked = Asked {
        client,
        seq: pushed.seq,
        seqs,
        view,
    };
    let judged = judge(tx, log, head, batch, parsed, batch_id, &id, asked).await?;
    let m = &crate::metrics::METRICS;
    let outcome = if judged.committed {
        "committed"
    } else {
        "rejected"
    };
    m.batches
        .get_or_create(&crate::metrics::Outcome { outcome })
        .inc();
    m.events_committed.inc_by(judged.rows.len() as u64);
    let record = BatchRecord {
        committed: judged.committed,
        outcome: judged.outcome,
        events: events_text,
        keys: judged.keys,
    };
    tx.insert_batch(&id, &record, &judged.rows).await?;
    Ok((record.outcome, Some((batch_id, record.committed))))
}

/// Who pushed a batch, under which seq, and what the lane remembers of
/// that client's seqs: what a compact `own` is expanded from.
struct Asked<'a> {
    client: &'a str,
    seq: u64,
    seqs: &'a Seqs,
    /// The view of this client's last batch with a compact `own`.
    view: &'a mut Option<CachedView>,
}

/// The batch id of `client`'s batch `seq`, as stored.
async fn stored_seq_batch<T: Tx>(
    tx: &mut T,
    client: &str,
    seq: u64,
) -> Result<Option<u128>, PushError> {
    #[derive(Deserialize)]
    struct Decided {
        id: Option<String>,
    }
    let Some(outcome) = tx.seq_outcome(client, seq).await? else {
        return Ok(None);
    };
    let decided: Decided = serde_json::from_str(&outcome)
        .map_err(|e| PushError::Storage(StorageError(format!("seq {seq}'s outcome: {e}"))))?;
    Ok(decided.id.as_deref().and_then(parse_uuid))
}

/// What tells a batch from another under the same id (SEMANTICS.md,
/// "the same batch"): its correlationId and its events, each field's value
/// in canonical form ([`crate::canonical`]), an event's fields sorted, a
/// field that is `null` left out (it means the same as absent).
/// `{"correlationId":…,"events":[{…},…]}`.
fn same_batch_text(
    events: &[Option<Fields>],
    len: usize,
    correlation: Option<&RawValue>,
) -> String {
    let mut out = String::with_capacity(64 + len);
    out.push_str("{\"correlationId\":");
    match correlation {
        Some(c) => canonical(c.get(), &mut out),
        None => out.push_str("null"),
    }
    out.push_str(",\"events\":[");
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        // An event that is not an object is refused before it is recorded.
        let mut first = true;
        for (k, v) in e.iter().flatten() {
            if !first {
                out.push(',');
            }
            first = false;
            write_str(&mut out, k);
            out.push(':');
            canonical(v.get(), &mut out);
        }
        out.push('}');
    }
    out.push_str("]}");
    out
}

/// Whether a batch recorded as `stored` (its [`same_batch_text`]) is the
/// one given again as `text` (`events` as sent): the same text, or the
/// same but for the ids of events given without one.
fn same_batch(stored: &str, text: &str, events: &[&RawValue]) -> bool {
    if stored == text {
        return true;
    }
    if stored.starts_with('[') {
        // Recorded before batches were compared in this form.
        return stored == legacy_events(events);
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Same {
        correlation_id: Box<RawValue>,
        events: Vec<Fields>,
    }
    let (Ok(a), Ok(b)) = (
        serde_json::from_str::<Same>(stored),
        serde_json::from_str::<Same>(text),
    ) else {
        return false;
    };
    a.correlation_id.get() == b.correlation_id.get()
        && a.events.len() == b.events.len()
        && a.events.iter().zip(&b.events).all(|(x, y)| {
            let given = |f: &Fields| {
                f.iter()
                    .filter(|(k, _)| *k != "id")
                    .map(|(k, v)| (k.clone(), v.get().to_string()))
                    .collect::<Vec<_>>()
            };
            given(x) == given(y) && (!x.contains_key("id") || !y.contains_key("id"))
        })
}

/// The form batches were recorded in before [`same_batch_text`].
fn legacy_events(events: &[&RawValue]) -> String {
    let values: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str(e.get()).unwrap_or(Value::Null))
        .collect();
    serde_json::to_string(&values).unwrap_or_default()
}

/// An event's fields as given.
type Fields = BTreeMap<String, Box<RawValue>>;

/// An event's fields the server keeps as given, apart from the core.
const KEPT_AS_GIVEN: [&str; 3] = ["data", "metadata", "schemaVersion"];

/// A schema version: a positive integer that JavaScript holds exactly.
fn positive_integer(text: &str) -> bool {
    serde_json::from_str::<u64>(text).is_ok_and(|n| (1..=(1 << 53) - 1).contains(&n))
}

/// A new batch judged: its outcome (JSON), its keys if rejected, its rows
/// if committed.
struct Judged {
    committed: bool,
    outcome: String,
    keys: Option<String>,
    rows: Vec<EventRow>,
}

impl Judged {
    fn rejected(outcome: Value, keys: String) -> Self {
        Judged {
            committed: false,
            outcome: outcome.to_string(),
            keys: Some(keys),
            rows: Vec::new(),
        }
    }
}

/// Judges a new batch (its events as sent in `events`).
#[allow(clippy::too_many_arguments)]
async fn judge<T: Tx>(
    tx: &mut T,
    log: &mut Log,
    head: &mut Head,
    batch: &BatchIn,
    events: Vec<Option<Fields>>,
    batch_id: u128,
    id: &str,
    asked: Asked<'_>,
) -> Result<Judged, PushError> {
    let rejected = |outcome: Value| Ok(Judged::rejected(outcome, "[]".to_string()));
    // The events: what the core checks, and the rest kept as given.
    let mut fields: Vec<Fields> = Vec::with_capacity(events.len());
    for (i, f) in events.into_iter().enumerate() {
        let path = index_path("events", i);
        let Some(f) = f else {
            return rejected(invalid(Some(id), &path, "expected an event object"));
        };
        if let Some(k) = STAMPED.iter().find(|k| f.contains_key(**k)) {
            return rejected(invalid(
                Some(id),
                &key_path(&path, k),
                "is stamped by the server; a pushed event must not carry it",
            ));
        }
        if f.get("metadata").is_some_and(|m| !m.get().starts_with('{')) {
            return rejected(invalid(
                Some(id),
                &key_path(&path, "metadata"),
                "expected a JSON object",
            ));
        }
        // Deeper values would stop every device that pulls them (their
        // decoders and JSON.stringify recurse): refused as transact refuses
        // them.
        for key in ["data", "metadata"] {
            if f.get(key).is_some_and(|v| depth(v.get()) > MAX_DEPTH) {
                return rejected(invalid(
                    Some(id),
                    &key_path(&path, key),
                    &format!("is nested more than {MAX_DEPTH} levels deep; flatten the value"),
                ));
            }
        }
        if f.get("schemaVersion")
            .is_some_and(|v| !positive_integer(v.get()))
        {
            return rejected(invalid(
                Some(id),
                &key_path(&path, "schemaVersion"),
                "expected a schema version (a positive integer)",
            ));
        }
        fields.push(f);
    }
    let mut request = String::from("{\"id\":");
    write_str(&mut request, id);
    request.push_str(",\"events\":[");
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            request.push(',');
        }
        request.push('{');
        let mut first = true;
        // What the core checks: the envelope (never data, and the schema
        // version only as checked above).
        for (k, v) in f
            .iter()
            .filter(|(k, _)| !KEPT_AS_GIVEN.contains(&k.as_str()))
        {
            if !first {
                request.push(',');
            }
            first = false;
            write_str(&mut request, k);
            request.push(':');
            request.push_str(v.get());
        }
        request.push('}');
    }
    request.push(']');
    for (key, value) in [
        ("expect", &batch.expect),
        ("constraints", &batch.constraints),
        ("correlationId", &batch.correlation_id),
    ] {
        if let Some(v) = value {
            request.push(',');
            write_str(&mut request, key);
            request.push(':');
            request.push_str(v.get());
        }
    }
    request.push('}');
    let req = match parse_request(&request) {
        Ok(r) => r,
        Err(e) => return rejected(invalid_error(Some(id), &e)),
    };
    // A rejected batch's keys are recorded (the view rule needs them).
    let refused = |outcome: Value| Ok(Judged::rejected(outcome, keys_json(&req)));
    let Some(view_in) = &batch.view else {
        return refused(invalid(
            Some(id),
            "view",
            "is required: the view the batch was decided on",
        ));
    };
    // The view, resolved: the list form at once; the compact form from
    // the view of this client's batch before, when it extends it.
    let resolved = match &view_in.own {
        OwnIn::Ids(own) => {
            let mut resolved = match ResolvedView::new(log, view_in.base) {
                Ok(r) => r,
                Err(e) => return refused(invalid_error(Some(id), &e)),
            };
            for (i, own) in own.iter().enumerate() {
                let path = || index_path("view.own", i);
                let Some(own_id) = parse_uuid(own) else {
                    return refused(invalid(Some(id), &path(), "not a UUID"));
                };
                let Some(own) = own_batch(tx, log, own_id).await? else {
                    return refused(invalid(Some(id), &path(), NOT_DECIDED));
                };
                if let Err(e) = resolved.push(log, &own, path) {
                    return refused(invalid_error(Some(id), &e));
                }
            }
            resolved
        }
        OwnIn::Seqs(own) => {
            let seqs = match own.seqs(asked.seq) {
                Ok(seqs) => seqs,
                Err(why) => return refused(invalid(Some(id), "view.own", why)),
            };
            let cached = asked
                .view
                .take()
                .filter(|c| c.extended_by(view_in.base, own));
            // The seqs up to `done` are in the cached view already.
            let (done, mut resolved) = match cached {
                Some(c) => (c.to, c.view),
                None => match ResolvedView::new(log, view_in.base) {
                    Ok(r) => (0, r),
                    Err(e) => return refused(invalid_error(Some(id), &e)),
                },
            };
            let remembered = asked.seqs.client(asked.client);
            for seq in seqs.filter(|&s| s > done) {
                let own_id = match remembered.and_then(|d| d.get(seq)) {
                    Some((own_id, _)) => Some(own_id),
                    None => stored_seq_batch(tx, asked.client, seq).await?,
                };
                let own = match own_id {
                    Some(own_id) => own_batch(tx, log, own_id).await?,
                    None => None,
                };
                let Some(own) = own else {
                    return refused(invalid(
                        Some(id),
                        "view.own",
                        &format!("this client has no batch of seq {seq} decided on this log"),
                    ));
                };
                if let Err(e) = resolved.push(log, &own, || "view.own".into()) {
                    return refused(invalid_error(Some(id), &e));
                }
            }
            let violations = check_resolved(log, &req, &resolved);
            *asked.view = Some(CachedView {
                from: own.from,
                to: own.to,
                except: own.except.clone(),
                view: resolved,
            });
            if !violations.is_empty() {
                return refused(rejection(id, &violations));
            }
            return Ok(commit(log, head, &req, &fields, batch, batch_id, id));
        }
    };
    let violations = check_resolved(log, &req, &resolved);
    if !violations.is_empty() {
        return refused(rejection(id, &violations));
    }
    Ok(commit(log, head, &req, &fields, batch, batch_id, id))
}

const NOT_DECIDED: &str = "no batch with this id was decided on this log";

/// A rejected outcome with its violations.
fn rejection(id: &str, violations: &[ViewViolation]) -> Value {
    json!({
        "id": id,
        "status": "rejected",
        "violations": violations.iter().map(violation_json).collect::<Vec<_>>(),
    })
}

/// An `own` batch as the view rule sees it: committed (the log holds it),
/// or rejected with its events' keys; `None` if it was not decided here.
async fn own_batch<T: Tx>(tx: &mut T, log: &Log, own_id: u128) -> Result<Option<Own>, PushError> {
    if log.batch_by_id(own_id).is_some() {
        return Ok(Some(Own::Committed(own_id)));
    }
    let own_text = uuid::Uuid::from_u128(own_id).hyphenated().to_string();
    let record = tx.batch(&own_text).await?;
    Ok(record.and_then(|r| r.keys).map(|k| Own::Rejected {
        id: own_id,
        events: parse_keys(&k),
    }))
}

/// The compact view of a client's batch, resolved, kept while its push is
/// decided: the next batch's view is usually this one and one more seq.
pub struct CachedView {
    from: u64,
    to: u64,
    except: Vec<u64>,
    view: ResolvedView,
}

impl CachedView {
    /// Whether the view `own` on `base` is this one plus seqs after `to`.
    fn extended_by(&self, base: u64, own: &OwnSeqs) -> bool {
        self.view.base() == base
            && self.from == own.from
            && own.to >= self.to
            && own.except.starts_with(&self.except)
            && own.except[self.except.len()..].iter().all(|&s| s > self.to)
    }
}

/// Appends the batch to the engine and writes its rows: committed.
fn commit(
    log: &mut Log,
    head: &mut Head,
    req: &Request,
    fields: &[Fields],
    batch: &BatchIn,
    batch_id: u128,
    id: &str,
) -> Judged {
    let ids: Vec<u128> = req
        .events
        .iter()
        .map(|e| e.id.unwrap_or_else(|| uuid::Uuid::new_v4().as_u128()))
        .collect();
    let events: Vec<NewEvent> = req
        .events
        .iter()
        .zip(&ids)
        .map(|(e, &id)| NewEvent {
            id,
            stream: &e.stream,
            type_: &e.type_,
            subject: e.subject.as_deref(),
            tags: e.tags.as_deref(),
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64);
    // recordedAt never decreases, even if clocks differ between processes.
    let recorded_at = now.max(head.recorded_at);
    let first = log.head() + 1;
    log.append(batch_id, recorded_at, &events);
    let last = log.head();
    let mut rows = Vec::with_capacity(events.len());
    let mut streams: Vec<(&str, StreamPosition)> = Vec::new();
    for (i, (e, f)) in req.events.iter().zip(fields).enumerate() {
        let revision = first + i as u64;
        let version = log.event(revision as u32).version as u64;
        let text = |key: &str| f.get(key).map(|v| v.get());
        let mut body = String::with_capacity(256);
        RecordedJson {
            revision,
            stream: &e.stream,
            version,
            id: ids[i],
            type_: &e.type_,
            data: text("data"),
            subject: text("subject"),
            tags: text("tags"),
            time: text("time"),
            metadata: text("metadata"),
            correlation_id: batch.correlation_id.as_deref().map(RawValue::get),
            schema_version: text("schemaVersion"),
            batch_id: id,
            recorded_at: recorded_at as u64,
        }
        .write(&mut body);
        rows.push(EventRow {
            revision,
            batch_last: last,
            body,
        });
        let position = StreamPosition { version, revision };
        match streams.iter_mut().find(|(s, _)| *s == e.stream) {
            Some(entry) => entry.1 = position,
            None => streams.push((&e.stream, position)),
        }
    }
    *head = Head {
        head: last,
        recorded_at,
        stamp: head.stamp,
    };
    // The outcome, written as JSON directly (it is sent and recorded as
    // text).
    let mut outcome = String::with_capacity(160);
    outcome.push_str("{\"id\":");
    write_str(&mut outcome, id);
    outcome.push_str(",\"status\":\"committed\",\"firstRevision\":");
    outcome.push_str(&first.to_string());
    outcome.push_str(",\"revision\":");
    outcome.push_str(&last.to_string());
    outcome.push_str(",\"streams\":{");
    for (i, (s, p)) in streams.iter().enumerate() {
        if i > 0 {
            outcome.push(',');
        }
        write_str(&mut outcome, s);
        outcome.push_str(":{\"version\":");
        outcome.push_str(&p.version.to_string());
        outcome.push_str(",\"revision\":");
        outcome.push_str(&p.revision.to_string());
        outcome.push('}');
    }
    outcome.push_str("},\"replayed\":false}");
    Judged {
        committed: true,
        outcome,
        keys: None,
        rows,
    }
}

fn keys_json(req: &Request) -> String {
    let keys: Vec<Value> = req
        .events
        .iter()
        .map(|e| {
            json!({
                "stream": e.stream,
                "type": e.type_,
                "subject": e.subject,
                "tags": e.tags.as_ref().map(|t| t.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
            })
        })
        .collect();
    Value::Array(keys).to_string()
}

fn parse_keys(text: &str) -> Vec<Keys> {
    let Ok(Value::Array(list)) = serde_json::from_str::<Value>(text) else {
        return Vec::new();
    };
    list.iter()
        .map(|k| Keys {
            stream: k["stream"].as_str().unwrap_or_default().to_string(),
            type_: k["type"].as_str().unwrap_or_default().to_string(),
            subject: k["subject"].as_str().map(str::to_string),
            tags: k["tags"]
                .as_array()
                .map(|t| {
                    t.iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// A violation as the protocol sends it: §3's fields (the core's one JSON
/// form of a violation), `rejectedBatchId` when set, and a message.
pub fn violation_json(v: &ViewViolation) -> Value {
    let mut text = String::new();
    v.violation.write_json(&mut text);
    let mut out: Value = serde_json::from_str(&text).expect("the core writes JSON");
    if let Some(r) = v.rejected_batch_id {
        out["rejectedBatchId"] = json!(uuid::Uuid::from_u128(r).hyphenated().to_string());
    }
    out["message"] = json!(violation_message(&v.violation));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(revision: u64, batch_last: u64, batch: &str, stream: &str, version: u64) -> EventRow {
        EventRow {
            revision,
            batch_last,
            body: format!(
                r#"{{"revision":{revision},"stream":"{stream}","version":{version},"id":"{}","type":"t","data":null,"batchId":"{batch}","recordedAt":1}}"#,
                uuid::Uuid::new_v4()
            ),
        }
    }

    #[test]
    fn catching_up_takes_whole_batches_only() {
        let (a, b) = (
            uuid::Uuid::new_v4().to_string(),
            uuid::Uuid::new_v4().to_string(),
        );
        let rows = [
            row(1, 3, &a, "s", 0),
            row(2, 3, &a, "s", 1),
            row(3, 3, &a, "t", 0),
            row(4, 5, &b, "s", 2),
            row(5, 5, &b, "s", 3),
        ];
        let mut log = Log::default();
        // A page that ends inside the second batch stops before it.
        catch_up(&mut log, &rows[..4]).unwrap();
        assert_eq!(log.head(), 3);
        catch_up(&mut log, &rows[3..]).unwrap();
        assert_eq!(log.head(), 5);
        assert_eq!(log.stream("s").map(|p| p.version), Some(3));
        assert!(catch_up(&mut log, &rows[..1]).is_err());
    }
}
