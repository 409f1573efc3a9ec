//! Keeps each store's webhook subscriptions as the app needs them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bigcommerce_app_api::{ApiError, Client, HookFilter, NewWebhook, Webhook, WebhookUpdate};
use bigcommerce_app_store::{ReconcileOutcome, Store, StoreError, SubscriptionUpsert};

use crate::app::App;
use crate::events::Scope;
use crate::ids::ChannelId;

/// Why a store could not be reconciled at all (per-scope failures are in the report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconcileError {
    #[error("store `{0}` is not installed")]
    /// The store has no installation to reconcile.
    NotInstalled(String),
    #[error(transparent)]
    /// The database failed.
    Storage(#[from] StoreError),
    #[error("BigCommerce API: {0}")]
    /// BigCommerce's API failed (a 401: the app was uninstalled).
    Api(#[from] ApiError),
}

/// What one reconcile of one store did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    /// The store reconciled.
    pub store_hash: String,
    /// Concrete scope -> outcome.
    pub outcomes: BTreeMap<String, ReconcileOutcome>,
    /// Concrete scope -> error, for the failed ones.
    pub errors: BTreeMap<String, String>,
}

impl ReconcileReport {
    /// Write calls made (creates, updates, deletes).
    pub fn writes(&self) -> usize {
        self.outcomes
            .values()
            .filter(|o| {
                matches!(
                    o,
                    ReconcileOutcome::Created
                        | ReconcileOutcome::Reactivated
                        | ReconcileOutcome::Updated
                        | ReconcileOutcome::Deleted
                )
            })
            .count()
    }

    /// Whether every scope was reconciled without an error.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Where the wanted subscriptions come from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Desired {
    /// The app's handlers.
    FromApp,
    /// The subscriptions table.
    Recorded,
}

/// Reconciles stores against BigCommerce.
///
/// Desired: [`App::subscriptions`], channel templates expanded over the store's channels, plus
/// `store/channel/created` so a new channel is picked up. Compared with the store's hooks that
/// point at this app's destination (hooks with other destinations are never touched):
/// missing hooks are created one at a time (BigCommerce does not take them in parallel),
/// deactivated ones re-activated, header drift fixed in place, unwanted ones deleted. Every
/// hook carries the store's secret header. A store already as desired costs one list call and
/// no writes. Each outcome is recorded per store and scope, logged, and counted
/// (`bcapp_reconcile_total{outcome}`).
#[derive(Clone)]
pub struct Reconciler {
    inner: Arc<Inner>,
}

struct Inner {
    app: App,
    store: Store,
    api: Client,
    destination: String,
    secret_header: String,
}

impl Reconciler {
    /// `destination`: the public URL of the webhook endpoint (`https://app.example.com/webhooks`).
    pub fn new(
        app: App,
        store: Store,
        api: Client,
        destination: String,
        secret_header: String,
    ) -> Reconciler {
        Reconciler {
            inner: Arc::new(Inner {
                app,
                store,
                api,
                destination,
                secret_header,
            }),
        }
    }

    /// The URL the app's hooks deliver to.
    pub fn destination(&self) -> &str {
        &self.inner.destination
    }

    /// Reconciles one installed store.
    pub async fn reconcile_store(
        &self,
        store_hash: &str,
    ) -> Result<ReconcileReport, ReconcileError> {
        self.run(store_hash, Desired::FromApp).await
    }

    /// Repairs one store's hooks against the subscriptions recorded for it (what the app last
    /// reconciled): re-creates missing ones, re-activates, fixes headers; deletes nothing. For
    /// tools that do not have the app's handlers (`bcapp hooks sync`).
    pub async fn repair_store(&self, store_hash: &str) -> Result<ReconcileReport, ReconcileError> {
        self.run(store_hash, Desired::Recorded).await
    }

    async fn run(
        &self,
        store_hash: &str,
        mode: Desired,
    ) -> Result<ReconcileReport, ReconcileError> {
        let inner = &self.inner;
        let tenant = inner
            .store
            .tenant(store_hash)
            .await?
            .filter(|t| t.is_installed())
            .ok_or_else(|| ReconcileError::NotInstalled(store_hash.to_owned()))?;
        let (Some(token), Some(secret)) = (&tenant.access_token, &tenant.webhook_secret) else {
            return Err(ReconcileError::NotInstalled(store_hash.to_owned()));
        };
        let api = inner.api.store(store_hash, token.expose());
        let desired = match mode {
            Desired::FromApp => self.desired_scopes(&api).await?,
            Desired::Recorded => inner
                .store
                .subscriptions(store_hash)
                .await?
                .into_iter()
                .map(|s| s.scope)
                .collect(),
        };
        let mut ours: BTreeMap<String, Vec<Webhook>> = BTreeMap::new();
        for hook in api.list_all_hooks(&HookFilter::default()).await? {
            if hook.destination == inner.destination {
                ours.entry(hook.scope.clone()).or_default().push(hook);
            }
        }
        let wanted_headers: BTreeMap<String, String> =
            [(inner.secret_header.clone(), secret.expose().to_owned())].into();

        let mut report = ReconcileReport {
            store_hash: store_hash.to_owned(),
            ..ReconcileReport::default()
        };
        for scope in &desired {
            let existing = ours.remove(scope).unwrap_or_default();
            let result = match existing.first() {
                None => {
                    let hook = NewWebhook {
                        scope: scope.clone(),
                        destination: inner.destination.clone(),
                        is_active: true,
                        headers: Some(wanted_headers.clone()),
                    };
                    api.create_hook(&hook)
                        .await
                        .map(|h| (ReconcileOutcome::Created, h))
                }
                Some(hook) => {
                    let mut update = WebhookUpdate::default();
                    if !hook.is_active {
                        update.is_active = Some(true);
                    }
                    if !headers_match(hook.headers.as_ref(), &wanted_headers) {
                        update.headers = Some(Some(wanted_headers.clone()));
                    }
                    if update.is_empty() {
                        Ok((ReconcileOutcome::Unchanged, hook.clone()))
                    } else {
                        let outcome = if update.is_active.is_some() {
                            ReconcileOutcome::Reactivated
                        } else {
                            ReconcileOutcome::Updated
                        };
                        api.update_hook(hook.id, &update)
                            .await
                            .map(|h| (outcome, h))
                    }
                }
            };
            match result {
                Ok((outcome, hook)) => {
                    let row = SubscriptionUpsert {
                        scope: scope.clone(),
                        hook_id: i64::try_from(hook.id).ok(),
                        destination: hook.destination.clone(),
                        is_active: hook.is_active,
                    };
                    inner.store.subscription_upsert(store_hash, &row).await?;
                    self.record(&mut report, scope, outcome, None).await?;
                }
                Err(e) => {
                    self.record(
                        &mut report,
                        scope,
                        ReconcileOutcome::Failed,
                        Some(e.to_string()),
                    )
                    .await?;
                }
            }
        }
        // What is left of ours is no longer wanted (only the app knows that for sure).
        if mode == Desired::Recorded {
            return Ok(report);
        }
        for (scope, hooks) in ours {
            let mut failed = None;
            for hook in hooks {
                if let Err(e) = api.delete_hook(hook.id).await {
                    failed = Some(e.to_string());
                }
            }
            match failed {
                None => {
                    inner.store.subscription_delete(store_hash, &scope).await?;
                    report
                        .outcomes
                        .insert(scope.clone(), ReconcileOutcome::Deleted);
                    crate::metrics::reconcile(ReconcileOutcome::Deleted.as_str());
                    tracing::info!(store = store_hash, scope, "stale webhook deleted");
                }
                Some(error) => {
                    self.record(&mut report, &scope, ReconcileOutcome::Failed, Some(error))
                        .await?;
                }
            }
        }
        Ok(report)
    }

    async fn record(
        &self,
        report: &mut ReconcileReport,
        scope: &str,
        outcome: ReconcileOutcome,
        error: Option<String>,
    ) -> Result<(), StoreError> {
        let store_hash = report.store_hash.clone();
        crate::metrics::reconcile(outcome.as_str());
        match &error {
            Some(e) => {
                tracing::error!(store = %store_hash, scope, error = %e, "webhook subscription failed")
            }
            None if outcome != ReconcileOutcome::Unchanged => {
                tracing::info!(store = %store_hash, scope, outcome = outcome.as_str(), "webhook subscription")
            }
            None => {}
        }
        if outcome == ReconcileOutcome::Failed {
            // Keep a row for the failed scope so the failure is visible per store and scope.
            let row = SubscriptionUpsert {
                scope: scope.to_owned(),
                hook_id: None,
                destination: self.inner.destination.clone(),
                is_active: false,
            };
            let known = self.inner.store.subscriptions(&store_hash).await?;
            if !known.iter().any(|s| s.scope == scope) {
                self.inner
                    .store
                    .subscription_upsert(&store_hash, &row)
                    .await?;
            }
        }
        self.inner
            .store
            .subscription_record_outcome(&store_hash, scope, outcome, error.as_deref())
            .await?;
        report.outcomes.insert(scope.to_owned(), outcome);
        if let Some(e) = error {
            report.errors.insert(scope.to_owned(), e);
        }
        Ok(())
    }

    /// The concrete scopes this store needs.
    async fn desired_scopes(
        &self,
        api: &bigcommerce_app_api::StoreClient,
    ) -> Result<BTreeSet<String>, ReconcileError> {
        let subscriptions = self.inner.app.subscriptions();
        let mut desired = BTreeSet::new();
        if subscriptions.iter().any(|s| s.is_channel_template()) {
            let channels = api.list_channels().await?;
            for sub in &subscriptions {
                if sub.is_channel_template() {
                    for channel in &channels {
                        desired.insert(sub.for_channel(ChannelId(channel.id)));
                    }
                }
            }
            desired.insert(Scope::ChannelCreated.as_str().to_owned());
        }
        desired.extend(
            subscriptions
                .iter()
                .filter(|s| !s.is_channel_template())
                .map(|s| s.to_string()),
        );
        Ok(desired)
    }

    /// Reconciles every installed store, `concurrency` at a time; failures are logged and
    /// counted, and one store's failure does not stop the others.
    pub async fn reconcile_all(
        &self,
        concurrency: usize,
    ) -> Vec<(String, Result<ReconcileReport, ReconcileError>)> {
        let tenants = match self.inner.store.installed_tenants().await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "cannot list installed stores to reconcile");
                return Vec::new();
            }
        };
        let semaphore = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for tenant in tenants {
            let (this, semaphore) = (self.clone(), semaphore.clone());
            tasks.spawn(async move {
                let _permit = semaphore.acquire_owned().await;
                let result = this.reconcile_store(&tenant.store_hash).await;
                if let Err(e) = &result {
                    tracing::error!(store = %tenant.store_hash, error = %e, "reconcile failed");
                }
                (tenant.store_hash, result)
            });
        }
        let mut results = Vec::new();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(result) => results.push(result),
                Err(e) => tracing::error!(error = %e, "reconcile task failed"),
            }
        }
        results
    }
}

fn headers_match(
    actual: Option<&BTreeMap<String, String>>,
    wanted: &BTreeMap<String, String>,
) -> bool {
    let Some(actual) = actual else { return false };
    // Header names are case-insensitive; BigCommerce may echo them in another case.
    wanted.iter().all(|(name, value)| {
        actual
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case(name) && v == value)
    }) && actual.len() == wanted.len()
}
