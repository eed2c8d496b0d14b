//! The connections being served, capped: past the cap, the connection idle
//! the longest is closed to make room (a request in progress, a live stream
//! included, is never cut); if none is idle, the new one is closed at once.
//! A connection still sending its first request's headers counts as idle,
//! so slow or silent peers are the first to go.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};

pub struct Conns {
    max: usize,
    start: Instant,
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
}

pub struct Conn {
    id: u64,
    /// Requests in progress (until their response's body is sent).
    busy: AtomicUsize,
    /// When it last became idle, in ms since the server started.
    idle_since: AtomicU64,
    /// Told when the connection is to close once idle.
    pub close: tokio::sync::Notify,
}

impl Conns {
    pub fn new(max: usize) -> Self {
        Conns {
            max: max.max(1),
            start: Instant::now(),
            next: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        }
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// A place for a new connection, or `None` when every one is busy.
    pub fn admit(&self) -> Option<Arc<Conn>> {
        let mut open = self.open.lock().expect("connections lock");
        if open.len() >= self.max {
            let oldest = open
                .values()
                .filter(|c| c.busy.load(SeqCst) == 0)
                .min_by_key(|c| (c.idle_since.load(SeqCst), c.id))?
                .id;
            if let Some(c) = open.remove(&oldest) {
                // Notified even if it has not started waiting yet.
                c.close.notify_one();
            }
        }
        let id = self.next.fetch_add(1, SeqCst);
        let conn = Arc::new(Conn {
            id,
            busy: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.now()),
            close: tokio::sync::Notify::new(),
        });
        open.insert(id, conn.clone());
        crate::metrics::METRICS.connections.set(open.len() as i64);
        Some(conn)
    }

    pub fn closed(&self, conn: &Conn) {
        let mut open = self.open.lock().expect("connections lock");
        open.remove(&conn.id);
        crate::metrics::METRICS.connections.set(open.len() as i64);
    }

    /// Marks a request of `conn` in progress until the guard is dropped.
    pub fn busy(self: &Arc<Self>, conn: &Arc<Conn>) -> Busy {
        conn.busy.fetch_add(1, SeqCst);
        Busy(self.clone(), conn.clone())
    }
}

pub struct Busy(Arc<Conns>, Arc<Conn>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.1.idle_since.store(self.0.now(), SeqCst);
        self.1.busy.fetch_sub(1, SeqCst);
    }
}

/// A response body that keeps its request marked in progress until it is
/// sent (or dropped).
pub struct Guarded {
    inner: Body,
    _busy: Busy,
}

impl Guarded {
    pub fn body(inner: Body, busy: Busy) -> Body {
        Body::new(Guarded { inner, _busy: busy })
    }
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Raises the soft limit on open files to the hard one (each connection
/// holds one); returns the soft limit in force.
pub fn raise_open_files() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write `limit`.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every target
    let soft = limit.rlim_cur as u64;
    soft
}
