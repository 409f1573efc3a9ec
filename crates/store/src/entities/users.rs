//! `users`: control-panel users of a store, for multi-user apps. Removal is a soft delete
//! (`removed_at`) so a re-added user keeps their `added_at` history.

use sea_orm::entity::prelude::*;

/// A `users` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bcapp_users")]
pub struct Model {
    /// Store the user belongs to.
    #[sea_orm(primary_key, auto_increment = false)]
    pub store_hash: String,
    /// BigCommerce user id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// Email as last seen in a signed payload.
    pub email: String,
    /// Whether this user is the store owner.
    pub is_owner: bool,
    /// When the user was (last) added.
    pub added_at: i64,
    /// When the owner revoked the user's access (`remove_user` callback); `NULL` while active.
    pub removed_at: Option<i64>,
}

/// Relations of `users`.
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
