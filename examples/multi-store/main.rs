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

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bigcommerce_app::cfg::{BigCommerce, Config, SignatureMode};
use bigcommerce_app::events::{CartAbandoned, ChannelOrderRef, OrderCreated, ProductEvent};
use bigcommerce_app::store::{KeyRing, SecretString, Store, StoreConfig};
use bigcommerce_app::{
    webhook_handler, App, ChannelId, Event, HandlerError, Meta, Server, State, Tenant,
};
use bigcommerce_app_emulator::{AppRegistration, Emulator, EmulatorConfig, StoreSpec};
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

const CLIENT_ID: &str = "multi-store-demo";
const CLIENT_SECRET: &str = "multi-store-demo-secret";

async fn demo(serve: bool) -> Result<(), Error> {
    let started = Instant::now();
    let data = tempfile::tempdir()?;
    let activity = Activity::default();

    // The app's address comes first: the emulator must know where to call it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let app_url = format!("http://{}", listener.local_addr()?);
    let emulator = Emulator::start(
        EmulatorConfig::new(AppRegistration::new(
            CLIENT_ID,
            CLIENT_SECRET,
            app_url.clone(),
        ))
        .with_stores(vec![
            StoreSpec::new("alpha", 1001).with_channels(vec![1, 2]),
            StoreSpec::new("beta", 1002).with_channels(vec![1, 2]),
        ])
        // BigCommerce retries after 60 s, 180 s, ...: 600x faster here.
        .with_time_scale(600.0)
        .with_dev_mode(true),
    )
    .await?;
    println!(
        "local BigCommerce at {}; app at {app_url}",
        emulator.base_url()
    );

    let store = Store::connect(&StoreConfig::new(
        format!("sqlite://{}/bcapp.db?mode=rwc", data.path().display()),
        KeyRing::generate("demo")?,
    ))
    .await?;
    let cfg = Config {
        client_secret: Some(SecretString::new(CLIENT_SECRET)),
        // The emulator signs every delivery, as BigCommerce's HTTPS webhooks do.
        signatures: SignatureMode::Required,
        bigcommerce: Some(BigCommerce {
            client_id: CLIENT_ID.into(),
            app_url: app_url.clone(),
            api_url: emulator.base_url().to_owned(),
            login_url: emulator.base_url().to_owned(),
        }),
        workers: 2,
        retry_base: Duration::from_millis(300),
        retry_max: Duration::from_secs(1),
        idle_poll: Duration::from_millis(50),
        ..Config::default()
    };
    let server = Server::new(app(&activity)?, store.clone(), cfg)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve_until(listener, async move {
        let _ = stopped.await;
    }));

    println!("\n1. install into both stores (OAuth code exchange, subscriptions)");
    for hash in ["alpha", "beta"] {
        let outcome = emulator.install(hash).await?;
        if !outcome.is_success() {
            return Err(format!(
                "install into {hash} failed: {} {}",
                outcome.status, outcome.body
            )
            .into());
        }
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
            fired += emulator
                .trigger(hash, scope, channel, None)
                .await?
                .hook_ids
                .len();
        }
    }
    fired += emulator
        .trigger("alpha", "store/cart/abandoned", None, None)
        .await?
        .hook_ids
        .len();
    // At-least-once: the same event delivered twice is handled once.
    let duplicate = emulator
        .trigger_twice("beta", "store/order/created", None, None)
        .await?;
    fired += duplicate.hook_ids.len() * 2;
    println!("  {fired} deliveries sent, one of them a duplicate");
    emulator
        .wait_for_deliveries(fired, Duration::from_secs(10))
        .await?;
    wait_until_handled(&store, Duration::from_secs(15)).await?;

    println!("\n3. uninstall beta");
    let outcome = emulator.uninstall("beta").await?;
    println!("  /uninstall answered {}", outcome.status);
    println!(
        "  beta's hooks on BigCommerce: {}",
        emulator.hooks("beta")?.len()
    );
    let after = emulator
        .trigger("beta", "store/order/created", None, None)
        .await?;
    println!(
        "  a new beta order reaches {} hook(s): its events are no longer sent",
        after.hook_ids.len()
    );
    let tenant = store.tenant("beta").await?.ok_or("beta disappeared")?;
    println!(
        "  beta installed: {}, token kept: {}",
        tenant.is_installed(),
        tenant.access_token.is_some()
    );

    println!("\n4. summary");
    let counts = store.inbox_counts().await?;
    let table = activity.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let columns: Vec<&str> = table
        .values()
        .flat_map(|m| m.keys().copied())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
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
            "\nserving (ctrl-c stops): app {app_url}, emulator {}",
            emulator.base_url()
        );
        bigcommerce_app::server::shutdown_signal().await;
    }
    let _ = stop.send(());
    serving.await??;
    Ok(())
}

/// Waits until every stored event is handled (or dead).
async fn wait_until_handled(store: &Store, timeout: Duration) -> Result<(), Error> {
    let deadline = Instant::now() + timeout;
    loop {
        let c = store.inbox_counts().await?;
        if c.pending == 0 && c.claimed == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("events still waiting after {timeout:?}: {c:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
