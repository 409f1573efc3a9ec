//! Commands on the app's database and BigCommerce: `migrate`, `tenants`, `dlq`, `hooks`.
//!
//! Only `migrate` may create anything (the SQLite file, the tables, the development key). The
//! other commands open the database of an app that already ran, as it is, and fail saying what
//! is missing: run from another folder, they must not answer from a fresh empty database.
//! Every command that opens a database names it on standard error (`database: ...`, password
//! removed), so standard output stays clean for `--json`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bigcommerce_app::api::{Client, ClientConfig, HookFilter, DEFAULT_BASE_URL};
use bigcommerce_app::store::DEFAULT_DATA_DIR;
use bigcommerce_app::store::DEV_KEY_FILE;
use bigcommerce_app::store::{redact_url, sqlite_file_path, Store, StoreConfig, StoreError};
use bigcommerce_app::App;
use bigcommerce_app::Config;
use bigcommerce_app::Reconciler;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

pub use crate::failure::Failure;

/// A command's outcome.
pub type CmdResult = Result<(), Failure>;

/// Where the database settings come from, for hints.
const SETTINGS_HINT: &str = "bcapp reads DATABASE_URL, BCAPP_DATA_DIR, BCAPP_ENCRYPTION_KEY and \
    BCAPP_ENCRYPTION_KEYS_OLD from the environment and from ./.env: set them as the app has them";

/// A variable of the environment (or of `./.env`, already loaded), trimmed; `None` when unset or
/// empty.
fn env_value(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The database URL the store's configuration uses (`DATABASE_URL`, or the SQLite file in
/// `BCAPP_DATA_DIR`), and where that came from. For messages when the configuration itself
/// cannot be read.
fn database_url_from_env() -> String {
    env_value("DATABASE_URL").unwrap_or_else(|| {
        let dir = env_value("BCAPP_DATA_DIR").unwrap_or_else(|| DEFAULT_DATA_DIR.to_owned());
        StoreConfig::default_sqlite_url(Path::new(&dir))
    })
}

fn database_source() -> &'static str {
    if env_value("DATABASE_URL").is_some() {
        "from DATABASE_URL"
    } else if env_value("BCAPP_DATA_DIR").is_some() {
        "DATABASE_URL is not set: the default file in BCAPP_DATA_DIR"
    } else {
        "neither DATABASE_URL nor BCAPP_DATA_DIR is set: the default ./data/bcapp.db"
    }
}

/// Names the database on standard error.
fn announce(redacted_url: &str) {
    eprintln!("database: {redacted_url}");
}

/// The failure for a SQLite URL whose file does not exist; `None` for other URLs.
fn missing_database(url: &str) -> Option<Failure> {
    let file = sqlite_file_path(url)?;
    if file.exists() {
        return None;
    }
    let shown = std::path::absolute(&file).unwrap_or(file);
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| "?".to_owned());
    Some(
        Failure::new(format!(
            "there is no database at {} ({}; current directory {cwd})",
            shown.display(),
            database_source()
        ))
        .hint(
            "run bcapp in the app's directory (where its .env or data/ folder is), or set \
             DATABASE_URL or BCAPP_DATA_DIR as the app has them; `bcapp migrate` creates a new \
             database",
        ),
    )
}

/// The store configuration could not be read (URL, numbers, keys).
fn config_failure(e: StoreError) -> Failure {
    Failure::new(e.to_string()).hint(SETTINGS_HINT)
}

/// Opening the database failed.
fn open_failure(e: StoreError) -> Failure {
    let hint = match &e {
        StoreError::NotFound(_) => {
            "point DATABASE_URL (or BCAPP_DATA_DIR) at the app's database; `bcapp migrate` creates \
             the tables in a new one"
        }
        StoreError::Config(_) => {
            "run `bcapp migrate` with the app's settings, or start the app once (it migrates at \
             start-up)"
        }
        _ => "is the database server running and reachable, and is DATABASE_URL the app's?",
    };
    Failure::new(e.to_string()).hint(hint)
}

/// A query failed.
fn store_failure(e: StoreError) -> Failure {
    let failure = Failure::new(e.to_string());
    match e {
        StoreError::Decrypt { .. } | StoreError::WrongKey { .. } => failure.hint(
            "set BCAPP_ENCRYPTION_KEY to the key the app uses (after a rotation, the earlier \
             keys in BCAPP_ENCRYPTION_KEYS_OLD)",
        ),
        StoreError::Unavailable(_) | StoreError::Connect { .. } => {
            failure.hint("is the database server running and reachable?")
        }
        _ => failure,
    }
}

/// An opened database and its name for messages (password removed).
struct Db {
    store: Store,
    name: String,
}

/// Opens the database of an app that already ran: creates no file, table or key and runs no
/// migration.
async fn open_existing() -> Result<Db, Failure> {
    let cfg = match StoreConfig::existing_from_env() {
        Ok(cfg) => cfg,
        Err(e) => {
            // Name the database anyway; a missing file is the problem to report first (run from
            // the wrong folder, the development key is missing too).
            let url = database_url_from_env();
            announce(&redact_url(&url));
            return Err(missing_database(&url).unwrap_or_else(|| config_failure(e)));
        }
    };
    let name = cfg.redacted_url();
    announce(&name);
    if let Some(missing) = missing_database(&cfg.database_url) {
        return Err(missing);
    }
    let store = Store::open_existing(&cfg).await.map_err(open_failure)?;
    Ok(Db { store, name })
}

pub async fn migrate() -> CmdResult {
    let dev_key = (env_value("BCAPP_ENCRYPTION_KEY").is_none()).then(|| {
        PathBuf::from(env_value("BCAPP_DATA_DIR").unwrap_or_else(|| DEFAULT_DATA_DIR.to_owned()))
            .join(DEV_KEY_FILE)
    });
    let dev_key_existed = dev_key.as_deref().is_some_and(Path::exists);
    let cfg = StoreConfig::from_env().map_err(config_failure)?;
    let name = cfg.redacted_url();
    announce(&name);
    if let Some(key) = dev_key.filter(|key| !dev_key_existed && key.exists()) {
        eprintln!(
            "note: BCAPP_ENCRYPTION_KEY is not set: created a development key at {} \
             (set BCAPP_ENCRYPTION_KEY in production)",
            key.display()
        );
    }
    bigcommerce_app::store::migrate(&cfg)
        .await
        .map_err(open_failure)?;
    println!("migrations applied to {name}");
    Ok(())
}

pub async fn tenants(as_json: bool) -> CmdResult {
    let db = open_existing().await?;
    let tenants = db.store.installed_tenants().await.map_err(store_failure)?;
    let mut rows = Vec::new();
    for t in &tenants {
        let subs = db
            .store
            .subscriptions(&t.store_hash)
            .await
            .map_err(store_failure)?;
        let failed = subs.iter().filter(|s| s.last_error.is_some()).count();
        rows.push(json!({
            "store_hash": t.store_hash, "status": format!("{:?}", t.status).to_lowercase(),
            "generation": t.generation, "installed_at": t.installed_at.unix_timestamp(),
            "owner_email": t.owner_email, "oauth_scopes": t.oauth_scopes,
            "subscriptions": subs.len(), "failed_subscriptions": failed,
        }));
    }
    if as_json {
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    if rows.is_empty() {
        println!("no installed stores in {}", db.name);
        return Ok(());
    }
    println!(
        "{:<16} {:>4} {:<26} {:>5} {:>6}",
        "STORE", "GEN", "OWNER", "SUBS", "FAILED"
    );
    for r in rows {
        println!(
            "{:<16} {:>4} {:<26} {:>5} {:>6}",
            r["store_hash"].as_str().unwrap_or_default(),
            // `Value`'s Display ignores the width: format the numbers as strings.
            r["generation"].to_string(),
            r["owner_email"].as_str().unwrap_or_default(),
            r["subscriptions"].to_string(),
            r["failed_subscriptions"].to_string()
        );
    }
    Ok(())
}

pub async fn dlq_list(store_hash: Option<&str>, limit: u64, as_json: bool) -> CmdResult {
    let db = open_existing().await?;
    let dead = db
        .store
        .inbox_dead_letters(store_hash, limit)
        .await
        .map_err(store_failure)?;
    if as_json {
        let rows: Vec<_> = dead
            .iter()
            .map(|d| {
                json!({
                    "id": d.id, "store_hash": d.store_hash, "scope": d.scope, "hash": d.hash,
                    "attempts": d.attempts, "last_error": d.last_error,
                    "received_at": d.received_at.unix_timestamp(),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    if dead.is_empty() {
        match store_hash {
            Some(hash) => println!("no dead letters of store {hash} in {}", db.name),
            None => println!("no dead letters in {}", db.name),
        }
        return Ok(());
    }
    for d in dead {
        println!(
            "#{:<6} {:<12} {:<40} attempts {}  {}",
            d.id,
            d.store_hash,
            d.scope,
            d.attempts,
            d.last_error.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

pub async fn dlq_replay(ids: &[i64], all: bool, store_hash: Option<&str>) -> CmdResult {
    if !all && ids.is_empty() {
        return Err(Failure::new(
            "nothing to replay: name dead letters with --id ID, or use --all",
        )
        .hint("`bcapp dlq list` shows the dead letters and their ids"));
    }
    let db = open_existing().await?;
    if all {
        let n = db
            .store
            .inbox_replay_all(store_hash)
            .await
            .map_err(store_failure)?;
        println!("{n} dead letter(s) queued again");
        return Ok(());
    }
    let mut missing = Vec::new();
    for &id in ids {
        if !db.store.inbox_replay(id).await.map_err(store_failure)? {
            missing.push(id);
        }
    }
    println!("{} dead letter(s) queued again", ids.len() - missing.len());
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!("not dead letters: {missing:?}"))
            .hint("`bcapp dlq list` shows the dead letters and their ids"))
    }
}

fn progress(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

async fn selected_stores(store: &Store, one: Option<&str>) -> Result<Vec<String>, Failure> {
    match one {
        Some(hash) => Ok(vec![hash.to_owned()]),
        None => Ok(store
            .installed_tenants()
            .await
            .map_err(store_failure)?
            .into_iter()
            .map(|t| t.store_hash)
            .collect()),
    }
}

/// BigCommerce's API (or the emulator's) at `BC_API_URL`. The stores' tokens come from the
/// database: the app's client id and secret are not needed.
struct Api {
    client: Client,
    base_url: String,
}

fn api() -> Result<Api, Failure> {
    let base_url = env_value("BC_API_URL").unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let client = Client::new(ClientConfig {
        base_url: base_url.clone(),
        request_timeout: Duration::from_secs(30),
        ..ClientConfig::default()
    })
    .map_err(|e| {
        Failure::new(format!("BC_API_URL: {e}")).hint(format!(
            "BC_API_URL is the API's base URL: unset for BigCommerce ({DEFAULT_BASE_URL}), \
             http://127.0.0.1:4000 for `bcapp emulator`"
        ))
    })?;
    Ok(Api { client, base_url })
}

/// `APP_URL` as the app reads it (no trailing `/`); `None` when unset.
fn app_url() -> Result<Option<String>, Failure> {
    let Some(url) = std::env::var("APP_URL").ok().filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(
            Failure::new(format!("APP_URL {url:?} is not an http(s) URL"))
                .hint("APP_URL is the app's public base URL, e.g. https://app.example.com"),
        );
    }
    Ok(Some(url.trim_end_matches('/').to_owned()))
}

/// The receiver settings the hooks depend on: the webhook path (`BCAPP_WEBHOOK_PATH`) and the
/// secret header. Other variables of the app are not read, so an unrelated setting cannot stop
/// these commands.
fn receiver_config() -> Result<Config, Failure> {
    Config::from_lookup(|name| {
        if name == "BCAPP_WEBHOOK_PATH" {
            std::env::var(name).ok()
        } else {
            None
        }
    })
    .map_err(|e| Failure::new(e.to_string()))
}

pub async fn hooks_status(one: Option<&str>, as_json: bool) -> CmdResult {
    let destination = match app_url()? {
        Some(url) => Some(format!("{url}{}", receiver_config()?.webhook_path)),
        None => None,
    };
    let api = api()?;
    let db = open_existing().await?;
    let stores = selected_stores(&db.store, one).await?;
    if stores.is_empty() {
        if as_json {
            println!("[]");
        } else {
            println!("no installed stores in {}", db.name);
        }
        return Ok(());
    }
    eprintln!("api: {}", api.base_url);
    match &destination {
        Some(d) => eprintln!("destination: {d} (APP_URL + webhook path)"),
        None => eprintln!(
            "destination: any (APP_URL is not set: listing every hook of the store(s), not only \
             this app's)"
        ),
    }
    let bar = progress(stores.len(), "listing hooks");
    let mut out = Vec::new();
    let mut failed = 0usize;
    for hash in &stores {
        bar.inc(1);
        let tenant = db
            .store
            .tenant(hash)
            .await
            .map_err(store_failure)?
            .filter(|t| t.is_installed());
        let Some(token) = tenant.and_then(|t| t.access_token.map(|t| t.expose().to_owned())) else {
            failed += 1;
            out.push(json!({"store_hash": hash, "error": "not installed"}));
            continue;
        };
        let recorded = db.store.subscriptions(hash).await.map_err(store_failure)?;
        match api
            .client
            .store(hash.clone(), token)
            .list_all_hooks(&HookFilter::default())
            .await
        {
            Ok(hooks) => {
                let hooks: Vec<_> = hooks
                    .iter()
                    .filter(|h| destination.as_ref().is_none_or(|d| &h.destination == d))
                    .map(|h| {
                        let last = recorded.iter().find(|s| s.scope == h.scope);
                        json!({"id": h.id, "scope": h.scope, "destination": h.destination,
                               "is_active": h.is_active,
                               "last_outcome": last.and_then(|s| s.last_outcome.map(|o| o.as_str())),
                               "last_error": last.and_then(|s| s.last_error.clone())})
                    })
                    .collect();
                let missing: Vec<_> = recorded
                    .iter()
                    .filter(|s| !hooks.iter().any(|h| h["scope"] == s.scope.as_str()))
                    .map(|s| s.scope.clone())
                    .collect();
                out.push(json!({"store_hash": hash, "hooks": hooks, "missing": missing}));
            }
            Err(e) => {
                failed += 1;
                out.push(json!({"store_hash": hash, "error": e.to_string()}));
            }
        }
    }
    bar.finish_and_clear();
    if as_json {
        println!("{}", serde_json::Value::Array(out));
    } else {
        print_hooks(&out, destination.is_none());
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "the hooks of {failed} of {} store(s) could not be listed (see above)",
            stores.len()
        ))
        .hint(format!(
            "a store must be installed (`bcapp tenants`), and BC_API_URL ({}) must be the API \
             that issued its token",
            api.base_url
        )))
    }
}

fn print_hooks(out: &[serde_json::Value], with_destination: bool) {
    for s in out {
        println!("store {}", s["store_hash"].as_str().unwrap_or_default());
        if let Some(e) = s["error"].as_str() {
            println!("  error: {e}");
            continue;
        }
        let hooks = s["hooks"].as_array().map(Vec::as_slice).unwrap_or_default();
        let missing = s["missing"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        if hooks.is_empty() && missing.is_empty() {
            println!("  no hooks");
        }
        for h in hooks {
            let mut line = format!(
                "  {:<8} {:<50} {:<8}",
                h["id"].to_string(),
                h["scope"].as_str().unwrap_or_default(),
                if h["is_active"] == true {
                    "active"
                } else {
                    "INACTIVE"
                },
            );
            if with_destination {
                line.push_str(&format!(
                    " {}",
                    h["destination"].as_str().unwrap_or_default()
                ));
            }
            if let Some(e) = h["last_error"].as_str() {
                line.push_str(&format!(" {e}"));
            }
            println!("{}", line.trim_end());
        }
        for m in missing {
            println!("  MISSING  {}", m.as_str().unwrap_or_default());
        }
    }
}

pub async fn hooks_sync(one: Option<&str>) -> CmdResult {
    let receiver = receiver_config()?;
    let Some(app_url) = app_url()? else {
        return Err(Failure::new(
            "`bcapp hooks sync` needs APP_URL, which is not set: the hooks it creates deliver \
             to APP_URL + the webhook path",
        )
        .hint(
            "set APP_URL to the app's public base URL, as the app has it (e.g. \
             APP_URL=https://app.example.com, in the environment or ./.env); BC_CLIENT_ID and \
             BC_CLIENT_SECRET are not needed",
        ));
    };
    let destination = format!("{app_url}{}", receiver.webhook_path);
    let api = api()?;
    let db = open_existing().await?;
    let stores = selected_stores(&db.store, one).await?;
    if stores.is_empty() {
        println!("no installed stores in {}", db.name);
        return Ok(());
    }
    eprintln!("api: {}", api.base_url);
    eprintln!("destination: {destination} (APP_URL + webhook path)");
    let app = App::empty()
        .build()
        .map_err(|e| Failure::new(e.to_string()))?;
    let reconciler = Reconciler::new(
        app,
        db.store,
        api.client,
        destination,
        receiver.secret_header.clone(),
    );
    let bar = progress(stores.len(), "repairing hooks");
    let mut failures = Vec::new();
    for hash in &stores {
        match reconciler.repair_store(hash).await {
            Ok(report) => {
                // `suspend`, not `bar.println`: the latter prints nothing when the bar is hidden
                // (standard error is not a terminal).
                bar.suspend(|| {
                    println!(
                        "{hash}: {} change(s), {} error(s)",
                        report.writes(),
                        report.errors.len()
                    )
                });
                failures.extend(
                    report
                        .errors
                        .iter()
                        .map(|(scope, e)| format!("{hash} {scope}: {e}")),
                );
            }
            Err(e) => failures.push(format!("{hash}: {e}")),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "some hooks could not be repaired:\n  {}",
            failures.join("\n  ")
        ))
        .hint("`bcapp hooks status` shows each store's hooks and the last errors"))
    }
}
