//! The tenants' granted OAuth scopes get a name of their own (`oauth_scopes`), apart from the
//! webhook scopes of the subscriptions table.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000004_tenant_oauth_scopes"
    }
}

#[derive(DeriveIden)]
enum Tenants {
    #[sea_orm(iden = "bcapp_tenants")]
    Table,
    Scopes,
    OauthScopes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .rename_column(Tenants::Scopes, Tenants::OauthScopes)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .rename_column(Tenants::OauthScopes, Tenants::Scopes)
                    .to_owned(),
            )
            .await
    }
}
