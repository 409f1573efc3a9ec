//! Durable state of a bigcommerce-app: tenants (with their OAuth token and webhook secrets
//! encrypted at rest), users, webhook subscriptions and the webhook inbox, on SQLite (the
//! embedded default) or PostgreSQL (production, several instances), through sea-orm.
//!
//! ```no_run
//! # async fn demo() -> Result<(), bigcommerce_app_store::StoreError> {
//! use bigcommerce_app_store::{Store, StoreConfig};
//! let cfg = StoreConfig::from_env()?; // DATABASE_URL, BCAPP_ENCRYPTION_KEY, ...
//! let store = Store::connect(&cfg).await?; // runs pending migrations
//! for tenant in store.installed_tenants().await? {
//!     println!("{} generation {}", tenant.store_hash, tenant.generation);
//! }
//! # Ok(()) }
//! ```
//!
//! * Configuration and environment variables: [`StoreConfig`].
//! * Encryption at rest, key ids and rotation: [`KeyRing`].
//! * Tables: [`entities`]; schema: [`Migrator`].
//! * Errors: [`StoreError`]; [`StoreError::is_unavailable`] is what maps to HTTP 503.

mod clock;
mod config;
mod crypto;
pub mod entities;
pub mod env_file;
mod error;
mod migrations;
mod repo;

pub use bigcommerce_app_core::SecretString;
pub use clock::{Clock, ManualClock};
pub use config::{redact_url, sqlite_file_path, Backend, StoreConfig, DEFAULT_DATA_DIR};
pub use crypto::{KeyRing, DEV_KEY_FILE};
pub use entities::inbox::InboxStatus;
pub use entities::tenants::TenantStatus;
pub use error::{Result, StoreError};
pub use migrations::{Migrator, MIGRATIONS_TABLE};
pub use repo::{
    migrate, migrate_connection, Claim, Due, InboxCounts, InboxEvent, InsertOutcome, Install,
    NewInboxEvent, NewSession, ReconcileOutcome, Session, SessionLookup, Settlement, Store,
    SubscriptionRecord, SubscriptionUpsert, TenantRecord, User, DEFAULT_INBOX_RETENTION,
};
