//! Initial schema: tenants, users, subscriptions, inbox.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20250601_000001_initial"
    }
}

#[derive(DeriveIden)]
enum Tenants {
    #[sea_orm(iden = "bcapp_tenants")]
    Table,
    StoreHash,
    Status,
    Generation,
    AccessTokenEnc,
    AccessTokenKeyId,
    Scopes,
    OwnerId,
    OwnerEmail,
    AccountUuid,
    InstalledAt,
    UninstalledAt,
    WebhookSecretEnc,
    WebhookSecretKeyId,
    PreviousWebhookSecretEnc,
    PreviousWebhookSecretKeyId,
    WebhookSecretRotatedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    #[sea_orm(iden = "bcapp_users")]
    Table,
    StoreHash,
    UserId,
    Email,
    IsOwner,
    AddedAt,
    RemovedAt,
}

#[derive(DeriveIden)]
enum Subscriptions {
    #[sea_orm(iden = "bcapp_subscriptions")]
    Table,
    StoreHash,
    Scope,
    HookId,
    Destination,
    IsActive,
    LastOutcome,
    LastError,
    LastReconciledAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Inbox {
    #[sea_orm(iden = "bcapp_inbox")]
    Table,
    Id,
    StoreHash,
    Scope,
    Hash,
    Body,
    ReceivedAt,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimOwner,
    ClaimExpiresAt,
    LastError,
    FinishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(
                        ColumnDef::new(Tenants::StoreHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Tenants::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Tenants::Generation).big_integer().not_null())
                    .col(ColumnDef::new(Tenants::AccessTokenEnc).blob().null())
                    .col(
                        ColumnDef::new(Tenants::AccessTokenKeyId)
                            .string_len(32)
                            .null(),
                    )
                    .col(ColumnDef::new(Tenants::Scopes).text().not_null())
                    .col(ColumnDef::new(Tenants::OwnerId).big_integer().not_null())
                    .col(ColumnDef::new(Tenants::OwnerEmail).string().not_null())
                    .col(ColumnDef::new(Tenants::AccountUuid).string_len(64).null())
                    .col(
                        ColumnDef::new(Tenants::InstalledAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Tenants::UninstalledAt).big_integer().null())
                    .col(ColumnDef::new(Tenants::WebhookSecretEnc).blob().null())
                    .col(
                        ColumnDef::new(Tenants::WebhookSecretKeyId)
                            .string_len(32)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Tenants::PreviousWebhookSecretEnc)
                            .blob()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Tenants::PreviousWebhookSecretKeyId)
                            .string_len(32)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Tenants::WebhookSecretRotatedAt)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(Tenants::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Tenants::UpdatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_bcapp_tenants_status")
                    .table(Tenants::Table)
                    .col(Tenants::Status)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(ColumnDef::new(Users::StoreHash).string_len(64).not_null())
                    .col(ColumnDef::new(Users::UserId).big_integer().not_null())
                    .col(ColumnDef::new(Users::Email).string().not_null())
                    .col(ColumnDef::new(Users::IsOwner).boolean().not_null())
                    .col(ColumnDef::new(Users::AddedAt).big_integer().not_null())
                    .col(ColumnDef::new(Users::RemovedAt).big_integer().null())
                    .primary_key(Index::create().col(Users::StoreHash).col(Users::UserId))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_bcapp_users_tenant")
                            .from(Users::Table, Users::StoreHash)
                            .to(Tenants::Table, Tenants::StoreHash)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Subscriptions::Table)
                    .col(
                        ColumnDef::new(Subscriptions::StoreHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Subscriptions::Scope)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Subscriptions::HookId).big_integer().null())
                    .col(ColumnDef::new(Subscriptions::Destination).text().not_null())
                    .col(ColumnDef::new(Subscriptions::IsActive).boolean().not_null())
                    .col(
                        ColumnDef::new(Subscriptions::LastOutcome)
                            .string_len(32)
                            .null(),
                    )
                    .col(ColumnDef::new(Subscriptions::LastError).text().null())
                    .col(
                        ColumnDef::new(Subscriptions::LastReconciledAt)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Subscriptions::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Subscriptions::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(Subscriptions::StoreHash)
                            .col(Subscriptions::Scope),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_bcapp_subscriptions_tenant")
                            .from(Subscriptions::Table, Subscriptions::StoreHash)
                            .to(Tenants::Table, Tenants::StoreHash)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Inbox::Table)
                    .col(
                        ColumnDef::new(Inbox::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Inbox::StoreHash).string_len(64).not_null())
                    .col(ColumnDef::new(Inbox::Scope).string_len(255).not_null())
                    .col(ColumnDef::new(Inbox::Hash).string_len(255).not_null())
                    .col(ColumnDef::new(Inbox::Body).blob().not_null())
                    .col(ColumnDef::new(Inbox::ReceivedAt).big_integer().not_null())
                    .col(ColumnDef::new(Inbox::Status).string_len(16).not_null())
                    .col(
                        ColumnDef::new(Inbox::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(Inbox::NextAttemptAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Inbox::ClaimOwner).string_len(255).null())
                    .col(ColumnDef::new(Inbox::ClaimExpiresAt).big_integer().null())
                    .col(ColumnDef::new(Inbox::LastError).text().null())
                    .col(ColumnDef::new(Inbox::FinishedAt).big_integer().null())
                    .to_owned(),
            )
            .await?;
        // De-duplication key; also what ON CONFLICT DO NOTHING targets.
        manager
            .create_index(
                Index::create()
                    .name("ux_bcapp_inbox_dedup")
                    .table(Inbox::Table)
                    .col(Inbox::StoreHash)
                    .col(Inbox::Scope)
                    .col(Inbox::Hash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Claim query: pending rows due by time, expired claims by expiry.
        manager
            .create_index(
                Index::create()
                    .name("ix_bcapp_inbox_status_next_attempt")
                    .table(Inbox::Table)
                    .col(Inbox::Status)
                    .col(Inbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_bcapp_inbox_status_claim_expires")
                    .table(Inbox::Table)
                    .col(Inbox::Status)
                    .col(Inbox::ClaimExpiresAt)
                    .to_owned(),
            )
            .await?;
        // Purge of done rows by age.
        manager
            .create_index(
                Index::create()
                    .name("ix_bcapp_inbox_status_received")
                    .table(Inbox::Table)
                    .col(Inbox::Status)
                    .col(Inbox::ReceivedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Inbox::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Subscriptions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Tenants::Table).to_owned())
            .await?;
        Ok(())
    }
}
