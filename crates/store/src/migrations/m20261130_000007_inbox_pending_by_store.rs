//! SQLite: an index of pending rows by store, `(store_hash, next_attempt_at, id)`, for the
//! claims that leave out the stores already holding their share of the handlers.
//!
//! Those claims looked for due rows of the other stores in `ix_bcapp_inbox_pending`, ordered by
//! due time, reading the table row of every pending row to check its store. Under a one-store
//! flood of 600,000 stored events that read went through all of them to find nothing, 25 to
//! 200 ms and growing with the backlog; it also kept the write-ahead log from starting over
//! (a restart waits for readers), which then grew past a GiB. With the store first, each run of
//! stores between two left out is one range of this index.
//!
//! PostgreSQL claims with one locking statement per kind of due row, which does not use it, so
//! it is not created there.
//!
//! Building it reads the pending rows only, but all of them: with a large backlog the start-up
//! that migrates takes longer by that much (and an app already running while `bcapp migrate`
//! builds it waits for the table's write lock meanwhile).

use sea_orm::DbBackend;
use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000007_inbox_pending_by_store"
    }
}

const NAME: &str = "ix_bcapp_inbox_pending_store";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX {NAME} ON bcapp_inbox (store_hash, next_attempt_at, id) \
                 WHERE status = 'pending'"
            ))
            .await
            .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP INDEX {NAME}"))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use sea_orm_migration::MigratorTrait;

    use crate::migrations::test_support::{index_columns, one_connection};

    #[tokio::test]
    async fn the_index_comes_and_goes_with_the_migration() {
        let (dir, store) = crate::repo::sqlite_file_store().await;
        let columns = ["store_hash", "next_attempt_at", "id"];
        assert_eq!(
            index_columns(store.connection(), super::NAME).await,
            columns
        );
        store.close().await.expect("close");

        let db = &one_connection(dir.path()).await;
        crate::migrations::Migrator::down(db, Some(1))
            .await
            .expect("down");
        assert!(index_columns(db, super::NAME).await.is_empty());
        crate::migrations::Migrator::up(db, None).await.expect("up");
        assert_eq!(index_columns(db, super::NAME).await, columns);
    }
}
