//! Runs an [`App`]: the HTTP endpoints, the workers, and a graceful shutdown.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bigcommerce_app_store::Store;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::app::App;
use crate::cfg::{Config, ConfigError, SignatureMode};
use crate::inbox::{self, Dispatch, Engine, WriteHealth, Writer, WriterSetup};
use crate::install::{self, Lifecycle};
use crate::merchant::{PageHeaders, SessionStore};
use crate::receiver::{self, Receiver};
use crate::reconcile::{ReconcileError, Reconciler};
use crate::tenants::TenantCache;

/// Why a server could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The app's own routes ([`crate::AppBuilder::merge`]) take a path the framework serves.
    #[error(
        "the app's routes collide with the framework's: {0}. The framework serves /auth, /load, \
         /uninstall, /remove_user, the webhook path, /healthz, /readyz and /metrics; render the \
         app at /load with AppBuilder::load_page and after install with AppBuilder::install_page"
    )]
    Routes(String),
    /// The listening socket could not be opened ([`Server::run`]).
    #[error("cannot listen on {addr}: {source}{}", listen_hint(source, *addr))]
    Listen {
        /// The address from `BCAPP_LISTEN` / `PORT`.
        addr: std::net::SocketAddr,
        #[source]
        /// Why the socket could not be opened.
        source: std::io::Error,
    },
    /// Serving failed after start-up.
    #[error("serving HTTP failed: {0}")]
    Serve(#[source] std::io::Error),
}

fn listen_hint(error: &std::io::Error, addr: std::net::SocketAddr) -> String {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            ". Another process is using port {}: stop it, or choose another port (PORT or \
             BCAPP_LISTEN)",
            addr.port()
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            ". Ports below 1024 need privileges: use a port such as 3000 (PORT) behind a proxy \
             that listens on {}",
            addr.port()
        ),
        std::io::ErrorKind::AddrNotAvailable => {
            ". This machine has no such address: listen on 0.0.0.0 (BCAPP_LISTEN)".to_owned()
        }
        _ => String::new(),
    }
}

/// An app bound to its storage and configuration.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use bigcommerce_app::{Config, App, Server};
/// use bigcommerce_app::store::{Store, StoreConfig};
///
/// let store = Store::connect(&StoreConfig::from_env()?).await?;
/// let server = Server::new(App::builder().build()?, store, Config::from_env()?)?;
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
/// server.serve(listener).await?; // until SIGTERM or ctrl-c
/// # Ok(()) }
/// ```
pub struct Server {
    lifecycle: Option<Arc<Lifecycle>>,
    router: Router,
    app: App,
    store: Store,
    tenants: TenantCache,
    engine: Arc<Engine>,
}

impl Server {
    /// Validates the configuration and starts the inbox writer. Call inside a Tokio runtime.
    pub fn new(app: App, store: Store, cfg: Config) -> Result<Server, ServerError> {
        cfg.validate()?;
        // Installed before the first request so no early count is lost.
        crate::metrics::prometheus();
        let cfg = Arc::new(cfg);
        let api = match &cfg.bigcommerce {
            Some(bc) => Some(
                bigcommerce_app_api::Client::new(bigcommerce_app_api::ClientConfig {
                    base_url: bc.api_url.clone(),
                    ..Default::default()
                })
                .map_err(|e| ConfigError::Component {
                    what: "BigCommerce API client",
                    source: e.into(),
                })?,
            ),
            None => None,
        };
        let tenants = TenantCache::new(store.clone(), cfg.tenant_cache_ttl, api.clone());
        let sessions = SessionStore::new(store.clone(), tenants.clone(), cfg.session_ttl);
        let lifecycle = match (&cfg.bigcommerce, &cfg.client_secret, api.clone()) {
            (Some(bc), Some(secret), Some(api)) => {
                let reconciler = Reconciler::new(
                    app.clone(),
                    store.clone(),
                    api,
                    format!("{}{}", bc.app_url, cfg.webhook_path),
                    cfg.secret_header.clone(),
                );
                let secret = secret.clone();
                let mut oauth = bigcommerce_app_api::OAuthConfig::new(
                    bc.client_id.clone(),
                    secret.clone(),
                    bc.redirect_uri(),
                );
                oauth.token_url = bc.token_url();
                let exchanger = bigcommerce_app_api::TokenExchanger::new(oauth).map_err(|e| {
                    ConfigError::Component {
                        what: "OAuth client",
                        source: e.into(),
                    }
                })?;
                Some(Arc::new(Lifecycle {
                    app: app.clone(),
                    store: store.clone(),
                    tenants: tenants.clone(),
                    reconciler,
                    exchanger,
                    jwt: bigcommerce_app_api::JwtVerifier::new(bc.client_id.clone(), &secret),
                    sessions: sessions.clone(),
                }))
            }
            _ => None,
        };
        let signer = cfg
            .client_secret
            .as_ref()
            // BigCommerce keys signatures with the client secret (given to Standard Webhooks
            // libraries as its base64); the raw bytes are the HMAC key.
            .map(|secret| {
                standardwebhooks::Webhook::from_bytes(secret.expose().as_bytes().to_vec())
            })
            .transpose()
            .map_err(|e| ConfigError::Component {
                what: "Standard Webhooks key (BC_CLIENT_SECRET)",
                source: e.into(),
            })?;
        if lifecycle.is_none() {
            tracing::warn!(
                "RUNNING WITHOUT BIGCOMMERCE CREDENTIALS: BC_CLIENT_ID, BC_CLIENT_SECRET and \
                 APP_URL are not set (in the environment or ./.env), so stores cannot install the app (/auth, /load, /uninstall \
                 answer 503), no webhooks are subscribed, and handlers get no API client. Only \
                 callbacks of stores already in the database are received. For local \
                 development run `bcapp emulator` and set the variables it prints"
            );
        }
        if signer.is_none() && cfg.signatures == SignatureMode::Log {
            tracing::info!(
                "no client secret (BC_CLIENT_SECRET): Standard Webhooks signatures are not checked"
            );
        }
        let owner: Arc<str> = Arc::from(format!(
            "{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let new_rows = Arc::new(Notify::new());
        let write_health = Arc::new(WriteHealth::default());
        let dispatch = Dispatch::new(&cfg, api.clone());
        let writer = Writer::start(
            WriterSetup {
                store: store.clone(),
                dispatch: dispatch.clone(),
                owner: owner.clone(),
                lease: cfg.claim_lease,
                max_rows: cfg.group_commit_max_rows,
                linger: cfg.group_commit_linger,
                new_rows: new_rows.clone(),
                health: write_health,
            },
            // One task writes everything by default: on SQLite (one writer at a time) ingest
            // and outcomes never wait on each other for the lock, and on PostgreSQL fewer,
            // larger statements cost the server less than parallel small ones (measured: one
            // writer 7.8k to 13.5k events/s, four writers 5.5k to 7.4k; see BENCHMARKS.md).
            cfg.group_commit_writers.unwrap_or(1),
        );
        let receiver = Arc::new(Receiver {
            cfg: cfg.clone(),
            tenants: tenants.clone(),
            ingest: writer.clone(),
            signer,
        });
        let alive = Arc::new(AtomicBool::new(false));
        let engine = Arc::new(Engine {
            app: app.clone(),
            store: store.clone(),
            tenants: tenants.clone(),
            cfg: cfg.clone(),
            api,
            dispatch,
            writer,
            new_rows,
            reconciler: lifecycle.as_ref().map(|l| l.reconciler.clone()),
            alive: alive.clone(),
            owner,
        });
        let router = build_router(
            &app,
            &cfg,
            lifecycle.clone(),
            sessions,
            receiver,
            Health {
                store: store.clone(),
                handling: alive,
                writer: engine.writer.clone(),
                dispatch: engine.dispatch.clone(),
                stuck_after: cfg.handler_timeout * 2 + std::time::Duration::from_secs(2),
            },
        )?;
        Ok(Server {
            lifecycle,
            router,
            app,
            store,
            tenants,
            engine,
        })
    }

    /// The app being served.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The app's database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The tenant cache; invalidate a store after install or uninstall.
    #[doc(hidden)]
    pub fn tenants(&self) -> &TenantCache {
        &self.tenants
    }

    /// The subscription reconciler, when the app has BigCommerce credentials.
    pub fn reconciler(&self) -> Option<&Reconciler> {
        self.lifecycle.as_ref().map(|l| &l.reconciler)
    }

    /// `POST {webhook_path}`, `GET /healthz`, `GET /readyz` and `GET /metrics`, with BigCommerce
    /// credentials `GET /auth`, `/load`, `/uninstall`, `/remove_user`, and the app's own routes
    /// ([`crate::AppBuilder::merge`]); to serve as is or nest into another router.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Starts handling events (the dispatcher, the fetcher of due rows, claim extension and
    /// housekeeping, and the periodic reconcile); stop with [`Workers::shutdown`].
    pub fn start_workers(&self) -> Workers {
        let (stop, stopped) = watch::channel(false);
        let engine = &self.engine;
        let watchdog_stop = Arc::new(AtomicBool::new(false));
        crate::watchdog::spawn(
            engine.cfg.handler_timeout + std::time::Duration::from_secs(2),
            watchdog_stop.clone(),
        );
        let dispatch = tokio::spawn(engine.clone().dispatch_loop(stopped.clone()));
        let mut others: Vec<JoinHandle<()>> = vec![
            tokio::spawn(inbox::fetch_loop(engine.clone(), stopped.clone())),
            tokio::spawn(inbox::housekeeping_loop(engine.clone(), stopped.clone())),
        ];
        if let Some(lifecycle) = &self.lifecycle {
            others.push(tokio::spawn(reconcile_periodically(
                lifecycle.clone(),
                engine.cfg.clone(),
                stopped,
            )));
        }
        Workers {
            stop,
            dispatch,
            others,
            grace: engine.cfg.shutdown_grace,
            watchdog_stop,
        }
    }

    /// Listens on the configured address (`BCAPP_LISTEN`, or `0.0.0.0:$PORT`, default port
    /// 3000), serves HTTP and runs the workers until SIGTERM or ctrl-c. A port in use is a
    /// [`ServerError::Listen`] that names it.
    pub async fn run(self) -> Result<(), ServerError> {
        let addr = self.engine.cfg.listen;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Listen { addr, source })?;
        self.serve(listener).await.map_err(ServerError::Serve)
    }

    /// Serves HTTP on `listener` and runs the workers until SIGTERM or ctrl-c.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        self.serve_until(listener, shutdown_signal()).await
    }

    /// Serves HTTP and runs the workers until `shutdown` completes: then stops accepting
    /// requests, lets in-flight ones finish, stops the workers (in-flight handlers get
    /// `shutdown_grace`) and releases their claims.
    pub async fn serve_until(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let workers = self.start_workers();
        match listener.local_addr() {
            Ok(addr) => tracing::info!(
                webhooks = %self.engine.cfg.webhook_path,
                installs = self.lifecycle.is_some(),
                "listening on http://{addr}"
            ),
            Err(e) => tracing::warn!(error = %e, "listening (address unknown)"),
        }
        let served = axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await;
        workers.shutdown().await;
        served
    }
}

/// The framework's endpoints and the app's own routes in one router. The app's pages (and
/// `/auth`, `/load`) get the merchant's sessions and the page headers.
fn build_router(
    app: &App,
    cfg: &Config,
    lifecycle: Option<Arc<Lifecycle>>,
    sessions: SessionStore,
    receiver: Arc<Receiver>,
    health: Health,
) -> Result<Router, ServerError> {
    let page_headers = PageHeaders::new(&cfg.frame_ancestors)?;
    let webhook_path = cfg.webhook_path.clone();
    let app_routes = app.ui().clone();
    // axum reports two handlers for one path by panicking; turn that into an error that says
    // which paths are the framework's.
    let merged = std::panic::catch_unwind(AssertUnwindSafe(move || {
        let lifecycle = match lifecycle {
            Some(lc) => install::routes(lc),
            None => install::unconfigured_routes(),
        };
        let pages = lifecycle
            .merge(app_routes)
            .layer(axum::Extension(sessions))
            .layer(axum::middleware::map_response(
                move |mut response: Response| {
                    let page_headers = page_headers.clone();
                    async move {
                        page_headers.apply(&mut response);
                        response
                    }
                },
            ));
        Router::new()
            .route(&webhook_path, post(receiver::receive))
            .with_state(receiver)
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(ready).with_state(health))
            .route("/metrics", get(metrics))
            .merge(pages)
    }));
    merged.map_err(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "overlapping routes".to_owned());
        ServerError::Routes(message)
    })
}

/// Reconciles every installed store at start-up, then every `reconcile_interval`. A store whose
/// token BigCommerce refuses (401) was uninstalled without the callback reaching the app: its
/// installation is torn down.
async fn reconcile_periodically(
    lifecycle: Arc<Lifecycle>,
    cfg: Arc<Config>,
    mut stop: watch::Receiver<bool>,
) {
    let reconciler = &lifecycle.reconciler;
    loop {
        let results = tokio::select! {
            results = reconciler.reconcile_all(cfg.reconcile_concurrency) => results,
            _ = stop.changed() => return,
        };
        let failed = results
            .iter()
            .filter(|(_, r)| !r.as_ref().is_ok_and(|report| report.is_ok()))
            .count();
        if failed > 0 {
            tracing::error!(
                stores = results.len(),
                failed,
                "reconcile round finished with failures"
            );
        } else {
            tracing::info!(stores = results.len(), "reconcile round finished");
        }
        for (store_hash, result) in &results {
            if let Err(ReconcileError::Api(e)) = result {
                if e.status() == Some(401) {
                    if let Err(e) = lifecycle.tear_down_if_revoked(store_hash).await {
                        tracing::error!(store = %store_hash, error = %e, "cannot tear down an installation whose token is revoked");
                    }
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(cfg.reconcile_interval) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

/// The running handling side of a server.
pub struct Workers {
    stop: watch::Sender<bool>,
    dispatch: JoinHandle<()>,
    others: Vec<JoinHandle<()>>,
    grace: std::time::Duration,
    watchdog_stop: Arc<AtomicBool>,
}

impl Workers {
    /// Stops starting events, lets the ones in flight finish within the grace period (the rest
    /// are aborted and run again later), gives back the events that never started, writes the
    /// outcomes and releases this process's claims.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.watchdog_stop.store(true, Ordering::Relaxed);
        // The dispatcher waits out the grace and then the outcome writes (bounded by the grace
        // too); past both, it is stuck.
        let abort = self.dispatch.abort_handle();
        if tokio::time::timeout(
            self.grace * 2 + std::time::Duration::from_secs(5),
            self.dispatch,
        )
        .await
        .is_err()
        {
            tracing::warn!("the dispatcher did not stop in time; aborted");
            abort.abort();
        }
        for handle in self.others {
            let abort = handle.abort_handle();
            if tokio::time::timeout(self.grace, handle).await.is_err() {
                abort.abort();
            }
        }
    }
}

#[derive(Clone)]
struct Health {
    store: Store,
    /// Whether the dispatcher runs.
    handling: Arc<AtomicBool>,
    writer: Writer,
    dispatch: Dispatch,
    /// In-flight events with none finished for this long: handlers are stuck.
    stuck_after: std::time::Duration,
}

/// Ready means "this instance can take a callback now": the database answers and takes writes,
/// the encryption key opens what is stored, and events are being handled (not stuck).
async fn ready(State(health): State<Health>) -> impl IntoResponse {
    let not_ready = |reason: String| {
        tracing::warn!(reason, "not ready");
        (StatusCode::SERVICE_UNAVAILABLE, reason)
    };
    if let Err(e) = health.store.ping().await {
        return not_ready(format!("database unreachable: {e}"));
    }
    // After a failed write, only a write that succeeds again makes the instance ready: a
    // database that answers reads but not writes (a full disk) takes no callback.
    if health.writer.health().is_failing() {
        if let Err(e) = health.writer.probe(&health.store).await {
            return not_ready(format!("the database does not take writes: {e}"));
        }
    }
    if let Err(e) = health.store.check_keys().await {
        return not_ready(format!("stored data cannot be read: {e}"));
    }
    if !health.handling.load(Ordering::SeqCst) {
        return not_ready("events are not being handled".to_owned());
    }
    if let Some((in_flight, since)) = health.dispatch.stuck(health.stuck_after) {
        return not_ready(format!(
            "{in_flight} event(s) in flight and none finished for {} s: handlers are stuck",
            since.as_secs()
        ));
    }
    (StatusCode::OK, "ready".to_owned())
}

async fn metrics() -> impl IntoResponse {
    match crate::metrics::prometheus() {
        Some(handle) => (StatusCode::OK, handle.render()),
        None => (
            StatusCode::NOT_FOUND,
            "metrics are exported by the application's own recorder".to_owned(),
        ),
    }
}
