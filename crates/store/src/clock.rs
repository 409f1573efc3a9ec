//! The time source of the store, replaceable in tests.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::OffsetDateTime;

/// Where the store reads "now" from: the system clock, or a manual clock that tests move
/// forward (retry schedules, claim expiry, retention) without sleeping.
///
/// Timestamps are stored as Unix milliseconds, so with several app instances sharing a
/// database their clocks should be NTP-synchronised: claim expiry compares one instance's
/// "now" with another's.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// `OffsetDateTime::now_utc()`.
    #[default]
    System,
    /// A clock that only moves when told to.
    Manual(ManualClock),
}

impl Clock {
    /// The current time, millisecond precision.
    pub fn now(&self) -> OffsetDateTime {
        match self {
            Clock::System => {
                crate::repo::from_millis_lossy(crate::repo::to_millis(OffsetDateTime::now_utc()))
            }
            Clock::Manual(m) => m.now(),
        }
    }
}

/// A manually driven clock. Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock stopped at `start` (truncated to milliseconds).
    pub fn new(start: OffsetDateTime) -> Self {
        Self(Arc::new(AtomicI64::new(crate::repo::to_millis(start))))
    }

    /// The clock's time.
    pub fn now(&self) -> OffsetDateTime {
        crate::repo::from_millis_lossy(self.0.load(Ordering::SeqCst))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the clock.
    pub fn set(&self, to: OffsetDateTime) {
        self.0.store(crate::repo::to_millis(to), Ordering::SeqCst);
    }
}
