//! Fault injection on the API side: slow answers, server errors, 429 storms, dropped connections.
//!
//! Faults apply to requests under `/stores/{hash}/` of one store, in this order: a dropped
//! connection, the delay, an injected 429, an injected error. Each counted fault is used up by one
//! request.

use std::sync::Arc;
use std::time::Duration;

use crate::core::{lock, Core};

#[derive(Debug, Default, Clone)]
pub(crate) struct FaultState {
    pub slow: Option<Duration>,
    pub fail_next: u32,
    pub fail_status: u16,
    pub storm: u32,
    pub drop: u32,
}

/// What to do with one API request that is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FaultAction {
    pub delay: Option<Duration>,
    pub rate_limited: bool,
    pub fail: Option<u16>,
}

impl FaultState {
    /// Uses up one dropped connection, if any is pending.
    pub fn take_drop(&mut self) -> bool {
        if self.drop > 0 {
            self.drop -= 1;
            true
        } else {
            false
        }
    }

    /// Consumes the faults one answered request runs into.
    pub fn next_action(&mut self) -> FaultAction {
        let rate_limited = if self.storm > 0 {
            self.storm -= 1;
            true
        } else {
            false
        };
        let fail = if !rate_limited && self.fail_next > 0 {
            self.fail_next -= 1;
            Some(self.fail_status)
        } else {
            None
        };
        FaultAction {
            delay: self.slow,
            rate_limited,
            fail,
        }
    }
}

/// The fault controls of one store, from [`crate::Emulator::faults`].
#[derive(Clone)]
pub struct Faults {
    core: Arc<Core>,
    store: String,
}

impl Faults {
    pub(crate) fn new(core: Arc<Core>, store: &str) -> Self {
        Faults {
            core,
            store: store.to_owned(),
        }
    }

    fn update(&self, f: impl FnOnce(&mut FaultState)) -> &Self {
        let mut faults = lock(&self.core.faults);
        f(faults.entry(self.store.clone()).or_default());
        self
    }

    /// Delays every API answer of the store by `delay` (`Duration::ZERO` turns it off).
    pub fn slow(&self, delay: Duration) -> &Self {
        self.update(|f| f.slow = (!delay.is_zero()).then_some(delay))
    }

    /// The next `n` API requests answer `status` with a BigCommerce error body.
    pub fn fail_next(&self, n: u32, status: u16) -> &Self {
        self.update(|f| {
            f.fail_next = n;
            f.fail_status = status;
        })
    }

    /// The next `n` API requests answer 429 with the rate-limit headers, as if the quota were spent.
    pub fn rate_limit_storm(&self, n: u32) -> &Self {
        self.update(|f| f.storm = n)
    }

    /// The next `n` API requests get their connection closed without an answer.
    pub fn drop_connections(&self, n: u32) -> &Self {
        self.update(|f| f.drop = n)
    }

    /// Removes every fault of the store.
    pub fn clear(&self) -> &Self {
        self.update(|f| *f = FaultState::default())
    }
}

pub(crate) fn next_action(core: &Core, store: &str) -> Option<FaultAction> {
    let mut faults = lock(&core.faults);
    faults.get_mut(store).map(FaultState::next_action)
}

pub(crate) fn take_drop(core: &Core, store: &str) -> bool {
    let mut faults = lock(&core.faults);
    faults.get_mut(store).is_some_and(FaultState::take_drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_are_used_up_in_order() {
        let mut state = FaultState {
            drop: 1,
            storm: 1,
            fail_next: 1,
            fail_status: 503,
            ..FaultState::default()
        };
        assert!(state.take_drop());
        assert!(!state.take_drop());
        let first = state.next_action();
        assert!(first.rate_limited && first.fail.is_none());
        let second = state.next_action();
        assert!(!second.rate_limited && second.fail == Some(503));
        let third = state.next_action();
        assert!(!third.rate_limited && third.fail.is_none() && third.delay.is_none());
    }
}
