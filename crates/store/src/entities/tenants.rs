//! `tenants`: one row per store that ever installed the app.
//!
//! The access token and webhook secrets are AES-256-GCM ciphertexts (`*_enc`: nonce ||
//! ciphertext || tag) with the id of the key that sealed them (`*_key_id`); see
//! [`crate::KeyRing`]. They are `NULL` while the tenant is uninstalled.

use sea_orm::entity::prelude::*;

/// Install state of a tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum TenantStatus {
    /// The app is installed; the token is valid.
    #[sea_orm(string_value = "installed")]
    Installed,
    /// The app was uninstalled; token and secrets were dropped.
    #[sea_orm(string_value = "uninstalled")]
    Uninstalled,
}

/// A `tenants` row (ciphertexts, not the decrypted view: see [`crate::TenantRecord`]).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bcapp_tenants")]
pub struct Model {
    /// BigCommerce store hash (`stores/{hash}` without the prefix).
    #[sea_orm(primary_key, auto_increment = false)]
    pub store_hash: String,
    /// Installed or uninstalled.
    pub status: TenantStatus,
    /// Incremented by every install; an uninstall applies only to the generation it saw.
    pub generation: i64,
    /// Encrypted OAuth access token.
    pub access_token_enc: Option<Vec<u8>>,
    /// Key id of `access_token_enc`.
    pub access_token_key_id: Option<String>,
    /// Granted OAuth scopes, space-separated as BigCommerce sends them.
    pub oauth_scopes: String,
    /// Store owner's BigCommerce user id.
    pub owner_id: i64,
    /// Store owner's email.
    pub owner_email: String,
    /// Developer Portal account that registered the app.
    pub account_uuid: Option<String>,
    /// Time of the latest install.
    pub installed_at: i64,
    /// Time of the uninstall, while uninstalled.
    pub uninstalled_at: Option<i64>,
    /// Encrypted per-store webhook secret (sent by BigCommerce as a header on callbacks).
    pub webhook_secret_enc: Option<Vec<u8>>,
    /// Key id of `webhook_secret_enc`.
    pub webhook_secret_key_id: Option<String>,
    /// The secret before the last rotation, accepted during a rotation window.
    pub previous_webhook_secret_enc: Option<Vec<u8>>,
    /// Key id of `previous_webhook_secret_enc`.
    pub previous_webhook_secret_key_id: Option<String>,
    /// When the current secret replaced the previous one.
    pub webhook_secret_rotated_at: Option<i64>,
    /// First install.
    pub created_at: i64,
    /// Last change.
    pub updated_at: i64,
}

/// Relations of `tenants`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Users of the store.
    #[sea_orm(has_many = "super::users::Entity")]
    Users,
    /// Webhook subscriptions of the store.
    #[sea_orm(has_many = "super::subscriptions::Entity")]
    Subscriptions,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Users.def()
    }
}

impl Related<super::subscriptions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Subscriptions.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
