//! `subscriptions`: the webhooks the app registered (or tried to register) per store and
//! concrete scope, with the outcome of the last reconcile.

use sea_orm::entity::prelude::*;

/// A `subscriptions` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bcapp_subscriptions")]
pub struct Model {
    /// Store.
    #[sea_orm(primary_key, auto_increment = false)]
    pub store_hash: String,
    /// Concrete BigCommerce scope, e.g. `store/channel/1/order/created` or `store/order/*`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope: String,
    /// BigCommerce hook id; `NULL` if creating the hook has not succeeded yet.
    pub hook_id: Option<i64>,
    /// Callback URL registered with the hook.
    pub destination: String,
    /// Whether BigCommerce reports the hook as active.
    pub is_active: bool,
    /// Outcome of the last reconcile (see [`crate::ReconcileOutcome`]).
    pub last_outcome: Option<String>,
    /// Error of the last reconcile, if it failed.
    pub last_error: Option<String>,
    /// When the last reconcile touched this subscription.
    pub last_reconciled_at: Option<i64>,
    /// First recorded.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// Relations of `subscriptions`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The store.
    #[sea_orm(
        belongs_to = "super::tenants::Entity",
        from = "Column::StoreHash",
        to = "super::tenants::Column::StoreHash"
    )]
    Tenant,
}

impl Related<super::tenants::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tenant.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
