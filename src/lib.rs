//! # bigcommerce-app
//!
//! A framework for multi-tenant BigCommerce apps. You write webhook handlers as async
//! functions over typed events and, if your app has one, the pages BigCommerce opens in the
//! control panel; the framework does the rest for every store that installs the app:
//!
//! - **Install, load, uninstall**: the OAuth install (`/auth`), the signed `/load`,
//!   `/uninstall` and `/remove_user` callbacks, each store's token stored encrypted.
//! - **Subscriptions**: the webhooks your handlers need are created in every store on install
//!   and kept in place by a periodic reconcile.
//! - **Receiving**: callbacks are verified, de-duplicated and committed before BigCommerce
//!   gets its 200, so none is lost.
//! - **Handling**: each event goes to the handlers whose pattern matches its scope, with the
//!   store's authenticated API client ([`Tenant`]); many events in flight, fair across stores,
//!   within each store's API budget; retries with backoff, then dead letters (`bcapp dlq`).
//! - **The merchant's UI**: your own axum routes with a session per control-panel user
//!   ([`Merchant`], [`StoreOwner`]).
//!
//! Storage is SQLite (the default, one file) or PostgreSQL (several instances).
//!
//! ```toml
//! [dependencies]
//! bigcommerce-app = { git = "https://github.com/bigcommerce-app/bigcommerce-app" }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! serde_json = "1"
//! ```
//!
//! ```no_run
//! use bigcommerce_app::events::OrderCreated;
//! use bigcommerce_app::store::{Store, StoreConfig};
//! use bigcommerce_app::{Config, webhook_handler, App, HandlerError, Server, Tenant};
//!
//! #[webhook_handler("store/order/created")]
//! async fn on_order(order: OrderCreated, tenant: Tenant) -> Result<(), HandlerError> {
//!     let details: serde_json::Value =
//!         tenant.api()?.get(&format!("/v2/orders/{}", order.id)).await?;
//!     println!("{}: new order, total {}", tenant.store_hash(), details["total_inc_tax"]);
//!     Ok(())
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), bigcommerce_app::MainError> {
//!     bigcommerce_app::logging::init(); // RUST_LOG, BCAPP_LOG_FORMAT=json
//!     let store = Store::connect(&StoreConfig::from_env()?).await?;
//!     let server = Server::new(App::builder().build()?, store, Config::from_env()?)?;
//!     server.run().await?; // on PORT (3000), until SIGTERM or ctrl-c
//!     Ok(())
//! }
//! ```
//!
//! Where to go next:
//!
//! - [`webhook_handler`]: patterns (`store/order/*`, `store/channel/<id>/cart/created`) and
//!   what a handler can take; [`events`]: the generated event types; [`HandlerError`] and
//!   [`ResultExt`]: which failures are retried.
//! - [`App`] / [`AppBuilder`]: handlers, state, install hooks, the app's pages and routes.
//! - [`Server`]: what it serves and runs; [`Config`]: every setting and its variable;
//!   [`store`]: the database and the encryption keys.
//! - `testing::TestApp` (feature `testing`): the app against a local BigCommerce in a test.
//! - The guides in the repository's `docs/` folder: getting started, handlers, the app's UI,
//!   your own tables, deployment, the `bcapp` command line.
//!
//! Parsing a callback by hand:
//!
//! ```
//! use bigcommerce_app::{Envelope, Event};
//!
//! let body = br#"{"scope":"store/order/created","store_id":"1025646","producer":"stores/abc123",
//!     "hash":"5d3f4c","created_at":1561479335,"data":{"type":"order","id":250}}"#;
//! let envelope = Envelope::from_slice(body)?;
//! assert_eq!(envelope.meta.store_hash.as_str(), "abc123");
//! match envelope.event {
//!     Event::OrderCreated(order) => assert_eq!(order.id, 250),
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), bigcommerce_app::ParseError>(())
//! ```
//!
//! ## Features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `logging` | yes | [`logging::init`] (tracing-subscriber) |
//! | `anyhow`, `eyre` | no | handlers may return `anyhow::Result<()>` / `eyre::Result<()>` |
//! | `testing` | no | `testing::TestApp` and the local BigCommerce emulator |

// Modules whose items are re-exported below are private: the flat names are the API, one path
// per item. `events` (hundreds of generated types), `logging`, `metrics` and `testing` are
// namespaces of their own.
mod app;
mod cfg;
mod envelope;
pub mod events;
mod handler;
mod ids;
mod inbox;
mod install;
#[cfg(feature = "logging")]
pub mod logging;
mod main_error;
mod merchant;
pub mod metrics;
mod receiver;
mod reconcile;
pub mod resources;
mod server;
// The tenant cache behind the receiver and the handlers: plumbing.
#[doc(hidden)]
pub mod tenants;
#[cfg(feature = "testing")]
pub mod testing;
mod watchdog;

pub use app::{
    App, AppBuilder, BoxFuture, BuildError, DispatchError, Dispatched, HandlerOutcome, Installed,
    Outcome, StaticTenants, Subscription, TenantLookup, Uninstalled, UserRemoved,
};
/// axum, re-exported so the app's own routes use the version the framework serves.
pub use axum;
/// The BigCommerce REST client, re-exported so apps need one dependency.
pub use bigcommerce_app_api as api;
/// Money kept exact, as BigCommerce sent it (used by [`resources`]).
pub use bigcommerce_app_core::Decimal;
pub use bigcommerce_app_macros::webhook_handler;
/// Storage (tenants, inbox, subscriptions), re-exported so apps need one dependency.
pub use bigcommerce_app_store as store;
pub use cfg::{BigCommerce, Config, ConfigError, SignatureMode, DEFAULT_FRAME_ANCESTORS};
pub use envelope::{Envelope, Meta, ParseError};
pub use events::{Event, Scope, ScopeInfo, ScopeKind};
pub use handler::{
    Call, FromCall, HandlerError, NoApiClient, Permanent, ResultExt, Retryable, Route, State,
    Tenant, WebhookHandler,
};
pub use ids::{ChannelId, StoreHash, StoreHashError};
pub use main_error::MainError;
pub use merchant::{
    Merchant, MerchantRejection, SessionRefused, StoreOwner, CSRF_HEADER, CSRF_PARAM,
    SESSION_COOKIE, SESSION_PARAM,
};
pub use receiver::CallbackRejection;
pub use reconcile::{ReconcileError, ReconcileReport, Reconciler};
pub use server::{shutdown_signal, Server, ServerError, Workers};

/// Used by the code `#[webhook_handler]` generates; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::handler::{into_handler_error, HandlerFuture, Registration};
    pub use inventory;
}

/// The README's and guides' examples compile and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/handlers.md")]
pub struct HandlersGuideDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/app-ui.md")]
pub struct AppUiGuideDoctests;
