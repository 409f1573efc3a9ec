//! Workers: stored callbacks reach their handlers, failures retry with backoff, permanent
//! failures and exhausted events go to the dead letters, panics do not kill workers, and
//! shutdown lets the event in hand finish and hands the rest back.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use bigcommerce_app::Config;
use bigcommerce_app::{webhook_handler, App, Event, HandlerError, Meta, Server, State};
use bigcommerce_app_store::{InboxCounts, Store};
use support::*;

/// Calls per payload hash, and how each hash should behave.
#[derive(Clone, Default)]
struct Script {
    calls: Arc<Mutex<HashMap<String, u32>>>,
}

impl Script {
    fn calls(&self, hash: &str) -> u32 {
        self.calls.lock().unwrap().get(hash).copied().unwrap_or(0)
    }
}

#[webhook_handler("store/order/created")]
async fn scripted(
    _event: Event,
    meta: Meta,
    State(script): State<Script>,
) -> Result<(), HandlerError> {
    let attempt = {
        let mut calls = script.calls.lock().unwrap();
        let n = calls.entry(meta.hash.clone()).or_default();
        *n += 1;
        *n
    };
    match meta.hash.split('-').next().unwrap_or_default() {
        "ok" => Ok(()),
        "flaky" if attempt == 1 => Err(std::io::Error::other("first attempt times out").into()),
        "flaky" => Ok(()),
        "bad" => Err(HandlerError::permanent(
            "order belongs to a deleted channel",
        )),
        "boom" => panic!("handler bug on attempt {attempt}"),
        "slow" => {
            tokio::time::sleep(Duration::from_millis(400)).await;
            Ok(())
        }
        other => Err(HandlerError::permanent(format!(
            "unexpected test hash {other}"
        ))),
    }
}

fn config() -> Config {
    Config {
        max_in_flight: 2,
        idle_poll: Duration::from_millis(50),
        retry_base: Duration::from_millis(20),
        retry_max: Duration::from_millis(80),
        max_attempts: 3,
        handler_timeout: Duration::from_secs(5),
        claim_lease: Duration::from_secs(30),
        shutdown_grace: Duration::from_secs(5),
        ..Config::default()
    }
}

async fn setup(cfg: Config) -> (Server, Store, Script, String, tempfile::TempDir) {
    let (store, dir) = sqlite_store().await;
    let secret = secret_of(&install(&store, "aaa").await);
    let script = Script::default();
    let app = App::empty()
        .handler(scripted)
        .state(script.clone())
        .build()
        .unwrap();
    let server = Server::new(app, store.clone(), cfg).unwrap();
    (server, store, script, secret, dir)
}

async fn send(server: &Server, secret: &str, hash: &str) {
    let (status, _) = post(
        &server.router(),
        "/webhooks",
        order_created("aaa", hash),
        &[
            ("content-type", "application/json"),
            ("x-bcapp-webhook-secret", secret),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{hash}");
}

async fn counts(store: &Store) -> InboxCounts {
    store.inbox_counts().await.unwrap()
}

async fn settled(store: &Store, done: u64, dead: u64) -> bool {
    let store = store.clone();
    eventually(Duration::from_secs(10), move || {
        let store = store.clone();
        async move {
            let c = counts(&store).await;
            c.done == done && c.dead == dead && c.pending == 0 && c.claimed == 0
        }
    })
    .await
}

#[tokio::test]
async fn events_reach_handlers_and_failures_are_retried_or_dead_lettered() {
    let (server, store, script, secret, _dir) = setup(config()).await;
    let workers = server.start_workers();
    for hash in ["ok-1", "flaky-1", "bad-1", "boom-1", "ok-2"] {
        send(&server, &secret, hash).await;
    }
    assert!(settled(&store, 3, 2).await, "{:?}", counts(&store).await);
    assert_eq!(script.calls("ok-1"), 1);
    assert_eq!(script.calls("ok-2"), 1);
    assert_eq!(script.calls("flaky-1"), 2, "retried once, then done");
    assert_eq!(script.calls("bad-1"), 1, "a permanent error is not retried");
    assert_eq!(
        script.calls("boom-1"),
        3,
        "a panic is retried up to max_attempts"
    );

    let dead = store.inbox_dead_letters(None, 10).await.unwrap();
    let reasons: Vec<(&str, &str)> = dead
        .iter()
        .map(|d| (d.hash.as_str(), d.last_error.as_deref().unwrap_or_default()))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|(h, e)| *h == "bad-1" && e.contains("deleted channel")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(h, e)| *h == "boom-1" && e.contains("panicked")),
        "{reasons:?}"
    );

    // Workers survived the panics: new events are still handled.
    send(&server, &secret, "ok-3").await;
    assert!(settled(&store, 4, 2).await);
    workers.shutdown().await;
}

#[tokio::test]
async fn a_payload_that_does_not_fit_its_type_is_dead_lettered_for_replay() {
    let (server, store, script, secret, _dir) = setup(config()).await;
    let body = callback(
        "aaa",
        "store/order/created",
        "ok-odd",
        serde_json::json!({"id": "two hundred"}),
    );
    let (status, _) = post(
        &server.router(),
        "/webhooks",
        body,
        &[
            ("content-type", "application/json"),
            ("x-bcapp-webhook-secret", &secret),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "stored, not refused at the door");
    let workers = server.start_workers();
    assert!(settled(&store, 0, 1).await);
    assert_eq!(script.calls("ok-odd"), 0);
    let dead = store.inbox_dead_letters(None, 10).await.unwrap();
    assert!(
        dead[0]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("data.id"),
        "{:?}",
        dead[0].last_error
    );
    workers.shutdown().await;
}

#[tokio::test]
async fn events_of_a_store_uninstalled_since_are_not_handled() {
    let (server, store, script, secret, _dir) = setup(config()).await;
    send(&server, &secret, "ok-late").await;
    let tenant = store.tenant("aaa").await.unwrap().unwrap();
    store.uninstall("aaa", tenant.generation).await.unwrap();
    server.tenants().invalidate("aaa");
    let workers = server.start_workers();
    assert!(settled(&store, 1, 0).await);
    assert_eq!(script.calls("ok-late"), 0);
    workers.shutdown().await;
}

#[tokio::test]
async fn shutdown_finishes_the_event_in_hand_and_releases_the_rest() {
    let cfg = Config {
        max_in_flight: 1,
        max_held: 16,
        claim_batch: 10,
        ..config()
    };
    let (server, store, script, secret, _dir) = setup(cfg).await;
    for i in 0..4 {
        send(&server, &secret, &format!("slow-{i}")).await;
    }
    let workers = server.start_workers();
    let started = eventually(Duration::from_secs(5), || {
        let script = script.clone();
        async move { script.calls("slow-0") == 1 }
    })
    .await;
    assert!(started);
    workers.shutdown().await;
    let c = counts(&store).await;
    assert_eq!(c.done, 1, "the event in hand finished: {c:?}");
    assert_eq!(
        (c.pending, c.claimed),
        (3, 0),
        "the others are back in the queue: {c:?}"
    );
    assert_eq!(script.calls("slow-1"), 0);

    // Another process (here: new workers) picks them up at once.
    let workers = server.start_workers();
    assert!(settled(&store, 4, 0).await);
    workers.shutdown().await;
}
