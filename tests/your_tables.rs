//! An app's own tables and sea-orm migrator beside the framework's, in one database: either
//! order, again and again, with the table and migration names a user is likely to pick
//! (`users`, `inbox`, `m20250601_000001_initial`). SQLite always, PostgreSQL when
//! `TEST_DATABASE_URL` is set.

mod support;

use bigcommerce_app_store::{KeyRing, Store, StoreConfig};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_migration::prelude::*;

/// The app's migrator: sea-orm's defaults, so its history is in `seaql_migrations`.
struct AppMigrator;

#[async_trait::async_trait]
impl MigratorTrait for AppMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(Initial)]
    }
}

/// Same name as the framework's first migration, on purpose.
struct Initial;

impl MigrationName for Initial {
    fn name(&self) -> &str {
        "m20250601_000001_initial"
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Name,
}

#[derive(DeriveIden)]
enum Inbox {
    Table,
    Id,
    Subject,
}

#[async_trait::async_trait]
impl MigrationTrait for Initial {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::Id).integer().not_null().primary_key())
                    .col(ColumnDef::new(Users::Name).string().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Inbox::Table)
                    .col(ColumnDef::new(Inbox::Id).integer().not_null().primary_key())
                    .col(ColumnDef::new(Inbox::Subject).string().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Inbox::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

async fn framework(url: &str, keys: &KeyRing) -> Store {
    Store::connect(&StoreConfig::new(url, keys.clone()))
        .await
        .expect("the framework's store connects and migrates beside the app's tables")
}

async fn app(db: &DatabaseConnection) {
    AppMigrator::up(db, None)
        .await
        .expect("the app's migrator runs beside the framework's tables");
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect(sql)
        .expect("one row");
    row.try_get_by_index::<i64>(0).expect("a count")
}

/// Both migrators, `app_first` or not, then both again (a restart), then checks that each
/// history holds only its own migrations and both sets of tables work.
async fn both_orders(url: &str, app_first: bool) {
    let keys = KeyRing::generate("k1").expect("key");
    let db = sea_orm::Database::connect(url).await.expect("connect");
    if app_first {
        app(&db).await;
    }
    let store = framework(url, &keys).await;
    if !app_first {
        app(&db).await;
    }
    drop(store);
    app(&db).await;
    let store = framework(url, &keys).await;

    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM seaql_migrations").await,
        1,
        "the app's history holds only the app's migration"
    );
    assert!(
        count(&db, "SELECT COUNT(*) FROM bcapp_migrations").await >= 3,
        "the framework's history is its own"
    );
    db.execute_unprepared("INSERT INTO users (id, name) VALUES (1, 'ada')")
        .await
        .expect("the app's own `users` table");
    db.execute_unprepared("INSERT INTO inbox (id, subject) VALUES (1, 'hello')")
        .await
        .expect("the app's own `inbox` table");
    support::install(&store, "mystore").await;
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM bcapp_tenants").await,
        1,
        "the framework's tenants are in its own table"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM users").await, 1);
}

#[tokio::test]
async fn own_migrator_beside_the_frameworks_on_sqlite() {
    for app_first in [true, false] {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/app.db?mode=rwc", dir.path().display());
        both_orders(&url, app_first).await;
    }
}

#[tokio::test]
async fn own_migrator_beside_the_frameworks_on_postgres() {
    for app_first in [true, false] {
        let Some(pg) = support::PgDatabase::create().await else {
            return;
        };
        both_orders(&pg.url(None), app_first).await;
        pg.drop_database().await;
    }
}
