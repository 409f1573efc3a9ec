//! How `bcapp` finds the app's database: only `migrate` creates one, the others open the
//! existing one (and say which on standard error), `./.env` is read, and empty answers are said.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use bigcommerce_app::store::{Install, SecretString, Store, StoreConfig};

const KEY: &str = "cli:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Variables of the app that must not leak into a test from the developer's shell.
const APP_VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "BCAPP_DATA_DIR",
    "BCAPP_ENCRYPTION_KEY",
    "BCAPP_ENCRYPTION_KEYS_OLD",
    "BCAPP_DB_MAX_CONNECTIONS",
    "BCAPP_DB_CONNECT_TIMEOUT_SECS",
    "BC_CLIENT_ID",
    "BC_CLIENT_SECRET",
    "APP_URL",
    "BC_API_URL",
    "BC_LOGIN_URL",
    "BCAPP_WEBHOOK_PATH",
    "BCAPP_EMULATOR_URL",
];

/// Runs `bcapp` in `dir` with none of the app's variables but `vars`.
fn bcapp(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bcapp"));
    command.args(args).current_dir(dir);
    for name in APP_VARIABLES {
        command.env_remove(name);
    }
    command.envs(vars.iter().copied());
    command.output().expect("bcapp runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Everything under `dir`, relative, sorted.
fn contents(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A folder where `bcapp migrate` created the default database (`./data/bcapp.db`).
fn migrated() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = bcapp(dir.path(), &["migrate"], &[("BCAPP_ENCRYPTION_KEY", KEY)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("database: sqlite://./data/bcapp.db"),
        "{}",
        stderr(&out)
    );
    assert!(dir.path().join("data/bcapp.db").exists());
    dir
}

#[test]
fn dlq_list_in_an_empty_folder_fails_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Without a key (the development key would have been created here before), then with one.
    for vars in [&[][..], &[("BCAPP_ENCRYPTION_KEY", KEY)][..]] {
        let out = bcapp(dir.path(), &["dlq", "list"], vars);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
        assert!(err.contains("database: sqlite://./data/bcapp.db"), "{err}");
        assert!(
            err.contains("error: there is no database at")
                && err.contains("data/bcapp.db")
                && err.contains("\nhint: "),
            "{err}"
        );
        assert!(!err.contains("no dead letters"), "{err}");
        assert_eq!(contents(dir.path()), Vec::<String>::new(), "{err}");
    }
    // The same for the other commands that read the database.
    for args in [
        &["tenants"][..],
        &["dlq", "replay", "--all"],
        &["hooks", "status"],
    ] {
        let out = bcapp(dir.path(), args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("no database"), "{}", stderr(&out));
    }
    assert_eq!(contents(dir.path()), Vec::<String>::new());
}

#[test]
fn an_sqlite_file_without_the_tables_is_not_the_apps_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("data")).expect("mkdir");
    std::fs::write(dir.path().join("data/bcapp.db"), b"").expect("empty file");
    let out = bcapp(dir.path(), &["tenants"], &[("BCAPP_ENCRYPTION_KEY", KEY)]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("none of the framework's tables") && err.contains("hint: "),
        "{err}"
    );
}

#[test]
fn tenants_on_a_migrated_database_says_there_are_none() {
    let dir = migrated();
    let key = [("BCAPP_ENCRYPTION_KEY", KEY)];
    let out = bcapp(dir.path(), &["tenants"], &key);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "no installed stores in sqlite://./data/bcapp.db?mode=rwc"
    );
    assert!(
        stderr(&out).contains("database: sqlite://./data/bcapp.db?mode=rwc"),
        "{}",
        stderr(&out)
    );
    let out = bcapp(dir.path(), &["tenants", "--json"], &key);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "[]");

    let out = bcapp(dir.path(), &["dlq", "list"], &key);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("no dead letters"),
        "{}",
        stdout(&out)
    );
    let out = bcapp(dir.path(), &["dlq", "list", "--json"], &key);
    assert_eq!(stdout(&out).trim(), "[]");
}

#[test]
fn hooks_status_needs_no_client_credentials() {
    let dir = migrated();
    let key = [("BCAPP_ENCRYPTION_KEY", KEY)];
    let out = bcapp(dir.path(), &["hooks", "status"], &key);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("no installed stores in sqlite://./data/bcapp.db"),
        "{}",
        stdout(&out)
    );
    assert!(!stderr(&out).contains("BC_CLIENT"), "{}", stderr(&out));
    let out = bcapp(dir.path(), &["hooks", "status", "--json"], &key);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "[]");
}

#[test]
fn hooks_sync_names_only_the_missing_app_url() {
    let dir = migrated();
    let out = bcapp(
        dir.path(),
        &["hooks", "sync"],
        &[("BCAPP_ENCRYPTION_KEY", KEY)],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let first = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .expect("{err}");
    assert!(first.contains("APP_URL"), "{err}");
    assert!(!first.contains("BC_CLIENT"), "{err}");
    assert!(err.contains("\nhint: "), "{err}");

    let out = bcapp(
        dir.path(),
        &["hooks", "sync"],
        &[
            ("BCAPP_ENCRYPTION_KEY", KEY),
            ("APP_URL", "http://app.test"),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("no installed stores"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn dotenv_in_the_current_directory_is_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("elsewhere.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    std::fs::write(
        dir.path().join(".env"),
        format!("# the app's settings\nDATABASE_URL={url}\nBCAPP_ENCRYPTION_KEY={KEY}\n"),
    )
    .expect("write .env");
    let out = bcapp(dir.path(), &["migrate"], &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("env file: read") && err.contains(".env"),
        "{err}"
    );
    assert!(err.contains(&format!("database: {url}")), "{err}");
    assert!(db.exists());
    assert!(!dir.path().join("data").exists(), "the key came from .env");

    let out = bcapp(dir.path(), &["tenants"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("no installed stores in {url}")),
        "{}",
        stdout(&out)
    );

    // A variable set in the environment wins over the file.
    let other = format!("sqlite://{}/other.db?mode=rwc", dir.path().display());
    let out = bcapp(dir.path(), &["dlq", "list"], &[("DATABASE_URL", &other)]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("database: {other}")), "{err}");
    assert!(err.contains("kept: DATABASE_URL"), "{err}");

    // A file that cannot be parsed is an error, not half a configuration.
    std::fs::write(dir.path().join(".env"), "DATABASE_URL\n=oops\n").expect("write .env");
    let out = bcapp(dir.path(), &["tenants"], &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: cannot read") && err.contains("hint: "),
        "{err}"
    );
}

#[test]
fn usage_errors_stay_with_clap() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = bcapp(dir.path(), &["tenants", "--bogus"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("unexpected argument '--bogus'"),
        "{}",
        stderr(&out)
    );
    assert!(contents(dir.path()).is_empty());
}

/// The `X-Auth-Token` of each request the fake API got.
type Seen = Arc<Mutex<Vec<Option<String>>>>;

#[tokio::test]
async fn hooks_status_lists_hooks_with_the_stored_token() {
    let dir = migrated();
    let url = format!("sqlite://{}/data/bcapp.db?mode=rwc", dir.path().display());
    let cfg = StoreConfig::from_lookup(|name| match name {
        "DATABASE_URL" => Some(url.clone()),
        "BCAPP_ENCRYPTION_KEY" => Some(KEY.to_owned()),
        _ => None,
    })
    .expect("config");
    let store = Store::connect(&cfg).await.expect("store");
    store
        .install(Install {
            store_hash: "abc123".into(),
            access_token: SecretString::new("stored-token"),
            oauth_scopes: vec![],
            owner_id: 1,
            owner_email: "owner@example.com".into(),
            account_uuid: None,
        })
        .await
        .expect("install");

    // The hooks API of one store: this app's hook and another app's.
    let seen: Seen = Arc::default();
    let recorder = seen.clone();
    let api = axum::Router::new().route(
        "/stores/abc123/v3/hooks",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let recorder = recorder.clone();
            async move {
                recorder.lock().unwrap().push(
                    headers
                        .get("x-auth-token")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned),
                );
                axum::Json(serde_json::json!({"data": [
                    {"id": 1, "scope": "store/order/created", "destination": "http://app.test/webhooks", "is_active": true},
                    {"id": 2, "scope": "store/cart/created", "destination": "https://other.example/hooks", "is_active": false},
                ]}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let api_url = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    tokio::spawn(async move { axum::serve(listener, api).await });

    let run = |app_url: Option<&'static str>, json: bool| {
        let (path, api_url) = (dir.path().to_owned(), api_url.clone());
        tokio::task::spawn_blocking(move || {
            let mut vars = vec![
                ("BCAPP_ENCRYPTION_KEY", KEY),
                ("BC_API_URL", api_url.as_str()),
            ];
            vars.extend(app_url.map(|u| ("APP_URL", u)));
            let args: &[&str] = if json {
                &["hooks", "status", "--json"]
            } else {
                &["hooks", "status"]
            };
            bcapp(&path, args, &vars)
        })
    };

    // Without APP_URL: every hook of the store, and a note saying so.
    let out = run(None, true).await.expect("join");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("APP_URL is not set"),
        "{}",
        stderr(&out)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(list[0]["store_hash"], "abc123");
    assert_eq!(list[0]["hooks"].as_array().map(Vec::len), Some(2), "{list}");
    let out = run(None, false).await.expect("join");
    let text = stdout(&out);
    assert!(
        text.starts_with("store abc123\n")
            && text.contains("https://other.example/hooks")
            && text.contains("INACTIVE"),
        "{text}"
    );

    // With APP_URL: only the hooks delivering to APP_URL + /webhooks.
    let out = run(Some("http://app.test/"), true).await.expect("join");
    assert!(out.status.success(), "{}", stderr(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let hooks = list[0]["hooks"].as_array().expect("hooks");
    assert_eq!(hooks.len(), 1, "{list}");
    assert_eq!(hooks[0]["scope"], "store/order/created");
    let out = run(Some("http://app.test/"), false).await.expect("join");
    let text = stdout(&out);
    assert!(
        text.contains("store/order/created") && !text.contains("store/cart/created"),
        "{text}"
    );

    let tokens = seen.lock().unwrap().clone();
    assert_eq!(tokens.len(), 4);
    assert!(tokens.iter().all(|t| t.as_deref() == Some("stored-token")));
}
