//! The tenant lookup of the hot path: one database read per store per `tenant_cache_ttl`, not
//! one per callback. Install and uninstall in this process invalidate the entry at once.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bigcommerce_app_api::Client;
use bigcommerce_app_store::{Store, StoreError, TenantRecord};

use crate::app::{BoxFuture, TenantLookup};
use crate::handler::Tenant;
use crate::ids::StoreHash;

/// Longest a handler's API call waits for its store's spent quota before the engine takes over.
const HANDLER_RATE_LIMIT_WAIT: Duration = Duration::from_millis(250);

/// Most stores remembered at once (installed or not).
const MAX_ENTRIES: usize = 100_000;

/// A cached tenant row (`None`: the store never installed the app).
type Entry = (Instant, Option<Arc<TenantRecord>>);

/// Tenants by store hash, read through from the [`Store`].
#[derive(Clone)]
pub struct TenantCache {
    store: Store,
    ttl: Duration,
    entries: Arc<RwLock<HashMap<String, Entry>>>,
    api: Option<Client>,
}

impl TenantCache {
    /// With `api`, the tenants handed to handlers carry their store's authenticated client.
    pub fn new(store: Store, ttl: Duration, api: Option<Client>) -> TenantCache {
        TenantCache {
            store,
            ttl,
            entries: Arc::default(),
            api,
        }
    }

    /// The handler context of an installed tenant.
    pub fn context(&self, store: &StoreHash, record: &TenantRecord) -> Tenant {
        self.context_with(store, record, None)
    }

    /// The handler context of an installed tenant for the handling engine: its API client gives
    /// up at once when the store's quota is spent, so the engine puts the event back and serves
    /// other stores meanwhile instead of holding a slot while the handler waits.
    pub(crate) fn context_for_handlers(&self, store: &StoreHash, record: &TenantRecord) -> Tenant {
        self.context_with(store, record, Some(HANDLER_RATE_LIMIT_WAIT))
    }

    fn context_with(
        &self,
        store: &StoreHash,
        record: &TenantRecord,
        max_rate_limit_wait: Option<Duration>,
    ) -> Tenant {
        match (&self.api, &record.access_token) {
            (Some(api), Some(token)) => {
                let client = api.store(store.as_str(), token.expose());
                let client = match max_rate_limit_wait {
                    Some(max) => client.with_max_rate_limit_wait(max),
                    None => client,
                };
                Tenant::with_api(store.clone(), record.generation, client)
            }
            _ => Tenant::new(store.clone(), record.generation),
        }
    }

    /// The stored tenant of a store, installed or not; `None` if it never installed the app.
    pub async fn get(&self, store_hash: &str) -> Result<Option<Arc<TenantRecord>>, StoreError> {
        if let Ok(entries) = self.entries.read() {
            if let Some((at, tenant)) = entries.get(store_hash) {
                if at.elapsed() < self.ttl {
                    return Ok(tenant.clone());
                }
            }
        }
        let tenant = self.store.tenant(store_hash).await?.map(Arc::new);
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_ENTRIES {
                // Callbacks naming random stores must not grow memory without bound: drop
                // what has expired, and everything if that is not enough.
                let ttl = self.ttl;
                entries.retain(|_, (at, _)| at.elapsed() < ttl);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(store_hash.to_owned(), (Instant::now(), tenant.clone()));
        }
        Ok(tenant)
    }

    /// Forgets a store's entry: call after install, uninstall or a secret rotation.
    pub fn invalidate(&self, store_hash: &str) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(store_hash);
        }
    }
}

impl TenantLookup for TenantCache {
    fn find<'a>(
        &'a self,
        store: &'a StoreHash,
    ) -> BoxFuture<'a, Result<Option<Tenant>, Box<dyn StdError + Send + Sync>>> {
        Box::pin(async move {
            let record = self.get(store.as_str()).await?;
            Ok(record
                .filter(|t| t.is_installed())
                .map(|t| self.context(store, &t)))
        })
    }
}
