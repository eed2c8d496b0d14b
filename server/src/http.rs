//! The HTTP protocol (SPEC §8.2): thin handlers that parse, authorize,
//! call [`crate::push`] or storage, and map failures to statuses here.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::metrics::{Outcome, METRICS};
use crate::push::{push, Engines, PushError, Pushed};
use crate::storage::{Page, Storage};

/// A push above any of these limits is refused whole (413).
pub use hindcast::sync::protocol::{
    PUSH_BATCHES as MAX_BATCHES, PUSH_EVENTS as MAX_EVENTS, PUSH_EVENT_BYTES as MAX_EVENT_BYTES,
};
/// The body may hold a little more than the events (the envelope).
const MAX_BODY: usize = MAX_EVENT_BYTES + 256 * 1024;
/// A live stream sends a comment when nothing else was sent for this long.
const KEEP_ALIVE: Duration = Duration::from_secs(10);
/// Waits on a client or the storage that end a request.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

pub enum Auth {
    /// Every request is the principal "anonymous".
    Insecure,
    /// Tokens signed with this key, with `aud` this audience when given.
    Secret(DecodingKey, Verified, Option<String>),
}

/// How far in the future a token's `nbf` may be (clocks differ).
const NBF_LEEWAY: f64 = 60.0;

/// Tokens already verified, by their text, with what they grant: a client
/// sends the same token with every request, and checking its signature
/// and decoding it cost about 8 % of the server's CPU per push. A
/// token is taken from here only until its `exp` (as `jsonwebtoken` checks
/// it, with no leeway); after that it is verified again, and refused.
#[derive(Default)]
pub struct Verified {
    tokens: std::sync::Mutex<HashMap<String, Grant>>,
}

/// What a verified token grants, until `exp` (seconds since the epoch).
#[derive(Clone)]
pub struct Grant {
    pub sub: String,
    logs: Vec<String>,
    pub exp: u64,
}

/// Tokens remembered at most; past this the memory starts over.
const VERIFIED_TOKENS: usize = 10_000;

impl Verified {
    /// The grant of `token` if it was verified and has not expired at
    /// `now` (an expired one is forgotten).
    fn get(&self, token: &str, now: u64) -> Option<Grant> {
        let mut tokens = self.tokens.lock().expect("tokens lock");
        match tokens.get(token) {
            Some(g) if now <= g.exp => Some(g.clone()),
            Some(_) => {
                tokens.remove(token);
                None
            }
            None => None,
        }
    }

    fn insert(&self, token: &str, grant: Grant) {
        let mut tokens = self.tokens.lock().expect("tokens lock");
        if tokens.len() >= VERIFIED_TOKENS {
            tokens.clear();
        }
        tokens.insert(token.to_string(), grant);
    }
}

pub struct App<S> {
    pub storage: Arc<S>,
    pub engines: Engines,
    pub auth: Auth,
    pub reads: SharedReads,
    /// Becomes true when the server stops: live streams end.
    pub stopping: tokio::sync::watch::Receiver<bool>,
}

/// Live readers at the same place share one storage read: after a commit,
/// the readers of its log wake together and ask for the same page; one
/// query answers them all. A reader only joins a read that started after
/// it woke, so it never gets a page older than the commit that woke it.
/// A read is kept only while readers hold it: the pages in memory are
/// those that readers are sending (each at most a page's bytes).
#[derive(Default)]
pub struct SharedReads {
    reads: std::sync::Mutex<HashMap<(String, u64, u64), std::sync::Weak<SharedRead>>>,
}

struct SharedRead {
    started: Instant,
    page: tokio::sync::OnceCell<Result<Arc<Page>, String>>,
}

impl SharedRead {
    fn new() -> Self {
        METRICS.live_pages.inc();
        SharedRead {
            started: Instant::now(),
            page: tokio::sync::OnceCell::new(),
        }
    }

    fn bytes(&self) -> i64 {
        match self.page.get() {
            Some(Ok(page)) => page.rows.iter().map(|r| r.body.len() as i64).sum(),
            _ => 0,
        }
    }
}

impl Drop for SharedRead {
    fn drop(&mut self) {
        METRICS.live_pages.dec();
        METRICS.live_page_bytes.dec_by(self.bytes());
    }
}

impl SharedReads {
    async fn read<S: Storage>(
        &self,
        storage: &S,
        log: &str,
        after: u64,
        limit: u64,
        woke: Instant,
    ) -> Result<Arc<Page>, String> {
        let key = (log.to_string(), after, limit);
        let read = {
            let mut reads = self.reads.lock().expect("reads lock");
            match reads.get(&key).and_then(std::sync::Weak::upgrade) {
                Some(r) if r.started >= woke => r,
                _ => {
                    // Reads that no reader holds any more are forgotten.
                    if reads.len() >= 64 {
                        reads.retain(|_, r| r.strong_count() > 0);
                    }
                    let r = Arc::new(SharedRead::new());
                    reads.insert(key.clone(), Arc::downgrade(&r));
                    r
                }
            }
        };
        let page = read
            .page
            .get_or_init(|| async {
                match tokio::time::timeout(READ_TIMEOUT, storage.read(log, after, limit)).await {
                    Ok(Ok(page)) => {
                        let bytes = page.rows.iter().map(|r| r.body.len() as i64).sum();
                        METRICS.live_page_bytes.inc_by(bytes);
                        Ok(Arc::new(page))
                    }
                    Ok(Err(e)) => Err(e.0),
                    Err(_) => Err("the storage timed out".into()),
                }
            })
            .await
            .clone();
        page
    }
}

/// Resolves when the server starts to stop.
pub async fn stopped(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stopping.wait_for(|s| *s).await;
}

/// `GET /metrics` alone, without a token: for `--metrics-listen`, an
/// address only the operator's scrapers reach.
pub fn metrics_router<S: Storage>(app: Arc<App<S>>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(app): State<Arc<App<S>>>| async move { metrics_response(&app.engines) }),
        )
        .with_state(app)
}

pub fn router<S: Storage>(app: Arc<App<S>>) -> Router {
    Router::new()
        .route("/healthz", get(healthz::<S>))
        .route("/metrics", get(metrics::<S>))
        .route("/v1/logs/{log}/push", post(push_handler::<S>))
        .route("/v1/logs/{log}/events", get(events::<S>))
        .with_state(app)
        .layer(cors())
}

/// Browsers on any origin may call the API: it authenticates by a bearer
/// token that a page must hold, never by cookies or other credentials a
/// browser adds by itself, so another site's page gains nothing. Preflights
/// (`OPTIONS`, which carry no token) are answered here and reach no handler.
fn cors() -> tower_http::cors::CorsLayer {
    use axum::http::{header, Method};
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("last-event-id"),
        ])
        .max_age(Duration::from_secs(3600))
}

struct ApiError(StatusCode, Value);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(self.1)).into_response()
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> ApiError {
    ApiError(status, json!({ "error": code, "message": message }))
}

fn invalid(path: &str, message: &str) -> ApiError {
    ApiError(
        StatusCode::BAD_REQUEST,
        json!({ "error": "invalid_input", "path": path, "message": message }),
    )
}

fn unavailable(message: &str) -> ApiError {
    error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    logs: Vec<String>,
    /// Required and checked by `jsonwebtoken`: a number, a fraction
    /// rounded to the nearest second.
    exp: f64,
    #[serde(default)]
    nbf: Option<f64>,
}

fn now_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The grant of the request (its principal and until when), if it may
/// use `log`.
fn authorize<S>(app: &App<S>, headers: &HeaderMap, log: &str) -> Result<Grant, ApiError> {
    if log.is_empty() || log.len() > 200 {
        return Err(invalid("log", "a log name has 1 to 200 characters"));
    }
    if log.contains('\0') {
        return Err(invalid("log", "a log name cannot hold the NUL character"));
    }
    let grant = verify(app, headers)?;
    if !grant.logs.iter().any(|l| l == "*" || l == log) {
        return Err(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the token does not grant this log",
        ));
    }
    Ok(grant)
}

/// The grant of the request's token (401 if it has none that holds).
fn verify<S>(app: &App<S>, headers: &HeaderMap) -> Result<Grant, ApiError> {
    let (key, verified, audience) = match &app.auth {
        Auth::Insecure => {
            return Ok(Grant {
                sub: "anonymous".into(),
                logs: vec!["*".into()],
                exp: u64::MAX,
            })
        }
        Auth::Secret(key, verified, audience) => (key, verified, audience),
    };
    let unauthorized = |m: &str| error(StatusCode::UNAUTHORIZED, "unauthorized", m);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("an Authorization: Bearer token is required"))?;
    let grant = match verified.get(token, now_seconds()) {
        Some(grant) => grant,
        None => {
            let mut validation = Validation::new(Algorithm::HS256);
            validation.leeway = 0;
            match audience {
                Some(aud) => {
                    validation.set_audience(&[aud]);
                    validation.set_required_spec_claims(&["exp", "sub", "aud"]);
                }
                None => {
                    validation.validate_aud = false;
                    validation.set_required_spec_claims(&["exp", "sub"]);
                }
            }
            let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
                .map_err(|e| unauthorized(&format!("bad token: {e}")))?
                .claims;
            if claims.sub.is_empty() || claims.sub.contains('\0') {
                return Err(unauthorized(
                    "bad token: sub must name the principal (not empty, no NUL)",
                ));
            }
            if claims
                .nbf
                .is_some_and(|nbf| nbf > now_seconds() as f64 + NBF_LEEWAY)
            {
                return Err(unauthorized("bad token: not valid yet (nbf)"));
            }
            let grant = Grant {
                sub: claims.sub,
                logs: claims.logs,
                exp: claims.exp.floor() as u64, // never past the token's own exp
            };
            verified.insert(token, grant.clone());
            grant
        }
    };
    Ok(grant)
}

/// The metrics, for a token that grants every log ("*").
async fn metrics<S: Storage>(
    State(app): State<Arc<App<S>>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let grant = verify(&app, &headers)?;
    if matches!(app.auth, Auth::Secret(..)) && !grant.logs.iter().any(|l| l == "*") {
        return Err(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "the metrics are for a token that grants every log (\"*\")",
        ));
    }
    Ok(metrics_response(&app.engines))
}

/// The metrics as Prometheus reads them.
pub fn metrics_response(engines: &Engines) -> Response {
    METRICS.logs_in_memory.set(engines.count() as i64);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        METRICS.text(),
    )
        .into_response()
}

async fn healthz<S: Storage>(State(app): State<Arc<App<S>>>) -> Response {
    match tokio::time::timeout(Duration::from_secs(5), app.storage.health()).await {
        Ok(Ok(())) => (StatusCode::OK, axum::Json(json!({ "ok": true }))).into_response(),
        _ => unavailable("the storage does not answer").into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PushIn {
    protocol: u64,
    client_id: String,
    batches: Vec<Box<RawValue>>,
}

async fn push_handler<S: Storage>(
    State(app): State<Arc<App<S>>>,
    Path(log): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let mut seen = Seen::default();
    let answer = push_request(&app, &log, &headers, body, &mut seen).await;
    let outcome = match &answer {
        Ok(_) => "ok",
        Err(ApiError(status, _)) => match *status {
            StatusCode::BAD_REQUEST => "invalid",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::CONFLICT => "out_of_order",
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::REQUEST_TIMEOUT => "timeout",
            _ => "unavailable",
        },
    };
    METRICS.pushes.get_or_create(&Outcome { outcome }).inc();
    if crate::metrics::watched(&log) {
        METRICS
            .log_pushes
            .get_or_create(&crate::metrics::LogOutcome {
                log: log.to_string(),
                outcome,
            })
            .inc();
    }
    let seconds = started.elapsed().as_secs_f64();
    METRICS.push_seconds.observe(seconds);
    // One line per request; never a token or an event's data.
    tracing::info!(
        log = %log,
        principal = seen.principal.as_deref().unwrap_or("-"),
        batches = seen.batches,
        committed = seen.committed,
        rejected = seen.rejected,
        outcome,
        ms = (seconds * 1000.0).round() as u64,
        "push"
    );
    answer
}

/// What a request's log line says about it.
#[derive(Default)]
struct Seen {
    principal: Option<String>,
    batches: usize,
    committed: usize,
    rejected: usize,
}

async fn push_request<S: Storage>(
    app: &Arc<App<S>>,
    log: &str,
    headers: &HeaderMap,
    body: Body,
    seen: &mut Seen,
) -> Result<Response, ApiError> {
    let (app, log) = (app.clone(), log.to_string());
    let principal = authorize(&app, headers, &log)?.sub;
    seen.principal = Some(principal.clone());
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "a push holds at most 1,000 batches, 1,000 events and 4 MiB of them; split it",
        )
    };
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if length.is_some_and(|n| n > MAX_BODY) {
        return Err(too_large());
    }
    let bytes: Bytes =
        match tokio::time::timeout(READ_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await {
            Ok(Ok(b)) => b,
            Ok(Err(_)) => return Err(too_large()),
            Err(_) => {
                return Err(error(
                    StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    "the body took too long",
                ))
            }
        };
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid("", "the body is not UTF-8"))?;
    let envelope: PushIn = parse_with_path(text)?;
    if envelope.batches.len() > MAX_BATCHES {
        return Err(too_large());
    }
    if envelope.protocol != 1 {
        return Err(invalid("protocol", "this server speaks protocol 1"));
    }
    let Some(client) = hindcast::json::parse_uuid(&envelope.client_id) else {
        return Err(invalid("clientId", "not a UUID"));
    };
    let client = uuid::Uuid::from_u128(client).hyphenated().to_string();
    let (mut events, mut event_bytes) = (0usize, 0usize);
    let mut batches = Vec::with_capacity(envelope.batches.len());
    for (i, raw) in envelope.batches.into_iter().enumerate() {
        let pushed = Pushed::new(raw).ok_or_else(|| {
            invalid(
                &format!("batches[{i}].seq"),
                "every batch needs its seq, a positive integer",
            )
        })?;
        if pushed.seq == 0 {
            return Err(invalid(&format!("batches[{i}].seq"), "seq starts at 1"));
        }
        event_bytes += pushed.event_bytes;
        events += pushed.events;
        batches.push(pushed);
    }
    if events > MAX_EVENTS || event_bytes > MAX_EVENT_BYTES {
        return Err(too_large());
    }
    seen.batches = batches.len();
    let result = push(
        app.storage.clone(),
        &app.engines,
        &log,
        &principal,
        &client,
        batches,
        events,
    )
    .await;
    match result {
        Ok((head, results)) => {
            seen.committed = results
                .iter()
                .filter(|r| r.contains("\"status\":\"committed\""))
                .count();
            seen.rejected = results.len() - seen.committed;
            let mut body = String::with_capacity(32 + results.iter().map(String::len).sum::<usize>());
            body.push_str("{\"head\":");
            body.push_str(&head.to_string());
            body.push_str(",\"results\":[");
            for (i, r) in results.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(r);
            }
            body.push_str("]}");
            Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
        Err(PushError::Forbidden) => Err(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this clientId belongs to another principal",
        )),
        Err(PushError::OutOfOrder(expected)) => Err(ApiError(
            StatusCode::CONFLICT,
            json!({ "error": "out_of_order", "expected": expected }),
        )),
        Err(PushError::Storage(e)) => {
            METRICS.storage_errors.inc();
            tracing::warn!(log = %log, error = %e, "push failed in storage");
            Err(unavailable(
                "the storage failed; nothing was decided, try again",
            ))
        }
        Err(PushError::Timeout) => Err(unavailable(
            "timed out waiting for the log; the push may still be decided: push the same seq again for its outcome",
        )),
    }
}

fn parse_with_path<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    // Read again, tracking the path, only when it fails.
    if let Ok(v) = serde_json::from_str(text) {
        return Ok(v);
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let message = e.inner().to_string();
        invalid(&path, &message)
    })?;
    // One JSON document, nothing after it.
    de.end().map_err(|e| invalid("", &e.to_string()))?;
    Ok(value)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// The largest revision a client can name exactly (JavaScript's safe integers).
const MAX_REVISION: u64 = (1 << 53) - 1;

fn number(v: Option<&str>, path: &str, default: u64) -> Result<u64, ApiError> {
    match v {
        None => Ok(default),
        Some(s) => s
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= MAX_REVISION)
            .ok_or_else(|| invalid(path, "expected an integer from 0 to 2^53 - 1")),
    }
}

fn page_json(page: &Page) -> String {
    let mut out = format!("{{\"head\":{},\"events\":[", page.head);
    for (i, row) in page.rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&row.body);
    }
    out.push_str("]}");
    out
}

async fn events<S: Storage>(
    State(app): State<Arc<App<S>>>,
    Path(log): Path<String>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let grant = authorize(&app, &headers, &log)?;
    let Query(q) = query.map_err(|e| invalid("", &e.body_text()))?;
    let mut after = number(q.after.as_deref(), "after", 0)?;
    let limit = number(q.limit.as_deref(), "limit", 1000)?.clamp(1, 10_000);
    let live = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if !live {
        let started = Instant::now();
        let page = tokio::time::timeout(READ_TIMEOUT, app.storage.read(&log, after, limit))
            .await
            .map_err(|_| unavailable("the storage timed out"))?
            .map_err(|e| {
                METRICS.storage_errors.inc();
                tracing::warn!(log = %log, error = %e, "read failed in storage");
                unavailable("the storage failed")
            })?;
        tracing::info!(
            log = %log,
            principal = %grant.sub,
            after,
            events = page.rows.len(),
            ms = started.elapsed().as_millis() as u64,
            "read"
        );
        return Ok((
            [(header::CONTENT_TYPE, "application/json")],
            page_json(&page),
        )
            .into_response());
    }
    if let Some(id) = headers.get("last-event-id") {
        after = number(id.to_str().ok(), "Last-Event-ID", 0)?;
    }
    tracing::info!(log = %log, principal = %grant.sub, after, "live stream opened");
    let reader = LiveReader::open(log.clone(), grant.sub.clone());
    let stream = live_stream(app, log, after, limit, grant.exp, reader);
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// A live stream while it is open: counted, and its line logged when it
/// ends.
struct LiveReader {
    log: String,
    principal: String,
    started: Instant,
    events: usize,
}

impl LiveReader {
    fn sent(&mut self, events: usize) {
        self.events += events;
    }

    fn open(log: String, principal: String) -> Self {
        METRICS.live_readers.inc();
        LiveReader {
            log,
            principal,
            started: Instant::now(),
            events: 0,
        }
    }
}

impl Drop for LiveReader {
    fn drop(&mut self) {
        METRICS.live_readers.dec();
        tracing::info!(
            log = %self.log,
            principal = %self.principal,
            events = self.events,
            ms = self.started.elapsed().as_millis() as u64,
            "live stream ended"
        );
    }
}

/// Server-Sent Events from `after` on. Every wake-up (a hint for this log,
/// a lagging hint channel, the keep-alive period) re-reads storage from the
/// last revision sent, so nothing is missed or sent twice whatever the
/// hints do.
fn live_stream<S: Storage>(
    app: Arc<App<S>>,
    log: String,
    mut last: u64,
    limit: u64,
    exp: u64,
    mut reader: LiveReader,
) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> {
    // The stream ends when its token expires (the client reconnects with
    // a fresh one), or when the server stops.
    let app_stopping = app.stopping.clone();
    let expires = std::time::SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(exp).saturating_add(Duration::from_secs(1)))
        .and_then(|at| at.duration_since(std::time::SystemTime::now()).ok())
        .and_then(|left| tokio::time::Instant::now().checked_add(left));
    let stream = async_stream::stream! {
        let mut hints = app.storage.hints();
        yield Ok(Bytes::from_static(b": live\n\n"));
        // What a read must not be older than: the hint that woke the reader
        // (every reader it woke can share one read), else the moment it
        // asks.
        let mut woke = Instant::now();
        loop {
            match app.reads.read(&*app.storage, &log, last, limit, woke).await {
                Ok(page) if !page.rows.is_empty() => {
                    last = page.rows.last().map_or(last, |r| r.revision);
                    let mut message = format!("id: {last}\ndata: {{\"events\":[");
                    for (i, row) in page.rows.iter().enumerate() {
                        if i > 0 {
                            message.push(',');
                        }
                        message.push_str(&row.body);
                    }
                    message.push_str("]}\n\n");
                    let head = page.head;
                    reader.sent(page.rows.len());
                    drop(page);
                    yield Ok(Bytes::from(message));
                    if last < head {
                        // More than a page was waiting: read on at once.
                        woke = Instant::now();
                        continue;
                    }
                    // Caught up as of that read: any later commit sends a
                    // hint, which waits in `hints` until taken below.
                }
                Ok(_) => {}
                // Storage trouble ends the stream; the reader reconnects
                // with Last-Event-ID.
                Err(_) => break,
            }
            let deadline = tokio::time::Instant::now() + KEEP_ALIVE;
            loop {
                match tokio::time::timeout_at(deadline, hints.recv()).await {
                    Err(_) => {
                        yield Ok(Bytes::from_static(b": keep-alive\n\n"));
                        woke = Instant::now();
                        break;
                    }
                    Ok(Ok(hint)) if hint.log == log || hint.log.is_empty() => {
                        woke = hint.at;
                        break;
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                        woke = Instant::now();
                        break;
                    }
                    Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) => {
                        tokio::time::sleep_until(deadline).await;
                        woke = Instant::now();
                        break;
                    }
                }
            }
        }
    };
    let mut stopping = app_stopping;
    let ends = async move {
        let expired = async {
            match expires {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = expired => {}
            _ = stopped(&mut stopping) => {}
        }
    };
    futures_util::StreamExt::take_until(stream, Box::pin(ends))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verified_token_is_taken_until_its_exp_only() {
        let verified = Verified::default();
        let grant = |exp| Grant {
            sub: "alice".into(),
            logs: vec!["*".into()],
            exp,
        };
        assert!(verified.get("t", 100).is_none());
        verified.insert("t", grant(100));
        assert_eq!(verified.get("t", 99).map(|g| g.sub), Some("alice".into()));
        assert_eq!(verified.get("t", 100).map(|g| g.exp), Some(100));
        // Expired: forgotten, so the token is verified (and refused) again.
        assert!(verified.get("t", 101).is_none());
        assert!(verified.tokens.lock().unwrap().is_empty());
        assert!(verified.get("another", 50).is_none());
    }
}
