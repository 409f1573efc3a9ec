//! The app: its handlers, the router that picks them per event, and the subscriptions they need.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::envelope::Envelope;
use crate::events::{Event, Scope, ScopeKind};
use crate::handler::{
    split_envelope, Call, HandlerError, Registration, Route, StateMap, Tenant, WebhookHandler,
};
use crate::ids::{ChannelId, StoreHash};

/// A boxed future, for object-safe async traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Finds the installed tenant of a store. The storage layer implements it; [`StaticTenants`]
/// is an in-memory one for tests and examples.
pub trait TenantLookup: Send + Sync + 'static {
    /// `Ok(None)`: the store has not installed the app (or uninstalled it).
    fn find<'a>(
        &'a self,
        store: &'a StoreHash,
    ) -> BoxFuture<'a, Result<Option<Tenant>, Box<dyn StdError + Send + Sync>>>;
}

/// A fixed set of tenants, for tests and examples.
#[derive(Default, Clone)]
pub struct StaticTenants(HashMap<StoreHash, Tenant>);

impl StaticTenants {
    /// A lookup over these tenants, by store hash.
    pub fn new(tenants: impl IntoIterator<Item = Tenant>) -> StaticTenants {
        StaticTenants(
            tenants
                .into_iter()
                .map(|t| (t.store_hash().clone(), t))
                .collect(),
        )
    }
}

impl TenantLookup for StaticTenants {
    fn find<'a>(
        &'a self,
        store: &'a StoreHash,
    ) -> BoxFuture<'a, Result<Option<Tenant>, Box<dyn StdError + Send + Sync>>> {
        Box::pin(async move { Ok(self.0.get(store).cloned()) })
    }
}

/// Told to `on_install`: a store installed the app (or re-installed it: new generation).
#[derive(Clone, Debug)]
pub struct Installed {
    /// The store, with its API client.
    pub tenant: Tenant,
    /// The user who installed it.
    pub user_id: u64,
    /// That user's email.
    pub user_email: String,
    /// The OAuth scopes the merchant granted (`store_v2_orders_read_only`, ...): what the app
    /// may call, not the webhook scopes it subscribes to.
    pub oauth_scopes: Vec<String>,
}

/// Told to `on_uninstall`: the store removed the app. Its token is already dead: do not call
/// the BigCommerce API.
#[derive(Clone, Debug)]
pub struct Uninstalled {
    /// The store that removed the app.
    pub store_hash: StoreHash,
    /// The installation that ended.
    pub generation: i64,
}

/// Told to `on_remove_user`: a user lost access to the app.
#[derive(Clone, Debug)]
pub struct UserRemoved {
    /// The store.
    pub store_hash: StoreHash,
    /// The user's BigCommerce id.
    pub user_id: u64,
}

/// An app's lifecycle callback.
type Hook<T> = Option<Arc<dyn Fn(T) -> BoxFuture<'static, ()> + Send + Sync>>;

fn hook<T, F, Fut>(f: F) -> Hook<T>
where
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    Some(Arc::new(move |info| Box::pin(f(info))))
}

/// A page of the merchant's UI rendered by the app: any axum handler, called with the request
/// after the framework has verified it and opened the merchant's session.
pub(crate) type Page = Arc<
    dyn Fn(axum::extract::Request) -> BoxFuture<'static, axum::response::Response> + Send + Sync,
>;

fn page<H, T>(handler: H) -> Option<Page>
where
    H: axum::handler::Handler<T, ()>,
    T: 'static,
{
    Some(Arc::new(move |request| {
        Box::pin(axum::handler::Handler::call(handler.clone(), request, ()))
    }))
}

#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub(crate) on_install: Hook<Installed>,
    pub(crate) on_uninstall: Hook<Uninstalled>,
    pub(crate) on_remove_user: Hook<UserRemoved>,
    pub(crate) load_page: Option<Page>,
    pub(crate) install_page: Option<Page>,
}

/// Why an app could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error("handler `{handler}` takes State<{type_name}>, but no such state was given to the app builder: add `.state(value)` with a `{type_name}` to App::builder()")]
    /// A handler takes `State<T>` that was not given to [`AppBuilder::state`].
    MissingState {
        /// The handler, `module::function`.
        handler: &'static str,
        /// The missing state's type name.
        type_name: &'static str,
    },
}

/// Why an event reached no handler.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    #[error("store `{0}` has no installed tenant; no handler ran")]
    /// The store is not installed (or never was).
    UnknownTenant(StoreHash),
    #[error("event of store `{event}` given with the tenant of store `{tenant}`")]
    /// [`App::dispatch_to`] got an event of one store with the tenant of another.
    TenantMismatch {
        /// The event's store.
        event: StoreHash,
        /// The tenant's store.
        tenant: StoreHash,
    },
    #[error("cannot look up the tenant of store `{store}`: {source}")]
    /// The tenant lookup failed (the database, typically).
    Lookup {
        /// The store looked up.
        store: StoreHash,
        #[source]
        /// Why the lookup failed.
        source: Box<dyn StdError + Send + Sync>,
    },
    #[error("the app has no tenant lookup; give one to AppBuilder::tenants or use dispatch_to")]
    /// [`App::dispatch`] needs a tenant lookup; the app has none.
    NoTenantLookup,
}

/// How one handler's call ended.
#[derive(Debug)]
pub enum Outcome {
    /// The handler returned `Ok(())`.
    Succeeded,
    /// The handler returned an error; [`HandlerError::is_retryable`] says whether it is tried again.
    Failed(HandlerError),
    /// The handler panicked; counted as a retryable failure.
    Panicked(String),
    /// The event's handlers did not finish within the handler timeout; this one was cut off.
    TimedOut(std::time::Duration),
}

impl Outcome {
    /// Whether the handler succeeded.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Succeeded)
    }

    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Outcome::Succeeded => false,
            Outcome::Failed(e) => e.is_retryable(),
            Outcome::Panicked(_) | Outcome::TimedOut(_) => true,
        }
    }
}

/// One handler's result for an event.
#[derive(Debug)]
pub struct HandlerOutcome {
    /// `module::path::function`.
    pub handler: &'static str,
    /// How the call ended.
    pub outcome: Outcome,
    /// How long the handler ran.
    pub elapsed: std::time::Duration,
}

/// What dispatching one event did: one entry per handler that matched, in registration order.
#[derive(Debug, Default)]
pub struct Dispatched {
    /// One entry per matching handler, in registration order.
    pub outcomes: Vec<HandlerOutcome>,
}

impl Dispatched {
    /// Whether every handler succeeded (also when none matched).
    pub fn all_succeeded(&self) -> bool {
        self.outcomes.iter().all(|o| o.outcome.is_success())
    }
}

/// A webhook subscription the app needs in every store: a catalogue scope, for channel scopes
/// either one channel or (`channel: None`) a template the reconciler expands per channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subscription {
    /// The catalogue scope (a wildcard or a concrete scope).
    pub scope: Scope,
    /// For a channel scope: one channel, or `None` for every channel of the store.
    pub channel: Option<u64>,
}

impl Subscription {
    /// A channel template (`store/channel/{channel_id}/...`) to be expanded per channel.
    pub fn is_channel_template(&self) -> bool {
        self.scope.info().kind == ScopeKind::ChannelTemplated && self.channel.is_none()
    }

    /// The scope string to register for one channel (templates only; others ignore `channel`).
    pub fn for_channel(&self, channel: ChannelId) -> String {
        self.scope
            .delivered(Some(self.channel.map_or(channel, ChannelId)))
    }

    /// Whether this subscription delivers events of `other` (same scope, or a wildcard over it,
    /// on a compatible channel).
    fn covers(&self, other: &Subscription) -> bool {
        let channel_ok = self.channel.is_none() || self.channel == other.channel;
        if !channel_ok || self.scope == other.scope {
            return channel_ok;
        }
        let mine = self.scope.members();
        if mine.is_empty() {
            return false;
        }
        match other.scope.members() {
            [] => mine.contains(&other.scope),
            theirs => theirs.iter().all(|s| mine.contains(s)),
        }
    }
}

impl fmt::Display for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.channel {
            Some(id) => f.write_str(&self.scope.delivered(Some(ChannelId(id)))),
            None => f.write_str(self.scope.as_str()),
        }
    }
}

/// Builds an [`App`].
pub struct AppBuilder {
    routes: Vec<Route>,
    ui: axum::Router,
    state: StateMap,
    tenants: Option<Arc<dyn TenantLookup>>,
    hooks: Hooks,
}

impl AppBuilder {
    /// Adds a handler (idempotent: a handler already collected automatically is not added twice).
    pub fn handler(mut self, handler: impl WebhookHandler) -> Self {
        let route = handler.route();
        if !self
            .routes
            .iter()
            .any(|r| r.name == route.name && r.pattern == route.pattern)
        {
            self.routes.push(route);
        }
        self
    }

    /// Makes `value` available to handlers as `State<T>`.
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// Where [`App::dispatch`] finds the tenant of a store.
    pub fn tenants(mut self, lookup: impl TenantLookup) -> Self {
        self.tenants = Some(Arc::new(lookup));
        self
    }

    /// Called after a store installs the app, its subscriptions reconciled.
    pub fn on_install<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Installed) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.hooks.on_install = hook(f);
        self
    }

    /// Renders the app when a user opens it in the store's control panel (`GET /load`): any
    /// axum handler, called after the signed payload is verified and the merchant's session is
    /// opened, so it can take [`crate::Merchant`] and return HTML or a redirect into the app's
    /// own routes (`Redirect::to(&merchant.url("/settings"))`). Without one, `/load` answers a
    /// plain "the app is running" page and opens no session.
    pub fn load_page<H, T>(mut self, handler: H) -> Self
    where
        H: axum::handler::Handler<T, ()>,
        T: 'static,
    {
        self.hooks.load_page = page(handler);
        self
    }

    /// Renders the page shown after a successful install (`GET /auth`), like
    /// [`AppBuilder::load_page`]: the installing user's session is open. Without one, the
    /// framework shows a plain "app installed" page.
    pub fn install_page<H, T>(mut self, handler: H) -> Self
    where
        H: axum::handler::Handler<T, ()>,
        T: 'static,
    {
        self.hooks.install_page = page(handler);
        self
    }

    /// Serves the app's own routes (its UI, JSON API, static files) in the same server as the
    /// framework's endpoints. Handlers take [`crate::Merchant`] or [`crate::StoreOwner`] to know
    /// the store and user. The framework's paths (`/auth`, `/load`, `/uninstall`,
    /// `/remove_user`, the webhook path, `/healthz`, `/readyz`, `/metrics`) are taken; a route of
    /// the app on one of them is an error of [`crate::Server::new`]. May be called several times.
    pub fn merge(mut self, routes: axum::Router) -> Self {
        self.ui = self.ui.merge(routes);
        self
    }

    /// Called after a store uninstalled the app and its data was dropped.
    pub fn on_uninstall<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Uninstalled) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.hooks.on_uninstall = hook(f);
        self
    }

    /// Called when a store removes a user's access to the app.
    pub fn on_remove_user<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(UserRemoved) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.hooks.on_remove_user = hook(f);
        self
    }

    /// Checks every handler's `State<T>` is available and builds the routing table.
    pub fn build(self) -> Result<App, BuildError> {
        for route in &self.routes {
            for (type_id, type_name) in (route.state_types)() {
                if !self.state.contains(type_id) {
                    return Err(BuildError::MissingState {
                        handler: route.name,
                        type_name,
                    });
                }
            }
        }
        let mut by_scope: Vec<Vec<usize>> = vec![Vec::new(); Scope::ALL.len()];
        let mut catch_all = Vec::new();
        for (i, route) in self.routes.iter().enumerate() {
            if route.catch_all {
                catch_all.push(i);
                for slot in &mut by_scope {
                    slot.push(i);
                }
            } else {
                for scope in route.scopes {
                    by_scope[scope.index()].push(i);
                }
            }
        }
        Ok(App {
            inner: Arc::new(AppInner {
                routes: self.routes,
                ui: self.ui,
                by_scope,
                catch_all,
                state: Arc::new(self.state),
                tenants: self.tenants,
                hooks: self.hooks,
            }),
        })
    }
}

struct AppInner {
    routes: Vec<Route>,
    /// The app's own HTTP routes (its UI).
    ui: axum::Router,
    /// Handler indices per `Scope::index`, in registration order: the router's whole lookup.
    by_scope: Vec<Vec<usize>>,
    /// Handlers of `"*"`, the only ones an unknown scope reaches.
    catch_all: Vec<usize>,
    state: Arc<StateMap>,
    tenants: Option<Arc<dyn TenantLookup>>,
    hooks: Hooks,
}

/// A multi-tenant BigCommerce app: handlers, state and the router. Cheap to clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<AppInner>,
}

impl App {
    /// A builder holding every `#[webhook_handler]` of the binary.
    pub fn builder() -> AppBuilder {
        let mut builder = App::empty();
        for registration in inventory::iter::<Registration> {
            builder = builder.handler((registration.0)());
        }
        builder
    }

    /// A builder with no handlers; add them with [`AppBuilder::handler`] (tests, libraries).
    pub fn empty() -> AppBuilder {
        AppBuilder {
            routes: Vec::new(),
            ui: axum::Router::new(),
            state: StateMap::default(),
            tenants: None,
            hooks: Hooks::default(),
        }
    }

    /// Every handler of the app, in registration order.
    pub fn routes(&self) -> &[Route] {
        &self.inner.routes
    }

    pub(crate) fn hooks(&self) -> &Hooks {
        &self.inner.hooks
    }

    /// The app's own routes, as given to [`AppBuilder::merge`].
    pub(crate) fn ui(&self) -> &axum::Router {
        &self.inner.ui
    }

    /// The handlers an event reaches, in registration order.
    pub fn routes_for<'a>(&'a self, event: &Event) -> impl Iterator<Item = &'a Route> + 'a {
        let indices: &[usize] = match event.scope() {
            Some(scope) => &self.inner.by_scope[scope.index()],
            None => &self.inner.catch_all,
        };
        let channel = event.channel_id();
        indices
            .iter()
            .map(|&i| &self.inner.routes[i])
            .filter(move |r| r.channel.is_none_or(|id| channel == Some(ChannelId(id))))
    }

    /// The fewest BigCommerce scopes that deliver every event the handlers take: a wildcard
    /// handler subscribes to its wildcard, a set of handlers covering all of a wildcard's scopes
    /// subscribes to the wildcard, and channel scopes come back as templates (or a fixed channel)
    /// for the reconciler to expand. `"*"` handlers receive what the others subscribe to and do
    /// not widen the subscriptions.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        let mut wanted: BTreeSet<Subscription> = BTreeSet::new();
        for route in self.inner.routes.iter().filter(|r| !r.catch_all) {
            match route.wildcard {
                Some(scope) => {
                    wanted.insert(Subscription {
                        scope,
                        channel: route.channel,
                    });
                }
                None => wanted.extend(route.scopes.iter().map(|&scope| Subscription {
                    scope,
                    channel: route.channel,
                })),
            }
        }
        // A wildcard all of whose scopes are wanted replaces them.
        let channels: HashSet<Option<u64>> = wanted.iter().map(|s| s.channel).collect();
        for wildcard in Scope::ALL.into_iter().filter(|s| s.info().wildcard) {
            for &channel in &channels {
                let all_wanted = wildcard.members().iter().all(|&scope| {
                    let member = Subscription { scope, channel };
                    wanted.iter().any(|w| w.covers(&member))
                });
                if all_wanted {
                    wanted.insert(Subscription {
                        scope: wildcard,
                        channel,
                    });
                }
            }
        }
        // Drop whatever another subscription already delivers.
        let all: Vec<Subscription> = wanted.iter().copied().collect();
        all.iter()
            .copied()
            .filter(|s| !all.iter().any(|other| other != s && other.covers(s)))
            .collect()
    }

    /// Finds the event's tenant and runs every matching handler. A store without an installed
    /// tenant is an error and no handler runs.
    pub async fn dispatch(&self, envelope: Envelope) -> Result<Dispatched, DispatchError> {
        let lookup = self
            .inner
            .tenants
            .as_ref()
            .ok_or(DispatchError::NoTenantLookup)?;
        let store = envelope.meta.store_hash.clone();
        let tenant = lookup
            .find(&store)
            .await
            .map_err(|source| DispatchError::Lookup {
                store: store.clone(),
                source,
            })?
            .ok_or(DispatchError::UnknownTenant(store))?;
        self.dispatch_to(envelope, tenant).await
    }

    /// Runs every matching handler with an already resolved tenant, one after the other, and
    /// reports each outcome; the caller decides about retries. A panicking handler is reported
    /// as [`Outcome::Panicked`] and does not stop the others.
    pub async fn dispatch_to(
        &self,
        envelope: Envelope,
        tenant: Tenant,
    ) -> Result<Dispatched, DispatchError> {
        self.run_handlers(envelope, tenant, &[], None).await
    }

    /// Runs the matching handlers not named in `done` (they succeeded in an earlier attempt),
    /// one after the other. At `deadline` the running handler is cut off
    /// ([`Outcome::TimedOut`]) and the ones after it are not started (they are not in the
    /// outcomes, so they run on the next attempt).
    pub(crate) async fn run_handlers(
        &self,
        envelope: Envelope,
        tenant: Tenant,
        done: &[String],
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Dispatched, DispatchError> {
        if tenant.store_hash() != &envelope.meta.store_hash {
            return Err(DispatchError::TenantMismatch {
                event: envelope.meta.store_hash,
                tenant: tenant.store_hash().clone(),
            });
        }
        let (meta, event) = split_envelope(envelope);
        let routes: Vec<&Route> = self
            .routes_for(&event)
            .filter(|r| !done.iter().any(|name| name == r.name))
            .collect();
        let meta = Arc::new(meta);
        let mut outcomes = Vec::with_capacity(routes.len());
        let mut event = Some(event);
        for (i, route) in routes.iter().enumerate() {
            // The last handler gets the event itself; the others a copy.
            let this_event = if i + 1 == routes.len() {
                event.take()
            } else {
                event.clone()
            };
            let Some(this_event) = this_event else { break };
            let call = Call::new(
                this_event,
                meta.clone(),
                tenant.clone(),
                self.inner.state.clone(),
                route.name,
            );
            let started = std::time::Instant::now();
            let _watched = crate::watchdog::HandlerRun::start(route.name);
            let running = CatchUnwind((route.call)(call));
            let result = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, running).await.ok(),
                None => Some(running.await),
            };
            let outcome = match result {
                Some(Ok(Ok(()))) => Outcome::Succeeded,
                Some(Ok(Err(error))) => Outcome::Failed(error),
                Some(Err(panic)) => Outcome::Panicked(panic),
                None => Outcome::TimedOut(started.elapsed()),
            };
            let cut_off = matches!(outcome, Outcome::TimedOut(_));
            outcomes.push(HandlerOutcome {
                handler: route.name,
                outcome,
                elapsed: started.elapsed(),
            });
            if cut_off {
                break;
            }
        }
        Ok(Dispatched { outcomes })
    }
}

/// Turns a panic while polling the handler into an error value.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "handler panicked".to_owned());
                Poll::Ready(Err(message))
            }
        }
    }
}
