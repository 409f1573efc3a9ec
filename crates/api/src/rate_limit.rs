//! BigCommerce rate-limit headers and the per-store gate that honours them.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// `X-Rate-Limit-Requests-Left`: requests left in the current window.
pub const REQUESTS_LEFT: &str = "x-rate-limit-requests-left";
/// `X-Rate-Limit-Requests-Quota`: requests allowed per window.
pub const REQUESTS_QUOTA: &str = "x-rate-limit-requests-quota";
/// `X-Rate-Limit-Time-Window-Ms`: length of the window.
pub const TIME_WINDOW_MS: &str = "x-rate-limit-time-window-ms";
/// `X-Rate-Limit-Time-Reset-Ms`: time until the quota refreshes.
pub const TIME_RESET_MS: &str = "x-rate-limit-time-reset-ms";
/// `X-Retry-After`: on a 429, seconds until the quota refreshes.
pub const RETRY_AFTER_S: &str = "x-retry-after";

/// The rate-limit headers of one response. Header names are matched case-insensitively
/// (BigCommerce may send them lowercase); a header that is absent or not a number is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimitInfo {
    /// `X-Rate-Limit-Requests-Left`.
    pub requests_left: Option<u64>,
    /// `X-Rate-Limit-Requests-Quota`.
    pub requests_quota: Option<u64>,
    /// `X-Rate-Limit-Time-Window-Ms`.
    pub window: Option<Duration>,
    /// `X-Rate-Limit-Time-Reset-Ms`.
    pub reset: Option<Duration>,
    /// `X-Retry-After` (seconds).
    pub retry_after: Option<Duration>,
}

impl RateLimitInfo {
    /// Reads the headers. `HeaderMap` lookups are case-insensitive.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self {
            requests_left: number(headers, REQUESTS_LEFT),
            requests_quota: number(headers, REQUESTS_QUOTA),
            window: number(headers, TIME_WINDOW_MS).map(millis_capped),
            reset: number(headers, TIME_RESET_MS).map(millis_capped),
            retry_after: number(headers, RETRY_AFTER_S)
                .map(|s| millis_capped(s.saturating_mul(1000))),
        }
    }

    /// Whether any rate-limit header was present.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// How long BigCommerce asks to wait: the reset time, else `X-Retry-After`.
    pub fn wait_hint(&self) -> Option<Duration> {
        self.reset.or(self.retry_after)
    }
}

/// Longest wait taken from a header. BigCommerce's window is 30 s; a larger value is treated as
/// this cap rather than trusted (and can never overflow a clock).
pub const MAX_HEADER_WAIT: Duration = Duration::from_secs(3600);

fn millis_capped(ms: u64) -> Duration {
    Duration::from_millis(ms).min(MAX_HEADER_WAIT)
}

/// `instant + duration`, saturating far in the future instead of panicking on overflow.
pub(crate) fn later(instant: Instant, duration: Duration) -> Instant {
    instant
        .checked_add(duration)
        .unwrap_or_else(|| instant + Duration::from_secs(100 * 365 * 24 * 3600))
}

fn number(headers: &HeaderMap, name: &str) -> Option<u64> {
    let raw = headers.get(name)?.to_str().ok()?.trim();
    raw.parse::<u64>().ok().or_else(|| {
        // Tolerate a decimal value ("150.0") by taking its integer part.
        raw.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(|v| v as u64)
    })
}

/// The last rate-limit headers seen for a store, with when they were seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitSnapshot {
    /// The headers.
    pub info: RateLimitInfo,
    /// When the response carrying them arrived (tokio clock).
    pub observed_at: Instant,
}

/// Per-store state shared by every [`crate::StoreClient`] of the same store hash:
/// a semaphore bounding requests in flight, the time before which no request may be sent,
/// and the last rate-limit headers.
#[derive(Debug)]
pub(crate) struct StoreGate {
    permits: Arc<Semaphore>,
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    paused_until: Option<Instant>,
    last: Option<RateLimitSnapshot>,
}

impl StoreGate {
    pub(crate) fn new(max_in_flight: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_in_flight.max(1))),
            state: Mutex::new(GateState::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        // The state is plain data; a panic while holding the lock cannot leave it inconsistent.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits until the store is not paused and a request slot is free, and returns the slot.
    pub(crate) async fn acquire(&self) -> OwnedSemaphorePermit {
        loop {
            self.wait_pause().await;
            let permit = Arc::clone(&self.permits)
                .acquire_owned()
                .await
                .expect("the store semaphore is never closed");
            // A response that arrived while waiting for the slot may have paused the store.
            if self
                .paused_until()
                .is_none_or(|until| until <= Instant::now())
            {
                return permit;
            }
            drop(permit);
        }
    }

    async fn wait_pause(&self) {
        while let Some(until) = self.paused_until() {
            if until <= Instant::now() {
                break;
            }
            tokio::time::sleep_until(until).await;
        }
    }

    pub(crate) fn paused_until(&self) -> Option<Instant> {
        self.lock().paused_until
    }

    /// Holds back every request of this store until `until` (never shortens an existing pause).
    pub(crate) fn pause_until(&self, until: Instant) {
        let mut state = self.lock();
        if state.paused_until.is_none_or(|current| current < until) {
            state.paused_until = Some(until);
        }
    }

    /// Records the headers of a response. When the quota is used up, pauses the store until
    /// the window resets.
    pub(crate) fn observe(&self, info: RateLimitInfo) {
        if info.is_empty() {
            return;
        }
        let now = Instant::now();
        self.lock().last = Some(RateLimitSnapshot {
            info,
            observed_at: now,
        });
        if info.requests_left == Some(0) {
            if let Some(wait) = info.wait_hint() {
                self.pause_until(later(now, wait));
            }
        }
    }

    pub(crate) fn last(&self) -> Option<RateLimitSnapshot> {
        self.lock().last
    }

    pub(crate) fn available_permits(&self) -> usize {
        self.permits.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).expect("valid name"),
                HeaderValue::from_str(value).expect("valid value"),
            );
        }
        map
    }

    #[test]
    fn reads_headers_in_any_case() {
        let info = RateLimitInfo::from_headers(&headers(&[
            ("X-Rate-Limit-Requests-Left", "35"),
            ("x-rate-limit-requests-quota", "150"),
            ("X-RATE-LIMIT-TIME-WINDOW-MS", "30000"),
            ("x-rate-limit-time-reset-ms", "15000"),
            ("X-Retry-After", "15"),
        ]));
        assert_eq!(info.requests_left, Some(35));
        assert_eq!(info.requests_quota, Some(150));
        assert_eq!(info.window, Some(Duration::from_secs(30)));
        assert_eq!(info.reset, Some(Duration::from_secs(15)));
        assert_eq!(info.retry_after, Some(Duration::from_secs(15)));
    }

    #[test]
    fn huge_values_are_capped() {
        let info = RateLimitInfo::from_headers(&headers(&[
            ("x-rate-limit-time-reset-ms", "18446744073709551615"),
            ("x-retry-after", "18446744073709551615"),
        ]));
        assert_eq!(info.reset, Some(MAX_HEADER_WAIT));
        assert_eq!(info.retry_after, Some(MAX_HEADER_WAIT));
    }

    #[test]
    fn ignores_garbage_values() {
        let info = RateLimitInfo::from_headers(&headers(&[("x-rate-limit-requests-left", "lots")]));
        assert!(info.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn exhausted_quota_pauses_the_store_until_reset() {
        let gate = StoreGate::new(2);
        gate.observe(RateLimitInfo {
            requests_left: Some(0),
            reset: Some(Duration::from_millis(1500)),
            ..RateLimitInfo::default()
        });
        let start = Instant::now();
        let _permit = gate.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(1500));
        assert_eq!(gate.last().and_then(|s| s.info.requests_left), Some(0));
    }
}
