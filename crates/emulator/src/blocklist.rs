//! The destination-domain blocklist.
//!
//! Per destination domain and client id, BigCommerce keeps a sliding two-minute window of
//! delivery outcomes. Once at least 100 deliveries are in the window, a success ratio under 90%
//! blocks the domain for that client for three minutes. Durations here are already scaled by the
//! emulator's time scale.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

pub(crate) const WINDOW: Duration = Duration::from_secs(120);
pub(crate) const BLOCK_FOR: Duration = Duration::from_secs(180);
pub(crate) const MIN_SAMPLES: usize = 100;
pub(crate) const MIN_SUCCESS_RATIO: f64 = 0.9;

#[derive(Debug, Default)]
struct DomainStats {
    outcomes: VecDeque<(Instant, bool)>,
    blocked_until: Option<Instant>,
    /// Failure description -> (count, last unix timestamp).
    reasons: BTreeMap<String, (u64, i64)>,
}

/// A domain currently blocked for a client.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockedDomain {
    /// The app whose deliveries are blocked.
    pub client_id: String,
    /// The destination's host.
    pub domain: String,
    /// How long the block still lasts.
    pub time_left: Duration,
    /// (failure description, count, last unix timestamp)
    pub reasons: Vec<(String, u64, i64)>,
}

#[derive(Debug, Default)]
pub(crate) struct Blocklist {
    domains: HashMap<(String, String), DomainStats>,
}

impl Blocklist {
    /// Whether deliveries of `client_id` to `domain` are blocked at `now`.
    pub fn is_blocked(&mut self, client_id: &str, domain: &str, now: Instant) -> bool {
        let key = (client_id.to_owned(), domain.to_owned());
        let Some(stats) = self.domains.get_mut(&key) else {
            return false;
        };
        match stats.blocked_until {
            Some(until) if until > now => true,
            Some(_) => {
                // The block is over: start afresh.
                stats.blocked_until = None;
                stats.outcomes.clear();
                stats.reasons.clear();
                false
            }
            None => false,
        }
    }

    /// Records the outcome of one attempted delivery and blocks the domain when the window's
    /// success ratio falls under the threshold. Returns true if this outcome started a block.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        client_id: &str,
        domain: &str,
        success: bool,
        failure: Option<&str>,
        unix_now: i64,
        now: Instant,
        window: Duration,
        block_for: Duration,
    ) -> bool {
        let stats = self
            .domains
            .entry((client_id.to_owned(), domain.to_owned()))
            .or_default();
        stats.outcomes.push_back((now, success));
        while let Some(&(at, _)) = stats.outcomes.front() {
            if now.duration_since(at) > window {
                stats.outcomes.pop_front();
            } else {
                break;
            }
        }
        if let Some(description) = failure {
            let entry = stats
                .reasons
                .entry(description.to_owned())
                .or_insert((0, unix_now));
            entry.0 += 1;
            entry.1 = unix_now;
        }
        if stats.blocked_until.is_some() || stats.outcomes.len() < MIN_SAMPLES {
            return false;
        }
        let successes = stats.outcomes.iter().filter(|(_, ok)| *ok).count();
        let ratio = successes as f64 / stats.outcomes.len() as f64;
        if ratio < MIN_SUCCESS_RATIO {
            stats.blocked_until = Some(now + block_for);
            return true;
        }
        false
    }

    /// Domains blocked at `now` for `client_id`.
    pub fn blocked(&self, client_id: &str, now: Instant) -> Vec<BlockedDomain> {
        let mut out: Vec<BlockedDomain> = self
            .domains
            .iter()
            .filter(|((client, _), _)| client == client_id)
            .filter_map(|((client, domain), stats)| {
                let until = stats.blocked_until.filter(|u| *u > now)?;
                Some(BlockedDomain {
                    client_id: client.clone(),
                    domain: domain.clone(),
                    time_left: until.duration_since(now),
                    reasons: stats
                        .reasons
                        .iter()
                        .map(|(d, (count, ts))| (d.clone(), *count, *ts))
                        .collect(),
                })
            })
            .collect();
        out.sort_by(|a, b| a.domain.cmp(&b.domain));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(list: &mut Blocklist, ok: bool, now: Instant) -> bool {
        list.record(
            "client",
            "example.com",
            ok,
            (!ok).then_some("HTTP 500"),
            0,
            now,
            WINDOW,
            BLOCK_FOR,
        )
    }

    #[test]
    fn no_verdict_before_one_hundred_deliveries() {
        let mut list = Blocklist::default();
        let now = Instant::now();
        for _ in 0..99 {
            assert!(!record(&mut list, false, now));
        }
        assert!(!list.is_blocked("client", "example.com", now));
        assert!(record(&mut list, false, now));
        assert!(list.is_blocked("client", "example.com", now));
        assert!(!list.is_blocked("other-client", "example.com", now));
        let blocked = list.blocked("client", now);
        assert_eq!(blocked.len(), 1);
        assert_eq!(blocked[0].reasons, vec![("HTTP 500".to_owned(), 100, 0)]);
    }

    #[test]
    fn ninety_percent_success_is_not_blocked() {
        let mut list = Blocklist::default();
        let now = Instant::now();
        for i in 0..200 {
            record(&mut list, i % 10 != 9, now);
        }
        assert!(!list.is_blocked("client", "example.com", now));
    }

    #[test]
    fn block_expires() {
        let mut list = Blocklist::default();
        let now = Instant::now();
        for _ in 0..100 {
            record(&mut list, false, now);
        }
        assert!(list.is_blocked("client", "example.com", now));
        let later = now + BLOCK_FOR + Duration::from_secs(1);
        assert!(!list.is_blocked("client", "example.com", later));
    }
}
