//! `sessions`: a merchant's session in the app's UI, opened after a verified `/load` (or the
//! install callback) and bound to the store, the user and the install generation. Only a hash
//! of the token is stored.

use sea_orm::entity::prelude::*;

/// A `sessions` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bcapp_sessions")]
pub struct Model {
    /// SHA-256 of the session token, lowercase hex.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// Store the session is for.
    pub store_hash: String,
    /// BigCommerce user id.
    pub user_id: i64,
    /// The user's email, from the signed payload.
    pub email: String,
    /// Whether the user is the store owner.
    pub is_owner: bool,
    /// The install generation the session belongs to; a re-install ends it.
    pub generation: i64,
    /// The channel the app was opened for, when BigCommerce said.
    pub channel_id: Option<i64>,
    /// When the session was opened.
    pub created_at: i64,
    /// When it stops being accepted.
    pub expires_at: i64,
}

/// Relations of `sessions`.
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
