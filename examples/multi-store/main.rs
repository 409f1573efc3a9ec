//! The example multi-store app.
//!
//! `cargo run --example multi-store` runs the whole cycle on this machine, with no store, no
//! tunnel and no credentials: a local BigCommerce (the emulator) with two stores of two
//! channels each, the app on SQLite in a temporary directory, installs through the real OAuth
//! flow, events across scopes, stores and channels (a duplicate delivery and a handler that
//! fails once included), one store uninstalled, and a summary.
//!
//! The app has a merchant UI too (`app.rs`): BigCommerce opens it in the control panel, where
//! the store owner sets whether and when abandoned carts get a reminder.
//!
//! `--serve` keeps it running, with the emulator's control panel to open in a browser. With `BC_CLIENT_ID`, `BC_CLIENT_SECRET` and `APP_URL` set it
//! serves the same handlers against real BigCommerce instead (`DATABASE_URL`, `PORT`).

mod app;

use std::collections::BTreeSet;
use std::time::Instant;

use app::{app, Activity, Db};
use bigcommerce_app::store::{Store, StoreConfig};
use bigcommerce_app::testing::TestApp;
use bigcommerce_app::Config;
use bigcommerce_app::Server;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let serve = std::env::args().any(|a| a == "--serve");
    let real_bigcommerce =
        std::env::var_os("BC_CLIENT_ID").is_some() && std::env::var_os("APP_URL").is_some();
    if real_bigcommerce || std::env::var_os("RUST_LOG").is_some() {
        // The demo prints its own summary; its logs on request (RUST_LOG=info).
        bigcommerce_app::logging::init();
    }
    let result = if real_bigcommerce {
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
    let db = Db::of(&store);
    db.prepare().await?;
    let server = Server::new(app(&activity, &db).build()?, store, Config::from_env()?)?;
    // Listens on PORT (default 3000) or BCAPP_LISTEN; logs "listening on ..." when it does.
    server.run().await?;
    Ok(())
}

async fn demo(serve: bool) -> Result<(), Error> {
    let started = Instant::now();
    let activity = Activity::default();
    // The app on a throwaway SQLite file, wired to a local BigCommerce (the emulator) with two
    // stores of two channels, BigCommerce's retry schedule 600 times faster.
    let test = TestApp::builder()
        .store("alpha", &[1, 2])
        .store("beta", &[1, 2])
        .start_with(|store| app(&activity, &Db::of(store)).build())
        .await?;
    let db = Db::of(test.store());
    db.prepare().await?;
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

    println!("\n2. the merchant opens the app in the control panel (its settings page)");
    let opened = emulator.load("alpha", emulator.owner_id("alpha")?).await?;
    println!(
        "  alpha's owner: {} {}; reminders {} min after a cart is abandoned",
        opened.status,
        if opened.body.contains("Cart reminders") {
            "settings page"
        } else {
            "unexpected page"
        },
        db.settings("alpha").await?.delay_minutes
    );
    if !opened.is_success() || !opened.body.contains("Cart reminders") {
        return Err(format!(
            "the app's page did not open: {} {}",
            opened.status, opened.body
        )
        .into());
    }

    println!("\n3. events across scopes, stores and channels");
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

    println!("\n4. uninstall beta");
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

    println!("\n5. summary");
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
    for hash in ["alpha", "beta"] {
        for (cart, delay) in db.reminders(hash).await? {
            println!("  {hash}: reminder for cart {cart} in {delay} min (the app's own table)");
        }
    }
    if counts.dead > 0 {
        return Err(format!("{} event(s) ended in the dead letters", counts.dead).into());
    }
    if serve {
        println!(
            "\nserving (ctrl-c stops): app {}, emulator {}\n  open the control panel in a browser: {}",
            test.url(),
            emulator.base_url(),
            emulator.panel_url("alpha")
        );
        bigcommerce_app::shutdown_signal().await;
    }
    test.stop().await
}
