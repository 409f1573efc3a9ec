//! What the emulated BigCommerce looks like: its stores, the registered app, and how fast time runs.

use std::time::Duration;

/// The whole emulated world.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The stores that can install the app.
    pub stores: Vec<StoreSpec>,
    /// The one app registered in the emulated Developer Portal.
    pub app: AppRegistration,
    /// How much faster than real time BigCommerce's clocks run: 1.0 is real time, 1000.0 runs the
    /// retry schedule (60 s, 180 s, ...) in 60 ms, 180 ms, ... It scales the retry schedule and the
    /// blocklist's window and duration, not the API rate-limit window (configured per store).
    pub time_scale: f64,
    /// Accept `http://` destinations on loopback hosts (`127.0.0.1`, `localhost`, `::1`) on any
    /// port. Without it, as on BigCommerce, a destination must be HTTPS on port 443.
    pub dev_mode: bool,
    /// How long a webhook callback may take before it counts as failed (BigCommerce does not
    /// document its value).
    pub delivery_timeout: Duration,
}

impl EmulatorConfig {
    /// One store (`abc123`, channel 1), the given app, real time, dev mode on.
    pub fn new(app: AppRegistration) -> Self {
        EmulatorConfig {
            stores: vec![StoreSpec::new("abc123", 1_000_001)],
            app,
            time_scale: 1.0,
            dev_mode: true,
            delivery_timeout: Duration::from_secs(10),
        }
    }

    /// Replaces the stores.
    pub fn with_stores(mut self, stores: Vec<StoreSpec>) -> Self {
        self.stores = stores;
        self
    }

    /// Sets [`EmulatorConfig::time_scale`].
    pub fn with_time_scale(mut self, time_scale: f64) -> Self {
        self.time_scale = time_scale;
        self
    }

    /// Sets [`EmulatorConfig::dev_mode`].
    pub fn with_dev_mode(mut self, dev_mode: bool) -> Self {
        self.dev_mode = dev_mode;
        self
    }

    /// Sets [`EmulatorConfig::delivery_timeout`].
    pub fn with_delivery_timeout(mut self, timeout: Duration) -> Self {
        self.delivery_timeout = timeout;
        self
    }
}

/// One emulated store.
#[derive(Debug, Clone)]
pub struct StoreSpec {
    /// The store hash, as in `stores/{hash}`.
    pub hash: String,
    /// The numeric store id sent as `store_id` in callbacks.
    pub store_id: u64,
    /// The store's channels (BigCommerce stores always have channel 1, the default storefront).
    pub channels: Vec<u64>,
    /// The API request quota shared by every client of the store.
    pub rate_limit: RateLimitSpec,
}

impl StoreSpec {
    /// A store with channel 1 and the Standard plan quota (150 requests per 30 s).
    pub fn new(hash: impl Into<String>, store_id: u64) -> Self {
        StoreSpec {
            hash: hash.into(),
            store_id,
            channels: vec![1],
            rate_limit: RateLimitSpec::default(),
        }
    }

    /// Replaces the channels.
    pub fn with_channels(mut self, channels: Vec<u64>) -> Self {
        self.channels = channels;
        self
    }

    /// Replaces the quota.
    pub fn with_rate_limit(mut self, quota: u32, window: Duration) -> Self {
        self.rate_limit = RateLimitSpec { quota, window };
        self
    }

    /// The store owner's user id (also the user of the install's token response).
    pub fn owner_id(&self) -> u64 {
        self.store_id.saturating_mul(10).saturating_add(1)
    }

    /// A staff user of the store who is not the owner (`owner_id() + 1`), for opening the app or
    /// removing a user as someone other than the owner.
    pub fn staff_user_id(&self) -> u64 {
        self.owner_id().saturating_add(1)
    }

    /// The email of a user of this store.
    pub fn user_email(&self, user_id: u64) -> String {
        if user_id == self.owner_id() {
            format!("owner@{}.example.com", self.hash)
        } else {
            format!("user{user_id}@{}.example.com", self.hash)
        }
    }
}

/// Requests allowed per window, per store (all clients share it, as on BigCommerce).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSpec {
    /// Requests per window.
    pub quota: u32,
    /// The window's length.
    pub window: Duration,
}

impl Default for RateLimitSpec {
    fn default() -> Self {
        RateLimitSpec {
            quota: 150,
            window: Duration::from_secs(30),
        }
    }
}

/// The app as registered in the Developer Portal.
#[derive(Debug, Clone)]
pub struct AppRegistration {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret (signs JWTs and Standard Webhooks signatures).
    pub client_secret: String,
    /// Base URL of the app. BigCommerce calls `GET {app_url}/auth`, `/load`, `/uninstall` and
    /// `/remove_user`; the token exchange must name `{app_url}/auth` as `redirect_uri`.
    pub app_url: String,
    /// The OAuth scopes the merchant grants (e.g. `store_v2_orders_read_only`).
    pub oauth_scopes: Vec<String>,
}

impl AppRegistration {
    /// A registration with no OAuth scopes.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        app_url: impl Into<String>,
    ) -> Self {
        AppRegistration {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            app_url: app_url.into(),
            oauth_scopes: vec![
                "store_v2_orders_read_only".to_owned(),
                "store_v2_products_read_only".to_owned(),
                "store_cart_read_only".to_owned(),
                "store_channel_listings_read_only".to_owned(),
            ],
        }
    }

    /// The callback URL the app registered: `{app_url}/auth`.
    pub fn redirect_uri(&self) -> String {
        self.callback_url("auth")
    }

    pub(crate) fn callback_url(&self, name: &str) -> String {
        format!("{}/{name}", self.app_url.trim_end_matches('/'))
    }
}
