//! Outcomes per handler: the handlers of an event that already succeeded, so a retry runs only
//! the ones that failed.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000003_inbox_handler_outcomes"
    }
}

#[derive(DeriveIden)]
enum Inbox {
    #[sea_orm(iden = "bcapp_inbox")]
    Table,
    DoneHandlers,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Inbox::Table)
                    .add_column(ColumnDef::new(Inbox::DoneHandlers).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Inbox::Table)
                    .drop_column(Inbox::DoneHandlers)
                    .to_owned(),
            )
            .await
    }
}
