//! The shared state of a running emulator: stores, tokens, hooks, deliveries.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bigcommerce_app_catalogue::{Catalogue, Resources};
use serde_json::Value;
use tokio::sync::watch;

use crate::blocklist::Blocklist;
use crate::config::{AppRegistration, EmulatorConfig, StoreSpec};
use crate::dispatcher::DeliveryRecord;
use crate::faults::FaultState;
use crate::hooks::Hook;
use crate::panel::PanelOutcome;
use crate::rate_limit::RateWindow;
use crate::resources::Resource;
use crate::EmulatorError;

/// Everything the HTTP handlers and the [`crate::Emulator`] handle share.
pub(crate) struct Core {
    pub app: AppRegistration,
    pub time_scale: f64,
    pub dev_mode: bool,
    pub delivery_timeout: Duration,
    pub catalogue: Catalogue,
    /// The API resources it serves beyond the hand-written ones, with their spec-derived shapes.
    pub resources: Resources,
    pub base_url: String,
    pub http: reqwest::Client,
    /// The merchant's browser for `/auth` and `/load`: follows the app's redirects into its UI.
    pub browser: reqwest::Client,
    pub started: Instant,
    pub state: Mutex<State>,
    pub deliveries: Mutex<Vec<DeliveryRecord>>,
    pub delivery_count: watch::Sender<usize>,
    pub blocklist: Mutex<Blocklist>,
    pub faults: Mutex<HashMap<String, FaultState>>,
}

pub(crate) struct State {
    pub stores: HashMap<String, StoreState>,
    /// One-time authorization codes issued by `install`.
    pub codes: HashMap<String, PendingCode>,
    /// Access token -> who holds it.
    pub tokens: HashMap<String, TokenOwner>,
    pub next_hook_id: u64,
    pub next_event: u64,
}

pub(crate) struct StoreState {
    pub spec: StoreSpec,
    pub channels: Vec<u64>,
    pub hooks: BTreeMap<u64, Hook>,
    /// The app's access token while it is installed.
    pub token: Option<String>,
    /// Notification emails per client (`PUT /hooks/admin`).
    pub emails: HashMap<String, Vec<String>>,
    pub missing: HashSet<(Resource, String)>,
    /// Resources the app created or updated through the API, by (name, parent id or "", id):
    /// what `GET` answers from then on instead of a generated body.
    pub written: HashMap<(String, String, String), Value>,
    /// Resources the app deleted through the API, by the same key: `GET` answers 404.
    pub deleted: HashSet<(String, String, String)>,
    /// The id the next created resource gets.
    pub next_id: u64,
    pub rate: RateWindow,
    /// What the last server-side action from the store's control panel gave.
    pub panel_outcome: Option<PanelOutcome>,
}

pub(crate) struct PendingCode {
    pub store: String,
    pub issued: Instant,
}

#[derive(Clone)]
pub(crate) struct TokenOwner {
    pub store: String,
    pub client_id: String,
}

/// Codes are short-lived on BigCommerce; ten minutes of real time here.
pub(crate) const CODE_LIFETIME: Duration = Duration::from_secs(600);

impl Core {
    pub fn new(config: EmulatorConfig, base_url: String) -> Result<Core, EmulatorError> {
        if !(config.time_scale.is_finite() && config.time_scale > 0.0) {
            return Err(EmulatorError::InvalidConfig(format!(
                "time_scale must be a positive number, got {}",
                config.time_scale
            )));
        }
        let catalogue = bigcommerce_app_catalogue::bundled()?;
        let resources = Resources::bundled_beside(&catalogue)?;
        let mut stores = HashMap::new();
        for spec in config.stores {
            if let Err(e) = bigcommerce_app_core::StoreHash::check(&spec.hash) {
                return Err(EmulatorError::InvalidConfig(format!(
                    "store hash `{}`: {e}",
                    spec.hash
                )));
            }
            if spec.rate_limit.quota == 0 || spec.rate_limit.window.is_zero() {
                return Err(EmulatorError::InvalidConfig(format!(
                    "store `{}`: the rate limit needs a quota and a window",
                    spec.hash
                )));
            }
            let state = StoreState {
                channels: spec.channels.clone(),
                hooks: BTreeMap::new(),
                token: None,
                emails: HashMap::new(),
                missing: HashSet::new(),
                written: HashMap::new(),
                deleted: HashSet::new(),
                next_id: 1000,
                rate: RateWindow::new(spec.rate_limit),
                panel_outcome: None,
                spec,
            };
            if stores.insert(state.spec.hash.clone(), state).is_some() {
                return Err(EmulatorError::InvalidConfig("duplicate store hash".into()));
            }
        }
        let http = reqwest::Client::builder()
            .timeout(config.delivery_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("bigcommerce-app-emulator")
            .build()
            .map_err(|e| EmulatorError::InvalidConfig(format!("HTTP client: {e}")))?;
        let browser = reqwest::Client::builder()
            .timeout(config.delivery_timeout)
            .redirect(reqwest::redirect::Policy::limited(10))
            .user_agent("bigcommerce-app-emulator (merchant browser)")
            .build()
            .map_err(|e| EmulatorError::InvalidConfig(format!("HTTP client: {e}")))?;
        let (delivery_count, _) = watch::channel(0);
        Ok(Core {
            app: config.app,
            time_scale: config.time_scale,
            dev_mode: config.dev_mode,
            delivery_timeout: config.delivery_timeout,
            catalogue,
            resources,
            base_url,
            http,
            browser,
            started: Instant::now(),
            state: Mutex::new(State {
                stores,
                codes: HashMap::new(),
                tokens: HashMap::new(),
                next_hook_id: 1,
                next_event: 1,
            }),
            deliveries: Mutex::new(Vec::new()),
            delivery_count,
            blocklist: Mutex::new(Blocklist::default()),
            faults: Mutex::new(HashMap::new()),
        })
    }

    /// A BigCommerce duration (e.g. a retry interval) on the emulator's clock.
    pub fn scaled(&self, real: Duration) -> Duration {
        real.div_f64(self.time_scale)
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Runs `f` on a store, or fails with [`EmulatorError::UnknownStore`].
    pub fn with_store<R>(
        &self,
        hash: &str,
        f: impl FnOnce(&mut StoreState) -> R,
    ) -> Result<R, EmulatorError> {
        let mut state = self.state();
        let store = state
            .stores
            .get_mut(hash)
            .ok_or_else(|| EmulatorError::UnknownStore(hash.to_owned()))?;
        Ok(f(store))
    }
}

/// Locks a mutex, ignoring poisoning (the data stays consistent: no guard is held across a panic
/// point that leaves it half-updated).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A random lowercase alphanumeric string.
pub(crate) fn random_token(len: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect()
}

/// A random version-4 UUID in its usual text form.
pub(crate) fn random_uuid() -> String {
    use rand::Rng;
    let mut bytes: [u8; 16] = rand::thread_rng().gen();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
