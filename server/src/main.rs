//! `hindcast-server`: one log shared by many devices (SPEC §8).
//!
//! ```sh
//! hindcast-server --listen 127.0.0.1:8787 --data ./hindcast.db          # embedded (SQLite)
//! hindcast-server --listen 127.0.0.1:8787 --database-url postgres://…   # PostgreSQL
//! #   --jwt-secret SECRET | HINDCAST_JWT_SECRET   verify bearer tokens (HS256)
//! #   --insecure-no-auth                          accept every request (loopback only)
//! ```
//!
//! Once listening it prints `hindcast-server listening on http://ADDR` on
//! stdout (with `--listen 127.0.0.1:0`, ADDR has the port it was given).

mod http;
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

const USAGE: &str = "usage: hindcast-server [--listen ADDR] [--data FILE | --database-url URL] [--jwt-secret SECRET | --insecure-no-auth]";

struct Args {
    listen: SocketAddr,
    data: String,
    database_url: Option<String>,
    secret: Option<String>,
    insecure: bool,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        listen: "127.0.0.1:8787".parse().expect("a socket address"),
        data: "hindcast.db".into(),
        database_url: None,
        secret: std::env::var("HINDCAST_JWT_SECRET")
            .ok()
            .filter(|s| !s.is_empty()),
        insecure: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--listen" => {
                a.listen = value()?.parse().map_err(|e| {
                    format!("--listen: {e} (give an address such as 127.0.0.1:8787)")
                })?
            }
            "--data" => a.data = value()?,
            "--database-url" => a.database_url = Some(value()?),
            "--jwt-secret" => a.secret = Some(value()?),
            "--insecure-no-auth" => a.insecure = true,
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if a.secret.is_none() && !a.insecure {
        return Err(
            "refusing to start without a secret: give --jwt-secret (or HINDCAST_JWT_SECRET), or --insecure-no-auth on a loopback address".into(),
        );
    }
    if a.insecure && !a.listen.ip().is_loopback() {
        return Err("--insecure-no-auth is only accepted with a loopback --listen address".into());
    }
    Ok(a)
}

async fn serve<S: Storage>(storage: S, auth: Auth, listen: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let app = Arc::new(App {
        storage: Arc::new(storage),
        engines: push::Engines::new(),
        auth,
        reads: http::SharedReads::default(),
    });
    println!(
        "hindcast-server listening on http://{}",
        listener.local_addr()?
    );
    let _ = std::io::stdout().flush();
    let router = http::router(app);
    // HTTP/1.1 with a bound on a peer that sends its headers slowly.
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    let shutdown = tokio::signal::ctrl_c();
    tokio::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, say: back off a moment.
                    eprintln!("hindcast-server: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => return Ok(()),
        };
        // Small answers go out at once (no Nagle delay on each response).
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = http1.serve_connection(TokioIo::new(tcp), service);
        tokio::spawn(async move {
            let _ = connection.await;
        });
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
    let auth = match &a.secret {
        Some(s) if !a.insecure => Auth::Secret(
            jsonwebtoken::DecodingKey::from_secret(s.as_bytes()),
            http::Verified::default(),
        ),
        _ => Auth::Insecure,
    };
    let result = match &a.database_url {
        Some(url) => match postgres::Postgres::connect(url).await {
            Ok(pg) => serve(pg, auth, a.listen).await,
            Err(e) => {
                eprintln!("hindcast-server: {e}");
                std::process::exit(1);
            }
        },
        None => match sqlite::Sqlite::open(&a.data) {
            Ok(db) => serve(db, auth, a.listen).await,
            Err(e) => {
                eprintln!("hindcast-server: {}: {e}", a.data);
                std::process::exit(1);
            }
        },
    };
    if let Err(e) = result {
        eprintln!("hindcast-server: {e}");
        std::process::exit(1);
    }
}
