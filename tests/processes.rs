//! The app as separate processes: killed mid-load and restarted (nothing acknowledged is
//! lost), and two instances sharing one PostgreSQL (each event handled once between them).
//!
//! The app process is this test binary itself, re-run with `--ignored --exact app_process`
//! and its settings in the environment.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bigcommerce_app::Config;
use bigcommerce_app::{webhook_handler, App, HandlerError, Meta, Server, State};
use bigcommerce_app_store::{Store, StoreConfig};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use support::*;

const KEY: &str = "proc:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn store_config(url: &str) -> StoreConfig {
    StoreConfig::from_lookup(|name| match name {
        "DATABASE_URL" => Some(url.to_owned()),
        "BCAPP_ENCRYPTION_KEY" => Some(KEY.to_owned()),
        _ => None,
    })
    .expect("store config")
}

async fn create_handled_table(store: &Store) {
    store
        .connection()
        .execute_unprepared(
            "CREATE TABLE IF NOT EXISTS handled (hash TEXT PRIMARY KEY, runs BIGINT NOT NULL)",
        )
        .await
        .expect("handled table");
}

/// Records each payload hash once; a second run of the same event bumps `runs`.
#[webhook_handler("store/order/created")]
async fn record(meta: Meta, State(store): State<Store>) -> Result<(), HandlerError> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    let db = store.connection();
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "INSERT INTO handled (hash, runs) VALUES ($1, 1) ON CONFLICT (hash) DO UPDATE SET runs = handled.runs + 1",
        _ => "INSERT INTO handled (hash, runs) VALUES (?, 1) ON CONFLICT (hash) DO UPDATE SET runs = handled.runs + 1",
    };
    db.execute(Statement::from_sql_and_values(
        backend,
        sql,
        [meta.hash.into()],
    ))
    .await
    .map_err(HandlerError::retryable)?;
    Ok(())
}

/// Kills the whole process on a `poison` event, as an abort or running out of memory would.
#[webhook_handler("store/order/created")]
async fn poison(meta: Meta) -> Result<(), HandlerError> {
    if meta.hash.starts_with("poison") {
        std::process::abort();
    }
    Ok(())
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The app process. Not a test by itself: run by the tests below with its settings set.
#[tokio::test]
#[ignore = "the app process of the multi-process tests; started by them"]
async fn app_process() {
    let url = std::env::var("BCAPP_TEST_DB").expect("BCAPP_TEST_DB");
    let port_file = std::env::var("BCAPP_TEST_PORT_FILE").expect("BCAPP_TEST_PORT_FILE");
    let store = Store::connect(&store_config(&url)).await.expect("store");
    let app = App::empty()
        .handler(record)
        .handler(poison)
        .state(store.clone())
        .build()
        .expect("app");
    // A short lease so the restarted process takes over the killed one's claims quickly.
    let cfg = Config {
        max_in_flight: 2,
        claim_lease: Duration::from_secs(env_number("BCAPP_TEST_LEASE_SECS", 4)),
        max_attempts: env_number("BCAPP_TEST_MAX_ATTEMPTS", 8) as u32,
        handler_timeout: Duration::from_secs(2),
        ..Config::default()
    };
    let server = Server::new(app, store, cfg).expect("server");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::fs::write(format!("{port_file}.tmp"), port.to_string()).expect("port file");
    std::fs::rename(format!("{port_file}.tmp"), &port_file).expect("port file");
    server.serve(listener).await.expect("serve");
}

struct AppProcess {
    child: Child,
    port: u16,
}

impl AppProcess {
    fn start(db_url: &str, dir: &Path, name: &str) -> AppProcess {
        AppProcess::start_with(db_url, dir, name, &[])
    }

    fn start_with(db_url: &str, dir: &Path, name: &str, env: &[(&str, &str)]) -> AppProcess {
        let port_file: PathBuf = dir.join(format!("{name}.port"));
        let _ = std::fs::remove_file(&port_file);
        let child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--ignored",
                "--exact",
                "app_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("BCAPP_TEST_DB", db_url)
            .env("BCAPP_TEST_PORT_FILE", &port_file)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("app process starts");
        // Owned at once, so a failed start still kills and reaps the child (Drop).
        let mut process = AppProcess { child, port: 0 };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                if let Ok(port) = text.trim().parse() {
                    process.port = port;
                    return process;
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "app process did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process has ended (killed by its own handler, say).
    fn has_exited(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_some()
    }

    fn kill(&mut self) {
        // SIGKILL: no graceful shutdown, no released claims.
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
    }
}

impl Drop for AppProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one callback; `true` if the app acknowledged it (2xx).
async fn deliver(client: &reqwest::Client, port: u16, secret: &str, hash: &str) -> bool {
    client
        .post(format!("http://127.0.0.1:{port}/webhooks"))
        .header("content-type", "application/json")
        .header("x-bcapp-webhook-secret", secret)
        .body(order_created("aaa", hash))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

async fn handled(store: &Store) -> Vec<(String, i64)> {
    let rows = store
        .connection()
        .query_all(Statement::from_string(
            store.connection().get_database_backend(),
            "SELECT hash, runs FROM handled",
        ))
        .await
        .expect("query handled");
    rows.iter()
        .map(|r| {
            (
                r.try_get::<String>("", "hash").expect("hash"),
                r.try_get::<i64>("", "runs").expect("runs"),
            )
        })
        .collect()
}

async fn drained(store: &Store) -> bool {
    let store = store.clone();
    eventually(Duration::from_secs(60), move || {
        let store = store.clone();
        async move {
            let c = store.inbox_counts().await.expect("counts");
            c.pending == 0 && c.claimed == 0
        }
    })
    .await
}

#[tokio::test]
async fn killed_mid_load_then_restarted_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/bcapp.db?mode=rwc", dir.path().display());
    let store = Store::connect(&store_config(&url)).await.expect("store");
    create_handled_table(&store).await;
    let secret = secret_of(&install(&store, "aaa").await);

    let mut app = AppProcess::start(&url, dir.path(), "first");
    let client = reqwest::Client::new();
    let mut acknowledged = Vec::new();
    for i in 0..400 {
        let hash = format!("crash-{i}");
        if deliver(&client, app.port, &secret, &hash).await {
            acknowledged.push(hash);
        }
        if i == 250 {
            app.kill();
        }
    }
    // The dead process held events it had claimed straight from the receiver (in memory, not
    // read back); they are in the database, claimed, and come back when the lease lapses.
    let at_kill = store.inbox_counts().await.expect("counts");
    assert!(
        at_kill.claimed > 0 || at_kill.done >= acknowledged.len() as u64,
        "{at_kill:?}"
    );
    assert!(
        acknowledged.len() >= 200,
        "the app acknowledged {} before the kill",
        acknowledged.len()
    );
    assert!(
        acknowledged.len() <= 251,
        "nothing is acknowledged by a dead process"
    );

    // BigCommerce retries what was not acknowledged; the restarted app takes it.
    let app = AppProcess::start(&url, dir.path(), "second");
    for i in 0..400 {
        let hash = format!("crash-{i}");
        if !acknowledged.contains(&hash) {
            assert!(
                deliver(&client, app.port, &secret, &hash).await,
                "{hash} after restart"
            );
        }
    }
    assert!(
        drained(&store).await,
        "inbox drained: {:?}",
        store.inbox_counts().await
    );
    let handled = handled(&store).await;
    let mut hashes: Vec<&str> = handled.iter().map(|(h, _)| h.as_str()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(
        hashes.len(),
        400,
        "every event handled exactly once in the table"
    );
    for hash in &acknowledged {
        assert!(
            hashes.contains(&hash.as_str()),
            "acknowledged {hash} was handled"
        );
    }
    let rerun: Vec<&(String, i64)> = handled.iter().filter(|(_, runs)| *runs > 1).collect();
    // At-least-once: an event whose handler ran when the process died may run again after its
    // claim lapses; that can only be the few in flight at the kill.
    assert!(rerun.len() <= 4, "re-run after the crash: {rerun:?}");
    let c = store.inbox_counts().await.expect("counts");
    assert_eq!((c.done, c.dead), (400, 0));
    drop(app);
}

#[tokio::test]
async fn two_instances_on_one_postgres_handle_each_event_once() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    let url = db.url(None);
    let store = Store::connect(&store_config(&url)).await.expect("store");
    create_handled_table(&store).await;
    let secret = secret_of(&install(&store, "aaa").await);
    let dir = tempfile::tempdir().expect("temp dir");
    let a = AppProcess::start(&url, dir.path(), "a");
    let b = AppProcess::start(&url, dir.path(), "b");
    let client = reqwest::Client::new();
    let mut sends = Vec::new();
    for i in 0..300 {
        let (client, secret) = (client.clone(), secret.clone());
        let port = if i % 2 == 0 { a.port } else { b.port };
        sends.push(tokio::spawn(async move {
            deliver(&client, port, &secret, &format!("pg-{i}")).await
        }));
    }
    for send in sends {
        assert!(
            send.await.expect("send task"),
            "every callback acknowledged"
        );
    }
    assert!(drained(&store).await);
    let handled = handled(&store).await;
    assert_eq!(handled.len(), 300);
    assert!(
        handled.iter().all(|(_, runs)| *runs == 1),
        "an event ran twice: {:?}",
        handled.iter().filter(|h| h.1 > 1).collect::<Vec<_>>()
    );
    drop((a, b));
    store.close().await.ok();
    db.drop_database().await;
}

#[tokio::test]
async fn an_event_whose_handler_kills_the_process_reaches_the_dead_letters() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/bcapp.db?mode=rwc", dir.path().display());
    let store = Store::connect(&store_config(&url)).await.expect("store");
    create_handled_table(&store).await;
    let secret = secret_of(&install(&store, "aaa").await);
    let settings = [
        ("BCAPP_TEST_LEASE_SECS", "1"),
        ("BCAPP_TEST_MAX_ATTEMPTS", "3"),
    ];
    let client = reqwest::Client::new();
    let mut app = AppProcess::start_with(&url, dir.path(), "run-0", &settings);
    // The other event first: the poisoned one kills the process as soon as it is handled,
    // which can be before a later callback is answered.
    assert!(deliver(&client, app.port, &secret, "fine-1").await);
    assert!(deliver(&client, app.port, &secret, "poison-1").await);
    // Each start claims the poisoned event again (its lease lapsed), counts an attempt, and
    // dies; past the limit the event is dead-lettered instead of run.
    let mut restarts = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let c = store.inbox_counts().await.expect("counts");
        if c.dead == 1 && c.pending + c.claimed == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not dead-lettered: {c:?}"
        );
        if app.has_exited() {
            restarts += 1;
            app = AppProcess::start_with(&url, dir.path(), &format!("run-{restarts}"), &settings);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(restarts >= 3, "the handler killed {restarts} processes");
    let dead = store
        .inbox_dead_letters(None, 10)
        .await
        .expect("dead letters");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].hash, "poison-1");
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("the process stopped")),
        "{:?}",
        dead[0].last_error
    );
    assert!(
        handled(&store).await.iter().any(|(h, _)| h == "fine-1"),
        "the other event was handled"
    );
    drop(app);
}
