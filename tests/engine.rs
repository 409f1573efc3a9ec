//! The handling engine under load: fair across stores, a store out of API budget waits alone,
//! retries run only the handlers that failed, and slow handlers filling the budget never cause a
//! second run of an event still running (SQLite and PostgreSQL, two instances).

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use bigcommerce_app::store::{SecretString, Store};
use bigcommerce_app::{webhook_handler, App, HandlerError, Meta, Server, State, Tenant};
use bigcommerce_app::{BigCommerce, Config};
use serde_json::Value;
use support::*;
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

/// What the handlers saw: per event hash, when each run started and ended, in order.
#[derive(Clone, Default)]
struct Journal(Arc<Mutex<Vec<Entry>>>);

#[derive(Clone, Debug)]
struct Entry {
    handler: &'static str,
    store: String,
    hash: String,
    ended: Instant,
}

impl Journal {
    fn record(&self, handler: &'static str, meta: &Meta) {
        self.0.lock().unwrap().push(Entry {
            handler,
            store: meta.store_hash.to_string(),
            hash: meta.hash.clone(),
            ended: Instant::now(),
        });
    }

    fn entries(&self) -> Vec<Entry> {
        self.0.lock().unwrap().clone()
    }

    fn count(&self, handler: &str, store: &str) -> usize {
        self.entries()
            .iter()
            .filter(|e| e.handler == handler && e.store == store)
            .count()
    }
}

/// How long the slow handler takes, per store.
#[derive(Clone)]
struct Delay(HashMap<&'static str, Duration>);

#[webhook_handler("store/order/created")]
async fn slow(
    meta: Meta,
    State(journal): State<Journal>,
    State(delay): State<Delay>,
) -> Result<(), HandlerError> {
    let wait = delay
        .0
        .get(meta.store_hash.as_str())
        .copied()
        .unwrap_or_default();
    tokio::time::sleep(wait).await;
    journal.record("slow", &meta);
    Ok(())
}

async fn send(server: &Server, store: &str, secret: &str, hash: &str) {
    let (status, body) = post(
        &server.router(),
        "/webhooks",
        order_created(store, hash),
        &[
            ("content-type", "application/json"),
            ("x-bcapp-webhook-secret", secret),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{hash}: {body}");
}

fn fast_config() -> Config {
    Config {
        idle_poll: Duration::from_millis(50),
        retry_base: Duration::from_millis(20),
        retry_max: Duration::from_millis(80),
        shutdown_grace: Duration::from_secs(5),
        ..Config::default()
    }
}

#[tokio::test]
async fn a_flooding_store_does_not_delay_another_stores_events() {
    let (store, _dir) = sqlite_store().await;
    let flood = secret_of(&install(&store, "flood").await);
    let quiet = secret_of(&install(&store, "quiet").await);
    let journal = Journal::default();
    let app = App::empty()
        .handler(slow)
        .state(journal.clone())
        .state(Delay(HashMap::from([("flood", Duration::from_millis(10))])))
        .build()
        .unwrap();
    let cfg = Config {
        max_in_flight: 8,
        max_held: 64,
        ..fast_config()
    };
    let server = Server::new(app, store.clone(), cfg).unwrap();
    // 5,000 events of one store queued (a bulk import): 8 at a time, 10 ms each, about 6 s of
    // work. Then another store's event.
    for i in 0..5_000 {
        send(&server, "flood", &flood, &format!("flood-{i}")).await;
    }
    let workers = server.start_workers();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = Instant::now();
    send(&server, "quiet", &quiet, "quiet-1").await;
    let handled = eventually(Duration::from_secs(10), || {
        let journal = journal.clone();
        async move { journal.count("slow", "quiet") == 1 }
    })
    .await;
    assert!(handled, "the quiet store's event was handled");
    let flood_done_by_then = journal
        .entries()
        .iter()
        .filter(|e| e.store == "flood")
        .filter(|e| {
            let quiet = journal
                .entries()
                .into_iter()
                .find(|q| q.store == "quiet")
                .expect("quiet entry");
            e.ended <= quiet.ended
        })
        .count();
    assert!(
        flood_done_by_then < 2_500,
        "the quiet store waited for {flood_done_by_then} of the flood's 5,000 events"
    );
    let lag = journal
        .entries()
        .into_iter()
        .find(|e| e.store == "quiet")
        .map(|e| e.ended.duration_since(sent))
        .unwrap_or_default();
    assert!(lag < Duration::from_secs(2), "quiet event waited {lag:?}");
    workers.shutdown().await;
}

/// The store API of the rate-limit test: store `spent` answers 429 with a reset time until
/// `open_at`, store `fine` always 200.
#[derive(Clone)]
struct QuotaApi {
    open_at: Instant,
    calls: Arc<Mutex<Vec<(String, Instant, u16)>>>,
}

impl Respond for QuotaApi {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let store = request
            .url
            .path()
            .split('/')
            .nth(2)
            .unwrap_or_default()
            .to_owned();
        let now = Instant::now();
        let spent = store == "spent" && now < self.open_at;
        let status = if spent { 429 } else { 200 };
        self.calls.lock().unwrap().push((store, now, status));
        if spent {
            let reset = self
                .open_at
                .saturating_duration_since(now)
                .as_millis()
                .max(1);
            ResponseTemplate::new(429)
                .insert_header("x-rate-limit-requests-left", "0")
                .insert_header("x-rate-limit-requests-quota", "150")
                .insert_header("x-rate-limit-time-window-ms", "30000")
                .insert_header("x-rate-limit-time-reset-ms", reset.to_string().as_str())
                .set_body_json(serde_json::json!({"status": 429, "title": "Too many requests"}))
        } else {
            ResponseTemplate::new(200)
                .insert_header("x-rate-limit-requests-left", "100")
                .set_body_json(serde_json::json!({"id": 1, "status": "Pending"}))
        }
    }
}

#[webhook_handler("store/order/created")]
async fn fetch_order(
    meta: Meta,
    tenant: Tenant,
    State(journal): State<Journal>,
) -> Result<(), HandlerError> {
    let _order: Value = tenant.api()?.get("/v2/orders/1").await?;
    journal.record("fetch_order", &meta);
    Ok(())
}

#[tokio::test]
async fn a_store_out_of_api_budget_waits_alone() {
    let api = MockServer::start().await;
    let quota = QuotaApi {
        open_at: Instant::now() + Duration::from_secs(3),
        calls: Arc::default(),
    };
    Mock::given(path_regex("^/stores/[a-z]+/v2/orders/1$"))
        .respond_with(quota.clone())
        .mount(&api)
        .await;
    let (store, _dir) = sqlite_store().await;
    let spent = secret_of(&install(&store, "spent").await);
    let fine = secret_of(&install(&store, "fine").await);
    let journal = Journal::default();
    let app = App::empty()
        .handler(fetch_order)
        .state(journal.clone())
        .build()
        .unwrap();
    let cfg = Config {
        max_in_flight: 2,
        client_secret: Some(SecretString::new("secret")),
        bigcommerce: Some(BigCommerce {
            client_id: "client".into(),
            app_url: "https://app.example.com".into(),
            api_url: api.uri(),
            login_url: api.uri(),
        }),
        ..fast_config()
    };
    let server = Server::new(app, store.clone(), cfg).unwrap();
    let workers = server.start_workers();
    for i in 0..5 {
        send(&server, "spent", &spent, &format!("spent-{i}")).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..5 {
        send(&server, "fine", &fine, &format!("fine-{i}")).await;
    }
    let fine_done = eventually(Duration::from_secs(2), || {
        let journal = journal.clone();
        async move { journal.count("fetch_order", "fine") == 5 }
    })
    .await;
    assert!(
        fine_done,
        "the other store's events went on while `spent` waited: {:?}",
        journal.entries()
    );
    assert_eq!(
        journal.count("fetch_order", "spent"),
        0,
        "nothing of `spent` finished before its window reset"
    );
    assert!(
        eventually(Duration::from_secs(10), || {
            let journal = journal.clone();
            async move { journal.count("fetch_order", "spent") == 5 }
        })
        .await,
        "`spent`'s events ran once its window reset"
    );
    // Waiting for the window was not a failure: no retry counted, nothing dead.
    assert!(
        eventually(Duration::from_secs(5), || {
            let store = store.clone();
            async move {
                let c = store.inbox_counts().await.unwrap();
                (c.done, c.dead, c.pending, c.claimed) == (10, 0, 0, 0)
            }
        })
        .await
    );
    let rows = store.inbox_dead_letters(None, 10).await.unwrap();
    assert!(rows.is_empty());
    // While the quota was spent, `spent` was asked rarely: its events waited instead of
    // each hammering the API.
    let spent_429s = quota
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|(s, _, status)| s == "spent" && *status == 429)
        .count();
    assert!(
        spent_429s <= 4,
        "`spent` got {spent_429s} requests while its quota was spent"
    );
    workers.shutdown().await;
}

/// Succeeds every time.
#[webhook_handler("store/order/created")]
async fn steady(meta: Meta, State(journal): State<Journal>) -> Result<(), HandlerError> {
    journal.record("steady", &meta);
    Ok(())
}

/// Fails its first two runs of each event.
#[webhook_handler("store/order/created")]
async fn flaky(meta: Meta, State(journal): State<Journal>) -> Result<(), HandlerError> {
    let runs = journal
        .entries()
        .iter()
        .filter(|e| e.handler == "flaky" && e.hash == meta.hash)
        .count();
    journal.record("flaky", &meta);
    if runs < 2 {
        return Err(HandlerError::retryable("not yet"));
    }
    Ok(())
}

#[tokio::test]
async fn a_retry_runs_only_the_handlers_that_failed() {
    let (store, _dir) = sqlite_store().await;
    let secret = secret_of(&install(&store, "aaa").await);
    let journal = Journal::default();
    let app = App::empty()
        .handler(steady)
        .handler(flaky)
        .state(journal.clone())
        .build()
        .unwrap();
    let server = Server::new(app, store.clone(), fast_config()).unwrap();
    let workers = server.start_workers();
    send(&server, "aaa", &secret, "one").await;
    assert!(
        eventually(Duration::from_secs(10), || {
            let store = store.clone();
            async move { store.inbox_counts().await.unwrap().done == 1 }
        })
        .await
    );
    workers.shutdown().await;
    assert_eq!(
        journal.count("flaky", "aaa"),
        3,
        "two failures, then success"
    );
    assert_eq!(
        journal.count("steady", "aaa"),
        1,
        "the handler that succeeded ran once"
    );
}

/// Handlers close to the timeout, leases shorter than them: every event runs once, even with
/// two instances sharing the database.
async fn slow_handlers_never_run_an_event_twice(url: &str) {
    let store = connect(url).await;
    let secret = secret_of(&install(&store, "aaa").await);
    let journal = Journal::default();
    let build = || {
        App::empty()
            .handler(slow)
            .state(journal.clone())
            .state(Delay(HashMap::from([(
                "aaa",
                Duration::from_millis(1_500),
            )])))
            .build()
            .unwrap()
    };
    let cfg = || Config {
        max_in_flight: 4,
        handler_timeout: Duration::from_secs(2),
        // Shorter than the handlers: only its extension keeps the claims alive.
        claim_lease: Duration::from_secs(1),
        ..fast_config()
    };
    let first = Server::new(build(), store.clone(), cfg()).unwrap();
    // Another instance: its own pool, the same keys.
    let other = Store::connect(&bigcommerce_app::store::StoreConfig::new(
        url,
        store.key_ring().clone(),
    ))
    .await
    .unwrap();
    let second = Server::new(build(), other, cfg()).unwrap();
    let (a, b) = (first.start_workers(), second.start_workers());
    for i in 0..16 {
        let server = if i % 2 == 0 { &first } else { &second };
        send(server, "aaa", &secret, &format!("slow-{i}")).await;
    }
    let all = eventually(Duration::from_secs(30), || {
        let store = store.clone();
        async move {
            let c = store.inbox_counts().await.unwrap();
            c.done == 16 && c.pending + c.claimed == 0
        }
    })
    .await;
    a.shutdown().await;
    b.shutdown().await;
    assert!(all, "{:?}", store.inbox_counts().await);
    let entries = journal.entries();
    let mut runs: HashMap<&str, usize> = HashMap::new();
    for e in &entries {
        *runs.entry(e.hash.as_str()).or_default() += 1;
    }
    assert_eq!(runs.len(), 16);
    assert!(
        runs.values().all(|&n| n == 1),
        "an event ran twice: {:?}",
        runs.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn slow_handlers_never_run_an_event_twice_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/bcapp.db?mode=rwc", dir.path().display());
    slow_handlers_never_run_an_event_twice(&url).await;
}

#[tokio::test]
async fn slow_handlers_never_run_an_event_twice_on_postgres() {
    let Some(db) = PgDatabase::create().await else {
        return;
    };
    slow_handlers_never_run_an_event_twice(&db.url(None)).await;
    db.drop_database().await;
}
