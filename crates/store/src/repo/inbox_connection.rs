//! SQLite: the connection every inbox write runs on, and the thread that runs them.
//!
//! The inbox's writer commits hundreds of times a second. Through sqlx, every statement was a
//! message to sqlx's connection thread and every returned row a message back, each waking a
//! thread; the multi-row statements changed text with the batch size, so SQLite parsed them
//! again and again; and each returned value was copied twice. Measured under load, sqlx's
//! connection thread alone took 31% of the whole app's CPU.
//!
//! So the inbox's writes run in a thread of their own, on the same SQLite connection handle
//! (taken out of the inbox's pool and locked away from sqlx's thread, as sqlx allows for direct
//! calls), with rusqlite's cached prepared statements: one hand-off to the thread per group
//! commit, whatever it holds. The connection is the pool's, so it is configured as the store
//! configures every connection (busy timeout, WAL, no automatic checkpoints on a file) and an
//! in-memory database is the one the pool's other connections see.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use sea_orm::sea_query::Value;
use sea_orm::sqlx::error::{DatabaseError, ErrorKind};
use sea_orm::sqlx::{Connection as _, SqliteConnection};
use sea_orm::{DatabaseConnection, DbErr, RuntimeErr, Statement};
use tokio::sync::{oneshot, Mutex};

use crate::error::{Result, StoreError};

/// Work for the connection's thread.
type Work = Box<dyn FnOnce(&mut rusqlite::Connection) + Send>;

enum Job {
    Run(Work),
    /// Ends the thread and closes the connection; answered once it is closed.
    Close(oneshot::Sender<Result<()>>),
}

/// The connection's thread, started at the first write and kept.
#[derive(Debug, Default)]
pub(crate) struct InboxConnection {
    thread: Mutex<Option<mpsc::Sender<Job>>>,
}

impl InboxConnection {
    /// Runs `work` on the connection's thread, starting it (with a connection taken from
    /// `pool`) if there is none. A connection whose thread stopped, or that reported an I/O
    /// error, is given up, and the next write takes a new one.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        pool: &DatabaseConnection,
        work: impl FnOnce(&mut rusqlite::Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        // One caller at a time: the thread would run them in turn anyway, and a caller that
        // finds it stopped replaces it alone.
        let mut held = self.thread.lock().await;
        let jobs = match &*held {
            Some(jobs) => jobs,
            None => held.insert(start(pool).await?),
        };
        let (reply, answer) = oneshot::channel();
        let job = Job::Run(Box::new(move |db| {
            let _ = reply.send(work(db));
        }));
        if jobs.send(job).is_err() {
            held.take();
            return Err(stopped());
        }
        match answer.await {
            Ok(result) => {
                if result.as_ref().err().is_some_and(breaks_connection) {
                    held.take();
                }
                result
            }
            // The work panicked: the thread closed the connection and stopped.
            Err(_) => {
                held.take();
                Err(stopped())
            }
        }
    }

    /// Closes the connection, if one was taken, and waits for it.
    pub(crate) async fn close(&self) -> Result<()> {
        let Some(jobs) = self.thread.lock().await.take() else {
            return Ok(());
        };
        let (reply, answer) = oneshot::channel();
        if jobs.send(Job::Close(reply)).is_err() {
            return Ok(());
        }
        answer.await.unwrap_or(Ok(()))
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable(DbErr::Conn(RuntimeErr::Internal(
        "the inbox's SQLite connection thread stopped".into(),
    )))
}

/// Whether the connection may be broken (the database file was removed or cannot be read).
fn breaks_connection(error: &StoreError) -> bool {
    let StoreError::Unavailable(DbErr::Query(RuntimeErr::SqlxError(
        sea_orm::sqlx::Error::Database(e),
    ))) = error
    else {
        return false;
    };
    e.try_downcast_ref::<SqliteFailure>().is_some_and(|e| {
        matches!(
            e.code(),
            Some(rusqlite::ErrorCode::SystemIoFailure | rusqlite::ErrorCode::CannotOpen)
        )
    })
}

/// Takes a connection out of `pool` for good (nothing else takes turns on it, and it is never
/// pinged) and starts its thread; returns once the thread holds the connection's handle.
async fn start(pool: &DatabaseConnection) -> Result<mpsc::Sender<Job>> {
    let conn = pool
        .get_sqlite_connection_pool()
        .acquire()
        .await
        // Reported as unavailable, with sqlx's cause kept.
        .map_err(|e| StoreError::from(DbErr::Conn(RuntimeErr::SqlxError(e))))?
        .detach();
    let (jobs, queue) = mpsc::channel();
    let (ready, started) = oneshot::channel();
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("bcapp-inbox-sqlite".into())
        .spawn(move || serve(runtime, conn, queue, ready))
        .map_err(|e| {
            StoreError::Unavailable(DbErr::Conn(RuntimeErr::Internal(format!(
                "cannot start the inbox's SQLite thread: {e}"
            ))))
        })?;
    match started.await {
        Ok(Ok(())) => Ok(jobs),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(stopped()),
    }
}

/// The thread: holds the handle, locked away from sqlx's own thread, and runs the jobs in
/// order until the store closes or drops its side.
fn serve(
    runtime: tokio::runtime::Handle,
    mut conn: SqliteConnection,
    queue: mpsc::Receiver<Job>,
    ready: oneshot::Sender<Result<()>>,
) {
    let mut locked = match runtime.block_on(conn.lock_handle()) {
        Ok(locked) => locked,
        Err(e) => {
            let _ = ready.send(Err(query_error(e)));
            return;
        }
    };
    // SAFETY: the handle is open for as long as `conn` is, which outlives `db`; while `locked`
    // is held (until after `db` is dropped) sqlx's thread waits for it and makes no call on
    // the handle, so this thread is its only user. `from_handle` leaves it open when dropped.
    let db = unsafe { rusqlite::Connection::from_handle(locked.as_raw_handle().as_ptr()) };
    let mut db = match db {
        Ok(db) => db,
        Err(e) => {
            let _ = ready.send(Err(sqlite_error(e)));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    let mut close = None;
    while let Ok(job) = queue.recv() {
        match job {
            Job::Run(work) => {
                // A panic drops the job's reply (its caller gives this connection up) and ends
                // the thread; an open transaction is rolled back as `db` is dropped.
                if catch_unwind(AssertUnwindSafe(|| work(&mut db))).is_err() {
                    break;
                }
            }
            Job::Close(reply) => {
                close = Some(reply);
                break;
            }
        }
    }
    drop(db);
    drop(locked);
    match close {
        Some(reply) => {
            let closed = runtime.block_on(conn.close()).map_err(query_error);
            let _ = reply.send(closed);
        }
        // Dropping it closes it on sqlx's thread; the runtime may be gone.
        None => drop(conn),
    }
}

/// A sqlx error as the store reports a failed statement (transient ones become
/// [`StoreError::Unavailable`]).
pub(crate) fn query_error(error: sea_orm::sqlx::Error) -> StoreError {
    StoreError::from(DbErr::Query(RuntimeErr::SqlxError(error)))
}

/// A rusqlite error as the store reports a failed statement: as sqlx reports one of SQLite's,
/// so it is told transient or not by the same codes, and the error is kept as its source.
pub(crate) fn sqlite_error(error: rusqlite::Error) -> StoreError {
    let message = error.to_string();
    query_error(sea_orm::sqlx::Error::Database(Box::new(SqliteFailure {
        error,
        message,
    })))
}

/// A failed rusqlite call, in the shape of a sqlx database error.
#[derive(Debug)]
struct SqliteFailure {
    error: rusqlite::Error,
    message: String,
}

impl SqliteFailure {
    fn code(&self) -> Option<rusqlite::ErrorCode> {
        self.error.sqlite_error_code()
    }
}

impl std::fmt::Display for SqliteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SqliteFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl DatabaseError for SqliteFailure {
    fn message(&self) -> &str {
        &self.message
    }

    /// SQLite's extended result code, in decimal, as sqlx gives it.
    fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
        self.error
            .sqlite_error()
            .map(|e| e.extended_code.to_string().into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.error.sqlite_error().map(|e| e.extended_code) {
            Some(
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
            ) => ErrorKind::UniqueViolation,
            Some(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY) => ErrorKind::ForeignKeyViolation,
            Some(rusqlite::ffi::SQLITE_CONSTRAINT_NOTNULL) => ErrorKind::NotNullViolation,
            Some(rusqlite::ffi::SQLITE_CONSTRAINT_CHECK) => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// Runs `stmt` (a statement shared with PostgreSQL, `?` placeholders); returns the rows it
/// changed.
pub(crate) fn execute(db: &rusqlite::Connection, stmt: &Statement) -> Result<usize> {
    let mut prepared = db.prepare_cached(&stmt.sql).map_err(sqlite_error)?;
    bind(&mut prepared, stmt)?;
    prepared.raw_execute().map_err(sqlite_error)
}

/// A sea-query value bound to a rusqlite statement.
struct Bind<'a>(&'a Value);

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        let null = ToSqlOutput::Borrowed(ValueRef::Null);
        let int = |v: Option<i64>| v.map_or(ToSqlOutput::Borrowed(ValueRef::Null), |v| v.into());
        Ok(match self.0 {
            Value::Bool(v) => int(v.map(i64::from)),
            Value::TinyInt(v) => int(v.map(i64::from)),
            Value::SmallInt(v) => int(v.map(i64::from)),
            Value::Int(v) => int(v.map(i64::from)),
            Value::BigInt(v) => int(*v),
            Value::TinyUnsigned(v) => int(v.map(i64::from)),
            Value::SmallUnsigned(v) => int(v.map(i64::from)),
            Value::Unsigned(v) => int(v.map(i64::from)),
            Value::String(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::Bytes(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Blob(v.as_slice())),
            Value::String(None) | Value::Bytes(None) => null,
            // The inbox's statements bind none of the others.
            other => {
                return Err(rusqlite::Error::ToSqlConversionFailure(
                    format!("the inbox binds no value of this type: {other:?}").into(),
                ))
            }
        })
    }
}

/// Runs `stmt`, which returns one integer column (`RETURNING id`); returns its values.
pub(crate) fn query_ids(db: &rusqlite::Connection, stmt: &Statement) -> Result<Vec<i64>> {
    let mut prepared = db.prepare_cached(&stmt.sql).map_err(sqlite_error)?;
    bind(&mut prepared, stmt)?;
    let mut rows = prepared.raw_query();
    let mut ids = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite_error)? {
        ids.push(row.get(0).map_err(sqlite_error)?);
    }
    Ok(ids)
}

/// Binds the values of `stmt` to `prepared`, in order.
fn bind(prepared: &mut rusqlite::Statement<'_>, stmt: &Statement) -> Result<()> {
    let values = stmt.values.as_ref().map_or(&[][..], |v| v.0.as_slice());
    for (i, value) in values.iter().enumerate() {
        prepared
            .raw_bind_parameter(i + 1, Bind(value))
            .map_err(sqlite_error)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Claim, NewInboxEvent, Settlement};

    /// Every inbox write on a SQLite file runs on the one connection taken out of the inbox's
    /// pool, in its thread: the pool is left with none, so nothing took turns with it.
    #[tokio::test]
    async fn inbox_writes_share_one_held_connection() {
        let (_dir, store) = crate::repo::sqlite_file_store().await;
        let events: Vec<NewInboxEvent> = (0..3)
            .map(|i| NewInboxEvent {
                store_hash: "abc123".into(),
                scope: "store/order/created".into(),
                hash: format!("{i:040}"),
                body: b"{}".to_vec(),
            })
            .collect();
        let claim = Claim {
            owner: "me",
            lease: std::time::Duration::from_secs(60),
        };
        let (inserted, _) = store
            .inbox_insert_settling(&events, claim, |_| true, &[])
            .await
            .expect("insert");
        let ids: Vec<i64> = inserted
            .iter()
            .map(|outcome| match outcome {
                crate::InsertOutcome::Inserted(id) => *id,
                crate::InsertOutcome::Duplicate => panic!("a fresh event was a duplicate"),
            })
            .collect();
        assert_eq!(
            store
                .inbox_extend_claims("me", claim.lease)
                .await
                .expect("extend"),
            3
        );
        store.inbox_write_probe().await.expect("probe");
        let settled = store
            .inbox_settle(
                "me",
                &[
                    Settlement::Done { id: ids[0] },
                    Settlement::Dead {
                        id: ids[1],
                        error: "no".into(),
                        done_handlers: Vec::new(),
                    },
                    Settlement::Done { id: ids[2] + 1000 },
                ],
            )
            .await
            .expect("settle");
        assert_eq!(settled, vec![true, true, false]);

        assert!(store.inbox_conn.thread.lock().await.is_some());
        assert_eq!(store.inbox_db.get_sqlite_connection_pool().size(), 0);
        store.close().await.expect("close");
    }

    /// A statement's failure keeps SQLite's code and is told transient by it, as sqlx's are.
    #[test]
    fn sqlite_errors_are_classified_by_their_code() {
        let failure = |code| {
            sqlite_error(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                Some("from the test".into()),
            ))
        };
        let busy = failure(rusqlite::ffi::SQLITE_BUSY);
        assert!(busy.is_unavailable(), "{busy:?}");
        let full = failure(rusqlite::ffi::SQLITE_FULL);
        assert!(full.is_unavailable(), "{full:?}");
        let unique = failure(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE);
        assert!(!unique.is_unavailable(), "{unique:?}");
        assert!(unique.to_string().contains("from the test"), "{unique}");
        // The rusqlite error is kept, as sqlx keeps a driver's.
        let StoreError::Database(DbErr::Query(RuntimeErr::SqlxError(
            sea_orm::sqlx::Error::Database(kept),
        ))) = &unique
        else {
            panic!("not a database error: {unique:?}");
        };
        let kept = kept
            .try_downcast_ref::<SqliteFailure>()
            .and_then(|e| std::error::Error::source(e))
            .and_then(|e| e.downcast_ref::<rusqlite::Error>());
        assert!(
            kept.is_some_and(
                |e| e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
            ),
            "{unique:?}"
        );
    }

    /// Work that panics costs its caller an error, not the store: the connection is given up
    /// and the next write runs on a new one, seeing what was committed before.
    #[tokio::test]
    async fn a_panicking_write_leaves_the_next_one_working() {
        let (_dir, store) = crate::repo::sqlite_file_store().await;
        let event = |hash: &str| NewInboxEvent {
            store_hash: "abc123".into(),
            scope: "store/order/created".into(),
            hash: hash.into(),
            body: b"{}".to_vec(),
        };
        store
            .inbox_insert_many(&[event("before")])
            .await
            .expect("insert");
        let failed = store
            .inbox_conn
            .run(&store.inbox_db, |_| -> crate::Result<()> {
                panic!("a bug in a statement")
            })
            .await
            .expect_err("the work panicked");
        assert!(failed.is_unavailable(), "{failed:?}");
        assert!(store.inbox_conn.thread.lock().await.is_none());

        let outcomes = store
            .inbox_insert_many(&[event("before"), event("after")])
            .await
            .expect("insert after the panic");
        assert!(outcomes[0].is_duplicate());
        assert!(!outcomes[1].is_duplicate());
        assert_eq!(store.inbox_depth().await.expect("depth"), 2);
        store.close().await.expect("close");
    }

    /// A store wrapped around an in-memory pool (its connections share one database through
    /// SQLite's shared cache): the inbox's thread writes on one of the pool's connections while
    /// the others read, and waits for their table locks instead of failing.
    #[tokio::test]
    async fn an_in_memory_pool_shares_its_database_with_the_inbox() {
        let pool = sea_orm::Database::connect("sqlite::memory:")
            .await
            .expect("connect");
        crate::migrate_connection(&pool).await.expect("migrate");
        let store =
            crate::Store::from_connection(pool, crate::KeyRing::generate("k").expect("key"));
        let event = |i: usize| NewInboxEvent {
            store_hash: "abc123".into(),
            scope: "store/order/created".into(),
            hash: format!("{i:040}"),
            body: vec![b'x'; 512],
        };
        let reads = async {
            for _ in 0..50 {
                store.inbox_counts().await.expect("counts");
                tokio::task::yield_now().await;
            }
        };
        let writes = async {
            for chunk in (0..1_000).collect::<Vec<_>>().chunks(50) {
                let events: Vec<NewInboxEvent> = chunk.iter().map(|&i| event(i)).collect();
                store.inbox_insert_many(&events).await.expect("insert");
            }
        };
        tokio::join!(reads, writes);
        assert_eq!(store.inbox_counts().await.expect("counts").pending, 1_000);
    }
}
