//! A local BigCommerce for developing and testing BigCommerce apps, with no store, tunnel or
//! credentials.
//!
//! The emulator plays the parts of BigCommerce an app talks to:
//!
//! - **App installation.** [`Emulator::install`] issues a one-time code and calls the app's
//!   `GET {app_url}/auth?code&scope&context=stores/{hash}&account_uuid`, as the merchant's browser
//!   does. The app exchanges the code at `POST {base_url}/oauth2/token` (form or JSON; client id,
//!   secret, single-use code bound to the store, `grant_type=authorization_code`,
//!   `redirect_uri={app_url}/auth`, `context`). [`Emulator::load`], [`Emulator::uninstall`] and
//!   [`Emulator::remove_user`] call the app with a `signed_payload_jwt` (HS256, client secret,
//!   `aud`=client id, `iss`="bc"). Uninstall first deletes the app's hooks in that store and
//!   invalidates its token, as BigCommerce does.
//! - **The hooks v3 API** under `{base_url}/stores/{hash}/v3/hooks` and `/hooks/admin`, with the
//!   request and response shapes of the official OpenAPI spec and BigCommerce's rules: known scopes
//!   only (channel scopes with a numeric channel id), HTTPS destinations on port 443 (plus loopback
//!   HTTP in dev mode), one hook per scope and destination, ten per scope, one delivery-exception
//!   hook with a destination of its own. Hooks are visible only to the client that created them.
//! - **Store resources** a handler fetches after an event: `GET /v3/channels` and the `GET` of
//!   every resource of the catalogue's `resources.json` (orders and their products, shipping
//!   addresses, shipments, refunds and metafields; products, variants, categories, brands and
//!   their metafields; customers and their addresses; subscribers; carts; channels; price lists)
//!   and their lists, with bodies of the spec's shape, the same for the same id (404 for id 0 and
//!   for ids marked with [`Emulator::set_missing`]); creates, updates and deletes where the spec
//!   has them, kept so later reads and lists answer what was written.
//! - **Rate limits.** Every API answer carries the `X-Rate-Limit-*` headers of the store's quota;
//!   a spent quota answers 429 (with `X-Retry-After`).
//! - **Webhook delivery.** [`Emulator::trigger`] fires an event as a store action would. Every active
//!   hook whose scope matches (exactly, or through a wildcard of the same kind) receives a POST with
//!   the callback envelope, the hook's custom headers and Standard Webhooks signature headers keyed
//!   by the client secret. Failures (non-2xx, timeout, connection error) are retried on
//!   BigCommerce's schedule ([`RETRY_SCHEDULE`], divided by [`EmulatorConfig::time_scale`]); after
//!   the last retry fails the hook is deactivated. The destination-domain blocklist (per client,
//!   sliding two-minute window, verdict from 100 deliveries, blocked three minutes under 90%
//!   success) applies too. [`Emulator::trigger_twice`] delivers one event twice, as BigCommerce
//!   sometimes does.
//! - **Faults** on demand ([`Emulator::faults`]): slow answers, server errors, 429 storms and
//!   dropped connections on the API side.
//! - **A control API** for the standalone server ([`serve`]) under `/_emulator/`: `GET /_emulator`,
//!   `POST /_emulator/stores/{hash}/install`, `/load?user_id=`, `/remove_user?user_id=`,
//!   `/uninstall`, `POST /_emulator/stores/{hash}/events` with
//!   `{"scope", "channel_id"?, "data"?, "duplicate"?}`, `GET /_emulator/stores/{hash}/hooks` and
//!   `GET /_emulator/deliveries`.
//! - **A control panel** in the browser, under the same prefix: `GET /_emulator/panel` lists the
//!   stores, and `GET /_emulator/stores/{hash}/panel` ([`Emulator::panel_url`]) frames the app as
//!   BigCommerce's control panel does. Install issues a one-time code and loads
//!   `{app_url}/auth?...` in the page's `<iframe id="app-frame">`; Open loads
//!   `{app_url}/load?signed_payload_jwt=...` there, signed for the owner, a staff user
//!   ([`StoreSpec::staff_user_id`]) or any user id (409 while the app is not installed). Remove
//!   user, Uninstall and Fire event are plain form posts: the emulator calls the app server to
//!   server and redirects back to the panel, which shows the app's status and the start of its
//!   answer. The frame is a real browser navigation, so the app's framing rules
//!   (`Content-Security-Policy: frame-ancestors`, cookie attributes) apply as inside BigCommerce.
//!
//! What it does **not** emulate: the rest of the REST and GraphQL APIs (only the resources above
//! exist), `/v2/hooks`, GraphQL, Pub/Sub and EventBridge webhooks, TLS (the emulator speaks plain
//! HTTP, and reaches HTTPS destinations with a normal client), OAuth scope enforcement on API
//! calls, token changes on scope or owner-email changes, the 90-day inactivity deactivation, the
//! one-minute delay before a new hook fires, delivery-exception callbacks
//! (`store/hook/deliveryException` hooks can be registered but receive nothing), notification
//! emails, and BigCommerce's exact hash input (the emulator's `hash` is a SHA-1 over the event,
//! equal for re-deliveries of one event and different between events).
//!
//! ```no_run
//! # async fn demo() -> Result<(), bigcommerce_app_emulator::EmulatorError> {
//! use bigcommerce_app_emulator::{AppRegistration, Emulator, EmulatorConfig};
//!
//! let app = AppRegistration::new("client-id", "client-secret", "http://127.0.0.1:3000");
//! let emulator = Emulator::start(EmulatorConfig::new(app).with_time_scale(1000.0)).await?;
//! emulator.install("abc123").await?; // the app exchanges the code and registers its hooks
//! emulator.trigger("abc123", "store/order/created", None, None).await?;
//! let deliveries = emulator.wait_for_deliveries(1, std::time::Duration::from_secs(5)).await?;
//! # let _ = deliveries; Ok(()) }
//! ```

mod blocklist;
mod config;
mod control;
mod core;
mod dispatcher;
mod faults;
mod hooks;
mod oauth;
mod panel;
mod payloads;
mod rate_limit;
mod resources;
mod server;
mod spec_body;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use blocklist::BlockedDomain;
pub use config::{AppRegistration, EmulatorConfig, RateLimitSpec, StoreSpec};
pub use dispatcher::{DeliveryRecord, TriggerReport, RETRY_SCHEDULE};
pub use faults::Faults;
pub use hooks::{HookStatus, HookView, DELIVERY_EXCEPTION_SCOPE, MAX_HOOKS_PER_SCOPE};
pub use oauth::CallbackOutcome;
pub use resources::Resource;

use crate::core::{lock, Core};

/// What can go wrong driving the emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("invalid emulator configuration: {0}")]
    /// The configuration is not usable.
    InvalidConfig(String),
    #[error("cannot listen: {0}")]
    /// The server cannot listen.
    Io(#[from] std::io::Error),
    #[error(transparent)]
    /// The bundled catalogue does not load.
    Catalogue(#[from] bigcommerce_app_catalogue::CatalogueError),
    #[error("no store `{0}` in the emulator")]
    /// No such store.
    UnknownStore(String),
    #[error("store `{store}` has no channel {channel}")]
    /// The store has no such channel.
    UnknownChannel {
        /// The store.
        store: String,
        /// The channel asked for.
        channel: u64,
    },
    #[error("`{0}` is not a scope BigCommerce delivers (wildcards are not delivered)")]
    /// Not a concrete catalogue scope.
    UnknownScope(String),
    #[error("`{0}` is a channel scope: give the channel id")]
    /// A channel scope fired without a channel id.
    ChannelRequired(String),
    #[error("the channel given does not fit scope `{0}`")]
    /// A channel id given for a scope without channels.
    ChannelMismatch(String),
    #[error("the app is not installed in store `{0}`")]
    /// The app is not installed in the store.
    NotInstalled(String),
    #[error("hook {0} not found")]
    /// No such hook.
    UnknownHook(u64),
    #[error("the app did not answer: {0}")]
    /// The app did not answer a callback.
    AppUnreachable(String),
    #[error("cannot sign the JWT: {0}")]
    /// A signed payload could not be made.
    Jwt(String),
    #[error("`{0}` changes no resource the emulator keeps: changes go with a resource's own `created`, `updated` or `deleted` event whose payload names it")]
    /// [`Emulator::change`] with an event that is not a resource's own lifecycle event.
    NotAChange(String),
    #[error("{0} is gone: a deleted resource cannot be changed")]
    /// [`Emulator::change`] of a resource deleted before.
    Gone(String),
    #[error("timed out waiting for {expected} deliveries ({got} so far)")]
    /// Fewer deliveries than expected arrived in time.
    Timeout {
        /// Deliveries waited for.
        expected: usize,
        /// Deliveries that arrived.
        got: usize,
    },
}

/// A running emulator, serving on `127.0.0.1` until dropped.
pub struct Emulator {
    core: Arc<Core>,
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Emulator {
    /// Binds `127.0.0.1` on a free port and serves in the background.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        Emulator::start_on(config, listener).await
    }

    /// Serves in the background on a listener the caller bound.
    pub async fn start_on(
        config: EmulatorConfig,
        listener: TcpListener,
    ) -> Result<Emulator, EmulatorError> {
        let addr = listener.local_addr()?;
        let core = Arc::new(Core::new(config, base_url_for(addr))?);
        let server = tokio::spawn({
            let core = core.clone();
            async move {
                if let Err(error) = server::run(core, listener).await {
                    tracing::error!(%error, "emulator stopped");
                }
            }
        });
        Ok(Emulator { core, addr, server })
    }

    /// `http://127.0.0.1:{port}`: the API base (`{base}/stores/{hash}/v3/...`) and the login base
    /// (`{base}/oauth2/token`).
    pub fn base_url(&self) -> &str {
        &self.core.base_url
    }

    /// `{base}/stores/{hash}/v3`.
    pub fn api_base(&self, store: &str) -> String {
        format!("{}/stores/{store}/v3", self.core.base_url)
    }

    /// The address the emulator listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The registered app.
    pub fn app(&self) -> &AppRegistration {
        &self.core.app
    }

    /// The merchant installs the app: a one-time code, then `GET {app_url}/auth`. Returns what the
    /// app answered (it is expected to exchange the code before answering).
    pub async fn install(&self, store: &str) -> Result<CallbackOutcome, EmulatorError> {
        oauth::install(&self.core, store).await
    }

    /// A user opens the app: `GET {app_url}/load?signed_payload_jwt=...`.
    pub async fn load(&self, store: &str, user_id: u64) -> Result<CallbackOutcome, EmulatorError> {
        oauth::load(&self.core, store, user_id).await
    }

    /// The merchant uninstalls: the app's hooks of the store are deleted and its token stops
    /// working, then `GET {app_url}/uninstall?signed_payload_jwt=...`.
    pub async fn uninstall(&self, store: &str) -> Result<CallbackOutcome, EmulatorError> {
        oauth::uninstall(&self.core, store).await
    }

    /// The owner revokes a user: `GET {app_url}/remove_user?signed_payload_jwt=...`.
    pub async fn remove_user(
        &self,
        store: &str,
        user_id: u64,
    ) -> Result<CallbackOutcome, EmulatorError> {
        oauth::remove_user(&self.core, store, user_id).await
    }

    /// A `signed_payload_jwt` as the load callback would carry it, for tests of the app's verifier.
    pub fn signed_payload_jwt(&self, store: &str, user_id: u64) -> Result<String, EmulatorError> {
        oauth::signed_payload_jwt(&self.core, store, user_id)
    }

    /// The store owner's user id.
    pub fn owner_id(&self, store: &str) -> Result<u64, EmulatorError> {
        self.core.with_store(store, |s| s.spec.owner_id())
    }

    /// `{base}/_emulator/stores/{store}/panel`: the store's control panel, a page that frames the
    /// app as BigCommerce's control panel does and drives install, open (as any user), remove
    /// user, uninstall and events from a browser. The store is not checked: an unknown one
    /// answers 404.
    pub fn panel_url(&self, store: &str) -> String {
        format!("{}{}", self.core.base_url, panel::panel_path(store))
    }

    /// The app's access token for the store, while it is installed.
    pub fn access_token(&self, store: &str) -> Result<Option<String>, EmulatorError> {
        self.core.with_store(store, |s| s.token.clone())
    }

    /// Every hook of the store, of every client, in id order.
    pub fn hooks(&self, store: &str) -> Result<Vec<HookView>, EmulatorError> {
        self.core.with_store(store, |s| {
            s.hooks.values().map(|h| h.view.clone()).collect()
        })
    }

    /// Switches a hook on or off as BigCommerce would (off = `deactivated`, as after the last
    /// failed retry).
    pub fn set_hook_active(
        &self,
        store: &str,
        hook_id: u64,
        active: bool,
    ) -> Result<(), EmulatorError> {
        self.core
            .with_store(store, |s| match s.hooks.get_mut(&hook_id) {
                Some(hook) => {
                    hook.set_active(active, HookStatus::Deactivated);
                    Ok(())
                }
                None => Err(EmulatorError::UnknownHook(hook_id)),
            })?
    }

    /// The store's channels.
    pub fn channels(&self, store: &str) -> Result<Vec<u64>, EmulatorError> {
        self.core.with_store(store, |s| s.channels.clone())
    }

    /// Creates a channel and fires `store/channel/created` for it, as a real store does.
    pub async fn add_channel(
        &self,
        store: &str,
        channel_id: u64,
    ) -> Result<TriggerReport, EmulatorError> {
        self.core.with_store(store, |s| {
            if !s.channels.contains(&channel_id) {
                s.channels.push(channel_id);
            }
        })?;
        let data = serde_json::json!({ "type": "channel", "id": channel_id });
        self.trigger(store, "store/channel/created", None, Some(data))
            .await
    }

    /// Makes `GET` of a resource id answer 404.
    pub fn set_missing(
        &self,
        store: &str,
        resource: Resource,
        id: impl Into<String>,
    ) -> Result<(), EmulatorError> {
        let id = id.into();
        self.core.with_store(store, |s| {
            s.missing.insert((resource, id));
        })
    }

    /// Fires an event: `scope` is concrete (`store/order/created`, `store/channel/1/order/created`)
    /// or a channel template (`store/channel/{channel_id}/order/created`, or with `<id>`) with
    /// `channel`. `data` defaults to a payload generated from the catalogue's shape. Delivery runs in
    /// the background; see [`Emulator::deliveries`] and [`Emulator::wait_for_deliveries`].
    pub async fn trigger(
        &self,
        store: &str,
        scope: &str,
        channel: Option<u64>,
        data: Option<Value>,
    ) -> Result<TriggerReport, EmulatorError> {
        dispatcher::trigger(&self.core, store, scope, channel, data, 1).await
    }

    /// Changes a resource as a merchant's edit would, then fires the event saying so: `changes`
    /// (an object of the resource's fields) are laid over what the resource the event names is
    /// now, so a handler fetching it sees them. The event is a resource's own `updated` event
    /// (`store/product/updated` with `{"type": "product", "id": 9}`); anything else is
    /// [`EmulatorError::NotAChange`], and changing a deleted resource [`EmulatorError::Gone`].
    /// Every event the emulator fires keeps its resources consistent this way: after
    /// `store/product/deleted` the product answers 404, after `.../created` it exists again.
    pub async fn change(
        &self,
        store: &str,
        scope: &str,
        channel: Option<u64>,
        data: Value,
        changes: serde_json::Map<String, Value>,
    ) -> Result<TriggerReport, EmulatorError> {
        dispatcher::trigger_changing(&self.core, store, scope, channel, data, changes).await
    }

    /// Like [`Emulator::trigger`], but every hook receives the event twice (same body, same `hash`,
    /// same `webhook-id`), as BigCommerce's at-least-once delivery sometimes does.
    pub async fn trigger_twice(
        &self,
        store: &str,
        scope: &str,
        channel: Option<u64>,
        data: Option<Value>,
    ) -> Result<TriggerReport, EmulatorError> {
        dispatcher::trigger(&self.core, store, scope, channel, data, 2).await
    }

    /// Every delivery attempt so far, in the order they finished.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        lock(&self.core.deliveries).clone()
    }

    /// Waits until at least `n` delivery attempts are recorded, and returns them all.
    pub async fn wait_for_deliveries(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<DeliveryRecord>, EmulatorError> {
        dispatcher::wait_for(&self.core, n, timeout).await
    }

    /// Destination domains currently blocklisted for the app.
    pub fn blocked_domains(&self) -> Vec<BlockedDomain> {
        lock(&self.core.blocklist).blocked(&self.core.app.client_id, Instant::now())
    }

    /// Fault injection for the store's API.
    pub fn faults(&self, store: &str) -> Faults {
        Faults::new(self.core.clone(), store)
    }
}

fn base_url_for(addr: SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    format!("http://{host}:{}", addr.port())
}

/// Runs a standalone emulator on `listener` until the task is cancelled (for `bcapp emulator`).
/// Drive it through the control API under `/_emulator/` (see the crate docs).
pub async fn serve(config: EmulatorConfig, listener: TcpListener) -> Result<(), EmulatorError> {
    let addr = listener.local_addr()?;
    let core = Arc::new(Core::new(config, base_url_for(addr))?);
    tracing::info!(base_url = %core.base_url, "BigCommerce emulator listening");
    server::run(core, listener).await
}
