//! The example app's merchant UI, end to end in headless Chromium: the emulator's control panel
//! (on 127.0.0.1) frames the app (on localhost), another site, as BigCommerce's control panel
//! frames an app in production. The merchant installs the app, the owner changes the reminder
//! settings, a staff user only sees them, and the webhook handler honours them.
//!
//! Needs `chromium` and `chromedriver`: `cargo test -p bigcommerce-app-browser-tests`.

#[path = "../../../examples/multi-store/app.rs"]
mod app;

use std::path::PathBuf;
use std::time::Instant;

use bigcommerce_app::testing::TestApp;
use bigcommerce_app_browser_tests::{Browser, Cookies};
use serde_json::Value;

const STORE: &str = "alpha";

/// Where the screenshots and chromedriver's logs go: `$CARGO_TARGET_DIR/browser-test` (else the
/// target directory's `tmp`).
fn artifacts() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")), PathBuf::from)
        .join("browser-test")
}

/// Fires `store/cart/abandoned` and waits until the app handled it (the example's handler fails
/// its first attempt on purpose; the retry is part of the wait); returns the cart id.
async fn abandon_cart(test: &TestApp) -> String {
    let report = test
        .trigger(STORE, "store/cart/abandoned", None, None)
        .await
        .expect("fire store/cart/abandoned");
    test.wait_idle()
        .await
        .expect("the app handles the abandoned cart");
    match &report.payload["data"]["id"] {
        Value::String(id) => id.clone(),
        other => panic!("cart id in the payload: {other} ({})", report.payload),
    }
}

/// The app opened from the panel as `user` (`#open-owner` or `#open-staff`): on return the
/// browser is inside the app's frame, on the settings page.
async fn open_app_as(browser: &Browser, user: &str) {
    browser
        .click_and_navigate(user)
        .await
        .unwrap_or_else(|e| panic!("panel: {user}: {e}"));
    browser
        .enter_frame("#app-frame")
        .await
        .unwrap_or_else(|e| panic!("panel after {user}: the app's frame: {e}"));
    browser
        .wait_for("#settings-form")
        .await
        .unwrap_or_else(|e| panic!("{user}: the settings page in the frame: {e}"));
}

/// As the owner, in the app's frame: saves the settings and waits for the confirmation.
async fn save_settings(browser: &Browser, reminders: bool, delay: &str) {
    browser
        .set_checked("#reminders", reminders)
        .await
        .expect("tick #reminders");
    browser
        .fill("#delay_minutes", delay)
        .await
        .expect("type into #delay_minutes");
    browser
        .click_and_navigate("#save")
        .await
        .expect("click #save");
    browser
        .wait_for("#saved")
        .await
        .expect("the settings page confirms the save");
}

/// How the framed app's session reached it besides the token in its links.
#[derive(Debug, PartialEq, Eq)]
enum Transport {
    /// Chromium kept the app's `Partitioned` cookie in the third-party frame and sent it back.
    Cookie,
    /// Only the token in the URLs: without it the app answered this status.
    TokenOnly(u64),
}

/// Probes the transport from inside the app's frame: same-origin requests without the token in
/// the URL, with the browser's cookies and without any (which must be refused, or the probe
/// shows nothing). The flow itself needs no cookie: the app's links carry the token.
async fn session_transport(browser: &Browser) -> Transport {
    let statuses = browser
        .run_async(
            "const done = arguments[arguments.length - 1];
             const get = (credentials) => fetch('/settings', { credentials, headers: { Accept: 'text/html' } })
                 .then((r) => r.status);
             Promise.all([get('same-origin'), get('omit')]).then(done, (e) => done(String(e)));",
        )
        .await
        .expect("probe the session cookie from the app's frame");
    assert_eq!(
        statuses[1], 401,
        "/settings without token nor cookie must be refused: {statuses}"
    );
    match statuses[0].as_u64() {
        Some(200) => Transport::Cookie,
        Some(status) => Transport::TokenOnly(status),
        None => panic!("session probe: {statuses}"),
    }
}

/// The whole merchant flow in a browser keeping `cookies`; `name` names its artifacts
/// (`{name}.png`, `{name}-chromedriver.log`). Returns how the session travelled.
async fn merchant_flow(cookies: Cookies, name: &str) -> Transport {
    let started = Instant::now();
    let activity = app::Activity::default();
    // The app on localhost, the emulator on 127.0.0.1: the app is a third-party frame.
    let test = TestApp::builder()
        .store(STORE, &[1])
        .app_host("localhost")
        .start_with(|store| app::app(&activity, &app::Db::of(store)).build())
        .await
        .expect("start the example app and the emulator");
    let db = app::Db::of(test.store());
    db.prepare().await.expect("create the app's tables");

    let artifacts = artifacts();
    let browser = Browser::start(&artifacts.join(format!("{name}-chromedriver.log")), cookies)
        .await
        .expect("start headless Chromium through chromedriver");
    browser
        .goto(&test.emulator().panel_url(STORE))
        .await
        .expect("open the store's control panel");

    // Install: the panel frames the app's /auth, which shows the settings.
    browser
        .click_and_navigate("#install")
        .await
        .expect("panel: #install");
    browser
        .enter_frame("#app-frame")
        .await
        .expect("panel after install: the app's frame");
    browser
        .wait_for("#settings-form")
        .await
        .expect("install: the settings page in the frame");
    assert_eq!(browser.text("#store").await.expect("#store"), STORE);
    browser.leave_frame().await.expect("back to the panel");
    let tenant = test
        .store()
        .tenant(STORE)
        .await
        .expect("read the tenant")
        .expect("the tenant is stored after the install");
    assert!(tenant.is_installed(), "tenant after install: {tenant:?}");

    // The owner sets a 45-minute delay.
    open_app_as(&browser, "#open-owner").await;
    save_settings(&browser, true, "45").await;
    let transport = session_transport(&browser).await;
    browser.leave_frame().await.expect("back to the panel");
    let screenshot = artifacts.join(format!("{name}.png"));
    browser
        .screenshot(&screenshot)
        .await
        .expect("screenshot of the panel");
    println!("{name}: screenshot {}", screenshot.display());
    let settings = db.settings(STORE).await.expect("read the settings");
    assert_eq!(
        settings,
        app::Settings {
            reminders: true,
            delay_minutes: 45
        }
    );

    // The handler schedules a reminder with the owner's delay.
    let cart = abandon_cart(&test).await;
    assert_eq!(
        db.reminders(STORE).await.expect("read the reminders"),
        vec![(cart.clone(), 45)]
    );

    // A staff user sees the settings but cannot change them.
    open_app_as(&browser, "#open-staff").await;
    browser
        .wait_for("#read-only")
        .await
        .expect("staff: the read-only note");
    let save = browser.wait_for("#save").await.expect("staff: #save");
    assert!(
        !save.is_enabled().await.expect("#save enabled?"),
        "#save must be disabled for staff"
    );
    let delay = browser
        .wait_for("#delay_minutes")
        .await
        .expect("staff: #delay_minutes");
    assert_eq!(
        delay.prop("value").await.expect("#delay_minutes value"),
        Some("45".into())
    );
    assert!(!delay.is_enabled().await.expect("#delay_minutes enabled?"));
    browser.leave_frame().await.expect("back to the panel");

    // The owner turns reminders off: the next abandoned cart gets none.
    open_app_as(&browser, "#open-owner").await;
    save_settings(&browser, false, "45").await;
    browser.leave_frame().await.expect("back to the panel");
    assert!(
        !db.settings(STORE)
            .await
            .expect("read the settings")
            .reminders
    );
    let second = abandon_cart(&test).await;
    assert_ne!(second, cart, "the emulator generates a new cart per event");
    assert_eq!(
        db.reminders(STORE).await.expect("read the reminders"),
        vec![(cart, 45)],
        "no reminder for cart {second} with reminders off"
    );

    browser.close().await.expect("close Chromium");
    println!(
        "{name}: session transport {transport:?}, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    transport
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merchant_sets_up_cart_reminders_in_the_control_panel() {
    // Whether Chromium keeps the partitioned cookie is its choice: reported, not required.
    merchant_flow(Cookies::Default, "merchant-ui").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merchant_ui_works_without_cookies() {
    // The strictest browsers: the token in the app's links and form actions is all there is.
    let transport = merchant_flow(Cookies::Blocked, "merchant-ui-no-cookies").await;
    assert_eq!(transport, Transport::TokenOnly(401));
}
