//! The repository API: [`Store`].

use std::fmt;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr,
    Statement, Value,
};
use sea_orm_migration::MigratorTrait;
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::config::{sqlite_file_path, Backend, StoreConfig};
use crate::crypto::KeyRing;
use crate::error::{Result, StoreError};
use crate::migrations::Migrator;

mod checkpoint;
mod inbox;
mod inbox_connection;
mod sessions;
mod subscriptions;
mod tenants;
mod users;

pub use inbox::{
    Claim, Due, InboxCounts, InboxEvent, InsertOutcome, NewInboxEvent, Settlement,
    DEFAULT_INBOX_RETENTION,
};
pub use sessions::{NewSession, Session, SessionLookup};
pub use subscriptions::{ReconcileOutcome, SubscriptionRecord, SubscriptionUpsert};
pub use tenants::{Install, TenantRecord};
pub use users::User;

/// SQLite waits this long for the write lock before giving up with "busy".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Key of the PostgreSQL advisory lock that serialises migrations of several instances.
const MIGRATION_LOCK_KEY: i64 = 0x6263_6170_705f_6d67; // "bcapp_mg"

/// The durable state of the app: tenants, users, subscriptions and the webhook inbox.
///
/// Cheap to clone (a pooled connection, the key ring and the clock are all shared).
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// Where the inbox's writes (group commits, outcomes, claims) get their connection. On a
    /// SQLite file, a pool of one of its own: a connection that did not make the last commit
    /// throws its whole page cache away when its next statement starts, and the writer commits
    /// many times a second, so writes taking turns over the pool re-read the table's pages for
    /// nearly every statement. Elsewhere, the pool.
    inbox_db: DatabaseConnection,
    /// On SQLite, the thread that every inbox write runs on, with the connection it took out
    /// of `inbox_db`.
    inbox_conn: std::sync::Arc<inbox_connection::InboxConnection>,
    /// On a SQLite file, the task that checkpoints in the inbox writer's stead.
    checkpointer: Option<std::sync::Arc<checkpoint::Checkpointer>>,
    keys: KeyRing,
    clock: Clock,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.db.get_database_backend())
            .field("keys", &self.keys)
            .finish()
    }
}

impl Store {
    /// Connects (see [`StoreConfig`] for the pool and SQLite settings), runs pending
    /// migrations, and checks that the key ring reads the secrets already stored
    /// ([`StoreError::WrongKey`] otherwise, naming the key id): a wrong key is found at
    /// start-up, not by the first callback.
    pub async fn connect(cfg: &StoreConfig) -> Result<Store> {
        cfg.validate()?;
        migrate(cfg).await?;
        let db = open(cfg, None, PoolRole::Shared, true).await?;
        let mut store = Store::from_connection(db, cfg.key_ring.clone());
        if cfg.backend()? == Backend::Sqlite && sqlite_file_path(&cfg.database_url).is_some() {
            store.inbox_db = open(cfg, Some(1), PoolRole::InboxWriter, true).await?;
            let own = open(cfg, Some(1), PoolRole::Shared, true).await?;
            let writer = checkpoint::Writer {
                conn: store.inbox_conn.clone(),
                pool: store.inbox_db.clone(),
            };
            store.checkpointer = Some(std::sync::Arc::new(checkpoint::Checkpointer::start(
                own, writer,
            )));
        }
        match store.check_keys().await {
            Ok(()) => Ok(store),
            Err(e @ StoreError::Decrypt { .. }) => Err(StoreError::WrongKey {
                source: Box::new(e),
                ring: cfg.key_ring.key_ids().map(|id| format!("`{id}`")).collect(),
            }),
            Err(e) => Err(e),
        }
    }

    /// Opens the database of an app that already ran, for tools that read it (`bcapp`): never
    /// creates a file, a table or a key, and runs no migration. Fails, saying so, when the
    /// SQLite file does not exist, when the framework's tables are missing, or when they are
    /// older than this version (start the app or run `bcapp migrate` first).
    pub async fn open_existing(cfg: &StoreConfig) -> Result<Store> {
        cfg.validate()?;
        let db = open(cfg, None, PoolRole::Shared, false).await?;
        let store = Store::from_connection(db, cfg.key_ring.clone());
        let applied = store.applied_migrations().await?;
        let Some(applied) = applied else {
            return Err(StoreError::NotFound(format!(
                "database {} has none of the framework's tables: is it the app's database? \
                 (`bcapp migrate` creates them)",
                cfg.redacted_url()
            )));
        };
        let pending: Vec<String> = Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .filter(|name| !applied.contains(name))
            .collect();
        if !pending.is_empty() {
            return Err(StoreError::Config(format!(
                "database {} is older than this version of the framework (pending migrations: \
                 {}): start the app once or run `bcapp migrate`",
                cfg.redacted_url(),
                pending.join(", ")
            )));
        }
        Ok(store)
    }

    /// The framework's migrations recorded in `bcapp_migrations`; `None` when that table does
    /// not exist. Reads only.
    async fn applied_migrations(&self) -> Result<Option<Vec<String>>> {
        let backend = self.db.get_database_backend();
        let exists_sql = match backend {
            DbBackend::Postgres => {
                "SELECT COUNT(*) AS n FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = $1"
            }
            _ => "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?",
        };
        let exists = self
            .db
            .query_one(Statement::from_sql_and_values(
                backend,
                exists_sql,
                [crate::migrations::MIGRATIONS_TABLE.into()],
            ))
            .await?
            .map(|row| row.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        if exists == 0 {
            return Ok(None);
        }
        let rows = self
            .db
            .query_all(Statement::from_string(
                backend,
                format!(
                    "SELECT version FROM {}",
                    crate::migrations::MIGRATIONS_TABLE
                ),
            ))
            .await?;
        rows.iter()
            .map(|row| {
                row.try_get::<String>("", "version")
                    .map_err(StoreError::from)
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// Wraps an existing connection. Does not run migrations (see [`migrate_connection`]).
    pub fn from_connection(db: DatabaseConnection, keys: KeyRing) -> Store {
        Store {
            inbox_db: db.clone(),
            inbox_conn: std::sync::Arc::default(),
            checkpointer: None,
            db,
            keys,
            clock: Clock::System,
        }
    }

    /// Replaces the clock (tests drive retries and expiry with a [`crate::ManualClock`]).
    pub fn with_clock(mut self, clock: Clock) -> Store {
        self.clock = clock;
        self
    }

    /// Replaces the key ring (same database, other keys).
    pub fn with_key_ring(mut self, keys: KeyRing) -> Store {
        self.keys = keys;
        self
    }

    /// The underlying connection pool.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The key ring.
    pub fn key_ring(&self) -> &KeyRing {
        &self.keys
    }

    /// The current time according to the store's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        match self.db.get_database_backend() {
            DbBackend::Postgres => Backend::Postgres,
            // The crate is built with SQLite and PostgreSQL support only.
            _ => Backend::Sqlite,
        }
    }

    /// Checks that the database answers (health endpoints).
    pub async fn ping(&self) -> Result<()> {
        self.db.ping().await.map_err(StoreError::from)
    }

    /// Closes the pool (and the inbox's and the checkpointer's own connections), waiting for
    /// connections in use to be returned.
    pub async fn close(self) -> Result<()> {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.stop().await.map_err(StoreError::from)?;
        }
        self.inbox_conn.close().await?;
        // On PostgreSQL the inbox's handle is the same pool, closed with `db`.
        self.inbox_db.close().await.map_err(StoreError::from)?;
        self.db.close().await.map_err(StoreError::from)
    }

    pub(crate) fn stmt(&self, sql: &str, values: Vec<Value>) -> Statement {
        stmt(self.db.get_database_backend(), sql, values)
    }

    pub(crate) fn now_ms(&self) -> i64 {
        to_millis(self.clock.now())
    }
}

/// Runs pending migrations against the configured database (what `bcapp migrate` calls).
///
/// On PostgreSQL a session advisory lock serialises instances starting at the same time.
pub async fn migrate(cfg: &StoreConfig) -> Result<()> {
    cfg.validate()?;
    // One connection, so the advisory lock and the migration share a session.
    let db = open(cfg, Some(1), PoolRole::Shared, true).await?;
    let result = migrate_connection(&db).await;
    let _ = db.close().await;
    result
}

/// Runs pending migrations on an open connection. On PostgreSQL the connection should be a
/// single-connection pool for the advisory lock to cover the migration.
pub async fn migrate_connection(db: &DatabaseConnection) -> Result<()> {
    let pg = db.get_database_backend() == DbBackend::Postgres;
    if pg {
        db.query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_lock($1)",
            [MIGRATION_LOCK_KEY.into()],
        ))
        .await?;
    }
    let result = Migrator::up(db, None).await.map_err(StoreError::from);
    if pg {
        let unlocked = db
            .query_one(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_advisory_unlock($1)",
                [MIGRATION_LOCK_KEY.into()],
            ))
            .await;
        if let Err(e) = unlocked {
            tracing::warn!(error = %e, "could not release the migration lock; it is released when the connection closes");
        }
    }
    if result.is_ok() {
        tracing::debug!("database migrations are up to date");
    }
    result
}

/// What a pool's connections are for. On SQLite they differ in checkpoints.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PoolRole {
    /// Everything but the inbox's writes (the checkpointer's connection too): SQLite's
    /// automatic checkpoints.
    Shared,
    /// The inbox's writes on a SQLite file: no automatic checkpoints,
    /// [`checkpoint::Checkpointer`] does them.
    InboxWriter,
}

/// Opens a connection pool. A failure names the URL with the password removed.
async fn open(
    cfg: &StoreConfig,
    max_connections: Option<u32>,
    role: PoolRole,
    create: bool,
) -> Result<DatabaseConnection> {
    let backend = cfg.backend()?;
    let connect_err = |reason: String| StoreError::Connect {
        url: cfg.redacted_url(),
        reason: scrub_password(&reason, &cfg.database_url),
    };
    let file = sqlite_file_path(&cfg.database_url);
    if let (Backend::Sqlite, Some(file)) = (backend, &file) {
        if !create && !file.exists() {
            return Err(connect_err(format!(
                "there is no database file at {} (from {}); run this from the app's directory \
                 or set DATABASE_URL / BCAPP_DATA_DIR as the app does",
                absolute(file).display(),
                std::env::current_dir().map_or_else(
                    |_| "the current directory".to_owned(),
                    |d| format!("current directory {}", d.display())
                )
            )));
        }
        if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
            if create {
                std::fs::create_dir_all(parent).map_err(|e| {
                    connect_err(format!("cannot create directory {}: {e}", parent.display()))
                })?;
            }
        }
    }
    // sqlx opens a SQLite file only if it exists unless the URL says `mode=rwc`; the framework
    // creates its schema anyway, so a plain `sqlite://./data/app.db` creates the file too. An
    // explicit `mode=` is respected.
    let create_sqlite_file = create && !cfg.database_url.contains("mode=");
    if backend == Backend::Postgres {
        probe_postgres(cfg).await.map_err(connect_err)?;
    }
    let max = max_connections
        .or(cfg.max_connections)
        .unwrap_or(match backend {
            Backend::Postgres => 10,
            Backend::Sqlite => 4,
        });
    let mut opts = ConnectOptions::new(cfg.database_url.clone());
    opts.max_connections(max)
        .min_connections(0)
        .connect_timeout(cfg.connect_timeout)
        .acquire_timeout(cfg.connect_timeout)
        // Pinging every connection before use costs a round trip per query (~16% on PostgreSQL);
        // a dead connection surfaces as an error that maps to "unavailable" instead.
        .test_before_acquire(false)
        // Statement logging would be noisy at info level; errors are reported by the callers.
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |o| {
            let o = if create_sqlite_file {
                o.create_if_missing(true)
            } else {
                o
            };
            let o = if role == PoolRole::InboxWriter {
                o.pragma("wal_autocheckpoint", "0")
            } else {
                o
            };
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                // Under sustained load the write-ahead log can grow past what a checkpoint
                // resets; once it does reset, the file is cut back to this (512 MiB, twice
                // where the inbox's writer restarts it; see `checkpoint`).
                .pragma("journal_size_limit", "536870912")
        });
    Database::connect(opts)
        .await
        .map_err(|e| connect_err(describe_connect_error(&e)))
}

/// One direct connection before the pool: the pool retries a refused connection until its
/// acquire timeout and then reports only "pool timed out", hiding the cause (connection
/// refused, unknown host, bad password) that one attempt shows at once.
async fn probe_postgres(cfg: &StoreConfig) -> std::result::Result<(), String> {
    use sea_orm::sqlx::{Connection, PgConnection};
    match tokio::time::timeout(
        cfg.connect_timeout,
        PgConnection::connect(&cfg.database_url),
    )
    .await
    {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no answer within {:?} (BCAPP_DB_CONNECT_TIMEOUT_SECS)",
            cfg.connect_timeout
        )),
    }
}

fn absolute(path: &std::path::Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

fn describe_connect_error(err: &DbErr) -> String {
    match err {
        DbErr::Conn(RuntimeErr::SqlxError(e)) => e.to_string(),
        other => other.to_string(),
    }
}

/// Drivers do not print passwords, but make sure of it.
fn scrub_password(reason: &str, url: &str) -> String {
    let redacted = crate::config::redact_url(url);
    let mut out = reason.replace(url, &redacted);
    if let Some(password) = url_password(url) {
        if password.len() >= 3 {
            out = out.replace(&password, "***");
        }
    }
    out
}

fn url_password(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let auth = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &auth[..auth.rfind('@')?];
    userinfo.split_once(':').map(|(_, p)| p.to_owned())
}

/// Builds a statement from SQL written with `?` placeholders, numbering them `$1, $2, ...`
/// for PostgreSQL. The SQL in this crate never has a `?` inside a literal.
pub(crate) fn stmt(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = if backend == DbBackend::Postgres {
        let mut out = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    } else {
        sql.to_owned()
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Unix milliseconds (the storage format of every timestamp).
pub(crate) fn to_millis(t: OffsetDateTime) -> i64 {
    let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

pub(crate) fn from_millis(ms: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| StoreError::Corrupt(format!("timestamp {ms} ms is out of range")))
}

pub(crate) fn from_millis_lossy(ms: i64) -> OffsetDateTime {
    from_millis(ms).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub(crate) fn opt_from_millis(ms: Option<i64>) -> Result<Option<OffsetDateTime>> {
    ms.map(from_millis).transpose()
}

pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Foreign-key violation: PostgreSQL 23503, SQLite 787 (SQLITE_CONSTRAINT_FOREIGNKEY).
/// A row naming a store that has no tenant is `NotFound`; any other error as usual.
pub(crate) fn missing_tenant_or(store_hash: &str, err: DbErr) -> StoreError {
    if is_fk_violation(&err) {
        StoreError::NotFound(format!("tenant {store_hash}"))
    } else {
        err.into()
    }
}

fn is_fk_violation(err: &DbErr) -> bool {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(sea_orm::sqlx::Error::Database(db)))
        | DbErr::Query(RuntimeErr::SqlxError(sea_orm::sqlx::Error::Database(db))) => {
            matches!(db.code().as_deref(), Some("23503") | Some("787"))
        }
        _ => false,
    }
}

/// A store on a new SQLite file, for the tests of this module's parts; the directory goes
/// with the returned guard.
#[cfg(test)]
pub(crate) async fn sqlite_file_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("app.db").display());
    let store = Store::connect(&crate::StoreConfig::new(
        &url,
        KeyRing::generate("k").expect("key"),
    ))
    .await
    .expect("connect");
    (dir, store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_for_postgres() {
        let s = stmt(
            DbBackend::Postgres,
            "a = ? AND b = ?",
            vec![1.into(), 2.into()],
        );
        assert_eq!(s.sql, "a = $1 AND b = $2");
        let s = stmt(
            DbBackend::Sqlite,
            "a = ? AND b = ?",
            vec![1.into(), 2.into()],
        );
        assert_eq!(s.sql, "a = ? AND b = ?");
    }

    #[test]
    fn millis_roundtrip() {
        let t = time::macros::datetime!(2025-06-01 12:34:56.789 UTC);
        assert_eq!(from_millis(to_millis(t)).unwrap(), t);
        assert_eq!(to_millis(OffsetDateTime::UNIX_EPOCH), 0);
    }

    #[test]
    fn scrubs_password_from_messages() {
        let url = "postgres://app:hunter2@db:5432/x";
        assert_eq!(
            scrub_password("failed for postgres://app:hunter2@db:5432/x: hunter2", url),
            "failed for postgres://app:***@db:5432/x: ***"
        );
    }
}
