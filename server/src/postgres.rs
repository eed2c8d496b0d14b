//! The PostgreSQL backend: any number of server processes on one database.
//!
//! Each push is one transaction that first takes its log's row in `heads`
//! `FOR UPDATE`: pushes to one log serialize there, whichever process they
//! reach. Revisions are head + 1 … under that lock (no sequence), so they
//! have no gaps and a log's commit order is its revision order: a reader
//! that went up to r never later finds an event below r. A push that its
//! process could decide from what it knew (the log as of its own last
//! transaction there) is written in one call that takes the lock first and
//! writes nothing unless the log's stamp is still the one that transaction
//! wrote; otherwise it is decided again after reading under the lock.
//!
//! `NOTIFY hindcast, '<log>'` is sent with each commit that reads first,
//! and once after a run of the others; a listener
//! connection per process turns notifications into hints for live readers,
//! which then re-query from the last revision they sent (a notification is
//! never trusted to carry data, and a lost one costs at most a keep-alive
//! period).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::{try_join, try_join3, try_join4};

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio::sync::broadcast;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, NoTls, Row};

use crate::storage::{
    BatchRecord, EventRow, Head, Hint, Page, PageRows, Result, Storage, StorageError, Tx,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS heads (log TEXT PRIMARY KEY, head BIGINT NOT NULL, recorded_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS events (log TEXT NOT NULL, revision BIGINT NOT NULL, batch_last BIGINT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (log, revision));
CREATE TABLE IF NOT EXISTS batches (log TEXT NOT NULL, batch_id TEXT NOT NULL, committed BOOLEAN NOT NULL, outcome TEXT NOT NULL, events TEXT NOT NULL, keys TEXT, PRIMARY KEY (log, batch_id));
CREATE TABLE IF NOT EXISTS clients (client_id TEXT PRIMARY KEY, principal TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seqs (log TEXT NOT NULL, client_id TEXT NOT NULL, seq BIGINT NOT NULL, outcome TEXT NOT NULL, PRIMARY KEY (log, client_id, seq));
DO $$ BEGIN
  -- Checked first: ALTER TABLE would lock the table even when the column exists.
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'heads'::regclass AND attname = 'stamp' AND NOT attisdropped) THEN
    ALTER TABLE heads ADD COLUMN stamp BIGINT NOT NULL DEFAULT 0;
  END IF;
END $$;
CREATE OR REPLACE FUNCTION hindcast_write(l TEXT, known BIGINT, new_head BIGINT, recorded DOUBLE PRECISION, new_stamp BIGINT, moved BOOLEAN,
  client_ids TEXT[], principals TEXT[],
  batch_ids TEXT[], committed BOOLEAN[], outcomes TEXT[], batch_events TEXT[], batch_keys TEXT[],
  revisions BIGINT[], lasts BIGINT[], bodies TEXT[],
  seq_clients TEXT[], seq_numbers BIGINT[], seq_outcomes TEXT[]) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
  IF known IS NOT NULL THEN
    PERFORM 1 FROM heads WHERE log = l AND stamp = known FOR UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'log % was written since stamp %', l, known USING ERRCODE = 'HC409';
    END IF;
  END IF;
  INSERT INTO clients (client_id, principal) SELECT * FROM unnest(client_ids, principals);
  INSERT INTO batches (log, batch_id, committed, outcome, events, keys) SELECT l, * FROM unnest(batch_ids, committed, outcomes, batch_events, batch_keys);
  INSERT INTO events (log, revision, batch_last, body) SELECT l, * FROM unnest(revisions, lasts, bodies);
  INSERT INTO seqs (log, client_id, seq, outcome) SELECT l, * FROM unnest(seq_clients, seq_numbers, seq_outcomes);
  UPDATE heads SET head = new_head, recorded_at = recorded, stamp = new_stamp WHERE log = l;
  IF moved THEN
    PERFORM pg_notify('hindcast', l);
  END IF;
END $$;
";

/// A group's writes, in one call: if `known` is not null, first the log's
/// lock and the check that its stamp is still `known` (else nothing is
/// written: SQLSTATE HC409); then the rows, the head row (with the new
/// stamp), and the notification if the head moved.
const NOTIFY: &str = "SELECT pg_notify('hindcast', $1)";
const WRITE: &str = "SELECT hindcast_write($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)";

/// Up to `$3` events after `$2`. Revisions have no gaps, so the range
/// bound asks for no more than the page: without it, a planner that has no
/// statistics yet for a freshly written log (before autovacuum analyzes it)
/// sorts every event after `$2` for each page, and catching up a million
/// events took seconds.
const EVENTS_AFTER: &str = "SELECT revision, batch_last, body FROM events WHERE log = $1 AND revision > $2 AND revision <= $2 + $3 ORDER BY revision LIMIT $3";

/// A connection a lane keeps while it has commits in flight.
/// Connections per process.
const POOL_SIZE: usize = 16;

pub struct Pipeline {
    conn: Object,
    pipelines: Arc<AtomicUsize>,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.pipelines.fetch_sub(1, SeqCst);
    }
}

impl std::ops::Deref for Pipeline {
    type Target = Object;
    fn deref(&self) -> &Object {
        &self.conn
    }
}

pub struct Postgres {
    pool: Pool,
    /// Pipelines held, at most half the pool.
    pipelines: Arc<AtomicUsize>,
    hints: broadcast::Sender<Hint>,
}

impl Postgres {
    pub async fn connect(url: &str) -> Result<Self> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StorageError(format!("--database-url: {e}")))?;
        let mut config = config;
        config.connect_timeout(Duration::from_secs(10));
        // Waits on peers are bounded: a statement (a lock wait included)
        // longer than this fails the request (503; the client retries).
        config.options("-c statement_timeout=20s");
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(20)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| StorageError(format!("postgres pool: {e}")))?;
        let client = pool.get().await?;
        // Processes starting together create the schema one at a time.
        client
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock(7283462); {SCHEMA} COMMIT;"
            ))
            .await?;
        drop(client);
        let hints = broadcast::channel(1024).0;
        tokio::spawn(listen(config, hints.clone()));
        Ok(Postgres {
            pool,
            pipelines: Arc::new(AtomicUsize::new(0)),
            hints,
        })
    }

    async fn client(&self) -> Result<Object> {
        let client = self.pool.get().await?;
        Ok(client)
    }
}

/// A page of rows after `after` (see [`PageRows`]), asked for a few rows at
/// a time and taken as they arrive: past the page, at most the rest of
/// one small request is read (and dropped), and nothing is held.
async fn page_rows<C: tokio_postgres::GenericClient + Sync>(
    c: &C,
    st: &tokio_postgres::Statement,
    log: &str,
    after: u64,
    limit: u64,
) -> Result<Vec<EventRow>> {
    use futures_util::StreamExt;
    let mut page = PageRows::new(limit);
    let mut from = after as i64;
    loop {
        let chunk = page.next_chunk() as i64;
        let params: [&(dyn ToSql + Sync); 3] = [&log, &from, &chunk];
        let stream = c.query_raw(st, params).await?;
        futures_util::pin_mut!(stream);
        let mut got = 0;
        while let Some(r) = stream.next().await {
            let r = r?;
            got += 1;
            let row = EventRow {
                revision: r.get::<_, i64>(0) as u64,
                batch_last: r.get::<_, i64>(1) as u64,
                body: r.get(2),
            };
            from = row.revision as i64;
            if !page.offer(row) {
                return Ok(page.finish());
            }
        }
        if got < chunk {
            return Ok(page.finish());
        }
    }
}

/// Forwards notifications as hints, reconnecting when the connection
/// drops; after each (re)connection every reader is woken ("") to
/// re-query, since notifications may have been missed meanwhile.
async fn listen(config: tokio_postgres::Config, hints: broadcast::Sender<Hint>) {
    loop {
        if let Ok((client, mut connection)) = config.connect(NoTls).await {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let driver = tokio::spawn(async move {
                loop {
                    let message = std::future::poll_fn(|cx| connection.poll_message(cx)).await;
                    match message {
                        Some(Ok(AsyncMessage::Notification(n))) => {
                            if tx.send(n.payload().to_string()).is_err() {
                                break;
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    }
                }
            });
            if client.batch_execute("LISTEN hindcast").await.is_ok() {
                let _ = hints.send(Hint::new(String::new()));
                while let Some(log) = rx.recv().await {
                    let _ = hints.send(Hint::new(log));
                }
            }
            driver.abort();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A push transaction. Reads of a group are fetched up front
/// (with the lock, in [`Storage::begin`]) and its writes are held until
/// [`Tx::commit`], which sends them as arrays in one call of
/// `hindcast_write` (multi-row inserts): a group costs two round trips
/// whatever its size, or one when it was begun from what was known.
pub struct PgTx {
    /// The transaction's own connection, or the pipeline it was begun on.
    client: Option<Object>,
    pipeline: Option<Arc<Pipeline>>,
    log: String,
    head: Head,
    /// Client id → principal, for the clients known to be bound.
    owners: HashMap<String, String>,
    /// Client ids known to be unbound before this transaction.
    unbound: HashSet<String>,
    new_clients: Vec<(String, String)>,
    last_seqs: HashMap<String, u64>,
    /// Batch id → its record, or `None` when known to be absent.
    batches: HashMap<String, Option<BatchRecord>>,
    new_batches: Vec<(String, BatchRecord)>,
    new_events: Vec<EventRow>,
    new_seqs: Vec<(String, u64, String)>,
    /// Begun by [`Storage::begin_known`]: nothing read, nothing begun yet;
    /// the commit is one call (`hindcast_write`) in a transaction of its
    /// own that checks that the stamp is still this one's, and writes.
    known: Option<Head>,
}

impl PgTx {
    fn c(&self) -> &Object {
        match (&self.client, &self.pipeline) {
            (Some(c), _) => c,
            (None, Some(s)) => s,
            (None, None) => panic!("an open transaction"),
        }
    }

    /// A transaction begun from what the caller knew reads nothing: a
    /// question beyond that is an error (the caller then reads under the
    /// lock).
    fn reads(&self) -> Result<()> {
        match self.known {
            Some(_) => Err(StorageError("not known without reading".into())),
            None => Ok(()),
        }
    }

    /// Keeps what the group's reads found (and what they did not).
    fn absorb(
        &mut self,
        clients: &[String],
        batch_ids: &[String],
        (owners, seqs, batches): (Vec<Row>, Vec<Row>, Vec<Row>),
    ) {
        for r in owners {
            self.owners.insert(r.get(0), r.get(1));
        }
        for client in clients {
            if !self.owners.contains_key(client) {
                self.unbound.insert(client.clone());
            }
            self.last_seqs.entry(client.clone()).or_insert(0);
        }
        for r in seqs {
            self.last_seqs
                .insert(r.get(0), r.get::<_, Option<i64>>(1).unwrap_or(0) as u64);
        }
        for id in batch_ids {
            self.batches.insert(id.clone(), None);
        }
        for r in batches {
            self.batches.insert(
                r.get(0),
                Some(BatchRecord {
                    committed: r.get(1),
                    outcome: r.get(2),
                    events: r.get(3),
                    keys: r.get(4),
                }),
            );
        }
    }
}

impl Drop for PgTx {
    /// A transaction left open (an error, or a dropped request) must not go
    /// back to the pool: its connection is closed, which rolls it back.
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = Object::take(client);
        }
    }
}

impl Tx for PgTx {
    fn head(&self) -> Head {
        self.head
    }

    async fn events_after(&mut self, after: u64, limit: u64) -> Result<Vec<EventRow>> {
        self.reads()?;
        let st = self.c().prepare_cached(EVENTS_AFTER).await?;
        let client: &tokio_postgres::Client = self.c();
        page_rows(client, &st, &self.log, after, limit).await
    }

    async fn bind_client(&mut self, client: &str, principal: &str) -> Result<String> {
        if let Some(owner) = self.owners.get(client) {
            return Ok(owner.clone());
        }
        self.reads()?;
        if !self.unbound.contains(client) {
            let row = self
                .c()
                .query_opt(
                    "SELECT principal FROM clients WHERE client_id = $1",
                    &[&client],
                )
                .await?;
            if let Some(row) = row {
                let owner: String = row.get(0);
                self.owners.insert(client.to_string(), owner.clone());
                return Ok(owner);
            }
        }
        self.owners
            .insert(client.to_string(), principal.to_string());
        self.new_clients
            .push((client.to_string(), principal.to_string()));
        Ok(principal.to_string())
    }

    async fn last_seq(&mut self, client: &str) -> Result<u64> {
        if let Some(&n) = self.last_seqs.get(client) {
            return Ok(n);
        }
        self.reads()?;
        let row = self
            .c()
            .query_one(
                "SELECT max(seq) FROM seqs WHERE log = $1 AND client_id = $2",
                &[&self.log, &client],
            )
            .await?;
        let n = row.get::<_, Option<i64>>(0).unwrap_or(0) as u64;
        self.last_seqs.insert(client.to_string(), n);
        Ok(n)
    }

    async fn seq_outcome(&mut self, client: &str, seq: u64) -> Result<Option<String>> {
        if let Some((_, _, outcome)) = self
            .new_seqs
            .iter()
            .find(|(c, s, _)| c == client && *s == seq)
        {
            return Ok(Some(outcome.clone()));
        }
        self.reads()?;
        let row = self
            .c()
            .query_opt(
                "SELECT outcome FROM seqs WHERE log = $1 AND client_id = $2 AND seq = $3",
                &[&self.log, &client, &(seq as i64)],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn batch(&mut self, id: &str) -> Result<Option<BatchRecord>> {
        if let Some(known) = self.batches.get(id) {
            return Ok(known.clone());
        }
        self.reads()?;
        let row = self
            .c()
            .query_opt(
                "SELECT committed, outcome, events, keys FROM batches WHERE log = $1 AND batch_id = $2",
                &[&self.log, &id],
            )
            .await?;
        let record = row.map(|r| BatchRecord {
            committed: r.get(0),
            outcome: r.get(1),
            events: r.get(2),
            keys: r.get(3),
        });
        self.batches.insert(id.to_string(), record.clone());
        Ok(record)
    }

    async fn insert_batch(&mut self, id: &str, b: &BatchRecord, rows: &[EventRow]) -> Result<()> {
        self.batches.insert(id.to_string(), Some(b.clone()));
        self.new_batches.push((id.to_string(), b.clone()));
        self.new_events.extend_from_slice(rows);
        Ok(())
    }

    async fn insert_seq(&mut self, client: &str, seq: u64, outcome: &str) -> Result<()> {
        self.last_seqs.insert(client.to_string(), seq);
        self.new_seqs
            .push((client.to_string(), seq, outcome.to_string()));
        Ok(())
    }

    async fn commit(mut self, head: Head) -> Result<()> {
        let c = self.c();
        let log = &self.log;
        // Every write of the group, as arrays, in statements sent together.
        let client_ids: Vec<&str> = self.new_clients.iter().map(|(c, _)| c.as_str()).collect();
        let principals: Vec<&str> = self.new_clients.iter().map(|(_, p)| p.as_str()).collect();
        let batch_ids: Vec<&str> = self.new_batches.iter().map(|(id, _)| id.as_str()).collect();
        let committed: Vec<bool> = self.new_batches.iter().map(|(_, b)| b.committed).collect();
        let outcomes: Vec<&str> = self
            .new_batches
            .iter()
            .map(|(_, b)| b.outcome.as_str())
            .collect();
        let events: Vec<&str> = self
            .new_batches
            .iter()
            .map(|(_, b)| b.events.as_str())
            .collect();
        let keys: Vec<Option<&str>> = self
            .new_batches
            .iter()
            .map(|(_, b)| b.keys.as_deref())
            .collect();
        let revisions: Vec<i64> = self.new_events.iter().map(|r| r.revision as i64).collect();
        let lasts: Vec<i64> = self
            .new_events
            .iter()
            .map(|r| r.batch_last as i64)
            .collect();
        let bodies: Vec<&str> = self.new_events.iter().map(|r| r.body.as_str()).collect();
        let seq_clients: Vec<&str> = self.new_seqs.iter().map(|(c, _, _)| c.as_str()).collect();
        let seqs: Vec<i64> = self.new_seqs.iter().map(|(_, s, _)| *s as i64).collect();
        let seq_outcomes: Vec<&str> = self.new_seqs.iter().map(|(_, _, o)| o.as_str()).collect();
        // Readers are woken here by the transactions that read first; the
        // lane wakes them after a run of the others (Storage::notify).
        let moved = head.head != self.head.head && self.known.is_none();
        let write = c.prepare_cached(WRITE).await?;
        let known = self.known.map(|k| k.stamp);
        let new_head = head.head as i64;
        let params: [&(dyn ToSql + Sync); 19] = [
            log,
            &known,
            &new_head,
            &head.recorded_at,
            &head.stamp,
            &moved,
            &client_ids,
            &principals,
            &batch_ids,
            &committed,
            &outcomes,
            &events,
            &keys,
            &revisions,
            &lasts,
            &bodies,
            &seq_clients,
            &seqs,
            &seq_outcomes,
        ];
        if self.known.is_some() {
            // Begun from what was known: the call is a transaction of its
            // own (PostgreSQL commits it before it answers), sent at once
            // and answered in one message.
            c.execute(&write, &params).await?;
        } else {
            // The writes and the COMMIT in one round trip (pipelined). If
            // the writes fail, PostgreSQL turns the COMMIT into a rollback,
            // and the error is reported here: nothing of the group is
            // acknowledged. (A client id bound meanwhile by another process
            // is such an error: the insert of its binding has no ON
            // CONFLICT clause.)
            try_join(c.execute(&write, &params), c.batch_execute("COMMIT")).await?;
        }
        // Committed: the connection goes back to the pool (a pipeline's
        // stays with the pipeline).
        drop(self.client.take());
        Ok(())
    }
}

impl Storage for Postgres {
    type Tx = PgTx;
    type Pipeline = Arc<Pipeline>;

    async fn begin(&self, log: &str, clients: &[String], batch_ids: &[String]) -> Result<PgTx> {
        let client = self.client().await?;
        let mut tx = PgTx {
            client: Some(client),
            log: log.to_string(),
            head: Head::default(),
            owners: HashMap::new(),
            unbound: HashSet::new(),
            new_clients: Vec::new(),
            last_seqs: HashMap::new(),
            batches: HashMap::new(),
            new_batches: Vec::new(),
            new_events: Vec::new(),
            new_seqs: Vec::new(),
            known: None,
            pipeline: None,
        };
        let c = tx.c();
        let (lock, owners, seqs, batches) = try_join4(
            c.prepare_cached("SELECT head, recorded_at, stamp FROM heads WHERE log = $1 FOR UPDATE"),
            c.prepare_cached("SELECT client_id, principal FROM clients WHERE client_id = ANY($1)"),
            c.prepare_cached(
                // Each client's last seq by one backward index probe (a
                // `max … GROUP BY` would read all of its seqs).
                "SELECT c, (SELECT seq FROM seqs WHERE log = $1 AND client_id = c ORDER BY seq DESC LIMIT 1) FROM unnest($2::text[]) AS c",
            ),
            c.prepare_cached(
                // One primary-key probe per id (the LIMIT keeps the
                // planner from flattening the subquery). With `batch_id =
                // ANY($2)`, or a plain join, the planner, estimating few
                // rows for a young log, probed by `log` alone and filtered:
                // every group read all of the log's batches, so a log's
                // pushes slowed down as it grew.
                "SELECT b.batch_id, b.committed, b.outcome, b.events, b.keys FROM unnest($2::text[]) AS i(id) CROSS JOIN LATERAL (SELECT * FROM batches WHERE log = $1 AND batch_id = i.id LIMIT 1) AS b",
            ),
        )
        .await?;
        let owner_params: [&(dyn ToSql + Sync); 1] = [&clients];
        let seq_params: [&(dyn ToSql + Sync); 2] = [&log, &clients];
        let batch_params: [&(dyn ToSql + Sync); 2] = [&log, &batch_ids];
        let reads = || {
            try_join3(
                c.query(&owners, &owner_params),
                c.query(&seqs, &seq_params),
                c.query(&batches, &batch_params),
            )
        };
        // BEGIN, the lock, and the group's reads (run once the lock is
        // held) in one round trip, pipelined.
        let ((), row, mut found) = try_join3(
            c.batch_execute("BEGIN"),
            c.query_opt(&lock, &[&log]),
            reads(),
        )
        .await?;
        let row = match row {
            Some(row) => row,
            None => {
                // A new log: its row, then the lock, then the reads again
                // (those above ran before any lock was held).
                c.execute(
                    "INSERT INTO heads (log, head, recorded_at) VALUES ($1, 0, 0) ON CONFLICT DO NOTHING",
                    &[&log],
                )
                .await?;
                let row = c.query_one(&lock, &[&log]).await?;
                found = reads().await?;
                row
            }
        };
        tx.head = Head {
            head: row.get::<_, i64>(0) as u64,
            recorded_at: row.get(1),
            stamp: row.get(2),
        };
        tx.absorb(clients, batch_ids, found);
        Ok(tx)
    }

    async fn pipeline(&self) -> Result<Option<Arc<Pipeline>>> {
        // A busy lane keeps its pipeline: pipelines take at most half the
        // pool, and only an idle connection (or a new one), never one
        // waited for, so lanes of many logs cannot starve transactions
        // that read first; without one, the lane reads first.
        if self.pipelines.fetch_add(1, SeqCst) >= POOL_SIZE / 2 {
            self.pipelines.fetch_sub(1, SeqCst);
            return Ok(None);
        }
        let pipelines = self.pipelines.clone();
        let c = match self
            .pool
            .timeout_get(&Timeouts {
                wait: Some(Duration::ZERO),
                create: Some(Duration::from_secs(10)),
                recycle: None,
            })
            .await
        {
            Ok(c) => c,
            Err(_) => {
                pipelines.fetch_sub(1, SeqCst);
                return Ok(None);
            }
        };
        // Prepared now, so that a commit sends all of its statements when
        // first polled (a statement prepared then would wait a round trip
        // first, and a later commit on the pipeline could overtake it).
        let pipeline = Pipeline { conn: c, pipelines };
        pipeline.prepare_cached(WRITE).await?;
        pipeline.prepare_cached(NOTIFY).await?;
        Ok(Some(Arc::new(pipeline)))
    }

    fn begin_known(
        &self,
        pipeline: &Arc<Pipeline>,
        log: &str,
        known: Head,
        owners: Vec<(String, String)>,
        last_seqs: Vec<(String, u64)>,
        batch_ids: &[String],
    ) -> Option<PgTx> {
        Some(PgTx {
            client: None,
            pipeline: Some(pipeline.clone()),
            log: log.to_string(),
            head: known,
            owners: owners.into_iter().collect(),
            unbound: HashSet::new(),
            new_clients: Vec::new(),
            last_seqs: last_seqs.into_iter().collect(),
            batches: batch_ids.iter().map(|id| (id.clone(), None)).collect(),
            new_batches: Vec::new(),
            new_events: Vec::new(),
            new_seqs: Vec::new(),
            known: Some(known),
        })
    }

    fn notify(
        &self,
        pipeline: &Arc<Pipeline>,
        log: &str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'static>> {
        let pipeline = pipeline.clone();
        let log = log.to_string();
        Box::pin(async move {
            let st = pipeline.prepare_cached(NOTIFY).await?;
            pipeline.execute(&st, &[&log]).await?;
            Ok(())
        })
    }

    async fn read(&self, log: &str, after: u64, limit: u64) -> Result<Page> {
        let mut c = self.client().await?;
        // One snapshot: the head and the rows agree.
        let t = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let head = t
            .query_opt("SELECT head FROM heads WHERE log = $1", &[&log])
            .await?
            .map_or(0, |r| r.get::<_, i64>(0) as u64);
        let st = t.prepare_cached(EVENTS_AFTER).await?;
        let inner: &tokio_postgres::Transaction = &t;
        let rows = page_rows(inner, &st, log, after, limit).await?;
        t.commit().await?;
        Ok(Page { head, rows })
    }

    async fn health(&self) -> Result<()> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    fn hints(&self) -> broadcast::Receiver<Hint> {
        self.hints.subscribe()
    }
}
