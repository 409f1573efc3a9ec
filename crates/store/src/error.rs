//! The store's error type.

use sea_orm::{DbErr, RuntimeErr};

/// Result alias of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What can go wrong in the store.
///
/// [`StoreError::is_unavailable`] separates "the database cannot be reached right now" (retry
/// later; the webhook receiver answers 503 so BigCommerce redelivers) from errors that a retry
/// will not fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Connecting at start-up failed: wrong URL, unreachable server, bad credentials.
    /// `url` has its password removed.
    #[error(
        "cannot connect to database {url}: {reason} (is the database server running, and is \
         DATABASE_URL right?)"
    )]
    Connect {
        /// The database URL, password removed.
        url: String,
        /// Why, as reported by the driver.
        reason: String,
    },
    /// The database cannot be reached or is overloaded (I/O error, pool timeout, server shutting
    /// down, SQLite busy past its timeout). Transient.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] DbErr),
    /// Any other database error (constraint violation, SQL error, decoding).
    #[error("database error: {0}")]
    Database(#[source] DbErr),
    /// A stored value could not be decrypted with the key ring: unknown key id, wrong key,
    /// or a ciphertext that was tampered with or moved to another row.
    #[error("cannot decrypt {what} (key id `{key_id}`): {reason}")]
    Decrypt {
        /// Which value, e.g. `tenants.access_token of store abc123`.
        what: String,
        /// The key id stored with the ciphertext.
        key_id: String,
        /// Why.
        reason: &'static str,
    },
    /// At start-up, the key ring could not read the secrets already stored: the app was started
    /// with another encryption key than the one the database was written with.
    #[error(
        "the encryption key cannot read this database's stored secrets: {source}. The key ring \
         holds {}. Start the app with the key the data was written with (BCAPP_ENCRYPTION_KEY; \
         after a rotation, the earlier keys in BCAPP_ENCRYPTION_KEYS_OLD)",
        ring.join(", ")
    )]
    WrongKey {
        /// The decryption failure, naming the value and its key id.
        #[source]
        source: Box<StoreError>,
        /// The key ids the ring holds, current first.
        ring: Vec<String>,
    },
    /// A row holds a value the code does not understand (unknown status, bad timestamp).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The thing asked for does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// An argument was rejected before reaching the database (e.g. a malformed store hash).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Invalid configuration (environment variables, keys, URL).
    #[error("configuration error: {0}")]
    Config(String),
}

impl StoreError {
    /// True when retrying later may succeed: the database is down, unreachable or saturated.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::Connect { .. }
        )
    }
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        if is_transient(&err) {
            StoreError::Unavailable(err)
        } else {
            StoreError::Database(err)
        }
    }
}

/// Classifies a database error as "unavailable" (connection, I/O, pool exhaustion, server
/// restarting, lock timeouts) versus a genuine query/data error.
fn is_transient(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            sqlx_is_transient(e)
        }
        _ => false,
    }
}

fn sqlx_is_transient(err: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error as E;
    match err {
        E::Io(_)
        | E::Tls(_)
        | E::Protocol(_)
        | E::PoolTimedOut
        | E::PoolClosed
        | E::WorkerCrashed
        | E::BeginFailed => true,
        E::Database(db) => {
            let Some(code) = db.code() else {
                return false;
            };
            if db
                .try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                pg_code_is_transient(&code)
            } else {
                sqlite_code_is_transient(&code)
            }
        }
        _ => false,
    }
}

/// SQLite reports decimal extended result codes; the primary code is the low byte.
/// 5 BUSY, 6 LOCKED, 10 IOERR, 13 FULL, 14 CANTOPEN.
fn sqlite_code_is_transient(code: &str) -> bool {
    code.parse::<i32>()
        .is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 13 | 14))
}

/// PostgreSQL SQLSTATEs: 08xxx connection exception, 53xxx insufficient resources,
/// 57P01-57P03 shutdown / cannot connect now, 40001/40P01 serialization failure / deadlock
/// (a retry succeeds).
fn pg_code_is_transient(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_codes() {
        assert!(sqlite_code_is_transient("5"));
        assert!(sqlite_code_is_transient("517")); // SQLITE_BUSY_SNAPSHOT
        assert!(!sqlite_code_is_transient("2067")); // SQLITE_CONSTRAINT_UNIQUE
        assert!(pg_code_is_transient("08006"));
        assert!(pg_code_is_transient("57P01"));
        assert!(!pg_code_is_transient("23505"));
        assert!(!pg_code_is_transient("42P01"));
    }

    #[test]
    fn pool_timeout_is_unavailable() {
        let e: StoreError =
            DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout).into();
        assert!(e.is_unavailable());
        let e: StoreError = DbErr::Custom("x".into()).into();
        assert!(!e.is_unavailable());
    }
}
