//! `bcapp migrate`, `tenants`, `dlq list|replay`, `send` and `hooks` against a real SQLite
//! database and a small HTTP server.

use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bigcommerce_app::store::{Install, NewInboxEvent, SecretString, Store, StoreConfig};

const KEY: &str = "cli:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn url(&self) -> String {
        format!("sqlite://{}/bcapp.db?mode=rwc", self.dir.path().display())
    }

    fn bcapp(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_bcapp"))
            .args(args)
            .current_dir(self.dir.path())
            .env("DATABASE_URL", self.url())
            .env("BCAPP_ENCRYPTION_KEY", KEY)
            .env("BCAPP_DATA_DIR", self.dir.path())
            .env_remove("BC_CLIENT_ID")
            .env_remove("APP_URL")
            .env_remove("BC_CLIENT_SECRET")
            .output()
            .expect("bcapp runs")
    }

    async fn store(&self) -> Store {
        let url = self.url();
        let dir = self.dir.path().display().to_string();
        let cfg = StoreConfig::from_lookup(|name| match name {
            "DATABASE_URL" => Some(url.clone()),
            "BCAPP_ENCRYPTION_KEY" => Some(KEY.to_owned()),
            "BCAPP_DATA_DIR" => Some(dir.clone()),
            _ => None,
        })
        .expect("config");
        Store::connect(&cfg).await.expect("store")
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn migrate_tenants_and_dead_letters() {
    let env = Env::new();
    let out = env.bcapp(&["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("migrations applied"),
        "{}",
        stdout(&out)
    );

    let out = env.bcapp(&["tenants"]);
    assert!(stdout(&out).contains("no installed store"));

    let store = env.store().await;
    store
        .install(Install {
            store_hash: "abc123".into(),
            access_token: SecretString::new("t"),
            oauth_scopes: vec![],
            owner_id: 1,
            owner_email: "owner@example.com".into(),
            account_uuid: None,
        })
        .await
        .expect("install");
    let out = env.bcapp(&["tenants", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(list[0]["store_hash"], "abc123");
    assert_eq!(list[0]["generation"], 1);
    assert!(
        !stdout(&out).contains("\"t\""),
        "the token is never printed"
    );

    // A dead letter, listed and replayed.
    let event = NewInboxEvent {
        store_hash: "abc123".into(),
        scope: "store/order/created".into(),
        hash: "h1".into(),
        body: b"{}".to_vec(),
    };
    store.inbox_insert(&event).await.expect("insert");
    let claimed = store
        .inbox_claim("test", 1, Duration::from_secs(60))
        .await
        .expect("claim");
    store
        .inbox_dead_letter(claimed[0].id, "test", "handler said no")
        .await
        .expect("dead");
    let out = env.bcapp(&["dlq", "list", "--json"]);
    let dead: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(dead[0]["last_error"], "handler said no");
    let id = dead[0]["id"].to_string();
    let out = env.bcapp(&["dlq", "replay", "--id", &id]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(store.inbox_counts().await.expect("counts").pending, 1);
    let out = env.bcapp(&["dlq", "replay", "--id", "999999"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("999999"));
    let out = env.bcapp(&["dlq", "replay"]);
    assert!(stderr(&out).contains("--id"), "{}", stderr(&out));
}

#[test]
fn a_database_that_cannot_be_opened_is_one_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_bcapp"))
        .args(["tenants"])
        .current_dir(dir.path())
        .env("DATABASE_URL", "postgres://nobody:secret@127.0.0.1:1/none")
        .env("BCAPP_ENCRYPTION_KEY", KEY)
        .output()
        .expect("bcapp runs");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("127.0.0.1:1") && !err.contains("secret"),
        "{err}"
    );
    assert!(
        err.contains("database: postgres://nobody:***@127.0.0.1:1/none"),
        "{err}"
    );
    assert!(err.contains("\nhint: "), "{err}");
}

/// Headers and body of a request the test server got.
type Received = (axum::http::HeaderMap, Vec<u8>);

#[tokio::test]
async fn send_posts_with_the_secret_and_a_signature() {
    let seen: Arc<Mutex<Vec<Received>>> = Arc::default();
    let recorder = seen.clone();
    let app = axum::Router::new().route(
        "/webhooks",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let recorder = recorder.clone();
                async move {
                    recorder.lock().unwrap().push((headers, body.to_vec()));
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let env = Env::new();
    let file = env.dir.path().join("body.json");
    std::fs::write(&file, br#"{"scope":"store/order/created","hash":"x"}"#).expect("write");
    let to = format!("http://127.0.0.1:{port}/webhooks");
    let file_arg = file.display().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_bcapp"))
            .args([
                "send",
                &file_arg,
                "--to",
                &to,
                "--secret",
                "s3cret",
                "--client-secret",
                "app-secret",
            ])
            .output()
            .expect("bcapp runs")
    })
    .await
    .expect("join");
    assert!(out.status.success(), "{}", stderr(&out));
    let seen = seen.lock().unwrap();
    let (headers, body) = &seen[0];
    assert_eq!(headers["x-bcapp-webhook-secret"], "s3cret");
    let verifier = standardwebhooks::Webhook::from_bytes(b"app-secret".to_vec()).expect("key");
    verifier.verify(body, headers).expect("signature verifies");
}
