//! The PostgreSQL backend: any number of server processes on one database.
//!
//! Each push is one transaction that first takes its log's row in `heads`
//! `FOR UPDATE`: pushes to one log serialize there, whichever process they
//! reach. Revisions are head + 1 … under that lock (no sequence), so they
//! have no gaps and a log's commit order is its revision order: a reader
//! that went up to r never later finds an event below r.
//!
//! `NOTIFY hindcast, '<log>'` is sent with each commit; a listener
//! connection per process turns notifications into hints for live readers,
//! which then re-query from the last revision they sent (a notification is
//! never trusted to carry data, and a lost one costs at most a keep-alive
//! period).

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::broadcast;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::storage::{BatchRecord, EventRow, Head, Page, Result, Storage, StorageError, Tx};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS heads (log TEXT PRIMARY KEY, head BIGINT NOT NULL, recorded_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS events (log TEXT NOT NULL, revision BIGINT NOT NULL, batch_last BIGINT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (log, revision));
CREATE TABLE IF NOT EXISTS batches (log TEXT NOT NULL, batch_id TEXT NOT NULL, committed BOOLEAN NOT NULL, outcome TEXT NOT NULL, events TEXT NOT NULL, keys TEXT, PRIMARY KEY (log, batch_id));
CREATE TABLE IF NOT EXISTS clients (client_id TEXT PRIMARY KEY, principal TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seqs (log TEXT NOT NULL, client_id TEXT NOT NULL, seq BIGINT NOT NULL, outcome TEXT NOT NULL, PRIMARY KEY (log, client_id, seq));
";

/// Waits on peers are bounded: a statement or a lock wait longer than this
/// fails the request (5xx; the client retries).
const STATEMENT_TIMEOUT: &str = "SET statement_timeout = '20s'";

pub struct Postgres {
    pool: Pool,
    hints: broadcast::Sender<String>,
}

impl Postgres {
    pub async fn connect(url: &str) -> Result<Self> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StorageError(format!("--database-url: {e}")))?;
        let mut config = config;
        config.connect_timeout(Duration::from_secs(10));
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
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
        Ok(Postgres { pool, hints })
    }

    async fn client(&self) -> Result<Object> {
        let client = self.pool.get().await?;
        Ok(client)
    }
}

/// Forwards notifications as hints, reconnecting when the connection
/// drops; after each (re)connection every reader is woken ("") to
/// re-query, since notifications may have been missed meanwhile.
async fn listen(config: tokio_postgres::Config, hints: broadcast::Sender<String>) {
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
                let _ = hints.send(String::new());
                while let Some(log) = rx.recv().await {
                    let _ = hints.send(log);
                }
            }
            driver.abort();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

pub struct PgTx {
    client: Option<Object>,
    log: String,
    head: Head,
}

impl PgTx {
    fn c(&self) -> &Object {
        self.client.as_ref().expect("an open transaction")
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
        let st = self
            .c()
            .prepare_cached(
                "SELECT revision, batch_last, body FROM events WHERE log = $1 AND revision > $2 ORDER BY revision LIMIT $3",
            )
            .await?;
        let rows = self
            .c()
            .query(&st, &[&self.log, &(after as i64), &(limit as i64)])
            .await?;
        Ok(rows
            .iter()
            .map(|r| EventRow {
                revision: r.get::<_, i64>(0) as u64,
                batch_last: r.get::<_, i64>(1) as u64,
                body: r.get(2),
            })
            .collect())
    }

    async fn bind_client(&mut self, client: &str, principal: &str) -> Result<String> {
        let c = self.c();
        c.execute(
            "INSERT INTO clients (client_id, principal) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&client, &principal],
        )
        .await?;
        let row = c
            .query_one(
                "SELECT principal FROM clients WHERE client_id = $1",
                &[&client],
            )
            .await?;
        Ok(row.get(0))
    }

    async fn last_seq(&mut self, client: &str) -> Result<u64> {
        let st = self
            .c()
            .prepare_cached("SELECT max(seq) FROM seqs WHERE log = $1 AND client_id = $2")
            .await?;
        let row = self.c().query_one(&st, &[&self.log, &client]).await?;
        Ok(row.get::<_, Option<i64>>(0).unwrap_or(0) as u64)
    }

    async fn seq_outcome(&mut self, client: &str, seq: u64) -> Result<Option<String>> {
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
        let st = self
            .c()
            .prepare_cached(
                "SELECT committed, outcome, events, keys FROM batches WHERE log = $1 AND batch_id = $2",
            )
            .await?;
        let row = self.c().query_opt(&st, &[&self.log, &id]).await?;
        Ok(row.map(|r| BatchRecord {
            committed: r.get(0),
            outcome: r.get(1),
            events: r.get(2),
            keys: r.get(3),
        }))
    }

    async fn insert_batch(&mut self, id: &str, b: &BatchRecord, rows: &[EventRow]) -> Result<()> {
        let c = self.c();
        let st = c
            .prepare_cached(
                "INSERT INTO batches (log, batch_id, committed, outcome, events, keys) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .await?;
        c.execute(
            &st,
            &[&self.log, &id, &b.committed, &b.outcome, &b.events, &b.keys],
        )
        .await?;
        if rows.is_empty() {
            return Ok(());
        }
        // One statement for the batch's events, its values as arrays.
        let revisions: Vec<i64> = rows.iter().map(|r| r.revision as i64).collect();
        let lasts: Vec<i64> = rows.iter().map(|r| r.batch_last as i64).collect();
        let bodies: Vec<&str> = rows.iter().map(|r| r.body.as_str()).collect();
        let st = c
            .prepare_cached(
                "INSERT INTO events (log, revision, batch_last, body) SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::text[])",
            )
            .await?;
        c.execute(&st, &[&self.log, &revisions, &lasts, &bodies])
            .await?;
        Ok(())
    }

    async fn insert_seq(&mut self, client: &str, seq: u64, outcome: &str) -> Result<()> {
        let st = self
            .c()
            .prepare_cached(
                "INSERT INTO seqs (log, client_id, seq, outcome) VALUES ($1, $2, $3, $4)",
            )
            .await?;
        self.c()
            .execute(&st, &[&self.log, &client, &(seq as i64), &outcome])
            .await?;
        Ok(())
    }

    async fn commit(mut self, head: Head) -> Result<()> {
        let c = self.c();
        if head.head != self.head.head {
            let st = c
                .prepare_cached("UPDATE heads SET head = $2, recorded_at = $3 WHERE log = $1")
                .await?;
            c.execute(&st, &[&self.log, &(head.head as i64), &head.recorded_at])
                .await?;
            c.execute("SELECT pg_notify('hindcast', $1)", &[&self.log])
                .await?;
        }
        c.batch_execute("COMMIT").await?;
        // Committed: the connection goes back to the pool.
        drop(self.client.take());
        Ok(())
    }
}

impl Storage for Postgres {
    type Tx = PgTx;

    async fn begin(&self, log: &str) -> Result<PgTx> {
        let client = self.client().await?;
        let mut tx = PgTx {
            client: Some(client),
            log: log.to_string(),
            head: Head::default(),
        };
        let c = tx.c();
        c.batch_execute(&format!("{STATEMENT_TIMEOUT}; BEGIN"))
            .await?;
        let lock = c
            .prepare_cached("SELECT head, recorded_at FROM heads WHERE log = $1 FOR UPDATE")
            .await?;
        let row = match c.query_opt(&lock, &[&log]).await? {
            Some(row) => row,
            None => {
                c.execute(
                    "INSERT INTO heads (log, head, recorded_at) VALUES ($1, 0, 0) ON CONFLICT DO NOTHING",
                    &[&log],
                )
                .await?;
                c.query_one(&lock, &[&log]).await?
            }
        };
        tx.head = Head {
            head: row.get::<_, i64>(0) as u64,
            recorded_at: row.get(1),
        };
        Ok(tx)
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
        let st = t
            .prepare_cached(
                "SELECT revision, batch_last, body FROM events WHERE log = $1 AND revision > $2 ORDER BY revision LIMIT $3",
            )
            .await?;
        let row = |r: &tokio_postgres::Row| EventRow {
            revision: r.get::<_, i64>(0) as u64,
            batch_last: r.get::<_, i64>(1) as u64,
            body: r.get(2),
        };
        let mut rows: Vec<EventRow> = t
            .query(&st, &[&log, &(after as i64), &(limit as i64)])
            .await?
            .iter()
            .map(row)
            .collect();
        if let Some(last) = rows.last() {
            if last.batch_last > last.revision {
                let (from, to) = (last.revision as i64, last.batch_last as i64);
                let rest = t
                    .query(
                        "SELECT revision, batch_last, body FROM events WHERE log = $1 AND revision > $2 AND revision <= $3 ORDER BY revision",
                        &[&log, &from, &to],
                    )
                    .await?;
                rows.extend(rest.iter().map(row));
            }
        }
        t.commit().await?;
        Ok(Page { head, rows })
    }

    async fn health(&self) -> Result<()> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }

    fn hints(&self) -> broadcast::Receiver<String> {
        self.hints.subscribe()
    }
}
