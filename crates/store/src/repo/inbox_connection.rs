//! SQLite: the connection the inbox's writes hold, and how statements run on it.
//!
//! The inbox's writer commits hundreds of times a second, and on SQLite every statement it ran
//! through the pool paid for more than the statement: the connection was pinged when it went
//! back to the pool (a round trip to sqlx's connection thread), and sea-orm copied every value
//! into its own type and every returned row into its own. Holding one connection and running
//! the frequent statements (the group commit's insert, the outcomes' update) with sqlx
//! directly, values borrowed and rows read by position, took the whole app from 17.6k to 19.7k
//! acknowledged callbacks a second (means of five A/B pairs, BENCHMARKS.md). The rarer
//! statements share their text with PostgreSQL and run here through [`query`] and [`execute`].

use sea_orm::sqlx::pool::PoolConnection;
use sea_orm::sqlx::{Sqlite, SqliteConnection};
use sea_orm::{DatabaseConnection, DbErr, QueryResult, RuntimeErr, Statement};
use sea_query_binder::SqlxValues;
use tokio::sync::Mutex;

use crate::error::{Result, StoreError};

/// The connection, taken out of its pool at the first write and kept.
#[derive(Debug, Default)]
pub(crate) struct InboxConnection {
    conn: Mutex<Option<SqliteConnection>>,
}

impl InboxConnection {
    /// Runs `work` on the connection, taken from `pool` first if there is none yet. A
    /// connection that fails in a way that may have broken it (sqlx's connection thread
    /// stopped, an I/O error) is dropped, and the next write takes a new one.
    pub(crate) async fn with<T>(
        &self,
        pool: &DatabaseConnection,
        work: impl AsyncFnOnce(&mut SqliteConnection) -> Result<T>,
    ) -> Result<T> {
        let mut held = self.conn.lock().await;
        let conn = match &mut *held {
            Some(conn) => conn,
            None => {
                let conn: PoolConnection<Sqlite> = pool
                    .get_sqlite_connection_pool()
                    .acquire()
                    .await
                    .map_err(|e| StoreError::from(DbErr::ConnectionAcquire(conn_acquire(e))))?;
                // Out of the pool for good: nothing else takes turns on it, and it is never
                // pinged.
                held.insert(conn.detach())
            }
        };
        let result = work(conn).await;
        if let Err(StoreError::Unavailable(DbErr::Query(RuntimeErr::SqlxError(
            sea_orm::sqlx::Error::WorkerCrashed | sea_orm::sqlx::Error::Io(_),
        )))) = &result
        {
            held.take();
        }
        result
    }

    /// Closes the connection, if one was taken.
    pub(crate) async fn close(&self) -> Result<()> {
        if let Some(conn) = self.conn.lock().await.take() {
            use sea_orm::sqlx::Connection;
            conn.close().await.map_err(query_error)?;
        }
        Ok(())
    }
}

fn conn_acquire(error: sea_orm::sqlx::Error) -> sea_orm::ConnAcquireErr {
    match error {
        sea_orm::sqlx::Error::PoolTimedOut => sea_orm::ConnAcquireErr::Timeout,
        _ => sea_orm::ConnAcquireErr::ConnectionClosed,
    }
}

/// A sqlx error as the store reports a failed statement (transient ones become
/// [`StoreError::Unavailable`]).
pub(crate) fn query_error(error: sea_orm::sqlx::Error) -> StoreError {
    StoreError::from(DbErr::Query(RuntimeErr::SqlxError(error)))
}

/// Runs `stmt` and returns its rows as sea-orm reads them.
pub(crate) async fn query(
    conn: &mut SqliteConnection,
    stmt: Statement,
) -> Result<Vec<QueryResult>> {
    let values = stmt
        .values
        .unwrap_or(sea_orm::sea_query::Values(Vec::new()));
    let rows = sea_orm::sqlx::query_with(&stmt.sql, SqlxValues(values))
        .fetch_all(conn)
        .await
        .map_err(query_error)?;
    Ok(rows.into_iter().map(QueryResult::from).collect())
}

/// Runs `stmt`; returns the rows it changed.
pub(crate) async fn execute(conn: &mut SqliteConnection, stmt: Statement) -> Result<u64> {
    let values = stmt
        .values
        .unwrap_or(sea_orm::sea_query::Values(Vec::new()));
    let done = sea_orm::sqlx::query_with(&stmt.sql, SqlxValues(values))
        .execute(conn)
        .await
        .map_err(query_error)?;
    Ok(done.rows_affected())
}
