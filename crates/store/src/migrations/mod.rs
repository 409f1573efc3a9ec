//! Schema migrations (sea-orm-migration). Run by [`crate::Store::connect`] and [`crate::migrate`].

use sea_orm_migration::prelude::*;

mod m20250601_000001_initial;
mod m20261129_000002_merchant_sessions;
mod m20261129_000003_inbox_handler_outcomes;
mod m20261129_000004_tenant_oauth_scopes;
mod m20261129_000005_inbox_partial_indexes;
mod m20261130_000006_inbox_key_hash_first;
mod m20261130_000007_inbox_pending_by_store;

/// Where the framework records which of its migrations ran: a table of its own, so an app's
/// own sea-orm migrator (with its `seaql_migrations`) never sees the framework's migrations as
/// "missing", nor the framework the app's.
pub const MIGRATIONS_TABLE: &str = "bcapp_migrations";

/// All migrations of the store, in order. Every table they create is named `bcapp_*`.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migration_table_name() -> DynIden {
        Alias::new(MIGRATIONS_TABLE).into_iden()
    }

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20250601_000001_initial::Migration),
            Box::new(m20261129_000002_merchant_sessions::Migration),
            Box::new(m20261129_000003_inbox_handler_outcomes::Migration),
            Box::new(m20261129_000004_tenant_oauth_scopes::Migration),
            Box::new(m20261129_000005_inbox_partial_indexes::Migration),
            Box::new(m20261130_000006_inbox_key_hash_first::Migration),
            Box::new(m20261130_000007_inbox_pending_by_store::Migration),
        ]
    }
}

/// What the migrations' tests share.
#[cfg(test)]
mod test_support {
    use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

    /// A SQLite index's columns, in order; none if it does not exist.
    pub(crate) async fn index_columns(db: &DatabaseConnection, index: &str) -> Vec<String> {
        db.query_all(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT name FROM pragma_index_info(?) ORDER BY seqno",
            [index.into()],
        ))
        .await
        .expect("index info")
        .iter()
        .map(|row| row.try_get_by_index(0).expect("a name"))
        .collect()
    }

    /// The `app.db` of `dir` on one connection, for migrating down and up: another connection
    /// of a pool could still hold the schema from before a drop and refuse a new index as
    /// existing.
    pub(crate) async fn one_connection(dir: &std::path::Path) -> DatabaseConnection {
        let url = format!("sqlite://{}", dir.join("app.db").display());
        let mut options = sea_orm::ConnectOptions::new(url);
        options.max_connections(1);
        sea_orm::Database::connect(options).await.expect("connect")
    }
}
