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
                    // Reported as unavailable, with sqlx's cause kept.
                    .map_err(|e| StoreError::from(DbErr::Conn(RuntimeErr::SqlxError(e))))?;
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

/// A sqlx error as the store reports a failed statement (transient ones become
/// [`StoreError::Unavailable`]).
pub(crate) fn query_error(error: sea_orm::sqlx::Error) -> StoreError {
    StoreError::from(DbErr::Query(RuntimeErr::SqlxError(error)))
}

/// Runs `stmt` and returns its rows as sea-orm reads them.
pub(crate) async fn query(
    conn: &mut SqliteConnection,
    mut stmt: Statement,
) -> Result<Vec<QueryResult>> {
    let rows = bound(&mut stmt)
        .fetch_all(conn)
        .await
        .map_err(query_error)?;
    Ok(rows.into_iter().map(QueryResult::from).collect())
}

/// Runs `stmt`; returns the rows it changed.
pub(crate) async fn execute(conn: &mut SqliteConnection, mut stmt: Statement) -> Result<u64> {
    let done = bound(&mut stmt).execute(conn).await.map_err(query_error)?;
    Ok(done.rows_affected())
}

/// `stmt` as a sqlx query, its values moved out.
fn bound(stmt: &mut Statement) -> sea_orm::sqlx::query::Query<'_, Sqlite, SqlxValues> {
    let values = stmt
        .values
        .take()
        .unwrap_or(sea_orm::sea_query::Values(Vec::new()));
    sea_orm::sqlx::query_with(&stmt.sql, SqlxValues(values))
}

#[cfg(test)]
mod tests {
    use crate::{Claim, KeyRing, NewInboxEvent, Settlement, Store, StoreConfig};

    /// Every inbox write on a SQLite file runs on the one connection taken out of the inbox's
    /// pool: the pool is left with none, so nothing took turns with it.
    #[tokio::test]
    async fn inbox_writes_share_one_held_connection() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("app.db").display());
        let store = Store::connect(&StoreConfig::new(
            &url,
            KeyRing::generate("k").expect("key"),
        ))
        .await
        .expect("connect");
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

        assert!(store.inbox_conn.conn.lock().await.is_some());
        assert_eq!(store.inbox_db.get_sqlite_connection_pool().size(), 0);
        store.close().await.expect("close");
    }
}
