//! Runtime configuration of the receiver and the workers, loaded once and validated. The settings table is on [`Config`].

use std::time::Duration;

use bigcommerce_app_store::SecretString;

/// How Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`, `webhook-signature`)
/// are treated. The per-store secret header is always required.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureMode {
    /// Not checked.
    Off,
    /// Checked when present; a missing or bad signature is logged, the callback accepted.
    Log,
    /// A callback without a valid signature is refused with 401.
    Required,
}

impl std::str::FromStr for SignatureMode {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        match s {
            "off" => Ok(SignatureMode::Off),
            "log" => Ok(SignatureMode::Log),
            "required" => Ok(SignatureMode::Required),
            other => Err(ConfigError::Invalid {
                name: "BCAPP_SIGNATURES",
                value: other.to_owned(),
                reason: "expected off, log or required".into(),
            }),
        }
    }
}

/// A configuration problem, naming the setting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{name}={value:?} is not valid: {reason}")]
    /// A variable has a value that does not parse or is out of range.
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    #[error("{0}")]
    /// Settings that do not fit together; the message names them.
    Inconsistent(String),
    /// `./.env` exists but does not parse.
    #[error(transparent)]
    EnvFile(bigcommerce_app_store::StoreError),
    /// A part built from the settings refused them (the API client, the OAuth client, the
    /// signature verifier).
    #[error("{what}: {source}")]
    Component {
        /// Which part.
        what: &'static str,
        /// Why it refused.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// The app's BigCommerce credentials and URLs (install flow, API calls, reconciler).
#[derive(Clone, Debug)]
pub struct BigCommerce {
    /// The app's client id (`BC_CLIENT_ID`).
    pub client_id: String,
    /// Public base URL of the app, without a trailing `/`.
    pub app_url: String,
    /// The API's base URL (`BC_API_URL`).
    pub api_url: String,
    /// The OAuth server's base URL (`BC_LOGIN_URL`).
    pub login_url: String,
}

impl BigCommerce {
    /// The OAuth `redirect_uri`: `{app_url}/auth`.
    pub fn redirect_uri(&self) -> String {
        format!("{}/auth", self.app_url)
    }

    /// The OAuth token endpoint: `{login_url}/oauth2/token`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.login_url)
    }
}

/// Receiver and worker settings, read once from the environment ([`Config::from_env`]) and
/// validated.
///
/// | variable | default | meaning |
/// |---|---|---|
/// | `BCAPP_LISTEN` | `0.0.0.0:$PORT` | the address [`crate::Server::run`] listens on |
/// | `PORT` | `3000` | the port, when `BCAPP_LISTEN` is not set (the convention of most hosting platforms) |
/// | `BCAPP_WEBHOOK_PATH` | `/webhooks` | where BigCommerce POSTs callbacks |
/// | `BCAPP_MAX_BODY_BYTES` | `65536` | larger callbacks are refused with 413 |
/// | `BCAPP_SIGNATURES` | `log` | Standard Webhooks signatures: `off`, `log` (verify, log failures), `required` |
/// | `BC_CLIENT_SECRET` | none | the app's client secret: the key of Standard Webhooks signatures |
/// | `BCAPP_UNINSTALLED_GRACE_SECS` | `259200` (3 days) | callbacks of a store uninstalled this recently are acknowledged and dropped |
/// | `BCAPP_MAX_IN_FLIGHT` | `256` | events handled at once per process (handlers mostly wait on the API) |
/// | `BCAPP_MAX_IN_FLIGHT_PER_STORE` | none | events of one store handled at once, when set |
/// | `BCAPP_MAX_HELD` | `1024` | events a process holds in memory (queued and in flight); the rest wait in the database |
/// | `BCAPP_MAX_ATTEMPTS` | `8` | attempts before an event goes to the dead letters |
/// | `BCAPP_HANDLER_TIMEOUT_SECS` | `30` | one attempt of one event's handlers; then it counts as a retryable failure |
/// | `BC_CLIENT_ID` | none | the app's client id; with `BC_CLIENT_SECRET` and `APP_URL` it enables install, load and uninstall and the subscription reconciler |
/// | `APP_URL` | none | the app's public base URL (`https://app.example.com`): OAuth redirect `{APP_URL}/auth`, webhook destination `{APP_URL}{BCAPP_WEBHOOK_PATH}` |
/// | `BC_API_URL` | `https://api.bigcommerce.com` | the API base (the local emulator in development) |
/// | `BC_LOGIN_URL` | `https://login.bigcommerce.com` | the OAuth token endpoint's base |
/// | `BCAPP_RECONCILE_INTERVAL_SECS` | `3600` | how often every store's subscriptions are checked |
/// | `BCAPP_INGEST_TIMEOUT_MS` | `500` | longest a callback waits to be stored before it is answered 503 (BigCommerce redelivers it) |
/// | `BCAPP_SESSION_TTL_SECS` | `7200` | how long a merchant's session in the app's UI lasts after `/load` |
/// | `BCAPP_FRAME_ANCESTORS` | `https://*.bigcommerce.com https://*.mybigcommerce.com` | who may frame the app's pages (`Content-Security-Policy: frame-ancestors`), space-separated |
///
/// Everything else has a sensible default and can be set in code (`Config { .. }`).
#[derive(Clone, Debug)]
pub struct Config {
    /// Where [`crate::Server::run`] listens.
    pub listen: std::net::SocketAddr,
    /// Path of the callback endpoint.
    pub webhook_path: String,
    /// Larger bodies are refused with 413 (BigCommerce callbacks are a few hundred bytes).
    pub max_body_bytes: usize,
    /// Header carrying the per-store secret registered with every hook.
    pub secret_header: String,
    /// How long after a secret rotation the previous secret is still accepted (until the
    /// reconciler has updated every hook's header).
    pub secret_rotation_window: Duration,
    /// How Standard Webhooks signatures are checked (`BCAPP_SIGNATURES`).
    pub signatures: SignatureMode,
    /// The app's client secret (the Standard Webhooks key).
    pub client_secret: Option<SecretString>,
    /// Callbacks of a store uninstalled less than this long ago are answered 200 and dropped:
    /// BigCommerce retries failed deliveries for two days and counts failures towards blocking
    /// the whole destination, so refusing them would hurt every other tenant.
    pub uninstalled_grace: Duration,
    /// How long a tenant looked up for a callback is reused. Install and uninstall invalidate
    /// it at once in this process; other processes see the change after this long at most.
    pub tenant_cache_ttl: Duration,
    /// Most rows one group commit writes.
    pub group_commit_max_rows: usize,
    /// Inbox writer tasks committing in parallel; `None`: 1, which measured best on SQLite (one
    /// writer at a time anyway) and on PostgreSQL (fewer, larger statements).
    pub group_commit_writers: Option<usize>,
    /// How long the group commit waits for more rows after the first. Zero: none; the time one
    /// commit takes is what the next batch gathers in.
    pub group_commit_linger: Duration,
    /// Longest a callback waits for its tenant and its insert before it is answered 503: a slow
    /// refusal ties up connections on both sides and counts as a failure at BigCommerce too.
    /// While the database refuses writes, callbacks are refused at once (one at a time tries).
    pub ingest_timeout: Duration,
    /// Events handled at once by this process: handlers mostly wait on BigCommerce's API, so
    /// this is a budget of waiting work, not of threads.
    pub max_in_flight: usize,
    /// Events of one store handled at once; `None`: only `max_in_flight` and the store's API
    /// budget limit it.
    pub max_in_flight_per_store: Option<usize>,
    /// Events this process holds in memory, queued per store or in flight; the rest wait in the
    /// database. One store holds at most half of them, so others always find room.
    pub max_held: usize,
    /// Rows claimed from the database at once (recovery, retries, other instances' events).
    pub claim_batch: u32,
    /// A claim lapses after this long unless the process holding it extends it (it does, every
    /// quarter of the lease, for everything it holds), so the rows of a dead process come back.
    pub claim_lease: Duration,
    /// Attempts before an event goes to the dead letters.
    pub max_attempts: u32,
    /// First retry delay; doubles per attempt, with full jitter, up to `retry_max`.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Time allowed for one attempt of one event's handlers.
    pub handler_timeout: Duration,
    /// Longest wait between looks at the database for due rows (retries, other instances'
    /// events, lapsed claims) while the process has room; new rows from this process wake it.
    pub idle_poll: Duration,
    /// On shutdown, how long in-flight handlers may take before claims are released.
    pub shutdown_grace: Duration,
    /// Done rows are kept this long for de-duplication (longer than BigCommerce's 48 h retries).
    pub retention: Duration,
    /// Credentials and URLs; `None`: no install routes and no reconciler (a receiver only).
    pub bigcommerce: Option<BigCommerce>,
    /// How often every installed store's subscriptions are reconciled (also at start-up).
    pub reconcile_interval: Duration,
    /// Stores reconciled at once.
    pub reconcile_concurrency: usize,
    /// How long a merchant's session (opened by `/load` or the install callback) is accepted.
    pub session_ttl: Duration,
    /// Sources allowed to frame the app's pages: BigCommerce's control panel by default, plus
    /// the emulator's origin in development. Sent as `Content-Security-Policy: frame-ancestors`.
    pub frame_ancestors: Vec<String>,
}

/// BigCommerce's control panel: `store-{hash}.mybigcommerce.com` and `*.bigcommerce.com`.
pub const DEFAULT_FRAME_ANCESTORS: [&str; 2] =
    ["https://*.bigcommerce.com", "https://*.mybigcommerce.com"];

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: std::net::SocketAddr::from(([0, 0, 0, 0], 3000)),
            webhook_path: "/webhooks".into(),
            max_body_bytes: 64 * 1024,
            secret_header: "x-bcapp-webhook-secret".into(),
            secret_rotation_window: Duration::from_secs(3600),
            signatures: SignatureMode::Log,
            client_secret: None,
            uninstalled_grace: Duration::from_secs(3 * 24 * 3600),
            tenant_cache_ttl: Duration::from_secs(30),
            group_commit_max_rows: 256,
            group_commit_writers: None,
            group_commit_linger: Duration::ZERO,
            ingest_timeout: Duration::from_millis(500),
            max_in_flight: 256,
            max_in_flight_per_store: None,
            max_held: 1024,
            claim_batch: 256,
            claim_lease: Duration::from_secs(120),
            max_attempts: 8,
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(3600),
            handler_timeout: Duration::from_secs(30),
            idle_poll: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(20),
            retention: bigcommerce_app_store::DEFAULT_INBOX_RETENTION,
            bigcommerce: None,
            reconcile_interval: Duration::from_secs(3600),
            reconcile_concurrency: 4,
            session_ttl: Duration::from_secs(2 * 3600),
            frame_ancestors: DEFAULT_FRAME_ANCESTORS.map(str::to_owned).to_vec(),
        }
    }
}

impl Config {
    /// Defaults overridden by the environment (see the module docs), validated. A variable the
    /// environment does not set is read from `./.env` when there is one
    /// ([`bigcommerce_app_store::env_file`]).
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(
            bigcommerce_app_store::env_file::env_and_file().map_err(ConfigError::EnvFile)?,
        )
    }

    /// Like [`Config::from_env`] with another source of variables (tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        if let Some(v) = lookup("PORT").filter(|v| !v.trim().is_empty()) {
            cfg.listen.set_port(parse_number("PORT", &v)?);
        }
        if let Some(v) = lookup("BCAPP_LISTEN").filter(|v| !v.trim().is_empty()) {
            cfg.listen = v.trim().parse().map_err(|e| ConfigError::Invalid {
                name: "BCAPP_LISTEN",
                value: v.clone(),
                reason: format!("{e}; expected an address and port such as 0.0.0.0:3000"),
            })?;
        }
        if let Some(path) = lookup("BCAPP_WEBHOOK_PATH") {
            cfg.webhook_path = path;
        }
        if let Some(v) = lookup("BCAPP_MAX_BODY_BYTES") {
            cfg.max_body_bytes = parse_number("BCAPP_MAX_BODY_BYTES", &v)?;
        }
        if let Some(v) = lookup("BCAPP_SIGNATURES") {
            cfg.signatures = v.parse()?;
        }
        if let Some(v) = lookup("BC_CLIENT_SECRET").filter(|v| !v.is_empty()) {
            cfg.client_secret = Some(SecretString::new(v));
        }
        if let Some(v) = lookup("BCAPP_UNINSTALLED_GRACE_SECS") {
            cfg.uninstalled_grace =
                Duration::from_secs(parse_number("BCAPP_UNINSTALLED_GRACE_SECS", &v)?);
        }
        if let Some(v) = lookup("BCAPP_WORKERS") {
            return Err(ConfigError::Invalid {
                name: "BCAPP_WORKERS",
                value: v,
                reason: "replaced by BCAPP_MAX_IN_FLIGHT (events handled at once, default 256)"
                    .into(),
            });
        }
        if let Some(v) = lookup("BCAPP_MAX_IN_FLIGHT") {
            cfg.max_in_flight = parse_number("BCAPP_MAX_IN_FLIGHT", &v)?;
        }
        if let Some(v) = lookup("BCAPP_MAX_IN_FLIGHT_PER_STORE") {
            cfg.max_in_flight_per_store = Some(parse_number("BCAPP_MAX_IN_FLIGHT_PER_STORE", &v)?);
        }
        if let Some(v) = lookup("BCAPP_MAX_HELD") {
            cfg.max_held = parse_number("BCAPP_MAX_HELD", &v)?;
        }
        if let Some(v) = lookup("BCAPP_MAX_ATTEMPTS") {
            cfg.max_attempts = parse_number("BCAPP_MAX_ATTEMPTS", &v)?;
        }
        if let Some(v) = lookup("BCAPP_HANDLER_TIMEOUT_SECS") {
            cfg.handler_timeout =
                Duration::from_secs(parse_number("BCAPP_HANDLER_TIMEOUT_SECS", &v)?);
        }
        if let Some(v) = lookup("BCAPP_RECONCILE_INTERVAL_SECS") {
            cfg.reconcile_interval =
                Duration::from_secs(parse_number("BCAPP_RECONCILE_INTERVAL_SECS", &v)?);
        }
        if let Some(v) = lookup("BCAPP_INGEST_TIMEOUT_MS") {
            cfg.ingest_timeout =
                Duration::from_millis(parse_number("BCAPP_INGEST_TIMEOUT_MS", &v)?);
        }
        if let Some(v) = lookup("BCAPP_SESSION_TTL_SECS") {
            cfg.session_ttl = Duration::from_secs(parse_number("BCAPP_SESSION_TTL_SECS", &v)?);
        }
        if let Some(v) = lookup("BCAPP_FRAME_ANCESTORS") {
            cfg.frame_ancestors = v.split_whitespace().map(str::to_owned).collect();
        }
        let client_id = lookup("BC_CLIENT_ID").filter(|v| !v.is_empty());
        let app_url = lookup("APP_URL").filter(|v| !v.is_empty());
        match (client_id, app_url) {
            (Some(client_id), Some(app_url)) => {
                cfg.bigcommerce = Some(BigCommerce {
                    client_id,
                    app_url: app_url.trim_end_matches('/').to_owned(),
                    api_url: lookup("BC_API_URL")
                        .unwrap_or_else(|| "https://api.bigcommerce.com".into()),
                    login_url: lookup("BC_LOGIN_URL")
                        .unwrap_or_else(|| "https://login.bigcommerce.com".into())
                        .trim_end_matches('/')
                        .to_owned(),
                });
            }
            (None, None) => {}
            _ => {
                return Err(ConfigError::Inconsistent(
                    "BC_CLIENT_ID and APP_URL go together: set both (with BC_CLIENT_SECRET) to \
                     enable installs, or neither for a receiver only"
                        .into(),
                ))
            }
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the settings fit together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |msg: String| Err(ConfigError::Inconsistent(msg));
        if !self.webhook_path.starts_with('/') {
            return fail(format!(
                "webhook path {:?} must start with `/`",
                self.webhook_path
            ));
        }
        if self.max_body_bytes == 0 {
            return fail("max_body_bytes must be positive (BCAPP_MAX_BODY_BYTES)".into());
        }
        if axum::http::HeaderName::from_bytes(self.secret_header.as_bytes()).is_err() {
            return fail(format!(
                "secret header {:?} is not a header name",
                self.secret_header
            ));
        }
        if self.signatures == SignatureMode::Required && self.client_secret.is_none() {
            return fail(
                "BCAPP_SIGNATURES=required needs the app's client secret (BC_CLIENT_SECRET)".into(),
            );
        }
        if self.max_attempts == 0 {
            return fail("max_attempts must be at least 1 (BCAPP_MAX_ATTEMPTS)".into());
        }
        if self.group_commit_max_rows == 0 || self.claim_batch == 0 {
            return fail(format!(
                "group_commit_max_rows ({}) and claim_batch ({}) must be positive",
                self.group_commit_max_rows, self.claim_batch
            ));
        }
        if self.max_in_flight == 0 || self.max_in_flight_per_store == Some(0) {
            return fail(
                "max_in_flight and max_in_flight_per_store must be positive \
                 (BCAPP_MAX_IN_FLIGHT, BCAPP_MAX_IN_FLIGHT_PER_STORE)"
                    .into(),
            );
        }
        if self.max_held < self.max_in_flight {
            return fail(format!(
                "max_held ({}) must be at least max_in_flight ({}): held events include the ones \
                 in flight (BCAPP_MAX_HELD)",
                self.max_held, self.max_in_flight
            ));
        }
        if self.claim_lease < Duration::from_secs(1) {
            return fail(format!(
                "claim_lease ({:?}) must be at least a second: it is extended every quarter of it",
                self.claim_lease
            ));
        }
        if let Some(bc) = &self.bigcommerce {
            if self.client_secret.is_none() {
                return fail(
                    "BigCommerce credentials need the client secret (BC_CLIENT_SECRET)".into(),
                );
            }
            for (name, url) in [
                ("APP_URL", &bc.app_url),
                ("BC_API_URL", &bc.api_url),
                ("BC_LOGIN_URL", &bc.login_url),
            ] {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return fail(format!("{name} {url:?} is not an http(s) URL"));
                }
            }
        }
        if self.reconcile_interval.is_zero() {
            return fail(
                "reconcile_interval must be positive (BCAPP_RECONCILE_INTERVAL_SECS)".into(),
            );
        }
        if self.reconcile_concurrency == 0 {
            return fail("reconcile_concurrency must be positive".into());
        }
        if self.ingest_timeout < Duration::from_millis(10) {
            return fail(format!(
                "ingest_timeout ({:?}) must be at least 10 ms (BCAPP_INGEST_TIMEOUT_MS)",
                self.ingest_timeout
            ));
        }
        if self.session_ttl < std::time::Duration::from_secs(60) {
            return fail(format!(
                "session_ttl ({:?}) must be at least a minute (BCAPP_SESSION_TTL_SECS)",
                self.session_ttl
            ));
        }
        if self.frame_ancestors.is_empty() {
            return fail(
                "frame_ancestors is empty: the app's pages could not be shown in the control \
                 panel (BCAPP_FRAME_ANCESTORS)"
                    .into(),
            );
        }
        if let Some(bad) = self.frame_ancestors.iter().find(|source| {
            source.is_empty()
                || source
                    .chars()
                    .any(|c| c == ';' || c == ',' || c.is_whitespace() || c.is_control())
        }) {
            return fail(format!(
                "frame ancestor {bad:?} is not a CSP source (like https://*.bigcommerce.com)"
            ));
        }
        if self.retry_base.is_zero() || self.retry_max < self.retry_base {
            return fail("retry_base must be positive and at most retry_max".into());
        }
        Ok(())
    }
}

fn parse_number<T: std::str::FromStr>(name: &'static str, value: &str) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value
        .trim()
        .parse()
        .map_err(|e: T::Err| ConfigError::Invalid {
            name,
            value: value.to_owned(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_env_overrides_them() {
        Config::default().validate().unwrap();
        let cfg = Config::from_lookup(|name| match name {
            "BCAPP_MAX_IN_FLIGHT" => Some("2".into()),
            "BCAPP_SIGNATURES" => Some("off".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!((cfg.max_in_flight, cfg.signatures), (2, SignatureMode::Off));
    }

    #[test]
    fn listen_address_and_long_handler_timeouts() {
        let cfg = Config::from_lookup(|n| match n {
            "PORT" => Some("8080".into()),
            // Longer than the claim lease: the lease is extended while the handler runs.
            "BCAPP_HANDLER_TIMEOUT_SECS" => Some("300".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(cfg.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(cfg.handler_timeout, Duration::from_secs(300));
        let cfg = Config::from_lookup(|n| (n == "BCAPP_LISTEN").then(|| "127.0.0.1:4001".into()))
            .unwrap();
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:4001");
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let err = Config::from_lookup(|n| (n == "BCAPP_MAX_IN_FLIGHT").then(|| "many".into()))
            .unwrap_err();
        assert!(err.to_string().contains("BCAPP_MAX_IN_FLIGHT"), "{err}");
        let err = Config::from_lookup(|n| (n == "BCAPP_WORKERS").then(|| "4".into())).unwrap_err();
        assert!(err.to_string().contains("BCAPP_MAX_IN_FLIGHT"), "{err}");
        let err = Config::from_lookup(|n| (n == "BCAPP_SIGNATURES").then(|| "required".into()))
            .unwrap_err();
        assert!(err.to_string().contains("BC_CLIENT_SECRET"), "{err}");
        let err =
            Config::from_lookup(|n| (n == "BCAPP_MAX_ATTEMPTS").then(|| "0".into())).unwrap_err();
        assert!(err.to_string().contains("BCAPP_MAX_ATTEMPTS"), "{err}");
        let err = Config::from_lookup(|n| (n == "PORT").then(|| "http".into())).unwrap_err();
        assert!(err.to_string().contains("PORT"), "{err}");
        let err =
            Config::from_lookup(|n| (n == "BCAPP_LISTEN").then(|| "3000".into())).unwrap_err();
        assert!(err.to_string().contains("BCAPP_LISTEN"), "{err}");
        let cfg = Config {
            max_held: 10,
            ..Config::default()
        };
        assert!(cfg.validate().is_err());
    }
}
