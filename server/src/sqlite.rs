//! The embedded backend: one SQLite file, one process.
//!
//! One connection writes (`BEGIN IMMEDIATE` is the lock), another reads;
//! WAL lets readers go on while a push commits, and `synchronous=FULL` makes
//! every acknowledged push durable. SQLite calls are short and run in place
//! (`block_in_place`) on the runtime's worker threads.

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::{broadcast, Mutex, OwnedMutexGuard};

use crate::storage::{BatchRecord, EventRow, Head, Hint, Page, PageRows, Result, Storage, Tx};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS heads (log TEXT PRIMARY KEY, head INTEGER NOT NULL, recorded_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (log TEXT NOT NULL, revision INTEGER NOT NULL, batch_last INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (log, revision)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batches (log TEXT NOT NULL, batch_id TEXT NOT NULL, committed INTEGER NOT NULL, outcome TEXT NOT NULL, events TEXT NOT NULL, keys TEXT, PRIMARY KEY (log, batch_id));
CREATE TABLE IF NOT EXISTS clients (client_id TEXT PRIMARY KEY, principal TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seqs (log TEXT NOT NULL, client_id TEXT NOT NULL, seq INTEGER NOT NULL, outcome TEXT NOT NULL, PRIMARY KEY (log, client_id, seq));
";

pub struct Sqlite {
    writer: Arc<Mutex<Connection>>,
    reader: Arc<Mutex<Connection>>,
    hints: broadcast::Sender<Hint>,
}

fn open(path: &str) -> Result<Connection> {
    let c = Connection::open(path)?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "FULL")?;
    Ok(c)
}

impl Sqlite {
    pub fn open(path: &str) -> Result<Self> {
        let writer = open(path)?;
        writer.execute_batch(SCHEMA)?;
        let reader = open(path)?;
        Ok(Sqlite {
            writer: Arc::new(Mutex::new(writer)),
            reader: Arc::new(Mutex::new(reader)),
            hints: broadcast::channel(1024).0,
        })
    }
}

/// A page of rows after `after` (see [`PageRows`]), stepped through one
/// row at a time: nothing past the page is read.
fn page_rows(
    conn: &Connection,
    log: &str,
    after: u64,
    limit: u64,
) -> rusqlite::Result<Vec<EventRow>> {
    let mut page = PageRows::new(limit);
    let mut st = conn.prepare_cached(
        "SELECT revision, batch_last, body FROM events WHERE log = ?1 AND revision > ?2 ORDER BY revision",
    )?;
    let mut rows = st.query(params![log, after as i64])?;
    while let Some(r) = rows.next()? {
        let row = EventRow {
            revision: r.get::<_, i64>(0)? as u64,
            batch_last: r.get::<_, i64>(1)? as u64,
            body: r.get(2)?,
        };
        if !page.offer(row) {
            break;
        }
    }
    Ok(page.finish())
}

fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

pub struct SqliteTx {
    conn: Option<OwnedMutexGuard<Connection>>,
    log: String,
    head: Head,
    hints: broadcast::Sender<Hint>,
}

impl SqliteTx {
    fn conn(&self) -> &Connection {
        self.conn.as_ref().expect("an open transaction")
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if let Some(conn) = &self.conn {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}

impl Tx for SqliteTx {
    fn head(&self) -> Head {
        self.head
    }

    async fn events_after(&mut self, after: u64, limit: u64) -> Result<Vec<EventRow>> {
        blocking(|| Ok(page_rows(self.conn(), &self.log, after, limit)?))
    }

    async fn bind_client(&mut self, client: &str, principal: &str) -> Result<String> {
        blocking(|| {
            let c = self.conn();
            c.execute(
                "INSERT INTO clients (client_id, principal) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![client, principal],
            )?;
            Ok(c.query_row(
                "SELECT principal FROM clients WHERE client_id = ?1",
                params![client],
                |r| r.get(0),
            )?)
        })
    }

    async fn last_seq(&mut self, client: &str) -> Result<u64> {
        blocking(|| {
            let n: Option<i64> = self.conn().query_row(
                "SELECT max(seq) FROM seqs WHERE log = ?1 AND client_id = ?2",
                params![self.log, client],
                |r| r.get(0),
            )?;
            Ok(n.unwrap_or(0) as u64)
        })
    }

    async fn seq_outcome(&mut self, client: &str, seq: u64) -> Result<Option<String>> {
        blocking(|| {
            Ok(self
                .conn()
                .query_row(
                    "SELECT outcome FROM seqs WHERE log = ?1 AND client_id = ?2 AND seq = ?3",
                    params![self.log, client, seq as i64],
                    |r| r.get(0),
                )
                .optional()?)
        })
    }

    async fn batch(&mut self, id: &str) -> Result<Option<BatchRecord>> {
        blocking(|| {
            Ok(self
                .conn()
                .query_row(
                    "SELECT committed, outcome, events, keys FROM batches WHERE log = ?1 AND batch_id = ?2",
                    params![self.log, id],
                    |r| {
                        Ok(BatchRecord {
                            committed: r.get::<_, i64>(0)? != 0,
                            outcome: r.get(1)?,
                            events: r.get(2)?,
                            keys: r.get(3)?,
                        })
                    },
                )
                .optional()?)
        })
    }

    async fn insert_batch(&mut self, id: &str, b: &BatchRecord, rows: &[EventRow]) -> Result<()> {
        blocking(|| {
            let c = self.conn();
            c.execute(
                "INSERT INTO batches (log, batch_id, committed, outcome, events, keys) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![self.log, id, b.committed as i64, b.outcome, b.events, b.keys],
            )?;
            let mut st = c.prepare_cached(
                "INSERT INTO events (log, revision, batch_last, body) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for row in rows {
                st.execute(params![
                    self.log,
                    row.revision as i64,
                    row.batch_last as i64,
                    row.body
                ])?;
            }
            Ok(())
        })
    }

    async fn insert_seq(&mut self, client: &str, seq: u64, outcome: &str) -> Result<()> {
        blocking(|| {
            self.conn().execute(
                "INSERT INTO seqs (log, client_id, seq, outcome) VALUES (?1, ?2, ?3, ?4)",
                params![self.log, client, seq as i64, outcome],
            )?;
            Ok(())
        })
    }

    async fn commit(mut self, head: Head) -> Result<()> {
        blocking(|| {
            let c = self.conn();
            if head.head != self.head.head {
                c.execute(
                    "UPDATE heads SET head = ?2, recorded_at = ?3 WHERE log = ?1",
                    params![self.log, head.head as i64, head.recorded_at],
                )?;
            }
            c.execute_batch("COMMIT")?;
            Ok::<_, crate::storage::StorageError>(())
        })?;
        self.conn = None;
        if head.head != self.head.head {
            let _ = self.hints.send(Hint::new(self.log.clone()));
        }
        Ok(())
    }
}

impl Storage for Sqlite {
    type Tx = SqliteTx;
    type Pipeline = ();

    async fn begin(&self, log: &str, _: &[String], _: &[String]) -> Result<SqliteTx> {
        let conn = self.writer.clone().lock_owned().await;
        let head = blocking(|| {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            let head = || {
                conn.execute(
                    "INSERT INTO heads (log, head, recorded_at) VALUES (?1, 0, 0) ON CONFLICT DO NOTHING",
                    params![log],
                )?;
                conn.query_row(
                    "SELECT head, recorded_at FROM heads WHERE log = ?1",
                    params![log],
                    |r| {
                        Ok(Head {
                            head: r.get::<_, i64>(0)? as u64,
                            recorded_at: r.get(1)?,
                            stamp: 0,
                        })
                    },
                )
            };
            match head() {
                Ok(h) => Ok(h),
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(e)
                }
            }
        })?;
        Ok(SqliteTx {
            conn: Some(conn),
            log: log.to_string(),
            head,
            hints: self.hints.clone(),
        })
    }

    async fn read(&self, log: &str, after: u64, limit: u64) -> Result<Page> {
        let conn = self.reader.lock().await;
        blocking(|| {
            // One read transaction: the head and the rows agree.
            conn.execute_batch("BEGIN")?;
            let page = (|| {
                let head: u64 = conn
                    .query_row("SELECT head FROM heads WHERE log = ?1", params![log], |r| {
                        r.get::<_, i64>(0)
                    })
                    .optional()?
                    .unwrap_or(0) as u64;
                let rows = page_rows(&conn, log, after, limit)?;
                Ok::<_, rusqlite::Error>(Page { head, rows })
            })();
            let _ = conn.execute_batch("COMMIT");
            Ok(page?)
        })
    }

    async fn health(&self) -> Result<()> {
        let conn = self.reader.lock().await;
        blocking(|| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
    }

    fn hints(&self) -> broadcast::Receiver<Hint> {
        self.hints.subscribe()
    }
}
