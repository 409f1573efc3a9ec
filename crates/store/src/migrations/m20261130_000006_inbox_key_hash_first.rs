//! The de-duplication key's index leads with the payload hash: `(hash, store_hash, scope)`
//! instead of `(store_hash, scope, hash)`.
//!
//! Every callback searches this index three times (the conflict check and the insert of the
//! new row, the settlement's new row version), and most of an app's callbacks share their
//! store and scope:
//! each key comparison then compared two equal strings before reaching the hash. The hash is
//! a SHA-1 that almost always differs from the first character, so with it first one
//! comparison usually decides. Same columns, so `ON CONFLICT (store_hash, scope, hash)` and the
//! uniqueness it enforces are unchanged.
//!
//! The index is rebuilt under the table's write lock: on a large inbox, callbacks wait (and past
//! the ingest timeout are answered 503, which BigCommerce retries) while it builds.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000006_inbox_key_hash_first"
    }
}

const NAME: &str = "ux_bcapp_inbox_dedup";

async fn replace(manager: &SchemaManager<'_>, columns: [Inbox; 3]) -> Result<(), DbErr> {
    manager
        .drop_index(Index::drop().name(NAME).table(Inbox::Table).to_owned())
        .await?;
    let mut index = Index::create();
    index.name(NAME).table(Inbox::Table).unique();
    for column in columns {
        index.col(column);
    }
    manager.create_index(index.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, [Inbox::Hash, Inbox::StoreHash, Inbox::Scope]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, [Inbox::StoreHash, Inbox::Scope, Inbox::Hash]).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Inbox {
    #[sea_orm(iden = "bcapp_inbox")]
    Table,
    StoreHash,
    Scope,
    Hash,
}

#[cfg(test)]
mod tests {
    use sea_orm_migration::MigratorTrait;

    use crate::migrations::test_support::{index_columns, one_connection};
    use crate::{InsertOutcome, NewInboxEvent};

    const KEY: &str = "ux_bcapp_inbox_dedup";

    #[tokio::test]
    async fn the_key_leads_with_the_hash_and_still_refuses_repeats() {
        let (dir, store) = crate::repo::sqlite_file_store().await;
        let db = store.connection();
        assert_eq!(
            index_columns(db, KEY).await,
            ["hash", "store_hash", "scope"]
        );
        let event = NewInboxEvent {
            store_hash: "abc123".into(),
            scope: "store/order/created".into(),
            hash: "9f2c".into(),
            body: b"{}".to_vec(),
        };
        assert!(matches!(
            store.inbox_insert(&event).await.expect("insert"),
            InsertOutcome::Inserted(_)
        ));
        assert_eq!(
            store.inbox_insert(&event).await.expect("insert"),
            InsertOutcome::Duplicate
        );

        store.close().await.expect("close");

        let db = &one_connection(dir.path()).await;
        // Down to before this migration (and the ones after it).
        crate::migrations::Migrator::down(db, Some(2))
            .await
            .expect("down");
        assert_eq!(
            index_columns(db, KEY).await,
            ["store_hash", "scope", "hash"]
        );
        crate::migrations::Migrator::up(db, None).await.expect("up");
        assert_eq!(
            index_columns(db, KEY).await,
            ["hash", "store_hash", "scope"]
        );
    }
}
