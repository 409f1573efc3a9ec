//! # bigcommerce-app
//!
//! A framework for multi-tenant BigCommerce apps. This crate holds the typed webhook events,
//! generated at build time from the scope catalogue (`scopes.json`), and the callback
//! [`Envelope`] parser.
//!
//! ```
//! use bigcommerce_app::{Envelope, Event};
//!
//! let body = br#"{"scope":"store/order/created","store_id":"1025646","producer":"stores/abc123",
//!     "hash":"5d3f4c","created_at":1561479335,"data":{"type":"order","id":250}}"#;
//! let envelope = Envelope::from_slice(body)?;
//! assert_eq!(envelope.producer.as_str(), "abc123");
//! match envelope.event {
//!     Event::OrderCreated(order) => assert_eq!(order.id, 250),
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), bigcommerce_app::ParseError>(())
//! ```

pub mod app;
pub mod cfg;
pub mod envelope;
pub mod events;
pub mod handler;
pub mod ids;
mod inbox;
mod install;
pub mod merchant;
pub mod metrics;
mod receiver;
pub mod reconcile;
pub mod server;
pub mod tenants;
#[cfg(feature = "testing")]
pub mod testing;
mod watchdog;

pub use app::{
    App, AppBuilder, BuildError, DispatchError, Dispatched, HandlerOutcome, Installed, Outcome,
    StaticTenants, Subscription, TenantLookup, Uninstalled, UserRemoved,
};
/// axum, re-exported so the app's own routes use the version the framework serves.
pub use axum;
/// The BigCommerce REST client, re-exported so apps need one dependency.
pub use bigcommerce_app_api as api;
pub use bigcommerce_app_macros::webhook_handler;
/// Storage (tenants, inbox, subscriptions), re-exported so apps need one dependency.
pub use bigcommerce_app_store as store;
pub use envelope::{CallbackHeader, Envelope, ParseError};
pub use events::{Event, Scope, ScopeInfo, ScopeKind};
pub use handler::{
    Call, FromCall, HandlerError, Meta, NoApiClient, Permanent, ResultExt, Retryable, Route, State,
    Tenant, WebhookHandler,
};
pub use ids::{ChannelId, StoreHash};
pub use merchant::{Merchant, MerchantRejection, SessionRefused, StoreOwner};
pub use server::{Server, ServerError, Workers};

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
