//! Test helpers for app authors (feature `testing`): the app and a local BigCommerce in one
//! test, with no network, no credentials and a throwaway SQLite database.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use bigcommerce_app::testing::TestApp;
//! use bigcommerce_app::App;
//!
//! let test = TestApp::start(App::builder().build()?, &[("abc123", &[1, 2])]).await?;
//! test.install("abc123").await?;
//! test.trigger("abc123", "store/order/created", None, None).await?;
//! test.wait_idle().await?; // delivered, stored, and handled (or dead-lettered)
//! assert_eq!(test.store().inbox_counts().await?.done, 1);
//! # Ok(()) }
//! ```

use std::time::{Duration, Instant};

use bigcommerce_app_emulator::{AppRegistration, Emulator, EmulatorConfig, StoreSpec};
use bigcommerce_app_store::{InboxCounts, KeyRing, SecretString, Store, StoreConfig};

use crate::app::App;
use crate::cfg::{BigCommerce, Config, SignatureMode};
use crate::server::Server;

/// Any error of a test helper.
pub type TestError = Box<dyn std::error::Error + Send + Sync>;

const CLIENT_ID: &str = "test-client-id";
const CLIENT_SECRET: &str = "test-client-secret";

/// An app served on loopback, wired to a local BigCommerce, on its own SQLite file.
pub struct TestApp {
    emulator: Emulator,
    store: Store,
    app_url: String,
    reconciler: Option<crate::reconcile::Reconciler>,
    /// The server's tenant cache: what gives handlers their tenant and API client.
    tenants: crate::tenants::TenantCache,
    /// (payload hash, hook id) of every delivery triggered through this helper.
    expected: std::sync::Mutex<Vec<(String, u64)>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    serving: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _data: tempfile::TempDir,
}

/// Sets up a [`TestApp`]: `TestApp::builder().store("abc123", &[1]).start(app)`.
pub struct TestAppBuilder {
    stores: Vec<(String, Vec<u64>)>,
    host: String,
    adjust: Vec<ConfigAdjustment>,
}

/// A change to the app's [`Config`] before it starts.
type ConfigAdjustment = Box<dyn FnOnce(&mut Config) + Send>;

impl TestAppBuilder {
    /// A store of the emulator, with its channel ids.
    pub fn store(mut self, hash: &str, channels: &[u64]) -> Self {
        self.stores.push((hash.to_owned(), channels.to_vec()));
        self
    }

    /// The host name in the app's URL (default `127.0.0.1`, where the emulator also is).
    /// `localhost` puts the app on another site than the emulator's control panel, as the app
    /// and BigCommerce are in production: its pages are then a third-party iframe.
    pub fn app_host(mut self, host: &str) -> Self {
        self.host = host.to_owned();
        self
    }

    /// Adjusts the app's [`Config`] before the server starts.
    pub fn config(mut self, adjust: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.adjust.push(Box::new(adjust));
        self
    }

    /// Starts the emulator and the app.
    pub async fn start(self, app: App) -> Result<TestApp, TestError> {
        self.start_with(|_| Ok(app)).await
    }

    /// Starts the emulator and the app built by `app` from its database (for apps whose state
    /// holds the database, e.g. their own tables).
    pub async fn start_with(
        self,
        app: impl FnOnce(&Store) -> Result<App, crate::BuildError>,
    ) -> Result<TestApp, TestError> {
        let data = tempfile::tempdir()?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let app_url = format!("http://{}:{}", self.host, listener.local_addr()?.port());
        let specs = self
            .stores
            .iter()
            .enumerate()
            .map(|(i, (hash, channels))| {
                StoreSpec::new(hash.clone(), 1_000_001 + i as u64).with_channels(channels.clone())
            })
            .collect();
        let emulator = Emulator::start(
            EmulatorConfig::new(AppRegistration::new(
                CLIENT_ID,
                CLIENT_SECRET,
                app_url.clone(),
            ))
            .with_stores(specs)
            .with_time_scale(600.0)
            .with_dev_mode(true),
        )
        .await?;
        let store = Store::connect(&StoreConfig::new(
            format!("sqlite://{}/bcapp.db?mode=rwc", data.path().display()),
            KeyRing::generate("test")?,
        ))
        .await?;
        let mut cfg = Config {
            client_secret: Some(SecretString::new(CLIENT_SECRET)),
            signatures: SignatureMode::Required,
            bigcommerce: Some(BigCommerce {
                client_id: CLIENT_ID.into(),
                app_url: app_url.clone(),
                api_url: emulator.base_url().to_owned(),
                login_url: emulator.base_url().to_owned(),
            }),
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_millis(500),
            idle_poll: Duration::from_millis(20),
            ..Config::default()
        };
        // The emulator's control panel frames the app, as BigCommerce's does.
        cfg.frame_ancestors.push(emulator.base_url().to_owned());
        for adjust in self.adjust {
            adjust(&mut cfg);
        }
        let server = Server::new(app(&store)?, store.clone(), cfg)?;
        let reconciler = server.reconciler().cloned();
        let tenants = server.tenants().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve_until(listener, async move {
            let _ = stopped.await;
        }));
        Ok(TestApp {
            emulator,
            store,
            app_url,
            reconciler,
            tenants,
            expected: std::sync::Mutex::default(),
            stop: Some(stop),
            serving: Some(serving),
            _data: data,
        })
    }
}

impl TestApp {
    /// Starts the emulator with `stores` (hash, channel ids) and the app with fast retries
    /// (BigCommerce's schedule 600 times faster, the app's own retries from 100 ms).
    pub async fn start(app: App, stores: &[(&str, &[u64])]) -> Result<TestApp, TestError> {
        TestApp::start_with(app, stores, |_| {}).await
    }

    /// Like [`TestApp::start`], with a chance to adjust the app's [`Config`].
    pub async fn start_with(
        app: App,
        stores: &[(&str, &[u64])],
        adjust: impl FnOnce(&mut Config) + Send + 'static,
    ) -> Result<TestApp, TestError> {
        stores
            .iter()
            .fold(TestApp::builder(), |b, (hash, channels)| {
                b.store(hash, channels)
            })
            .config(adjust)
            .start(app)
            .await
    }

    /// More choices: the host the app is reached at, an app built from its database.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            stores: Vec::new(),
            host: "127.0.0.1".into(),
            adjust: Vec::new(),
        }
    }

    /// The local BigCommerce: trigger events, read hooks and deliveries, inject faults.
    pub fn emulator(&self) -> &Emulator {
        &self.emulator
    }

    /// The app's database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The app's base URL.
    pub fn url(&self) -> &str {
        &self.app_url
    }

    /// The app's subscription reconciler.
    pub fn reconciler(&self) -> Option<&crate::reconcile::Reconciler> {
        self.reconciler.as_ref()
    }

    /// Installs the app into a store through the OAuth flow; an error if the app refused.
    pub async fn install(&self, store: &str) -> Result<(), TestError> {
        let outcome = self.emulator.install(store).await?;
        if outcome.is_success() {
            Ok(())
        } else {
            Err(format!("install into {store}: {} {}", outcome.status, outcome.body).into())
        }
    }

    /// The [`crate::Tenant`] a handler of `store` gets, with its API client (the store must be
    /// installed): to call the API or [`crate::resources`] from a test as a handler would.
    pub async fn tenant(&self, store: &str) -> Result<crate::Tenant, TestError> {
        let hash = crate::StoreHash::new(store)?;
        let record = self
            .store
            .tenant(store)
            .await?
            .filter(|record| record.is_installed())
            .ok_or_else(|| format!("{store} is not installed: call TestApp::install first"))?;
        // Built by the server's own tenant cache, with the API client the app's handlers get.
        Ok(self.tenants.context(&hash, &record))
    }

    /// Uninstalls the app from a store as BigCommerce does.
    pub async fn uninstall(&self, store: &str) -> Result<(), TestError> {
        let outcome = self.emulator.uninstall(store).await?;
        if outcome.is_success() {
            Ok(())
        } else {
            Err(format!(
                "uninstall from {store}: {} {}",
                outcome.status, outcome.body
            )
            .into())
        }
    }

    /// Fires an event as a store action would (see [`Emulator::trigger`]) and remembers its
    /// deliveries for [`TestApp::wait_idle`].
    pub async fn trigger(
        &self,
        store: &str,
        scope: &str,
        channel: Option<u64>,
        data: Option<serde_json::Value>,
    ) -> Result<bigcommerce_app_emulator::TriggerReport, TestError> {
        let report = self.emulator.trigger(store, scope, channel, data).await?;
        self.expect(&report);
        Ok(report)
    }

    /// Changes the resource an `updated` event names (its `changes` laid over it, as a
    /// merchant's edit would) and fires the event, so a handler fetching it sees the change:
    /// see [`Emulator::change`](bigcommerce_app_emulator::Emulator::change).
    pub async fn change(
        &self,
        store: &str,
        scope: &str,
        channel: Option<u64>,
        data: serde_json::Value,
        changes: serde_json::Map<String, serde_json::Value>,
    ) -> Result<bigcommerce_app_emulator::TriggerReport, TestError> {
        let report = self
            .emulator
            .change(store, scope, channel, data, changes)
            .await?;
        self.expect(&report);
        Ok(report)
    }

    /// Like [`TestApp::trigger`], delivering the event twice (same hash), as BigCommerce may.
    pub async fn trigger_twice(
        &self,
        store: &str,
        scope: &str,
        channel: Option<u64>,
        data: Option<serde_json::Value>,
    ) -> Result<bigcommerce_app_emulator::TriggerReport, TestError> {
        let report = self
            .emulator
            .trigger_twice(store, scope, channel, data)
            .await?;
        self.expect(&report);
        Ok(report)
    }

    fn expect(&self, report: &bigcommerce_app_emulator::TriggerReport) {
        let mut expected = self.expected.lock().unwrap_or_else(|e| e.into_inner());
        expected.extend(report.hook_ids.iter().map(|&id| (report.hash.clone(), id)));
    }

    /// Waits until every delivery triggered through this helper was accepted by the app and
    /// every stored event is handled or dead-lettered (10 s at most).
    pub async fn wait_idle(&self) -> Result<InboxCounts, TestError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let expected = self
                .expected
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            let deliveries = self.emulator.deliveries();
            let missing = expected
                .iter()
                .filter(|(hash, hook)| {
                    !deliveries
                        .iter()
                        .any(|d| &d.hash == hash && d.hook_id == *hook && d.is_success())
                })
                .count();
            let counts = self.store.inbox_counts().await?;
            if missing == 0 && counts.pending == 0 && counts.claimed == 0 {
                return Ok(counts);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "not idle after 10 s: {missing} delivery(ies) not accepted yet, inbox {counts:?}"
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the app (graceful shutdown).
    pub async fn stop(mut self) -> Result<(), TestError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(serving) = self.serving.take() {
            serving.await??;
        }
        Ok(())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
