//! Commands on the app's database and BigCommerce: `migrate`, `tenants`, `dlq`, `hooks`.

use std::time::Duration;

use bigcommerce_app::api::{Client, ClientConfig, HookFilter};
use bigcommerce_app::cfg::Config;
use bigcommerce_app::reconcile::Reconciler;
use bigcommerce_app::store::{redact_url, Store, StoreConfig};
use bigcommerce_app::App;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

/// A failure with what to do about it.
pub type CmdResult = Result<(), String>;

fn store_config() -> Result<StoreConfig, String> {
    StoreConfig::from_env().map_err(|e| {
        format!("{e}\nhint: set DATABASE_URL (and BCAPP_ENCRYPTION_KEY) as the app does, or run from the app's directory")
    })
}

async fn open_store() -> Result<Store, String> {
    let cfg = store_config()?;
    Store::connect(&cfg).await.map_err(|e| {
        format!(
            "{e}\nhint: is the database running and DATABASE_URL right? (now {})",
            redact_url(&cfg.database_url)
        )
    })
}

pub async fn migrate() -> CmdResult {
    let cfg = store_config()?;
    bigcommerce_app::store::migrate(&cfg)
        .await
        .map_err(|e| format!("{e}\nhint: check DATABASE_URL"))?;
    println!("migrations applied to {}", redact_url(&cfg.database_url));
    Ok(())
}

pub async fn tenants(as_json: bool) -> CmdResult {
    let store = open_store().await?;
    let tenants = store.installed_tenants().await.map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for t in &tenants {
        let subs = store
            .subscriptions(&t.store_hash)
            .await
            .map_err(|e| e.to_string())?;
        let failed = subs.iter().filter(|s| s.last_error.is_some()).count();
        rows.push(json!({
            "store_hash": t.store_hash, "status": format!("{:?}", t.status).to_lowercase(),
            "generation": t.generation, "installed_at": t.installed_at.unix_timestamp(),
            "owner_email": t.owner_email, "scopes": t.scopes,
            "subscriptions": subs.len(), "failed_subscriptions": failed,
        }));
    }
    if as_json {
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    if rows.is_empty() {
        println!("no installed store");
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
            r["generation"],
            r["owner_email"].as_str().unwrap_or_default(),
            r["subscriptions"],
            r["failed_subscriptions"]
        );
    }
    Ok(())
}

pub async fn dlq_list(store_hash: Option<&str>, limit: u64, as_json: bool) -> CmdResult {
    let store = open_store().await?;
    let dead = store
        .inbox_dead_letters(store_hash, limit)
        .await
        .map_err(|e| e.to_string())?;
    if as_json {
        let rows: Vec<_> = dead
            .iter()
            .map(|d| json!({
                "id": d.id, "store_hash": d.store_hash, "scope": d.scope, "hash": d.payload_hash,
                "attempts": d.attempts, "last_error": d.last_error,
                "received_at": d.received_at.unix_timestamp(),
            }))
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    if dead.is_empty() {
        println!("no dead letters");
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
    let store = open_store().await?;
    if all {
        let n = store
            .inbox_replay_all(store_hash)
            .await
            .map_err(|e| e.to_string())?;
        println!("{n} dead letter(s) queued again");
        return Ok(());
    }
    if ids.is_empty() {
        return Err("name dead letters with --id (see `bcapp dlq list`), or use --all".into());
    }
    let mut missing = Vec::new();
    for &id in ids {
        if !store.inbox_replay(id).await.map_err(|e| e.to_string())? {
            missing.push(id);
        }
    }
    println!("{} dead letter(s) queued again", ids.len() - missing.len());
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "not dead letters: {missing:?} (see `bcapp dlq list`)"
        ))
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

async fn selected_stores(store: &Store, one: Option<&str>) -> Result<Vec<String>, String> {
    match one {
        Some(hash) => Ok(vec![hash.to_owned()]),
        None => Ok(store
            .installed_tenants()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|t| t.store_hash)
            .collect()),
    }
}

fn bigcommerce() -> Result<(Config, Client), String> {
    let cfg = Config::from_env().map_err(|e| e.to_string())?;
    let Some(bc) = &cfg.bigcommerce else {
        return Err(
            "BigCommerce is not configured: set BC_CLIENT_ID, BC_CLIENT_SECRET and APP_URL \
                    (and BC_API_URL for the local emulator)"
                .into(),
        );
    };
    let client = Client::new(ClientConfig {
        base_url: bc.api_url.clone(),
        request_timeout: Duration::from_secs(30),
        ..ClientConfig::default()
    })
    .map_err(|e| e.to_string())?;
    Ok((cfg, client))
}

pub async fn hooks_status(one: Option<&str>, as_json: bool) -> CmdResult {
    let (cfg, client) = bigcommerce()?;
    let store = open_store().await?;
    let stores = selected_stores(&store, one).await?;
    let destination = cfg
        .bigcommerce
        .as_ref()
        .map(|bc| format!("{}{}", bc.app_url, cfg.webhook_path))
        .unwrap_or_default();
    let bar = progress(stores.len(), "listing hooks");
    let mut out = Vec::new();
    for hash in stores {
        bar.inc(1);
        let Some(token) = store
            .tenant(&hash)
            .await
            .map_err(|e| e.to_string())?
            .and_then(|t| t.access_token.map(|t| t.expose().to_owned()))
        else {
            out.push(json!({"store_hash": hash, "error": "not installed"}));
            continue;
        };
        let recorded = store
            .subscriptions(&hash)
            .await
            .map_err(|e| e.to_string())?;
        match client
            .store(hash.clone(), token)
            .list_all_hooks(&HookFilter::default())
            .await
        {
            Ok(hooks) => {
                let hooks: Vec<_> = hooks
                    .iter()
                    .filter(|h| h.destination == destination)
                    .map(|h| {
                        let last = recorded.iter().find(|s| s.scope == h.scope);
                        json!({"id": h.id, "scope": h.scope, "is_active": h.is_active,
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
            Err(e) => out.push(json!({"store_hash": hash, "error": e.to_string()})),
        }
    }
    bar.finish_and_clear();
    if as_json {
        println!("{}", serde_json::Value::Array(out));
        return Ok(());
    }
    for s in &out {
        println!("store {}", s["store_hash"].as_str().unwrap_or_default());
        if let Some(e) = s["error"].as_str() {
            println!("  error: {e}");
            continue;
        }
        for h in s["hooks"].as_array().into_iter().flatten() {
            println!(
                "  {:<8} {:<50} {:<8} {}",
                h["id"],
                h["scope"].as_str().unwrap_or_default(),
                if h["is_active"] == true {
                    "active"
                } else {
                    "INACTIVE"
                },
                h["last_error"].as_str().unwrap_or("")
            );
        }
        for m in s["missing"].as_array().into_iter().flatten() {
            println!("  MISSING  {}", m.as_str().unwrap_or_default());
        }
    }
    Ok(())
}

pub async fn hooks_sync(one: Option<&str>) -> CmdResult {
    let (cfg, client) = bigcommerce()?;
    let store = open_store().await?;
    let stores = selected_stores(&store, one).await?;
    let Some(bc) = &cfg.bigcommerce else {
        return Err("BigCommerce is not configured".into());
    };
    let app = App::empty().build().map_err(|e| e.to_string())?;
    let reconciler = Reconciler::new(
        app,
        store,
        client,
        format!("{}{}", bc.app_url, cfg.webhook_path),
        cfg.secret_header.clone(),
    );
    let bar = progress(stores.len(), "repairing hooks");
    let mut failures = Vec::new();
    for hash in &stores {
        match reconciler.repair_store(hash).await {
            Ok(report) => {
                bar.println(format!(
                    "{hash}: {} change(s), {} error(s)",
                    report.writes(),
                    report.errors.len()
                ));
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
        Err(format!(
            "some hooks could not be repaired:\n  {}",
            failures.join("\n  ")
        ))
    }
}
