//! Retry policy: bounded attempts, bounded total time, exponential backoff with full jitter.

use std::time::Duration;

use rand::Rng;

/// When and how long to retry a failed request. See the crate documentation for which failures
/// are retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included. `1` disables retries.
    pub max_attempts: u32,
    /// Total time budget of one call, from its start to the end of its last attempt.
    /// A retry whose wait would end after the budget is not made.
    pub max_elapsed: Duration,
    /// Backoff ceiling before the first retry; it doubles with every retry.
    pub initial_backoff: Duration,
    /// Largest backoff ceiling.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            max_elapsed: Duration::from_secs(120),
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn no_retries() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The backoff ceiling before retry number `retry` (1-based):
    /// `min(max_backoff, initial_backoff * 2^(retry - 1))`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(31);
        self.initial_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff)
    }

    /// "Full jitter" backoff before retry number `retry`: uniform in `[0, ceiling(retry)]`,
    /// so that clients failing together do not retry together.
    pub fn backoff(&self, retry: u32) -> Duration {
        jitter(Duration::ZERO, self.ceiling(retry))
    }

    /// The wait after a 429. With a hint from BigCommerce (`X-Rate-Limit-Time-Reset-Ms` or
    /// `X-Retry-After`) the hint is honoured exactly the first time, and a growing backoff is
    /// added on consecutive 429s. Without a hint, the wait is between half and all of the
    /// backoff ceiling, so it never collapses to zero.
    pub fn rate_limit_wait(&self, hint: Option<Duration>, consecutive_429: u32) -> Duration {
        match hint {
            Some(hint) if consecutive_429 <= 1 => hint,
            Some(hint) => hint.saturating_add(self.backoff(consecutive_429 - 1)),
            None => {
                let ceiling = self.ceiling(consecutive_429.max(1));
                jitter(ceiling / 2, ceiling)
            }
        }
    }
}

fn jitter(low: Duration, high: Duration) -> Duration {
    if high <= low {
        return low;
    }
    let span = (high - low).as_nanos().min(u128::from(u64::MAX)) as u64;
    low + Duration::from_nanos(rand::thread_rng().gen_range(0..=span))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            max_elapsed: Duration::from_secs(60),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        }
    }

    #[test]
    fn ceiling_doubles_then_caps() {
        let p = policy();
        assert_eq!(p.ceiling(1), Duration::from_millis(100));
        assert_eq!(p.ceiling(2), Duration::from_millis(200));
        assert_eq!(p.ceiling(4), Duration::from_millis(800));
        assert_eq!(p.ceiling(5), Duration::from_millis(1000));
        assert_eq!(p.ceiling(500), Duration::from_millis(1000));
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling() {
        let p = policy();
        for retry in 1..10 {
            for _ in 0..50 {
                assert!(p.backoff(retry) <= p.ceiling(retry));
            }
        }
    }

    #[test]
    fn rate_limit_wait_honours_the_hint_then_grows() {
        let p = policy();
        let hint = Some(Duration::from_millis(1500));
        assert_eq!(p.rate_limit_wait(hint, 1), Duration::from_millis(1500));
        let second = p.rate_limit_wait(hint, 2);
        assert!(second >= Duration::from_millis(1500));
        assert!(second <= Duration::from_millis(1600));
        for _ in 0..50 {
            let blind = p.rate_limit_wait(None, 3);
            assert!(blind >= Duration::from_millis(200) && blind <= Duration::from_millis(400));
        }
    }
}
