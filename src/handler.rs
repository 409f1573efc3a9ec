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
/// Any `std::error::Error` converts into a retryable `HandlerError`, so `?` works on the usual
/// error types; use [`HandlerError::permanent`] for input that will never be processable.
pub struct HandlerError {
    retryable: bool,
    source: Box<dyn StdError + Send + Sync>,
}

impl HandlerError {
    /// A failure worth retrying (a timeout, a 5xx, a lock).
    pub fn retryable(error: impl Into<Box<dyn StdError + Send + Sync>>) -> HandlerError {
        HandlerError {
            retryable: true,
            source: error.into(),
        }
    }

    /// A failure that will happen again on every attempt.
    pub fn permanent(error: impl Into<Box<dyn StdError + Send + Sync>>) -> HandlerError {
        HandlerError {
            retryable: false,
            source: error.into(),
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The underlying error.
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        &*self.source
    }
}

impl<E: StdError + Send + Sync + 'static> From<E> for HandlerError {
    fn from(error: E) -> HandlerError {
        HandlerError::retryable(error)
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.retryable {
            "retryable"
        } else {
            "permanent"
        };
        write!(f, "{kind}: {}", self.source)
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerError")
            .field("retryable", &self.retryable)
            .field("source", &self.source)
            .finish()
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
    /// A permanent error when the app runs without BigCommerce credentials.
    pub fn api(&self) -> Result<&bigcommerce_app_api::StoreClient, HandlerError> {
        self.inner.api.as_ref().ok_or_else(|| {
            HandlerError::permanent(format!(
                "no BigCommerce API client for store `{}`: the app has no credentials configured",
                self.inner.store_hash
            ))
        })
    }

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

/// Envelope data of the event being handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meta {
    /// The scope exactly as delivered (`store/channel/1/order/created`).
    pub scope: String,
    /// BigCommerce's payload hash (the de-duplication key with store and scope).
    pub hash: String,
    /// Unix seconds.
    pub created_at: i64,
    pub store_id: String,
    pub store_hash: StoreHash,
}

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
    (
        Meta {
            scope: envelope.scope,
            hash: envelope.hash,
            created_at: envelope.created_at,
            store_id: envelope.store_id,
            store_hash: envelope.producer,
        },
        envelope.event,
    )
}

/// A handler argument. Implemented for the event types (payload structs, group enums,
/// [`Event`]), [`Tenant`], [`Meta`], [`ChannelId`] and [`State<T>`].
pub trait FromCall: Sized {
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
