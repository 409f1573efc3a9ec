//! End to end through the local BigCommerce: installs, routing per tenant and channel,
//! subscriptions per channel and for a new channel, BigCommerce's retries, deactivation and
//! re-activation, uninstall, and the example app's own run.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bigcommerce_app::events::ChannelCartEvent;
use bigcommerce_app::testing::TestApp;
use bigcommerce_app::{webhook_handler, App, ChannelId, Event, HandlerError, Meta, State, Tenant};

/// (store, delivered scope) per handled event.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, String)>>>);

impl Seen {
    fn all(&self) -> Vec<(String, String)> {
        let mut all = self.0.lock().unwrap().clone();
        all.sort();
        all
    }
}

#[webhook_handler("store/order/created")]
async fn orders(
    _event: Event,
    meta: Meta,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    // The tenant's API client reaches the same (emulated) store.
    let order: serde_json::Value = tenant.api()?.get("/v2/orders/7").await?;
    assert_eq!(order["id"], 7);
    seen.0
        .lock()
        .unwrap()
        .push((tenant.store_hash().to_string(), meta.scope));
    Ok(())
}

#[webhook_handler("store/channel/<id>/cart/*")]
async fn carts(
    _event: ChannelCartEvent,
    channel: ChannelId,
    meta: Meta,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    assert!(meta.scope.contains(&format!("/{channel}/")));
    seen.0
        .lock()
        .unwrap()
        .push((tenant.store_hash().to_string(), meta.scope));
    Ok(())
}

fn app(seen: &Seen) -> App {
    App::empty()
        .handler(orders)
        .handler(carts)
        .state(seen.clone())
        .build()
        .unwrap()
}

fn hook_scopes(test: &TestApp, store: &str) -> Vec<String> {
    let mut scopes: Vec<String> = test
        .emulator()
        .hooks(store)
        .unwrap()
        .into_iter()
        .filter(|h| h.is_active)
        .map(|h| h.scope)
        .collect();
    scopes.sort();
    scopes
}

#[tokio::test]
async fn two_stores_each_get_their_own_events() {
    let seen = Seen::default();
    let test = TestApp::start(app(&seen), &[("alpha", &[1, 2]), ("beta", &[1, 2])])
        .await
        .unwrap();
    test.install("alpha").await.unwrap();
    test.install("beta").await.unwrap();
    for store in ["alpha", "beta"] {
        assert_eq!(
            hook_scopes(&test, store),
            [
                "store/channel/1/cart/*",
                "store/channel/2/cart/*",
                "store/channel/created",
                "store/order/created"
            ],
            "{store}"
        );
    }
    test.trigger("alpha", "store/order/created", None, None)
        .await
        .unwrap();
    test.trigger(
        "beta",
        "store/channel/{channel_id}/cart/created",
        Some(2),
        None,
    )
    .await
    .unwrap();
    test.trigger(
        "alpha",
        "store/channel/{channel_id}/cart/lineItem/updated",
        Some(1),
        None,
    )
    .await
    .unwrap();
    // A scope nobody handles is not subscribed, so it is never sent.
    let unsent = test
        .trigger("alpha", "store/product/created", None, None)
        .await
        .unwrap();
    assert!(unsent.hook_ids.is_empty());
    test.wait_idle().await.unwrap();
    assert_eq!(
        seen.all(),
        [
            (
                "alpha".into(),
                "store/channel/1/cart/lineItem/updated".into()
            ),
            ("alpha".into(), "store/order/created".into()),
            ("beta".into(), "store/channel/2/cart/created".into()),
        ]
    );
    test.stop().await.unwrap();
}

#[tokio::test]
async fn a_new_channel_gets_its_subscriptions() {
    let seen = Seen::default();
    let test = TestApp::start(app(&seen), &[("alpha", &[1])])
        .await
        .unwrap();
    test.install("alpha").await.unwrap();
    assert!(hook_scopes(&test, "alpha").contains(&"store/channel/1/cart/*".to_string()));
    // The store creates channel 5: BigCommerce sends store/channel/created, the app reconciles.
    test.emulator().add_channel("alpha", 5).await.unwrap();
    let mut picked_up = false;
    for _ in 0..200 {
        if hook_scopes(&test, "alpha").contains(&"store/channel/5/cart/*".to_string()) {
            picked_up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(picked_up, "hooks: {:?}", hook_scopes(&test, "alpha"));
    test.trigger(
        "alpha",
        "store/channel/{channel_id}/cart/created",
        Some(5),
        None,
    )
    .await
    .unwrap();
    test.wait_idle().await.unwrap();
    assert!(seen
        .all()
        .contains(&("alpha".into(), "store/channel/5/cart/created".into())));
}

#[tokio::test]
async fn a_deactivated_hook_is_reactivated_by_the_reconciler() {
    let test = TestApp::start(app(&Seen::default()), &[("alpha", &[1])])
        .await
        .unwrap();
    test.install("alpha").await.unwrap();
    let hook = test
        .emulator()
        .hooks("alpha")
        .unwrap()
        .into_iter()
        .find(|h| h.scope == "store/order/created")
        .unwrap();
    test.emulator()
        .set_hook_active("alpha", hook.id, false)
        .unwrap();
    assert!(!hook_scopes(&test, "alpha").contains(&"store/order/created".to_string()));
    let report = test
        .reconciler()
        .unwrap()
        .reconcile_store("alpha")
        .await
        .unwrap();
    assert_eq!(report.writes(), 1, "{report:?}");
    assert!(hook_scopes(&test, "alpha").contains(&"store/order/created".to_string()));
}

#[tokio::test]
async fn refused_deliveries_are_retried_until_the_app_accepts_them() {
    let seen = Seen::default();
    // The previous secret is not accepted at all after a rotation.
    let test = TestApp::start_with(app(&seen), &[("alpha", &[1])], |cfg| {
        cfg.secret_rotation_window = Duration::ZERO;
    })
    .await
    .unwrap();
    test.install("alpha").await.unwrap();
    // The app rotates the store's secret: hooks still send the old one and get 401s...
    test.store().rotate_webhook_secret("alpha").await.unwrap();
    let report = test
        .trigger("alpha", "store/order/created", None, None)
        .await
        .unwrap();
    let first = test
        .emulator()
        .wait_for_deliveries(1, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(first[0].status, Some(401));
    // ...until the reconciler brings the hooks' header up to date; BigCommerce's next retry
    // (60 s, 600 times faster here) then goes through.
    test.reconciler()
        .unwrap()
        .reconcile_store("alpha")
        .await
        .unwrap();
    let mut delivered = false;
    for _ in 0..100 {
        let ours: Vec<_> = test
            .emulator()
            .deliveries()
            .into_iter()
            .filter(|d| d.hash == report.hash)
            .collect();
        if ours.iter().any(|d| d.is_success()) {
            assert!(ours.len() >= 2, "{ours:?}");
            assert!(ours.iter().all(|d| d.webhook_id == report.webhook_id));
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(delivered, "{:?}", test.emulator().deliveries());
    test.wait_idle().await.unwrap();
    assert_eq!(seen.all(), [("alpha".into(), "store/order/created".into())]);
}

#[tokio::test]
async fn uninstall_tears_everything_down() {
    let seen = Seen::default();
    let test = TestApp::start(app(&seen), &[("alpha", &[1]), ("beta", &[1])])
        .await
        .unwrap();
    test.install("alpha").await.unwrap();
    test.install("beta").await.unwrap();
    test.uninstall("beta").await.unwrap();
    assert!(test.emulator().hooks("beta").unwrap().is_empty());
    let tenant = test.store().tenant("beta").await.unwrap().unwrap();
    assert!(!tenant.is_installed() && tenant.access_token.is_none());
    assert!(test.store().subscriptions("beta").await.unwrap().is_empty());
    let sent = test
        .trigger("beta", "store/order/created", None, None)
        .await
        .unwrap();
    assert!(sent.hook_ids.is_empty());
    // The other store is untouched.
    assert_eq!(hook_scopes(&test, "alpha").len(), 3);
}

#[test]
fn the_example_app_runs_the_whole_cycle() {
    // `cargo test` builds the examples next to the test binaries.
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let example = dir
        .join("examples")
        .join(format!("multi-store{}", std::env::consts::EXE_SUFFIX));
    assert!(example.exists(), "{} not built", example.display());
    let out = std::process::Command::new(&example)
        .env_remove("BC_CLIENT_ID")
        .env_remove("APP_URL")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 dead letters, 0 waiting"), "{stdout}");
    // The merchant's UI: the owner's /load lands on the settings page.
    assert!(
        stdout.contains("alpha's owner: 200 settings page"),
        "{stdout}"
    );
    assert!(
        stdout.contains("beta's hooks on BigCommerce: 0"),
        "{stdout}"
    );
    assert!(
        stdout.contains("will retry") && stdout.contains("reminder in 60 min"),
        "{stdout}"
    );
}

/// Records the stores whose orders it saw, in a table of the app's own.
#[webhook_handler("store/order/created")]
async fn record_order(
    order: bigcommerce_app::events::OrderCreated,
    tenant: Tenant,
    State(db): State<sea_orm::DatabaseConnection>,
) -> Result<(), HandlerError> {
    use sea_orm::ConnectionTrait;
    db.execute(sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        "INSERT INTO seen_orders (store_hash, order_id) VALUES (?, ?)",
        [
            tenant.store_hash().to_string().into(),
            (order.id as i64).into(),
        ],
    ))
    .await?;
    Ok(())
}

#[tokio::test]
async fn test_app_serves_the_apps_routes_and_exposes_its_database() {
    use bigcommerce_app::axum::{extract::State as Ui, routing::get, Router};
    use sea_orm::ConnectionTrait;

    let test = TestApp::builder()
        .store("alpha", &[1])
        .start_with(|store| {
            let db = store.connection().clone();
            App::empty()
                .handler(record_order)
                .state(db.clone())
                .merge(
                    Router::new()
                        .route(
                            "/orders/count",
                            get(|Ui(db): Ui<sea_orm::DatabaseConnection>| async move {
                                let row = db
                                    .query_one(sea_orm::Statement::from_string(
                                        db.get_database_backend(),
                                        "SELECT COUNT(*) AS n FROM seen_orders",
                                    ))
                                    .await
                                    .ok()
                                    .flatten();
                                row.and_then(|r| r.try_get::<i64>("", "n").ok())
                                    .unwrap_or(-1)
                                    .to_string()
                            }),
                        )
                        .with_state(db),
                )
                .build()
        })
        .await
        .expect("start");
    // The app's own table, in the database the test can reach.
    test.store()
        .connection()
        .execute_unprepared("CREATE TABLE seen_orders (store_hash TEXT, order_id INTEGER)")
        .await
        .expect("create the app's table");
    test.install("alpha").await.expect("install");
    test.trigger("alpha", "store/order/created", None, None)
        .await
        .expect("trigger");
    test.wait_idle().await.expect("handled");

    let body = reqwest::get(format!("{}/orders/count", test.url()))
        .await
        .expect("the app's own route is served")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "1");
    test.stop().await.expect("stop");
}
