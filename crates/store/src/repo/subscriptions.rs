//! Webhook subscriptions per store and concrete scope, with reconcile outcomes.

use std::fmt;
use std::str::FromStr;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use time::OffsetDateTime;

use super::{from_millis, missing_tenant_or, opt_from_millis, Store};
use crate::entities::subscriptions;
use crate::error::{Result, StoreError};

/// What the last reconcile did (or failed to do) for a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReconcileOutcome {
    /// The hook was missing and was created.
    Created,
    /// BigCommerce had deactivated the hook; it was re-activated.
    Reactivated,
    /// Destination or headers were fixed.
    Updated,
    /// Already as desired.
    Unchanged,
    /// No longer wanted; deleted from BigCommerce.
    Deleted,
    /// The reconcile failed; see the recorded error.
    Failed,
}

impl ReconcileOutcome {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ReconcileOutcome::Created => "created",
            ReconcileOutcome::Reactivated => "reactivated",
            ReconcileOutcome::Updated => "updated",
            ReconcileOutcome::Unchanged => "unchanged",
            ReconcileOutcome::Deleted => "deleted",
            ReconcileOutcome::Failed => "failed",
        }
    }
}

impl fmt::Display for ReconcileOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReconcileOutcome {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "created" => ReconcileOutcome::Created,
            "reactivated" => ReconcileOutcome::Reactivated,
            "updated" => ReconcileOutcome::Updated,
            "unchanged" => ReconcileOutcome::Unchanged,
            "deleted" => ReconcileOutcome::Deleted,
            "failed" => ReconcileOutcome::Failed,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown reconcile outcome `{other}`"
                )))
            }
        })
    }
}

/// The desired or observed state of one hook, as written by reconcile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionUpsert {
    /// Concrete scope.
    pub scope: String,
    /// BigCommerce hook id, once created.
    pub hook_id: Option<i64>,
    /// Callback URL.
    pub destination: String,
    /// Whether the hook is active on BigCommerce.
    pub is_active: bool,
}

/// A recorded subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// Store.
    pub store_hash: String,
    /// Concrete scope.
    pub scope: String,
    /// BigCommerce hook id, once created.
    pub hook_id: Option<i64>,
    /// Callback URL.
    pub destination: String,
    /// Whether the hook is active on BigCommerce.
    pub is_active: bool,
    /// Outcome of the last reconcile.
    pub last_outcome: Option<ReconcileOutcome>,
    /// Error of the last reconcile.
    pub last_error: Option<String>,
    /// Time of the last reconcile.
    pub last_reconciled_at: Option<OffsetDateTime>,
    /// First recorded.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

impl TryFrom<subscriptions::Model> for SubscriptionRecord {
    type Error = StoreError;

    fn try_from(m: subscriptions::Model) -> Result<Self> {
        Ok(SubscriptionRecord {
            last_outcome: m.last_outcome.as_deref().map(str::parse).transpose()?,
            last_reconciled_at: opt_from_millis(m.last_reconciled_at)?,
            created_at: from_millis(m.created_at)?,
            updated_at: from_millis(m.updated_at)?,
            store_hash: m.store_hash,
            scope: m.scope,
            hook_id: m.hook_id,
            destination: m.destination,
            is_active: m.is_active,
            last_error: m.last_error,
        })
    }
}

impl Store {
    /// Creates or updates the subscription of `store_hash` for `sub.scope` (hook id,
    /// destination, active flag); the last reconcile outcome is kept. `NotFound` for an
    /// unknown store.
    pub async fn subscription_upsert(
        &self,
        store_hash: &str,
        sub: &SubscriptionUpsert,
    ) -> Result<SubscriptionRecord> {
        let now = self.now_ms();
        let row = subscriptions::Entity::find()
            .from_raw_sql(self.stmt(
                "INSERT INTO bcapp_subscriptions (store_hash, scope, hook_id, destination, is_active, \
                 last_outcome, last_error, last_reconciled_at, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, ?, ?) \
                 ON CONFLICT (store_hash, scope) DO UPDATE SET \
                   hook_id = excluded.hook_id, \
                   destination = excluded.destination, \
                   is_active = excluded.is_active, \
                   updated_at = excluded.updated_at \
                 RETURNING *",
                vec![
                    store_hash.into(),
                    sub.scope.clone().into(),
                    sub.hook_id.into(),
                    sub.destination.clone().into(),
                    sub.is_active.into(),
                    now.into(),
                    now.into(),
                ],
            ))
            .one(&self.db)
            .await
            .map_err(|e| missing_tenant_or(store_hash, e))?
            .ok_or_else(|| StoreError::Corrupt("subscription upsert returned no row".into()))?;
        row.try_into()
    }

    /// The subscriptions of a store, by scope.
    pub async fn subscriptions(&self, store_hash: &str) -> Result<Vec<SubscriptionRecord>> {
        subscriptions::Entity::find()
            .filter(subscriptions::Column::StoreHash.eq(store_hash))
            .order_by_asc(subscriptions::Column::Scope)
            .all(&self.db)
            .await?
            .into_iter()
            .map(SubscriptionRecord::try_from)
            .collect()
    }

    /// Every subscription whose last reconcile failed, across stores (CLI, metrics).
    pub async fn failed_subscriptions(&self) -> Result<Vec<SubscriptionRecord>> {
        subscriptions::Entity::find()
            .filter(subscriptions::Column::LastOutcome.eq(ReconcileOutcome::Failed.as_str()))
            .order_by_asc(subscriptions::Column::StoreHash)
            .order_by_asc(subscriptions::Column::Scope)
            .all(&self.db)
            .await?
            .into_iter()
            .map(SubscriptionRecord::try_from)
            .collect()
    }

    /// Deletes one subscription record. Returns whether it existed.
    pub async fn subscription_delete(&self, store_hash: &str, scope: &str) -> Result<bool> {
        let res = subscriptions::Entity::delete_many()
            .filter(subscriptions::Column::StoreHash.eq(store_hash))
            .filter(subscriptions::Column::Scope.eq(scope))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected == 1)
    }

    /// Forgets every subscription of a store (BigCommerce deleted the hooks on uninstall).
    /// Returns how many were forgotten.
    pub async fn subscriptions_forget_store(&self, store_hash: &str) -> Result<u64> {
        let res = subscriptions::Entity::delete_many()
            .filter(subscriptions::Column::StoreHash.eq(store_hash))
            .exec(&self.db)
            .await?;
        Ok(res.rows_affected)
    }

    /// Records the outcome of reconciling one subscription (`error` for failures; cleared
    /// otherwise). Returns `false` if no such subscription is recorded: upsert it first.
    pub async fn subscription_record_outcome(
        &self,
        store_hash: &str,
        scope: &str,
        outcome: ReconcileOutcome,
        error: Option<&str>,
    ) -> Result<bool> {
        let now = self.now_ms();
        let res = self
            .db
            .execute(self.stmt(
                "UPDATE bcapp_subscriptions SET last_outcome = ?, last_error = ?, \
                 last_reconciled_at = ?, updated_at = ? WHERE store_hash = ? AND scope = ?",
                vec![
                    outcome.as_str().into(),
                    error.map(str::to_owned).into(),
                    now.into(),
                    now.into(),
                    store_hash.into(),
                    scope.into(),
                ],
            ))
            .await?;
        Ok(res.rows_affected() == 1)
    }
}
