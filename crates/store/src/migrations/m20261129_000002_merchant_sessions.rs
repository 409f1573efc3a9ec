//! The merchant's side: sessions opened by a verified `/load` (or install), and the signed
//! payloads already used (each `jti` is accepted once).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000002_merchant_sessions"
    }
}

#[derive(DeriveIden)]
enum Tenants {
    #[sea_orm(iden = "bcapp_tenants")]
    Table,
    StoreHash,
}

#[derive(DeriveIden)]
enum Sessions {
    #[sea_orm(iden = "bcapp_sessions")]
    Table,
    TokenHash,
    StoreHash,
    UserId,
    Email,
    IsOwner,
    Generation,
    ChannelId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum SignedPayloads {
    #[sea_orm(iden = "bcapp_signed_payloads")]
    Table,
    Jti,
    StoreHash,
    Callback,
    UsedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    // SHA-256 of the token, hex: a database dump holds no usable session.
                    .col(
                        ColumnDef::new(Sessions::TokenHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Sessions::StoreHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Sessions::UserId).big_integer().not_null())
                    .col(ColumnDef::new(Sessions::Email).string().not_null())
                    .col(ColumnDef::new(Sessions::IsOwner).boolean().not_null())
                    .col(
                        ColumnDef::new(Sessions::Generation)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Sessions::ChannelId).big_integer().null())
                    .col(ColumnDef::new(Sessions::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Sessions::ExpiresAt).big_integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_bcapp_sessions_tenant")
                            .from(Sessions::Table, Sessions::StoreHash)
                            .to(Tenants::Table, Tenants::StoreHash)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Ending a removed user's sessions.
        manager
            .create_index(
                Index::create()
                    .name("ix_bcapp_sessions_store_user")
                    .table(Sessions::Table)
                    .col(Sessions::StoreHash)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_bcapp_sessions_expires")
                    .table(Sessions::Table)
                    .col(Sessions::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SignedPayloads::Table)
                    .col(
                        ColumnDef::new(SignedPayloads::Jti)
                            .string_len(255)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(SignedPayloads::StoreHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SignedPayloads::Callback)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SignedPayloads::UsedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(SignedPayloads::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_bcapp_signed_payloads_expires")
                    .table(SignedPayloads::Table)
                    .col(SignedPayloads::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SignedPayloads::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await?;
        Ok(())
    }
}
