//! Store configuration, read once from the environment and validated.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::crypto::KeyRing;
use crate::error::{Result, StoreError};

/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// The database engine a URL points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file (the embedded default).
    Sqlite,
    /// PostgreSQL (production, several instances).
    Postgres,
}

/// How to reach the database and decrypt its secrets. `Debug` hides the URL's password
/// and the keys.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `BCAPP_DATA_DIR` | `./data` | directory for the SQLite file and the development key |
/// | `DATABASE_URL` | `sqlite://<data dir>/bcapp.db?mode=rwc` | `sqlite://...` or `postgres://...` |
/// | `BCAPP_DB_MAX_CONNECTIONS` | 10 (PostgreSQL), 4 (SQLite) | connection pool size |
/// | `BCAPP_DB_CONNECT_TIMEOUT_SECS` | 5 | connect and pool acquire timeout |
/// | `BCAPP_ENCRYPTION_KEY` | development key | `id:BASE64`, see [`KeyRing`](crate::KeyRing) |
/// | `BCAPP_ENCRYPTION_KEYS_OLD` | none | `id:BASE64,id:BASE64`, decrypt-only keys |
///
/// SQLite runs in WAL mode with `synchronous=NORMAL` and a busy timeout: a committed write
/// survives a crash of the process, but the last transactions before a power loss or OS crash
/// may be lost. Use PostgreSQL (or `synchronous=FULL`) where that matters, and whenever several
/// app instances share the data.
#[derive(Clone)]
pub struct StoreConfig {
    /// `sqlite://path?mode=rwc` or `postgres://user:pass@host:port/db`.
    pub database_url: String,
    /// Directory of the default SQLite file and of the development key.
    pub data_dir: PathBuf,
    /// Pool size; `None` = 10 for PostgreSQL, 4 for SQLite.
    pub max_connections: Option<u32>,
    /// Timeout for connecting and for waiting on a pooled connection. Short, so a down
    /// database turns into a quick 503 instead of a hanging webhook.
    pub connect_timeout: Duration,
    /// Encryption keys.
    pub key_ring: KeyRing,
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("database_url", &redact_url(&self.database_url))
            .field("data_dir", &self.data_dir)
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("key_ring", &self.key_ring)
            .finish()
    }
}

impl StoreConfig {
    /// A configuration for `database_url` with defaults for the rest.
    pub fn new(database_url: impl Into<String>, key_ring: KeyRing) -> Self {
        Self {
            database_url: database_url.into(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            max_connections: None,
            connect_timeout: Duration::from_secs(5),
            key_ring,
        }
    }

    /// The default SQLite URL for a data directory.
    pub fn default_sqlite_url(data_dir: &Path) -> String {
        format!("sqlite://{}/bcapp.db?mode=rwc", data_dir.display())
    }

    /// Reads the process environment, then `./.env` for what it does not set (see
    /// [`crate::env_file`]), and validates it.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(crate::env_file::env_and_file()?)
    }

    /// Like [`StoreConfig::from_env`] with a custom variable lookup.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        Self::from_lookup_with(lookup, true)
    }

    /// Reads the environment like [`StoreConfig::from_env`] for a tool that reads an existing
    /// app's data: the development key is never created (see [`KeyRing::load_existing`]).
    /// Open the database with [`crate::Store::open_existing`].
    pub fn existing_from_env() -> Result<Self> {
        Self::from_lookup_with(crate::env_file::env_and_file()?, false)
    }

    fn from_lookup_with(lookup: impl Fn(&str) -> Option<String>, create: bool) -> Result<Self> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let data_dir =
            PathBuf::from(get("BCAPP_DATA_DIR").unwrap_or_else(|| DEFAULT_DATA_DIR.into()));
        let database_url =
            get("DATABASE_URL").unwrap_or_else(|| Self::default_sqlite_url(&data_dir));
        let max_connections = match get("BCAPP_DB_MAX_CONNECTIONS") {
            None => None,
            Some(v) => Some(v.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                StoreError::Config(format!(
                    "BCAPP_DB_MAX_CONNECTIONS must be a positive integer, got `{v}`"
                ))
            })?),
        };
        let connect_timeout = match get("BCAPP_DB_CONNECT_TIMEOUT_SECS") {
            None => Duration::from_secs(5),
            Some(v) => {
                Duration::from_secs(v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    StoreError::Config(format!(
                        "BCAPP_DB_CONNECT_TIMEOUT_SECS must be a positive integer, got `{v}`"
                    ))
                })?)
            }
        };
        // Validate the URL before touching the file system for a development key.
        backend_of(&database_url)?;
        let (current, old) = (
            get("BCAPP_ENCRYPTION_KEY"),
            get("BCAPP_ENCRYPTION_KEYS_OLD"),
        );
        let key_ring = if create {
            KeyRing::load(current.as_deref(), old.as_deref(), &data_dir)?
        } else {
            KeyRing::load_existing(current.as_deref(), old.as_deref(), &data_dir)?
        };
        let cfg = Self {
            database_url,
            data_dir,
            max_connections,
            connect_timeout,
            key_ring,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the URL scheme and numeric settings.
    pub fn validate(&self) -> Result<()> {
        backend_of(&self.database_url)?;
        if self.max_connections == Some(0) {
            return Err(StoreError::Config(
                "max_connections must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The backend the URL points at.
    pub fn backend(&self) -> Result<Backend> {
        backend_of(&self.database_url)
    }

    /// The URL with its password removed, for messages.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.database_url)
    }
}

fn backend_of(url: &str) -> Result<Backend> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::Config(format!(
            "unsupported database URL {}: expected sqlite://PATH?mode=rwc or postgres://USER@HOST/DB",
            redact_url(url)
        )))
    }
}

/// The file path of an SQLite URL, if it names a file (not `:memory:`).
/// The file of a SQLite URL (`None` for other URLs and in-memory databases).
pub fn sqlite_file_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path.starts_with(":memory:") {
        None
    } else {
        Some(PathBuf::from(path))
    }
}

/// Removes the password from a database URL: both `user:PASSWORD@host` and a `password=`
/// query parameter.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let auth_start = scheme_end + 3;
        let auth_end = out[auth_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| auth_start + i);
        if let Some(at) = out[auth_start..auth_end].rfind('@') {
            let userinfo = &out[auth_start..auth_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(auth_start + colon + 1..auth_start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (base, query) = out.split_at(q + 1);
        let query = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&");
        out = format!("{base}{query}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://app:s3cr%40t@db.example:5432/bc?sslmode=require"),
            "postgres://app:***@db.example:5432/bc?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://app@db/bc?password=hunter2&x=1"),
            "postgres://app@db/bc?password=***&x=1"
        );
        assert_eq!(redact_url("postgres://db/bc"), "postgres://db/bc");
        assert_eq!(
            redact_url("sqlite://./data/bcapp.db?mode=rwc"),
            "sqlite://./data/bcapp.db?mode=rwc"
        );
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_file_path("sqlite://./data/bcapp.db?mode=rwc"),
            Some(PathBuf::from("./data/bcapp.db"))
        );
        assert_eq!(sqlite_file_path("sqlite::memory:"), None);
        assert_eq!(sqlite_file_path("postgres://x/y"), None);
    }

    #[test]
    fn env_defaults_and_validation() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_string_lossy().into_owned();
        let key = format!("k1:{}", "A".repeat(43) + "=");
        let env: HashMap<&str, String> = [
            ("BCAPP_DATA_DIR", data.clone()),
            ("BCAPP_ENCRYPTION_KEY", key.clone()),
        ]
        .into();
        let cfg = StoreConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
        assert_eq!(
            cfg.database_url,
            format!("sqlite://{data}/bcapp.db?mode=rwc")
        );
        assert_eq!(cfg.backend().unwrap(), Backend::Sqlite);
        assert_eq!(cfg.key_ring.current_key_id(), "k1");
        // With a real key, no development key file is created.
        assert!(!dir.path().join(crate::crypto::DEV_KEY_FILE).exists());

        let env: HashMap<&str, String> = [
            ("BCAPP_DATA_DIR", data.clone()),
            ("BCAPP_ENCRYPTION_KEY", key.clone()),
            ("DATABASE_URL", "mysql://root:pw@localhost/x".to_owned()),
        ]
        .into();
        let err = StoreConfig::from_lookup(|k| env.get(k).cloned()).unwrap_err();
        assert!(matches!(err, StoreError::Config(_)));
        assert!(
            err.to_string().contains("mysql://root:***@localhost/x"),
            "{err}"
        );
        assert!(!err.to_string().contains("pw"), "{err}");

        let env: HashMap<&str, String> = [
            ("BCAPP_DATA_DIR", data),
            ("BCAPP_ENCRYPTION_KEY", key),
            ("BCAPP_DB_MAX_CONNECTIONS", "zero".to_owned()),
        ]
        .into();
        let err = StoreConfig::from_lookup(|k| env.get(k).cloned()).unwrap_err();
        assert!(
            err.to_string().contains("BCAPP_DB_MAX_CONNECTIONS"),
            "{err}"
        );
    }

    #[test]
    fn debug_hides_password() {
        let cfg = StoreConfig::new(
            "postgres://u:topsecret@h/db",
            KeyRing::generate("k1").unwrap(),
        );
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("topsecret"), "{dbg}");
        assert!(dbg.contains("u:***@h"), "{dbg}");
    }
}
