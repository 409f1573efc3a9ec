//! The inbox's status indexes become partial: each holds only the rows its query looks for.
//!
//! Before, every row had an entry in three `(status, ...)` indexes, and every change of status
//! (received, claimed, done) wrote a new entry in each. Most rows are `done`, and no query
//! looks for done rows by index except the purge, which now walks the primary key in arrival
//! order. Now a fresh event writes entries in the primary key, the de-duplication key and the
//! claimed index, and its settlement in the first two only: half the index writes per event.
//!
//! On PostgreSQL the table is also vacuumed after 1% of its rows changed (plus 10,000) instead
//! of the default 20%: it keeps days of done rows, and every event leaves a dead entry in the
//! claimed index until a vacuum, which the queries over claimed rows read through.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000005_inbox_partial_indexes"
    }
}

/// The replaced indexes, by name.
const OLD: [&str; 3] = [
    "ix_bcapp_inbox_status_next_attempt",
    "ix_bcapp_inbox_status_claim_expires",
    "ix_bcapp_inbox_status_received",
];

/// The partial indexes: name, columns, the status they hold. Same syntax on both backends.
const NEW: [(&str, &str, &str); 3] = [
    // Claims of pending rows, earliest due first.
    ("ix_bcapp_inbox_pending", "next_attempt_at, id", "pending"),
    // Claims of lapsed leases; a process's own claims (extension, release).
    ("ix_bcapp_inbox_claimed", "claim_expires_at", "claimed"),
    // Dead letters, oldest first.
    ("ix_bcapp_inbox_dead", "id", "dead"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for name in OLD {
            manager
                .drop_index(Index::drop().name(name).table(Inbox::Table).to_owned())
                .await?;
        }
        for (name, columns, status) in NEW {
            db.execute_unprepared(&format!(
                "CREATE INDEX {name} ON bcapp_inbox ({columns}) WHERE status = '{status}'"
            ))
            .await?;
        }
        if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
            db.execute_unprepared(
                "ALTER TABLE bcapp_inbox SET (autovacuum_vacuum_scale_factor = 0.01, \
                 autovacuum_vacuum_threshold = 10000)",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _, _) in NEW {
            manager
                .drop_index(Index::drop().name(name).table(Inbox::Table).to_owned())
                .await?;
        }
        let old = [
            (OLD[0], Inbox::NextAttemptAt),
            (OLD[1], Inbox::ClaimExpiresAt),
            (OLD[2], Inbox::ReceivedAt),
        ];
        for (name, column) in old {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Inbox::Table)
                        .col(Inbox::Status)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Inbox {
    #[sea_orm(iden = "bcapp_inbox")]
    Table,
    Status,
    NextAttemptAt,
    ClaimExpiresAt,
    ReceivedAt,
}
