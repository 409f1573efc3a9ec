//! What a webhook handler is: its arguments (extractors), its error type, and the [`Route`] the
//! `#[webhook_handler]` macro generates for it.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::envelope::Envelope;
use crate::events::{Event, FromEvent, Scope};
use crate::ids::{ChannelId, StoreHash};

/// The error a handler returns. It says whether trying again may help: a retryable error is
/// retried with backoff, a permanent one goes to the dead letters at once.
///
/// `?` converts any `std::error::Error` (and, with the `anyhow` or `eyre` feature, a handler
/// returning `anyhow::Result<()>` or `eyre::Result<()>` works as it is). The class is read from
/// the error and its sources:
///
/// - an error marked with [`ResultExt::permanent`] or [`ResultExt::retryable`] is what it says;
/// - a BigCommerce API error ([`api::ApiError`](bigcommerce_app_api::ApiError)) is retryable for
///   a timeout, a transport error, 408, 429 and 5xx, and permanent otherwise: a 404 (the order
///   or product is gone), another 4xx, a body that does not decode;
/// - [`NoApiClient`] is permanent;
/// - anything else is retryable.
pub struct HandlerError {
    retryable: bool,
    rate_limited: bool,
    /// The source's own `source()` chain is part of the message (errors that came in as an
    /// `anyhow`/`eyre` report, whose chain holds their context).
    show_chain: bool,
    source: Box<dyn StdError + Send + Sync>,
}

impl HandlerError {
    /// A failure worth retrying (a timeout, a 5xx, a lock), whatever the error says.
    pub fn retryable(error: impl Into<Box<dyn StdError + Send + Sync>>) -> HandlerError {
        HandlerError::with_class(error.into(), true)
    }

    /// A failure that will happen again on every attempt, whatever the error says.
    pub fn permanent(error: impl Into<Box<dyn StdError + Send + Sync>>) -> HandlerError {
        HandlerError::with_class(error.into(), false)
    }

    fn with_class(source: Box<dyn StdError + Send + Sync>, retryable: bool) -> HandlerError {
        HandlerError {
            retryable,
            rate_limited: retryable && inspect(chain(&*source)).rate_limited,
            show_chain: false,
            source,
        }
    }

    /// Whether the event is tried again after this error.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// Whether the store's API budget is spent (a 429 the client gave up on): the event waits
    /// for the store's rate-limit window instead of counting a failed attempt.
    pub fn is_rate_limited(&self) -> bool {
        self.rate_limited
    }

    /// The underlying error.
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.source
    }

    /// An `anyhow`/`eyre` report: classified on its whole chain, kept with its context.
    #[cfg(any(feature = "anyhow", feature = "eyre"))]
    fn from_report(class: Class, source: Box<dyn StdError + Send + Sync>) -> HandlerError {
        HandlerError {
            retryable: class.retryable,
            rate_limited: class.rate_limited,
            show_chain: true,
            source,
        }
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for HandlerError {
    fn from(error: E) -> HandlerError {
        let class = inspect(chain(&error));
        // A resource error says what was asked for; its API error below says what BigCommerce
        // answered (the path and status), which the log needs too.
        let show_chain = (&error as &dyn std::any::Any).is::<crate::resources::ResourceError>();
        HandlerError {
            retryable: class.retryable,
            rate_limited: class.rate_limited,
            show_chain,
            source: Box::new(error),
        }
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.retryable {
            "retryable"
        } else {
            "permanent"
        };
        write!(f, "{kind}: {}", self.source)?;
        if self.show_chain {
            let mut cause = self.source.source();
            while let Some(e) = cause {
                write!(f, ": {e}")?;
                cause = e.source();
            }
        }
        Ok(())
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerError")
            .field("retryable", &self.retryable)
            .field("rate_limited", &self.rate_limited)
            .field("source", &self.source)
            .finish()
    }
}

/// An error and its sources, outermost first.
fn chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |e: &&'a (dyn StdError + 'static)| {
        (*e).source()
    })
}

struct Class {
    retryable: bool,
    rate_limited: bool,
}

/// Reads the class off an error chain: the outermost error that says something decides.
fn inspect<'a>(chain: impl Iterator<Item = &'a (dyn StdError + 'static)>) -> Class {
    for e in chain {
        if e.is::<Permanent>() || e.is::<NoApiClient>() {
            return Class {
                retryable: false,
                rate_limited: false,
            };
        }
        if e.is::<Retryable>() {
            return Class {
                retryable: true,
                rate_limited: false,
            };
        }
        if let Some(api) = e.downcast_ref::<bigcommerce_app_api::ApiError>() {
            return Class {
                retryable: api.is_retryable(),
                rate_limited: api.is_rate_limited(),
            };
        }
    }
    Class {
        retryable: true,
        rate_limited: false,
    }
}

/// An error marked permanent by [`ResultExt::permanent`]: the event goes to the dead letters
/// without another attempt. Shows as the error it wraps.
pub struct Permanent(Box<dyn StdError + Send + Sync>);

/// An error marked retryable by [`ResultExt::retryable`]: the event is tried again later, even
/// if the error would otherwise count as permanent (a 404 expected to resolve itself). Shows as
/// the error it wraps.
pub struct Retryable(Box<dyn StdError + Send + Sync>);

macro_rules! marked_error {
    ($name:ident) => {
        impl $name {
            /// The error that was marked.
            pub fn into_inner(self) -> Box<dyn StdError + Send + Sync> {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.0).finish()
            }
        }

        // The marked error's own sources, not the marked error itself: it is this error's
        // message already, and would show twice in a report's "caused by" list.
        impl StdError for $name {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                self.0.source()
            }
        }
    };
}
marked_error!(Permanent);
marked_error!(Retryable);

/// Says how a handler's failure is treated, on any `Result` whose error converts into a boxed
/// error (`std::error::Error` types, `anyhow::Error`, `eyre::Report`, `String`):
///
/// ```
/// use bigcommerce_app::ResultExt;
///
/// fn quantity(text: &str) -> Result<u32, bigcommerce_app::Permanent> {
///     // A payload that does not parse now never will.
///     text.parse::<u32>().permanent()
/// }
/// assert!(quantity("x").is_err());
/// ```
///
/// The result converts with `?` into [`HandlerError`] and into `anyhow::Error`/`eyre::Report`,
/// and keeps its class through them.
pub trait ResultExt<T> {
    /// The error, if any, is permanent: no retry.
    fn permanent(self) -> Result<T, Permanent>;
    /// The error, if any, is retryable.
    fn retryable(self) -> Result<T, Retryable>;
}

impl<T, E: Into<Box<dyn StdError + Send + Sync>>> ResultExt<T> for Result<T, E> {
    fn permanent(self) -> Result<T, Permanent> {
        self.map_err(|e| Permanent(e.into()))
    }

    fn retryable(self) -> Result<T, Retryable> {
        self.map_err(|e| Retryable(e.into()))
    }
}

/// [`Tenant::api`] of an app running without BigCommerce credentials: a permanent error.
#[derive(Debug, thiserror::Error)]
#[error("no BigCommerce API client for store `{store_hash}`: the app runs without BigCommerce credentials (BC_CLIENT_ID, BC_CLIENT_SECRET, APP_URL)")]
pub struct NoApiClient {
    store_hash: StoreHash,
}

/// How the `#[webhook_handler]` macro turns a handler's error into a [`HandlerError`]. Method
/// resolution picks the path: `anyhow::Error` and `eyre::Report` (not `std::error::Error`, so no
/// trait can cover them and the rest without a coherence conflict) first, then everything else,
/// whose bound is checked by a trait with a readable diagnostic.
#[doc(hidden)]
pub mod into_handler_error {
    use std::error::Error as StdError;

    use super::HandlerError;

    /// The error being converted.
    pub struct Failure<E>(pub E);

    pub struct ReportPath;
    pub struct ErrorPath;

    /// Chosen first (no autoref): the report types.
    pub trait ViaReport {
        fn path(&self) -> ReportPath {
            ReportPath
        }
    }

    #[cfg(feature = "anyhow")]
    impl ViaReport for Failure<anyhow::Error> {}

    #[cfg(feature = "eyre")]
    impl ViaReport for Failure<eyre::Report> {}

    /// Then (one autoref): everything else.
    pub trait ViaError {
        fn path(&self) -> ErrorPath {
            ErrorPath
        }
    }

    impl<E> ViaError for &Failure<E> {}

    /// The error types a handler may return besides the reports.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be a webhook handler's error type",
        label = "not a `std::error::Error + Send + Sync + 'static`",
        note = "return `Result<(), HandlerError>`, or `Result<(), E>` with `E: std::error::Error + Send + Sync + 'static`; with the crate's `anyhow` or `eyre` feature, `anyhow::Result<()>` or `eyre::Result<()>`"
    )]
    pub trait HandlerErrorSource {
        fn into_handler_error(self) -> HandlerError;
    }

    impl HandlerErrorSource for HandlerError {
        fn into_handler_error(self) -> HandlerError {
            self
        }
    }

    impl<E: StdError + Send + Sync + 'static> HandlerErrorSource for E {
        fn into_handler_error(self) -> HandlerError {
            self.into()
        }
    }

    impl ErrorPath {
        pub fn convert<E: HandlerErrorSource>(self, failure: Failure<E>) -> HandlerError {
            failure.0.into_handler_error()
        }
    }

    /// `anyhow::Error` and `eyre::Report`.
    pub trait Report {
        fn into_handler_error(self) -> HandlerError;
    }

    #[cfg(feature = "anyhow")]
    impl Report for anyhow::Error {
        fn into_handler_error(self) -> HandlerError {
            // Read before boxing: the box hides the type of the report's first error.
            let class = super::inspect(self.chain());
            HandlerError::from_report(class, self.into())
        }
    }

    #[cfg(feature = "eyre")]
    impl Report for eyre::Report {
        fn into_handler_error(self) -> HandlerError {
            let class = super::inspect(self.chain());
            HandlerError::from_report(class, self.into())
        }
    }

    impl ReportPath {
        pub fn convert<E: Report>(self, failure: Failure<E>) -> HandlerError {
            failure.0.into_handler_error()
        }
    }
}

/// The store an event belongs to: the tenant context a handler receives.
///
/// Cheap to clone. The store's authenticated API client is attached here by the install flow.
#[derive(Clone)]
pub struct Tenant {
    inner: Arc<TenantInner>,
}

struct TenantInner {
    store_hash: StoreHash,
    generation: i64,
    api: Option<bigcommerce_app_api::StoreClient>,
}

impl Tenant {
    /// A tenant without an API client (tests, or an app with no BigCommerce credentials).
    pub fn new(store_hash: StoreHash, generation: i64) -> Tenant {
        Tenant {
            inner: Arc::new(TenantInner {
                store_hash,
                generation,
                api: None,
            }),
        }
    }

    /// A tenant with its store's authenticated API client.
    pub fn with_api(
        store_hash: StoreHash,
        generation: i64,
        api: bigcommerce_app_api::StoreClient,
    ) -> Tenant {
        Tenant {
            inner: Arc::new(TenantInner {
                store_hash,
                generation,
                api: Some(api),
            }),
        }
    }

    /// The store's authenticated BigCommerce API client, to fetch what an event names:
    /// `tenant.api()?.get::<Value>(&format!("/v2/orders/{}", order.id)).await?`.
    /// [`NoApiClient`] (permanent) when the app runs without BigCommerce credentials.
    pub fn api(&self) -> Result<&bigcommerce_app_api::StoreClient, NoApiClient> {
        self.inner.api.as_ref().ok_or_else(|| NoApiClient {
            store_hash: self.inner.store_hash.clone(),
        })
    }

    /// The store this tenant is.
    pub fn store_hash(&self) -> &StoreHash {
        &self.inner.store_hash
    }

    /// Install generation: incremented on every install, so work for an older installation
    /// can be told apart from work for the current one.
    pub fn generation(&self) -> i64 {
        self.inner.generation
    }
}

impl fmt::Debug for Tenant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tenant")
            .field("store_hash", &self.inner.store_hash)
            .field("generation", &self.inner.generation)
            .field("api", &self.inner.api.is_some())
            .finish()
    }
}

use crate::envelope::Meta;

/// Application state given to [`crate::AppBuilder::state`]; a handler takes `State<T>`.
#[derive(Clone, Debug)]
pub struct State<T>(pub T);

/// Values registered with [`crate::AppBuilder::state`], by type.
#[derive(Default)]
pub(crate) struct StateMap(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl StateMap {
    pub(crate) fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.0.insert(TypeId::of::<T>(), Arc::new(value));
    }

    pub(crate) fn contains(&self, type_id: TypeId) -> bool {
        self.0.contains_key(&type_id)
    }

    fn get<T: 'static>(&self) -> Option<&T> {
        self.0.get(&TypeId::of::<T>())?.downcast_ref()
    }
}

/// Everything one handler call can extract its arguments from.
pub struct Call {
    event: Option<Event>,
    meta: Arc<Meta>,
    tenant: Tenant,
    state: Arc<StateMap>,
    channel: Option<ChannelId>,
    handler: &'static str,
}

impl Call {
    pub(crate) fn new(
        event: Event,
        meta: Arc<Meta>,
        tenant: Tenant,
        state: Arc<StateMap>,
        handler: &'static str,
    ) -> Call {
        let channel = event.channel_id();
        Call {
            event: Some(event),
            meta,
            tenant,
            state,
            channel,
            handler,
        }
    }
}

pub(crate) fn split_envelope(envelope: Envelope) -> (Meta, Event) {
    (envelope.meta, envelope.event)
}

/// A handler argument. Implemented for the event types (payload structs, group enums,
/// [`Event`]), [`Tenant`], [`Meta`], [`ChannelId`] and [`State<T>`].
pub trait FromCall: Sized {
    /// Extracts the argument from the call; an error fails the handler (permanently).
    fn from_call(call: &mut Call) -> Result<Self, HandlerError>;
}

#[derive(Debug, thiserror::Error)]
enum ExtractError {
    #[error("handler `{0}` takes more than one event argument")]
    EventTakenTwice(&'static str),
    #[error("handler `{handler}` cannot take a `{variant}` event")]
    WrongEvent {
        handler: &'static str,
        variant: &'static str,
    },
    #[error("handler `{0}` takes a ChannelId but the event has no channel")]
    NoChannel(&'static str),
    #[error("handler `{handler}` takes State<{type_name}> but the app has no such state")]
    NoState {
        handler: &'static str,
        type_name: &'static str,
    },
}

impl<T: FromEvent> FromCall for T {
    fn from_call(call: &mut Call) -> Result<Self, HandlerError> {
        let event = call
            .event
            .take()
            .ok_or(ExtractError::EventTakenTwice(call.handler))
            .map_err(HandlerError::permanent)?;
        T::from_event(event).map_err(|other| {
            HandlerError::permanent(ExtractError::WrongEvent {
                handler: call.handler,
                variant: other.variant_name(),
            })
        })
    }
}

impl FromCall for Tenant {
    fn from_call(call: &mut Call) -> Result<Self, HandlerError> {
        Ok(call.tenant.clone())
    }
}

impl FromCall for Meta {
    fn from_call(call: &mut Call) -> Result<Self, HandlerError> {
        Ok((*call.meta).clone())
    }
}

impl FromCall for ChannelId {
    fn from_call(call: &mut Call) -> Result<Self, HandlerError> {
        call.channel
            .ok_or(ExtractError::NoChannel(call.handler))
            .map_err(HandlerError::permanent)
    }
}

impl<T: Clone + Send + Sync + 'static> FromCall for State<T> {
    fn from_call(call: &mut Call) -> Result<Self, HandlerError> {
        call.state
            .get::<T>()
            .cloned()
            .map(State)
            .ok_or(ExtractError::NoState {
                handler: call.handler,
                type_name: std::any::type_name::<T>(),
            })
            .map_err(HandlerError::permanent)
    }
}

/// The future a handler call returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>;

/// A registered handler: its pattern, resolved at compile time, and how to call it.
/// Generated by `#[webhook_handler]`.
#[derive(Clone, Copy)]
pub struct Route {
    /// `module::path::function`.
    pub name: &'static str,
    /// The pattern as written.
    pub pattern: &'static str,
    /// The concrete scopes the pattern matches.
    pub scopes: &'static [Scope],
    /// `"*"`: every event, including scopes the catalogue does not know.
    pub catch_all: bool,
    /// A channel pattern with a number (`store/channel/1/...`) only takes that channel.
    pub channel: Option<u64>,
    /// The catalogue wildcard the pattern is spelled as, subscribed to instead of its members.
    pub wildcard: Option<Scope>,
    /// The `State<T>` types the handler takes, checked when the app is built.
    pub state_types: fn() -> Vec<(TypeId, &'static str)>,
    /// Extracts the arguments and runs the handler.
    pub call: fn(Call) -> HandlerFuture,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("name", &self.name)
            .field("pattern", &self.pattern)
            .field("scopes", &self.scopes.len())
            .field("catch_all", &self.catch_all)
            .field("channel", &self.channel)
            .finish()
    }
}

/// A handler generated by `#[webhook_handler]`: `App::builder().handler(on_order)`.
pub trait WebhookHandler {
    /// The route: pattern, scopes and how to call the handler.
    fn route(&self) -> Route;
}

impl WebhookHandler for Route {
    fn route(&self) -> Route {
        *self
    }
}

/// Automatic registration of every `#[webhook_handler]` in the binary (see `inventory`).
pub struct Registration(pub fn() -> Route);

inventory::collect!(Registration);
