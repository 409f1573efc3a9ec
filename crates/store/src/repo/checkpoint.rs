//! SQLite checkpoints away from the inbox's writer.
//!
//! In WAL mode a commit appends pages to the log, and a checkpoint copies them back into the
//! database file and syncs both files to disk. SQLite's automatic checkpoint runs in whichever
//! connection's commit crosses 1,000 log pages (4 MiB): under load that is the inbox's writer, a
//! few times a second, and every callback waiting for the group commit waits for the syncs too.
//! Measured with the app alone under wrk on a 2-core machine whose disk syncs in 0.3 to 500 ms:
//! acknowledgement p99 of 11 to 154 ms with it, 9.7 to 12.9 ms with this task (BENCHMARKS.md).
//!
//! So the writer's connection never checkpoints (`wal_autocheckpoint=0`) and this task does,
//! from a connection of its own. Its passive checkpoints never block the writer. They cannot
//! restart the log while the writer keeps appending to it, though, so once the log holds
//! [`RESTART_AT_PAGES`] the task runs one checkpoint that waits for the writer's current
//! transaction and restarts the log: one pause of the writer per 64 MiB of log (every few
//! seconds at full load), instead of one per 4 MiB, and most pages are already copied by then.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use tokio::task::AbortHandle;

/// How often the log is copied back into the database file.
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Log pages (64 MiB at 4 KiB, the `journal_size_limit` the log file is cut back to) from which
/// the checkpointer restarts the log, pausing the writer once.
const RESTART_AT_PAGES: i64 = 16 * 1024;

/// Stops the checkpointer when the last handle of the store goes.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    task: AbortHandle,
    db: DatabaseConnection,
}

impl Checkpointer {
    /// Starts checkpointing through `db`, a pool of its own.
    pub(crate) fn start(db: DatabaseConnection) -> Checkpointer {
        let task = tokio::spawn(run(db.clone())).abort_handle();
        Checkpointer { task, db }
    }

    /// Stops the task and closes its connection.
    pub(crate) async fn stop(&self) -> Result<(), DbErr> {
        self.task.abort();
        self.db.clone().close().await
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(db: DatabaseConnection) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warned = false;
    let mut grown = false;
    // A restart that found readers in the way waits longer before the next try: each try holds
    // the writer up to the connection's busy timeout.
    let mut restart_after = tokio::time::Instant::now();
    let mut restart_backoff = CHECKPOINT_EVERY;
    loop {
        tick.tick().await;
        let done = match checkpoint(&db, "PASSIVE").await {
            Ok(pass)
                if pass.log >= RESTART_AT_PAGES && tokio::time::Instant::now() >= restart_after =>
            {
                let restart = checkpoint(&db, "RESTART").await;
                if matches!(restart, Ok(Pass { busy: true, .. })) {
                    restart_backoff = (restart_backoff * 2).min(MAX_RESTART_BACKOFF);
                    tracing::debug!(pages = pass.log, retry_in = ?restart_backoff, "SQLite's write-ahead log not restarted: readers still use it");
                } else {
                    restart_backoff = CHECKPOINT_EVERY;
                }
                restart_after = tokio::time::Instant::now() + restart_backoff;
                restart
            }
            done => done,
        };
        match done {
            Ok(pass) => {
                warned = false;
                if pass.log >= GROWN_PAGES && !grown {
                    tracing::warn!(pages = pass.log, "SQLite's write-ahead log keeps growing: readers hold it (a long query?) and it cannot be restarted");
                }
                grown = pass.log >= GROWN_PAGES;
            }
            Err(DbErr::ConnectionAcquire(_)) if db.ping().await.is_err() => return,
            Err(e) => {
                // A checkpoint left undone is done by the next one; one warning per streak.
                if !warned {
                    tracing::warn!(error = %e, "SQLite checkpoint failed; trying again");
                    warned = true;
                }
            }
        }
    }
}

/// Log pages (256 MiB) from which a log that restarts keep missing is reported.
const GROWN_PAGES: i64 = 4 * RESTART_AT_PAGES;

/// Longest wait between two restarts that found readers in the way.
const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(8);

/// What one checkpoint saw.
struct Pass {
    /// It could not finish: a writer or readers were in the way.
    busy: bool,
    /// Pages in the log.
    log: i64,
}

async fn checkpoint(db: &DatabaseConnection, mode: &str) -> Result<Pass, DbErr> {
    let row = db
        .query_one(Statement::from_string(
            DbBackend::Sqlite,
            format!("PRAGMA wal_checkpoint({mode})"),
        ))
        .await?;
    // (busy, pages in the log, pages copied); -1 for both when the database is not in WAL mode.
    let Some(row) = row else {
        return Ok(Pass {
            busy: false,
            log: 0,
        });
    };
    Ok(Pass {
        busy: row.try_get_by_index::<i64>(0)? != 0,
        log: row.try_get_by_index(1)?,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use sea_orm::ConnectionTrait;

    use crate::{KeyRing, NewInboxEvent, Store, StoreConfig};

    fn event(i: usize) -> NewInboxEvent {
        NewInboxEvent {
            store_hash: "abc123".into(),
            scope: "store/order/created".into(),
            hash: format!("{i:040}"),
            body: vec![b'x'; 2048],
        }
    }

    async fn pragma(db: &sea_orm::DatabaseConnection, name: &str) -> i64 {
        db.query_one(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            format!("PRAGMA {name}"),
        ))
        .await
        .expect("pragma")
        .expect("a row")
        .try_get_by_index(0)
        .expect("a number")
    }

    /// The writer never checkpoints; the checkpointer copies its pages into the database file.
    #[tokio::test]
    async fn the_log_is_copied_back_without_the_writer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("app.db");
        let url = format!("sqlite://{}", file.display());
        let store = Store::connect(&StoreConfig::new(
            &url,
            KeyRing::generate("k").expect("key"),
        ))
        .await
        .expect("connect");
        assert_eq!(pragma(&store.inbox_db, "wal_autocheckpoint").await, 0);
        assert_eq!(pragma(&store.db, "wal_autocheckpoint").await, 1000);

        let before = std::fs::metadata(&file).expect("db file").len();
        // 4 MiB of bodies: more than SQLite's automatic checkpoint would let the log hold.
        let events: Vec<NewInboxEvent> = (0..2_000).map(event).collect();
        for chunk in events.chunks(100) {
            store.inbox_insert_many(chunk).await.expect("insert");
        }
        let deadline = Instant::now() + super::CHECKPOINT_EVERY * 40;
        let grown = loop {
            let len = std::fs::metadata(&file).expect("db file").len();
            if len > before + 4 * 1024 * 1024 || Instant::now() > deadline {
                break len;
            }
            tokio::time::sleep(super::CHECKPOINT_EVERY).await;
        };
        assert!(
            grown > before + 4 * 1024 * 1024,
            "the database file holds the rows: {before} -> {grown} bytes"
        );
        store.close().await.expect("close");
    }
}
