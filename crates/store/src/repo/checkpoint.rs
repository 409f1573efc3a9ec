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
//! from a connection of its own. Its passive checkpoints never block the writer, but while the
//! writer keeps appending they cannot start the log over. So once the log holds
//! [`RESTART_AT_PAGES`], after passes of its own that leave little to copy
//! ([`CATCH_UP_PAGES`]), the task has the writer's thread restart the log between two group
//! commits: it copies the pages appended since, syncs, and waits at most [`READER_WAIT`] for
//! readers of the old log. One pause of the writer per 256 MiB of log.
//! The same restart from the task's own connection paused the writer longer: it had to wait for
//! a gap between the writer's transactions, and waited up to 100 ms for readers while holding
//! the writer (acknowledgement p99 of 20 to 80 ms with a growing backlog, against 6 to 7 ms with
//! no restart at all; BENCHMARKS.md).
//!
//! SQLite syncs the database file only in a checkpoint that copies the whole log: under load,
//! only in the restart. So the restart's sync wrote every page the passes had copied since the
//! last restart, 22 to 34 ms of the writer's pause, measured. The catch-up passes before a
//! restart sync the database file themselves, and the restart's sync writes little. (Syncing
//! after every pass wrote 10% more per callback: a page copied again before the kernel wrote it
//! out is written once.)

use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use tokio::task::AbortHandle;

use super::inbox_connection::{sqlite_error, InboxConnection};
use crate::error::StoreError;

/// How often the log is copied back into the database file. A pass copies each page once,
/// however often it changed since the last: every second instead of every 250 ms, 18% fewer
/// bytes written per callback and 8 to 12% more callbacks acknowledged per second under full
/// load with real payload hashes (A/B, BENCHMARKS.md), the ack p99 unchanged.
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Log pages (256 MiB at 4 KiB) from which the writer restarts the log. Under full load with
/// real payload hashes, before the catch-up passes synced the database file, ack p99 was 33
/// to 40 ms restarting every 8 to 32 MiB, 24 to 41 ms every 128 MiB, 21 ms every 256 MiB;
/// since, 6.5 to 8 ms at 128 or 256 MiB (20 s runs, BENCHMARKS.md). Half the
/// `journal_size_limit` (512 MiB) the log file is cut back to when it restarts: a log
/// restarted past that limit was truncated in the writer's next commit, 9 to 17 ms each time
/// (restarting at 64 MiB with a 128 MiB limit: p99 95 to 103 ms).
const RESTART_AT_PAGES: i64 = 64 * 1024;

/// Stops the checkpointer when the last handle of the store goes.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    task: AbortHandle,
    db: DatabaseConnection,
}

/// The inbox's writer: its connection and the pool it comes from.
pub(crate) struct Writer {
    pub(crate) conn: Arc<InboxConnection>,
    pub(crate) pool: DatabaseConnection,
}

impl Checkpointer {
    /// Starts checkpointing through `db`, a pool of its own, with `writer` restarting the log.
    pub(crate) fn start(db: DatabaseConnection, writer: Writer) -> Checkpointer {
        let task = tokio::spawn(run(db.clone(), writer)).abort_handle();
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

async fn run(db: DatabaseConnection, writer: Writer) {
    let mut database_file = DatabaseFile::default();
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warned = false;
    let mut grown = false;
    // A restart that found readers in the way waits longer before the next try: each try
    // pauses the writer.
    let mut restart_after = tokio::time::Instant::now();
    let mut restart_backoff = CHECKPOINT_EVERY;
    loop {
        tick.tick().await;
        let done = match checkpoint(&db).await.map_err(StoreError::from) {
            Ok(mut pass)
                if pass.log >= RESTART_AT_PAGES && tokio::time::Instant::now() >= restart_after =>
            {
                // Catch up first, without the writer: the restart pauses it while it copies
                // what the writer appended since the last pass. Passes follow each other until
                // one finds little new (each copies what was appended during the one before),
                // each followed by a sync of what it copied.
                for _ in 0..CATCH_UP_PASSES {
                    let Ok(next) = checkpoint(&db).await else {
                        // The restart runs into the same failure and reports it.
                        break;
                    };
                    database_file.sync(&db).await;
                    let appended = next.log - pass.log;
                    pass = next;
                    if appended <= CATCH_UP_PAGES {
                        break;
                    }
                }
                let restart = writer.conn.run(&writer.pool, restart).await;
                if matches!(&restart, Ok(Pass { busy: true, .. })) {
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
                    tracing::warn!(pages = pass.log, "SQLite's write-ahead log keeps growing: readers hold it (a long query?) and it cannot start over");
                }
                grown = pass.log >= GROWN_PAGES;
            }
            Err(StoreError::Unavailable(DbErr::ConnectionAcquire(_)))
                if db.ping().await.is_err() =>
            {
                return
            }
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

/// Most passive passes before a restart; see [`CATCH_UP_PAGES`].
const CATCH_UP_PASSES: usize = 8;

/// Log pages appended during a pass (1 MiB at 4 KiB) few enough for a restart: copying them
/// (and syncing) pauses the writer. Under full load with real (random) payload hashes, whose
/// index entries land on a different page each, a pass takes 30 to 60 ms; acknowledgement p99
/// was 35 to 41 ms restarting right after one pass, 28 to 32 ms after these.
const CATCH_UP_PAGES: i64 = 256;

/// Log pages (1 GiB) from which a log that keeps not starting over is reported.
const GROWN_PAGES: i64 = 4 * RESTART_AT_PAGES;

/// Longest wait between two restarts that found readers in the way.
const MAX_RESTART_BACKOFF: Duration = Duration::from_secs(8);

/// How long a restart waits for readers of the old log, the writer paused.
const READER_WAIT: Duration = Duration::from_millis(10);

/// What one checkpoint saw.
#[derive(Debug)]
struct Pass {
    /// It could not finish: readers were in the way.
    busy: bool,
    /// Pages in the log.
    log: i64,
}

/// The database file, synced by the task before a restart.
#[derive(Default)]
struct DatabaseFile {
    /// Opened at the first sync.
    file: Option<Arc<File>>,
    /// A failed sync was reported; reset by the next that succeeds.
    warned: bool,
}

impl DatabaseFile {
    /// Syncs the file. A failure only leaves more for the restart's own sync to write, which
    /// is what keeps the data safe and reports its failures: it is reported once per streak.
    async fn sync(&mut self, db: &DatabaseConnection) {
        match self.try_sync(db).await {
            Ok(()) => self.warned = false,
            Err(e) if !self.warned => {
                tracing::warn!(error = %e, "cannot sync the SQLite database file before restarting the log; the restart will");
                self.warned = true;
            }
            Err(_) => {}
        }
    }

    async fn try_sync(&mut self, db: &DatabaseConnection) -> std::io::Result<()> {
        let file = match &self.file {
            Some(file) => file.clone(),
            None => {
                let path = main_file(db).await.map_err(std::io::Error::other)?;
                // Open for writing (some systems sync only such files), never written through.
                let file = Arc::new(std::fs::OpenOptions::new().write(true).open(path)?);
                self.file.insert(file).clone()
            }
        };
        tokio::task::spawn_blocking(move || file.sync_data())
            .await
            .map_err(std::io::Error::other)?
    }
}

/// The path of the main database's file, as SQLite opened it.
async fn main_file(db: &DatabaseConnection) -> Result<String, DbErr> {
    let row = db
        .query_one(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT file FROM pragma_database_list WHERE name = 'main'",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("SQLite lists no main database".into()))?;
    let path: String = row.try_get_by_index(0)?;
    if path.is_empty() {
        return Err(DbErr::Custom("the database is not in a file".into()));
    }
    Ok(path)
}

/// A passive pass on the checkpointer's connection.
async fn checkpoint(db: &DatabaseConnection) -> Result<Pass, DbErr> {
    let row = db
        .query_one(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA wal_checkpoint(PASSIVE)",
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

/// A restart on the writer's connection, between two of its transactions, waiting at most
/// [`READER_WAIT`] for readers.
fn restart(db: &mut rusqlite::Connection) -> crate::Result<Pass> {
    db.busy_timeout(READER_WAIT).map_err(sqlite_error)?;
    let pass = db.query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| {
        Ok(Pass {
            busy: row.get::<_, i64>(0)? != 0,
            log: row.get(1)?,
        })
    });
    // The writer's own statements wait as long as every connection's.
    db.busy_timeout(super::SQLITE_BUSY_TIMEOUT)
        .map_err(sqlite_error)?;
    pass.map_err(sqlite_error)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use sea_orm::ConnectionTrait;

    use crate::NewInboxEvent;

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
        let (dir, store) = crate::repo::sqlite_file_store().await;
        let file = dir.path().join("app.db");
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

    /// The database file the task syncs is the store's; a database without a file is reported.
    #[tokio::test]
    async fn the_task_syncs_the_database_file() {
        let (dir, store) = crate::repo::sqlite_file_store().await;
        let path = super::main_file(&store.db).await.expect("the main file");
        assert_eq!(
            std::fs::canonicalize(path).expect("exists"),
            std::fs::canonicalize(dir.path().join("app.db")).expect("exists")
        );
        let mut file = super::DatabaseFile::default();
        file.sync(&store.db).await;
        assert!(file.file.is_some() && !file.warned);
        store.close().await.expect("close");

        let memory = sea_orm::Database::connect("sqlite::memory:")
            .await
            .expect("in memory");
        let error = super::main_file(&memory).await.expect_err("no file");
        assert!(error.to_string().contains("not in a file"), "{error}");
        let mut file = super::DatabaseFile::default();
        file.sync(&memory).await;
        assert!(file.file.is_none() && file.warned);
    }

    /// The writer's thread restarts the log between two of its writes: the next write starts
    /// it over, and the writer's statements wait for locks as long as before.
    #[tokio::test]
    async fn the_writer_restarts_the_log() {
        let (dir, store) = crate::repo::sqlite_file_store().await;
        if let Some(checkpointer) = &store.checkpointer {
            // This test checkpoints on its own.
            checkpointer.task.abort();
        }
        // The log's header counts its restarts (SQLite's file format: a big-endian u32 at 12),
        // written with the first page appended after one.
        let restarts = || {
            let wal = std::fs::read(dir.path().join("app.db-wal")).expect("log file");
            u32::from_be_bytes(wal[12..16].try_into().expect("a header"))
        };
        let events: Vec<NewInboxEvent> = (0..500).map(event).collect();
        store.inbox_insert_many(&events).await.expect("insert");
        let before = restarts();
        store
            .inbox_insert_many(&[event(500)])
            .await
            .expect("insert");
        assert_eq!(restarts(), before, "nothing else restarts the log");

        let restart = store
            .inbox_conn
            .run(&store.inbox_db, super::restart)
            .await
            .expect("restart");
        assert!(!restart.busy, "{restart:?}");
        assert!(restart.log > 250, "the rows were in the log: {restart:?}");
        store
            .inbox_insert_many(&[event(501)])
            .await
            .expect("insert");
        assert_eq!(restarts(), before + 1, "the log started over");

        let busy_timeout = store
            .inbox_conn
            .run(&store.inbox_db, |db| {
                db.query_row("PRAGMA busy_timeout", [], |row| row.get::<_, i64>(0))
                    .map_err(crate::repo::inbox_connection::sqlite_error)
            })
            .await
            .expect("busy timeout");
        assert_eq!(
            u128::try_from(busy_timeout).expect("positive"),
            crate::repo::SQLITE_BUSY_TIMEOUT.as_millis()
        );
        store.close().await.expect("close");
    }
}
