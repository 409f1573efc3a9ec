//! `bcapp emulator` (a standalone local BigCommerce) and `bcapp trigger` (make it fire an event).

use bigcommerce_app_emulator::{AppRegistration, EmulatorConfig, StoreSpec};
use serde_json::{json, Value};

use crate::ops::{CmdResult, Failure};

pub struct EmulatorArgs {
    pub port: u16,
    pub app_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub stores: Vec<String>,
    pub channels: Vec<u64>,
    pub time_scale: f64,
}

pub async fn run(args: EmulatorArgs) -> CmdResult {
    if args.stores.is_empty() {
        return Err("give at least one store (--store abc123)".into());
    }
    if args.time_scale <= 0.0 {
        return Err("--time-scale must be positive (1 = BigCommerce's real retry schedule)".into());
    }
    let stores = args
        .stores
        .iter()
        .enumerate()
        .map(|(i, hash)| {
            StoreSpec::new(hash.clone(), 1_000_001 + i as u64).with_channels(args.channels.clone())
        })
        .collect();
    let config = EmulatorConfig::new(AppRegistration::new(
        args.client_id.clone(),
        args.client_secret.clone(),
        args.app_url.trim_end_matches('/').to_owned(),
    ))
    .with_stores(stores)
    .with_time_scale(args.time_scale)
    .with_dev_mode(true);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| {
            Failure::new(format!("cannot listen on 127.0.0.1:{}: {e}", args.port))
                .hint("pick another --port")
        })?;
    let base = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().map_err(|e| e.to_string())?.port()
    );
    println!("local BigCommerce at {base} (ctrl-c stops)");
    // The app needs the secret too (it verifies signed_payload_jwt and exchanges the auth code),
    // and must let the emulator's control panel frame its pages.
    println!(
        "  app: BC_CLIENT_ID={} BC_CLIENT_SECRET={} APP_URL={} BC_API_URL={base} BC_LOGIN_URL={base} BCAPP_FRAME_ANCESTORS={base}",
        args.client_id, args.client_secret, args.app_url
    );
    for store in &args.stores {
        println!("  panel:   {base}/_emulator/stores/{store}/panel");
    }
    println!(
        "  install: curl -X POST {base}/_emulator/stores/{}/install",
        args.stores[0]
    );
    println!(
        "  events:  bcapp trigger store/order/created --store {} --emulator {base}",
        args.stores[0]
    );
    tokio::select! {
        served = bigcommerce_app_emulator::serve(config, listener) => {
            served.map_err(|e| Failure::new(e.to_string()))
        }
        _ = bigcommerce_app::shutdown_signal() => Ok(()),
    }
}

pub async fn trigger(
    emulator: &str,
    scope: &str,
    store: &str,
    channel: Option<u64>,
    data: Option<&str>,
    duplicate: bool,
) -> CmdResult {
    let data: Option<Value> = match data {
        Some(text) => {
            Some(serde_json::from_str(text).map_err(|e| format!("--data is not JSON: {e}"))?)
        }
        None => None,
    };
    let url = format!(
        "{}/_emulator/stores/{store}/events",
        emulator.trim_end_matches('/')
    );
    let response = reqwest::Client::new()
        .post(&url)
        .json(&json!({"scope": scope, "channel_id": channel, "data": data, "duplicate": duplicate}))
        .send()
        .await
        .map_err(|e| {
            Failure::new(format!("cannot reach the emulator at {emulator}: {e}")).hint(
                "start it with `bcapp emulator`, or give its address with --emulator \
                 (BCAPP_EMULATOR_URL)",
            )
        })?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(Failure::new(format!(
            "the emulator refused the event ({status}): {}",
            body["error"].as_str().unwrap_or("no reason given")
        )));
    }
    let hooks = body["hook_ids"].as_array().map_or(0, Vec::len);
    println!(
        "fired {} (hash {}) to {hooks} hook(s)",
        body["scope"].as_str().unwrap_or(scope),
        body["hash"].as_str().unwrap_or("?")
    );
    if hooks == 0 {
        println!("note: no active hook subscribes to it: is the app installed in {store}, and does it handle this scope?");
    }
    Ok(())
}
