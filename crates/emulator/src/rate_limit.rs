//! BigCommerce's per-store request quota and its `X-Rate-Limit-*` headers.

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};

use crate::config::RateLimitSpec;

/// A fixed window: `quota` requests, refreshed every `window`.
#[derive(Debug)]
pub(crate) struct RateWindow {
    spec: RateLimitSpec,
    started: Instant,
    used: u32,
}

/// The quota as one answer reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateStatus {
    pub quota: u32,
    pub left: u32,
    pub window: Duration,
    pub reset: Duration,
}

impl RateWindow {
    pub fn new(spec: RateLimitSpec) -> Self {
        RateWindow {
            spec,
            started: Instant::now(),
            used: 0,
        }
    }

    fn roll(&mut self, now: Instant) {
        if now.duration_since(self.started) >= self.spec.window {
            self.started = now;
            self.used = 0;
        }
    }

    fn status(&self, now: Instant) -> RateStatus {
        RateStatus {
            quota: self.spec.quota,
            left: self.spec.quota.saturating_sub(self.used),
            window: self.spec.window,
            reset: self
                .spec
                .window
                .saturating_sub(now.duration_since(self.started)),
        }
    }

    /// Takes one request from the quota: `Ok` with what is left, or `Err` when it is spent.
    pub fn take(&mut self) -> Result<RateStatus, RateStatus> {
        let now = Instant::now();
        self.roll(now);
        if self.used >= self.spec.quota {
            return Err(self.status(now));
        }
        self.used += 1;
        Ok(self.status(now))
    }

    /// The current status, without taking a request (for injected 429s).
    pub fn peek_exhausted(&mut self) -> RateStatus {
        let now = Instant::now();
        self.roll(now);
        RateStatus {
            left: 0,
            ..self.status(now)
        }
    }
}

impl RateStatus {
    /// Writes the `X-Rate-Limit-*` headers (and `X-Retry-After` when `limited`).
    pub fn write(&self, headers: &mut HeaderMap, limited: bool) {
        let mut put = |name: &'static str, value: u128| {
            if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
                headers.insert(name, value);
            }
        };
        put("x-rate-limit-requests-quota", u128::from(self.quota));
        put("x-rate-limit-requests-left", u128::from(self.left));
        put("x-rate-limit-time-window-ms", self.window.as_millis());
        put("x-rate-limit-time-reset-ms", self.reset.as_millis());
        if limited {
            put(
                "x-retry-after",
                u128::from(self.reset.as_secs_f64().ceil() as u64),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_is_spent_then_refused() {
        let mut window = RateWindow::new(RateLimitSpec {
            quota: 2,
            window: Duration::from_secs(30),
        });
        assert_eq!(window.take().map(|s| s.left), Ok(1));
        assert_eq!(window.take().map(|s| s.left), Ok(0));
        let refused = window.take().expect_err("third request is over quota");
        assert_eq!(refused.left, 0);
        assert!(refused.reset <= Duration::from_secs(30));
    }

    #[test]
    fn window_refreshes() {
        let mut window = RateWindow::new(RateLimitSpec {
            quota: 1,
            window: Duration::from_millis(20),
        });
        assert!(window.take().is_ok());
        assert!(window.take().is_err());
        std::thread::sleep(Duration::from_millis(25));
        assert!(window.take().is_ok());
    }
}
