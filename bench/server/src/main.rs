//! The servers the benchmarks compare, on 127.0.0.1 with an ephemeral port written to PORT_FILE:
//!
//! - `bare`: parse the JSON body and answer 200 (the floor: no storage at all);
//! - `naive`: check the envelope, one INSERT (one commit) per request, then 200;
//! - `receiver`: the bigcommerce-app receiver alone, no handlers running (ingest only);
//! - `app`: a user's app as it runs: the framework's `Server` with its handling side and one
//!   `#[webhook_handler("store/order/created")]` that waits `BENCH_HANDLER_MS` (one API call's
//!   worth; 0: a no-op). `GET /bench/stats` tells how many events were handled, and the lag of
//!   the probe store's events when `BENCH_PROBE_EVERY_MS` is set: the process then posts one
//!   event of another store (`probe`) at that interval while the load floods store `bench`.
//!
//! `bcapp-bench-server drain DATABASE_URL EVENTS` stores EVENTS unhandled callbacks, starts the
//! app (no-op handler) and prints how long they took to drain, as JSON.
//!
//! `bcapp-bench-server MODE DATABASE_URL PORT_FILE SECRET_FILE` for the others.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use bigcommerce_app::events::OrderCreated;
use bigcommerce_app::{webhook_handler, App, Envelope, HandlerError, Meta, Server};
use bigcommerce_app::{Config, SignatureMode};
use bigcommerce_app_store::{Install, KeyRing, NewInboxEvent, SecretString, Store, StoreConfig};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// What the handler saw.
#[derive(Default)]
struct Stats {
    handled: AtomicU64,
    /// Probe events sent and not handled yet: hash -> when sent.
    probes_in_flight: Mutex<HashMap<String, Instant>>,
    /// Lags of handled probe events.
    probe_lags: Mutex<Vec<Duration>>,
}

fn stats() -> &'static Stats {
    static STATS: OnceLock<Stats> = OnceLock::new();
    STATS.get_or_init(Stats::default)
}

fn handler_delay() -> Duration {
    static DELAY: OnceLock<Duration> = OnceLock::new();
    *DELAY.get_or_init(|| {
        let ms = std::env::var("BENCH_HANDLER_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Duration::from_millis(ms)
    })
}

#[webhook_handler("store/order/created")]
async fn on_order(_order: OrderCreated, meta: Meta) -> Result<(), HandlerError> {
    let delay = handler_delay();
    if !delay.is_zero() {
        // Stands for one BigCommerce API call.
        tokio::time::sleep(delay).await;
    }
    let stats = stats();
    stats.handled.fetch_add(1, Ordering::Relaxed);
    if meta.store_hash.as_str() == "probe" {
        let sent = stats
            .probes_in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&meta.hash);
        if let Some(sent) = sent {
            stats
                .probe_lags
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(sent.elapsed());
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.as_slice() {
        [_, mode, url, events] if mode == "drain" => match events.parse() {
            Ok(events) => drain(url, events).await,
            Err(e) => Err(format!("EVENTS: {e}").into()),
        },
        [_, mode, url, port_file, secret_file] => serve(mode, url, port_file, secret_file).await,
        _ => Err("usage: bcapp-bench-server bare|naive|receiver|app DATABASE_URL PORT_FILE SECRET_FILE\n\
                  \x20      bcapp-bench-server drain DATABASE_URL EVENTS"
            .into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(mode: &str, url: &str, port_file: &str, secret_file: &str) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let router = match mode {
        "bare" => Router::new().route(
            "/webhooks",
            post(|body: Bytes| async move {
                match serde_json::from_slice::<serde_json::Value>(&body) {
                    Ok(_) => StatusCode::OK,
                    Err(_) => StatusCode::BAD_REQUEST,
                }
            }),
        ),
        "naive" => {
            let store = open(url).await?;
            std::fs::write(secret_file, "unused")?;
            Router::new()
                .route("/webhooks", post(naive))
                .with_state(Arc::new(store))
        }
        "receiver" => {
            let (server, _) = framework(url, secret_file).await?;
            server.router()
        }
        "app" => {
            let (server, probe_secret) = framework(url, secret_file).await?;
            let probe_every = std::env::var("BENCH_PROBE_EVERY_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .map(Duration::from_millis);
            if let Some(every) = probe_every {
                tokio::spawn(probe(port, probe_secret, every));
            }
            std::fs::write(port_file, port.to_string())?;
            server.serve(listener).await?;
            return Ok(());
        }
        other => return Err(format!("unknown mode {other}").into()),
    };
    std::fs::write(port_file, port.to_string())?;
    axum::serve(listener, router).await?;
    Ok(())
}

fn config() -> Config {
    Config {
        signatures: SignatureMode::Off,
        // Tuning experiments: BENCH_WRITERS overrides the number of inbox writers.
        group_commit_writers: std::env::var("BENCH_WRITERS")
            .ok()
            .and_then(|v| v.parse().ok()),
        ..Config::default()
    }
}

/// The app on `url` with stores `bench` (its secret written to `secret_file`) and `probe`
/// installed; returns the probe store's secret.
async fn framework(url: &str, secret_file: &str) -> Result<(Server, String), Error> {
    let store = open(url).await?;
    let bench = install(&store, "bench").await?;
    let probe = install(&store, "probe").await?;
    std::fs::write(secret_file, bench)?;
    let app = App::empty()
        .handler(on_order)
        .merge(Router::new().route("/bench/stats", get(report)))
        .build()?;
    let server = Server::new(app, store, config())?;
    Ok((server, probe))
}

async fn install(store: &Store, hash: &str) -> Result<String, Error> {
    let tenant = store
        .install(Install {
            store_hash: hash.into(),
            access_token: SecretString::new("token"),
            oauth_scopes: Vec::new(),
            owner_id: 1,
            owner_email: format!("owner@{hash}.example"),
            account_uuid: None,
        })
        .await?;
    Ok(tenant
        .webhook_secret
        .as_ref()
        .ok_or("no secret")?
        .expose()
        .to_owned())
}

async fn open(url: &str) -> Result<Store, Error> {
    let cfg = StoreConfig::new(url, KeyRing::generate("bench")?);
    Ok(Store::connect(&cfg).await?)
}

/// What an app without group commit does: one insert, one commit, per callback.
async fn naive(AxumState(store): AxumState<Arc<Store>>, body: Bytes) -> StatusCode {
    let Ok(meta) = Envelope::meta(&body) else {
        return StatusCode::UNPROCESSABLE_ENTITY;
    };
    let event = NewInboxEvent {
        store_hash: meta.store_hash.as_str().to_owned(),
        scope: meta.scope,
        hash: meta.hash,
        body: body.to_vec(),
    };
    match store.inbox_insert(&event).await {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// A unique hash shaped like BigCommerce's (40 hex digits of a SHA-1): `n` scrambled by odd
/// multipliers, one-to-one for `n` below 2^32. The same as `bench/post.lua`'s.
fn sha1_like(n: u64) -> String {
    // Truncation intended: the counter's low 32 bits, unique in every run here.
    let n = n as u32;
    [2654435761u32, 2246822519, 3266489917, 668265263, 374761393]
        .iter()
        .map(|m| format!("{:08x}", n.wrapping_mul(*m)))
        .collect()
}

fn callback(store: &str, hash: &str, id: u64) -> String {
    format!(
        r#"{{"created_at":1763800000,"store_id":"1","producer":"stores/{store}","scope":"store/order/created","hash":"{hash}","data":{{"type":"order","id":{id}}}}}"#
    )
}

/// Posts one event of store `probe` every `every`, remembering when each was sent.
async fn probe(port: u16, secret: String, every: Duration) {
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/webhooks");
    let mut tick = tokio::time::interval(every);
    for n in 0u64.. {
        tick.tick().await;
        // Out of the range the load's counters use.
        let hash = sha1_like(3_000_000_000 + n);
        stats()
            .probes_in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(hash.clone(), Instant::now());
        let sent = client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-bcapp-webhook-secret", &secret)
            .body(callback("probe", &hash, n))
            .send()
            .await;
        if let Err(e) = sent.and_then(|r| r.error_for_status()) {
            eprintln!("probe event not accepted: {e}");
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn report() -> Json<serde_json::Value> {
    let stats = stats();
    let mut lags = stats
        .probe_lags
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    lags.sort();
    let waiting = stats
        .probes_in_flight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .len();
    Json(serde_json::json!({
        "handled": stats.handled.load(Ordering::Relaxed),
        "probe": {
            "handled": lags.len(),
            "waiting": waiting,
            "p50_ms": percentile(&lags, 0.5),
            "p99_ms": percentile(&lags, 0.99),
            "max_ms": percentile(&lags, 1.0),
        },
    }))
}

/// Stores `events` callbacks of store `bench` unhandled, then runs the app until they are all
/// handled; prints the drain rate and the process's peak memory.
async fn drain(url: &str, events: usize) -> Result<(), Error> {
    let store = open(url).await?;
    install(&store, "bench").await?;
    // In chunks, so the backlog is in the database, not in this process's memory.
    for start in (0..events).step_by(5_000) {
        let chunk: Vec<NewInboxEvent> = (start..events.min(start + 5_000))
            .map(|n| {
                let hash = sha1_like(n as u64);
                NewInboxEvent {
                    store_hash: "bench".into(),
                    scope: "store/order/created".into(),
                    body: callback("bench", &hash, n as u64).into_bytes(),
                    hash,
                }
            })
            .collect();
        store.inbox_insert_many(&chunk).await?;
    }
    let server = Server::new(
        App::empty().handler(on_order).build()?,
        store.clone(),
        config(),
    )?;
    let started = Instant::now();
    let workers = server.start_workers();
    // Watched through the handler's counter, then the database's count of rows waiting or
    // claimed (outcomes written): a count of the whole table every 50 ms took a third of the
    // database's time on PostgreSQL.
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if stats().handled.load(Ordering::Relaxed) >= events as u64
            && store.inbox_depth().await? == 0
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            let counts = store.inbox_counts().await?;
            return Err(format!("not drained after 10 minutes: {counts:?}").into());
        }
    }
    let elapsed = started.elapsed();
    workers.shutdown().await;
    let handled = stats().handled.load(Ordering::Relaxed);
    println!(
        "{}",
        serde_json::json!({
            "events": events,
            "handled": handled,
            "seconds": elapsed.as_secs_f64(),
            "per_second": handled as f64 / elapsed.as_secs_f64(),
            "peak_rss_mib": peak_rss_mib(),
        })
    );
    Ok(())
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}
