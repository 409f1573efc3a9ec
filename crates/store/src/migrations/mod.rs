//! Schema migrations (sea-orm-migration). Run by [`crate::Store::connect`] and [`crate::migrate`].

use sea_orm_migration::prelude::*;

mod m20250601_000001_initial;
mod m20261129_000002_merchant_sessions;
mod m20261129_000003_inbox_handler_outcomes;

/// All migrations of the store, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20250601_000001_initial::Migration),
            Box::new(m20261129_000002_merchant_sessions::Migration),
            Box::new(m20261129_000003_inbox_handler_outcomes::Migration),
        ]
    }
}
