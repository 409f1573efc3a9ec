//! The example multi-store app.
//!
//! `cargo run --example multi-store` runs the whole cycle on this machine, with no store, no
//! tunnel and no credentials: a local BigCommerce (the emulator) with two stores of two
//! channels each, the app on SQLite in a temporary directory, installs through the real OAuth
//! flow, events across scopes, stores and channels (a duplicate delivery and a handler that
//! fails once included), one store uninstalled, and a summary.
//!
//! `--serve` keeps it running. With `BC_CLIENT_ID`, `BC_CLIENT_SECRET` and `APP_URL` set it
//! serves the same handlers against real BigCommerce instead (`DATABASE_URL`, `PORT`).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bigcommerce_app::cfg::Config;
use bigcommerce_app::events::{CartAbandoned, ChannelOrderRef, OrderCreated, ProductEvent};
use bigcommerce_app::store::{Store, StoreConfig};
use bigcommerce_app::testing::TestApp;
use bigcommerce_app::{
    webhook_handler, App, ChannelId, Event, HandlerError, Meta, Server, State, Tenant,
};
use serde_json::Value;

/// What the handlers did, per store, for the summary.
#[derive(Clone, Default)]
struct Activity(Arc<Mutex<BTreeMap<String, BTreeMap<&'static str, u32>>>>);

impl Activity {
    fn record(&self, tenant: &Tenant, what: &'static str) {
        let mut all = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *all.entry(tenant.store_hash().to_string())
            .or_default()
            .entry(what)
            .or_default() += 1;
    }
}

/// Carts whose reminder already failed once (to show a retry).
#[derive(Clone, Default)]
struct FailedOnce(Arc<Mutex<HashSet<String>>>);

#[webhook_handler("store/order/created")]
async fn on_order_created(
    order: OrderCreated,
    tenant: Tenant,
    State(activity): State<Activity>,
) -> Result<(), HandlerError> {
    // Payloads carry ids only: fetch the order with the store's own API client.
    let fetched: Value = tenant
        .api()?
        .get(&format!("/v2/orders/{}", order.id))
        .await?;
    println!(
        "  [{}] order #{} created, total {}",
        tenant.store_hash(),
        order.id,
        fetched["total_inc_tax"].as_str().unwrap_or("?")
    );
    activity.record(&tenant, "orders created");
    Ok(())
}

#[webhook_handler("store/channel/<id>/order/*")]
async fn on_channel_order(
    order: ChannelOrderRef,
    channel: ChannelId,
    meta: Meta,
    tenant: Tenant,
    State(activity): State<Activity>,
) -> Result<(), HandlerError> {
    let fetched: Value = tenant
        .api()?
        .get(&format!("/v2/orders/{}", order.order_id))
        .await?;
    println!(
        "  [{}] channel {channel}: {} for order #{} ({})",
        tenant.store_hash(),
        meta.scope.rsplit('/').next().unwrap_or_default(),
        order.order_id,
        fetched["status"].as_str().unwrap_or("?")
    );
    activity.record(&tenant, "channel order events");
    Ok(())
}

#[webhook_handler("store/product/*")]
async fn on_product(
    event: ProductEvent,
    tenant: Tenant,
    State(activity): State<Activity>,
) -> Result<(), HandlerError> {
    let id = match &event {
        ProductEvent::Created(p) | ProductEvent::Deleted(p) => p.id,
        ProductEvent::Updated(p) => p.id,
        other => {
            println!(
                "  [{}] product event {}",
                tenant.store_hash(),
                other.scope()
            );
            activity.record(&tenant, "product events");
            return Ok(());
        }
    };
    let fetched: Value = tenant
        .api()?
        .get(&format!("/v3/catalog/products/{id}"))
        .await?;
    println!(
        "  [{}] {}: {}",
        tenant.store_hash(),
        event.scope(),
        fetched["data"]["name"].as_str().unwrap_or("?")
    );
    activity.record(&tenant, "product events");
    Ok(())
}

#[webhook_handler("store/cart/abandoned")]
async fn on_cart_abandoned(
    cart: CartAbandoned,
    tenant: Tenant,
    State(failed): State<FailedOnce>,
    State(activity): State<Activity>,
) -> Result<(), HandlerError> {
    let first_try = failed
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(cart.id.clone());
    if first_try {
        println!(
            "  [{}] cart {}: reminder mail server busy, will retry",
            tenant.store_hash(),
            cart.id
        );
        activity.record(&tenant, "failures retried");
        return Err(HandlerError::retryable("mail server busy"));
    }
    let fetched: Value = tenant.api()?.get(&format!("/v3/carts/{}", cart.id)).await?;
    println!(
        "  [{}] cart {}: reminder sent ({} item(s))",
        tenant.store_hash(),
        cart.id,
        fetched["data"]["line_items"]["physical_items"]
            .as_array()
            .map_or(0, Vec::len)
    );
    activity.record(&tenant, "cart reminders");
    Ok(())
}

#[webhook_handler("*")]
async fn audit(
    event: Event,
    meta: Meta,
    tenant: Tenant,
    State(activity): State<Activity>,
) -> Result<(), HandlerError> {
    println!(
        "  [{}] audit: {} -> {}",
        tenant.store_hash(),
        meta.scope,
        event.variant_name()
    );
    activity.record(&tenant, "events seen");
    Ok(())
}

fn app(activity: &Activity) -> Result<App, bigcommerce_app::BuildError> {
    App::builder()
        .state(activity.clone())
        .state(FailedOnce::default())
        .on_install(|installed| async move {
            println!(
                "  on_install: {} (generation {})",
                installed.tenant.store_hash(),
                installed.tenant.generation()
            );
        })
        .on_uninstall(|gone| async move {
            println!("  on_uninstall: {}", gone.store_hash);
        })
        .build()
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let serve = std::env::args().any(|a| a == "--serve");
    let result =
        if std::env::var_os("BC_CLIENT_ID").is_some() && std::env::var_os("APP_URL").is_some() {
            real(serve).await
        } else {
            demo(serve).await
        };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Against real BigCommerce: the configuration comes from the environment.
async fn real(_serve: bool) -> Result<(), Error> {
    let activity = Activity::default();
    let store = Store::connect(&StoreConfig::from_env()?).await?;
    let server = Server::new(app(&activity)?, store, Config::from_env()?)?;
    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("0.0.0.0:{port}")).await?;
    println!(
        "serving on port {port}; install the app from your store's control panel (ctrl-c stops)"
    );
    server.serve(listener).await?;
    Ok(())
}

async fn demo(serve: bool) -> Result<(), Error> {
    let started = Instant::now();
    let activity = Activity::default();
    // The app on a throwaway SQLite file, wired to a local BigCommerce (the emulator) with two
    // stores of two channels, BigCommerce's retry schedule 600 times faster.
    let test = TestApp::start(app(&activity)?, &[("alpha", &[1, 2]), ("beta", &[1, 2])]).await?;
    let emulator = test.emulator();
    println!(
        "local BigCommerce at {}; app at {}",
        emulator.base_url(),
        test.url()
    );

    println!("\n1. install into both stores (OAuth code exchange, subscriptions)");
    for hash in ["alpha", "beta"] {
        test.install(hash).await?;
        let hooks = emulator.hooks(hash)?;
        let scopes: Vec<&str> = hooks.iter().map(|h| h.scope.as_str()).collect();
        println!(
            "  {hash}: {} subscriptions: {}",
            hooks.len(),
            scopes.join(", ")
        );
    }

    println!("\n2. events across scopes, stores and channels");
    let mut fired = 0;
    for hash in ["alpha", "beta"] {
        for (scope, channel) in [
            ("store/order/created", None),
            ("store/channel/{channel_id}/order/created", Some(1)),
            ("store/channel/{channel_id}/order/statusUpdated", Some(2)),
            ("store/product/updated", None),
        ] {
            fired += test
                .trigger(hash, scope, channel, None)
                .await?
                .hook_ids
                .len();
        }
    }
    fired += test
        .trigger("alpha", "store/cart/abandoned", None, None)
        .await?
        .hook_ids
        .len();
    // At-least-once: the same event delivered twice is handled once.
    fired += test
        .trigger_twice("beta", "store/order/created", None, None)
        .await?
        .hook_ids
        .len()
        * 2;
    println!("  {fired} deliveries sent, one of them a duplicate");
    test.wait_idle().await?;

    println!("\n3. uninstall beta");
    test.uninstall("beta").await?;
    println!(
        "  beta's hooks on BigCommerce: {}",
        emulator.hooks("beta")?.len()
    );
    let after = test
        .trigger("beta", "store/order/created", None, None)
        .await?;
    println!(
        "  a new beta order reaches {} hook(s): its events are no longer sent",
        after.hook_ids.len()
    );
    let tenant = test
        .store()
        .tenant("beta")
        .await?
        .ok_or("beta disappeared")?;
    println!(
        "  beta installed: {}, token kept: {}",
        tenant.is_installed(),
        tenant.access_token.is_some()
    );

    println!("\n4. summary");
    let counts = test.store().inbox_counts().await?;
    let table = activity.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let columns: BTreeSet<&str> = table.values().flat_map(|m| m.keys().copied()).collect();
    print!("  {:<8}", "store");
    for c in &columns {
        print!(" {c:>20}");
    }
    println!();
    for (store_hash, row) in &table {
        print!("  {store_hash:<8}");
        for c in &columns {
            print!(" {:>20}", row.get(c).copied().unwrap_or(0));
        }
        println!();
    }
    println!(
        "  inbox: {} handled, {} dead letters, {} waiting; {:.1} s",
        counts.done,
        counts.dead,
        counts.pending + counts.claimed,
        started.elapsed().as_secs_f64()
    );
    if counts.dead > 0 {
        return Err(format!("{} event(s) ended in the dead letters", counts.dead).into());
    }
    if serve {
        println!(
            "\nserving (ctrl-c stops): app {}, emulator {}",
            test.url(),
            emulator.base_url()
        );
        bigcommerce_app::server::shutdown_signal().await;
    }
    test.stop().await
}
