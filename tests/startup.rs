//! Start-up fails fast, naming the fix: a wrong encryption key, an unreachable database, a port
//! in use, a SQLite file in a folder that does not exist yet; and an app without BigCommerce
//! credentials says so to whoever tries to install it.

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use bigcommerce_app::store::{KeyRing, Store, StoreConfig, StoreError};
use bigcommerce_app::Config;
use bigcommerce_app::{App, MainError, Server, ServerError};

fn key(id: &str) -> KeyRing {
    KeyRing::generate(id).expect("key")
}

#[tokio::test]
async fn a_wrong_key_fails_start_up_naming_the_key_id() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/app.db", dir.path().display());
    let store = Store::connect(&StoreConfig::new(&url, key("k1")))
        .await
        .expect("first start");
    support::install(&store, "mystore").await;
    store.close().await.expect("close");

    let err = Store::connect(&StoreConfig::new(&url, key("k2")))
        .await
        .expect_err("another key cannot read the stored token");
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err:?}");
    let text = MainError::from(err).to_string();
    assert!(text.contains("`k1`"), "names the key id: {text}");
    assert!(
        text.contains("BCAPP_ENCRYPTION_KEY"),
        "names the fix: {text}"
    );

    // A key ring with the same id but other bytes: refused too.
    let err = Store::connect(&StoreConfig::new(&url, key("k1")))
        .await
        .expect_err("same id, other key");
    assert!(matches!(err, StoreError::WrongKey { .. }), "{err:?}");
}

#[tokio::test]
async fn a_sqlite_url_without_mode_creates_its_folder_and_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("data/nested/app.db");
    let url = format!("sqlite://{}", file.display());
    Store::connect(&StoreConfig::new(&url, key("k1")))
        .await
        .expect("the framework creates the file it migrates");
    assert!(file.exists());
}

#[tokio::test]
async fn an_unreachable_postgres_names_the_cause_at_once() {
    // A port nothing listens on: the driver's "connection refused", not a pool time-out.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let url = format!("postgres://postgres:s3cret-pw@127.0.0.1:{port}/test");
    let mut cfg = StoreConfig::new(&url, key("k1"));
    // Long enough that a pool waiting for its time-out would show as one.
    cfg.connect_timeout = Duration::from_secs(60);
    let err = tokio::time::timeout(Duration::from_secs(50), Store::connect(&cfg))
        .await
        .expect("answered before any time-out")
        .expect_err("nothing listens");
    let text = err.to_string();
    assert!(
        text.to_lowercase().contains("refused"),
        "the real cause: {text}"
    );
    assert!(!text.contains("s3cret-pw"), "no password: {text}");
    assert!(!text.contains("timed out"), "not a pool time-out: {text}");
}

#[tokio::test]
async fn a_port_in_use_is_named() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = taken.local_addr().expect("addr");
    let (store, _dir) = support::sqlite_store().await;
    let cfg = Config {
        listen: addr,
        ..Config::default()
    };
    let server = Server::new(App::empty().build().expect("app"), store, cfg).expect("server");
    let err = server.run().await.expect_err("the port is taken");
    assert!(matches!(err, ServerError::Listen { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("port {}", addr.port())) && text.contains("PORT"),
        "{text}"
    );
}

#[tokio::test]
async fn without_credentials_install_callbacks_say_why() {
    let (store, _dir) = support::sqlite_store().await;
    let server =
        Server::new(App::empty().build().expect("app"), store, Config::default()).expect("server");
    let router = server.router();
    for path in ["/auth?code=x", "/load?signed_payload_jwt=x", "/uninstall"] {
        let (status, body) = support::get(&router, path).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(body.contains("BC_CLIENT_ID"), "{path}: {body}");
    }
}
