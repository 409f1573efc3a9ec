//! `signed_payloads`: the `jti` of every signed payload (`signed_payload_jwt`) the app has
//! accepted, kept until the token expires, so that a replayed token is refused on any instance.

use sea_orm::entity::prelude::*;

/// A `signed_payloads` row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bcapp_signed_payloads")]
pub struct Model {
    /// The token's unique id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub jti: String,
    /// The store named by the token's `sub`.
    pub store_hash: String,
    /// The callback that used it: `load`, `uninstall` or `remove_user`.
    pub callback: String,
    /// When it was used.
    pub used_at: i64,
    /// The token's expiry; the row can go after it.
    pub expires_at: i64,
}

/// `signed_payloads` has no relations (a token may name a store the app does not know).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
