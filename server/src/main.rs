//! `hindcast-server`: one log shared by many devices (SPEC §8).
//!
//! ```sh
//! hindcast-server --listen 127.0.0.1:8787 --data ./hindcast.db          # embedded (SQLite)
//! hindcast-server --listen 127.0.0.1:8787 --database-url postgres://…   # PostgreSQL
//! #   --jwt-secret SECRET | HINDCAST_JWT_SECRET   verify bearer tokens (HS256)
//! #   --insecure-no-auth                          accept every request (loopback only)
//! ```
//!
//! `--help` lists every setting and its environment variable.
//!
//! Once listening it prints `hindcast-server listening on http://ADDR` on
//! stdout (with `--listen 127.0.0.1:0`, ADDR has the port it was given).

mod canonical;
mod conns;
mod http;
mod metrics;
mod postgres;
mod push;
mod sqlite;
mod storage;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{App, Auth};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use storage::Storage;

const USAGE: &str = "\
usage: hindcast-server [options]

Each option may also be given by its environment variable; an option on
the command line wins over the environment.

  --listen ADDR            HINDCAST_LISTEN            address to serve on (127.0.0.1:8787)
  --data FILE              HINDCAST_DATA              embedded storage file (hindcast.db)
  --database-url URL       HINDCAST_DATABASE_URL      PostgreSQL instead (or DATABASE_URL)
  --jwt-secret SECRET      HINDCAST_JWT_SECRET        verify bearer tokens (HS256; 32 bytes or more)
  --jwt-audience AUD       HINDCAST_JWT_AUDIENCE      require tokens whose aud is AUD
  --insecure-no-auth       HINDCAST_INSECURE_NO_AUTH  accept every request (loopback --listen only)
  --max-connections N      HINDCAST_MAX_CONNECTIONS   connections served at once (10000)
  --max-logs N             HINDCAST_MAX_LOGS          logs kept decided in memory (10000)
  --metrics-listen ADDR    HINDCAST_METRICS_LISTEN    also serve GET /metrics here, without a token
  --metrics-logs LOGS      HINDCAST_METRICS_LOGS      count pushes per log for these logs (comma-separated, at most 100)
  --log-format FORMAT      HINDCAST_LOG_FORMAT        text (default) or json; levels by RUST_LOG (info)
  --version                                           print the version and exit
  --help                                              print this and exit";

struct Args {
    listen: SocketAddr,
    data: String,
    database_url: Option<String>,
    secret: Option<String>,
    audience: Option<String>,
    insecure: bool,
    max_connections: usize,
    max_logs: usize,
    metrics_listen: Option<SocketAddr>,
    json_logs: bool,
}

/// The settings: each flag, else its environment variable, else the default.
fn args() -> Result<Args, String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut given: std::collections::HashMap<&'static str, String> = Default::default();
    let mut insecure = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let key = match flag.as_str() {
            "--listen" => "listen",
            "--data" => "data",
            "--database-url" => "database-url",
            "--jwt-secret" => "jwt-secret",
            "--jwt-audience" => "jwt-audience",
            "--max-connections" => "max-connections",
            "--max-logs" => "max-logs",
            "--metrics-listen" => "metrics-listen",
            "--metrics-logs" => "metrics-logs",
            "--log-format" => "log-format",
            "--insecure-no-auth" => {
                insecure = Some(true);
                continue;
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "--version" | "-V" => {
                println!("hindcast-server {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        };
        let value = it.next().ok_or(format!("{flag} needs a value\n{USAGE}"))?;
        given.insert(key, value);
    }
    let mut get = |key: &str, var: &str| given.remove(key).or_else(|| env(var));
    let count = |value: Option<String>, flag: &str, default: usize| match value {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or(format!("{flag}: expected a positive integer, got {v:?}")),
    };
    let listen = match get("listen", "HINDCAST_LISTEN") {
        None => "127.0.0.1:8787".parse().expect("a socket address"),
        Some(v) => v
            .parse()
            .map_err(|e| format!("--listen: {e} (give an address such as 127.0.0.1:8787)"))?,
    };
    let insecure = match insecure {
        Some(i) => i,
        None => match env("HINDCAST_INSECURE_NO_AUTH").as_deref() {
            None | Some("0" | "false") => false,
            Some("1" | "true") => true,
            Some(v) => {
                return Err(format!(
                    "HINDCAST_INSECURE_NO_AUTH: expected 1 or 0, got {v:?}"
                ))
            }
        },
    };
    let metrics_listen = match get("metrics-listen", "HINDCAST_METRICS_LISTEN") {
        None => None,
        Some(v) => Some(v.parse().map_err(|e| format!("--metrics-listen: {e}"))?),
    };
    // Per-log figures only for the logs the operator names: a label per log
    // is a time series per log, and the logs are unbounded.
    if let Some(v) = get("metrics-logs", "HINDCAST_METRICS_LOGS") {
        let logs: Vec<String> = v
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if logs.is_empty() || logs.len() > metrics::MAX_WATCHED_LOGS {
            return Err(format!(
                "--metrics-logs: expected 1 to {} log names, comma-separated",
                metrics::MAX_WATCHED_LOGS
            ));
        }
        metrics::watch_logs(logs);
    }
    let json_logs = match get("log-format", "HINDCAST_LOG_FORMAT").as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(v) => return Err(format!("--log-format: expected text or json, got {v:?}")),
    };
    let a = Args {
        listen,
        metrics_listen,
        json_logs,
        data: get("data", "HINDCAST_DATA").unwrap_or_else(|| "hindcast.db".into()),
        database_url: get("database-url", "HINDCAST_DATABASE_URL").or_else(|| env("DATABASE_URL")),
        secret: get("jwt-secret", "HINDCAST_JWT_SECRET"),
        audience: get("jwt-audience", "HINDCAST_JWT_AUDIENCE"),
        insecure,
        max_connections: count(
            get("max-connections", "HINDCAST_MAX_CONNECTIONS"),
            "--max-connections",
            10_000,
        )?,
        max_logs: count(get("max-logs", "HINDCAST_MAX_LOGS"), "--max-logs", 10_000)?,
    };
    match (&a.secret, a.insecure) {
        (None, false) => {
            return Err(
                "refusing to start without a secret: give --jwt-secret (or HINDCAST_JWT_SECRET), or --insecure-no-auth on a loopback address".into(),
            )
        }
        (Some(_), true) => {
            return Err("give either a secret or --insecure-no-auth, not both (a secret would not be checked)".into())
        }
        (Some(s), false) if s.len() < 32 => {
            return Err("the JWT secret must be at least 32 bytes long (HS256 is only as strong as its secret)".into())
        }
        _ => {}
    }
    if a.insecure && !a.listen.ip().is_loopback() {
        return Err("--insecure-no-auth is only accepted with a loopback --listen address".into());
    }
    Ok(a)
}

async fn serve<S: Storage>(storage: S, auth: Auth, a: &Args) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(a.listen).await?;
    // Each connection holds a file; the cap leaves room for the storage's.
    let files = conns::raise_open_files();
    let max_connections = a
        .max_connections
        .min(files.saturating_sub(64).max(1) as usize);
    let conns = Arc::new(conns::Conns::new(max_connections));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let app = Arc::new(App {
        storage: Arc::new(storage),
        engines: push::Engines::new(a.max_logs),
        auth,
        reads: http::SharedReads::default(),
        stopping: stopping.clone(),
    });
    if let Some(addr) = a.metrics_listen {
        let metrics = tokio::net::TcpListener::bind(addr).await?;
        tracing::info!(address = %metrics.local_addr()?, "metrics served");
        let router = http::metrics_router(app.clone());
        tokio::spawn(async move { axum::serve(metrics, router).await });
    }
    println!(
        "hindcast-server listening on http://{}",
        listener.local_addr()?
    );
    let _ = std::io::stdout().flush();
    let router = http::router(app);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // Connection tasks, to wait for when stopping.
    let mut tasks = tokio::task::JoinSet::new();
    // HTTP/1.1 with a bound on a peer that sends its headers slowly.
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    let shutdown = async {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        }
    };
    tokio::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: back off a moment.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            signal = &mut shutdown => {
                // Graceful stop: no new connection; each connection answers
                // the request it has (a push is answered once its outcome
                // is durable) and closes; live streams end. At most
                // STOP_WAIT, then the process exits all the same.
                tracing::info!(signal, "stopping");
                drop(listener);
                let _ = stop.send(true);
                let drained = tokio::time::timeout(STOP_WAIT, async {
                    while tasks.join_next().await.is_some() {}
                })
                .await;
                tracing::info!(clean = drained.is_ok(), "stopped");
                return Ok(());
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        // Every connection busy: this one is closed at once.
        let Some(conn) = conns.admit() else {
            continue;
        };
        // Small answers go out at once (no Nagle delay on each response).
        let _ = tcp.set_nodelay(true);
        let (router, busy_conns, busy_conn) = (router.clone(), conns.clone(), conn.clone());
        let service = tower::service_fn(move |req: axum::http::Request<hyper::body::Incoming>| {
            let busy = busy_conns.busy(&busy_conn);
            let response = tower::ServiceExt::oneshot(router.clone(), req);
            async move {
                let response = response.await?;
                Ok::<_, std::convert::Infallible>(
                    response.map(|body| conns::Guarded::body(body, busy)),
                )
            }
        });
        let connection =
            http1.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service));
        let conns = conns.clone();
        let mut stopping = stopping.clone();
        tasks.spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = conn.close.notified() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
                _ = http::stopped(&mut stopping) => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            conns.closed(&conn);
        });
    }
}

/// How long a stop waits for requests in progress.
const STOP_WAIT: Duration = Duration::from_secs(8);

/// Logs to stderr through `tracing`: one line per request (see http.rs),
/// levels by RUST_LOG (default info), as text or JSON.
fn logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(message) => {
            eprintln!("hindcast-server: {message}");
            std::process::exit(2);
        }
    };
    logs(a.json_logs);
    let auth = match &a.secret {
        Some(s) if !a.insecure => Auth::Secret(
            jsonwebtoken::DecodingKey::from_secret(s.as_bytes()),
            http::Verified::default(),
            a.audience.clone(),
        ),
        _ => Auth::Insecure,
    };
    let result = match &a.database_url {
        Some(url) => match postgres::Postgres::connect(url).await {
            Ok(pg) => serve(pg, auth, &a).await,
            Err(e) => {
                tracing::error!(error = %e, "cannot open the storage");
                std::process::exit(1);
            }
        },
        None => match sqlite::Sqlite::open(&a.data) {
            Ok(db) => serve(db, auth, &a).await,
            Err(e) => {
                tracing::error!(error = %e, file = %a.data, "cannot open the storage");
                std::process::exit(1);
            }
        },
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "cannot serve");
        std::process::exit(1);
    }
}
