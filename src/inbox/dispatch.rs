//! The events this process holds, queued per store and served in turn.
//!
//! Every event held (queued, in flight, or reserved by the writer for a row being inserted) is
//! counted against `max_held`, and one store may hold at most half of it: a store flooding
//! thousands of events fills its own queue, and another store's next event still finds room and
//! is started at the store's next turn. Stores whose API budget is spent (the API client's gate
//! says so) wait apart, with their events, until their window resets; an optional cap bounds the
//! events of one store in flight.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bigcommerce_app_api::Client;
use bigcommerce_app_store::InboxEvent;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::cfg::Config;

/// An event held in memory: a claimed inbox row.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) id: i64,
    pub(crate) store: Arc<str>,
    pub(crate) scope: String,
    pub(crate) hash: String,
    pub(crate) body: Vec<u8>,
    pub(crate) received_at: OffsetDateTime,
    /// Attempts counted so far: this one included, except for a recovered job, whose attempt
    /// is counted when it starts.
    pub(crate) attempts: u32,
    /// Handlers that succeeded in earlier attempts.
    pub(crate) done_handlers: Vec<String>,
    /// Claimed back after its claim lapsed.
    pub(crate) recovered: bool,
}

/// From this attempt on, an event claimed back after a lapsed claim runs alone: it may be the
/// one killing its process (an abort, running out of memory), and alone it takes no other event
/// down with it. The first recovery runs as usual: most processes die for reasons of their own.
const RUN_ALONE_FROM_ATTEMPT: u32 = 3;

impl Job {
    /// A recovered job's attempt is counted when it starts: the next one is `attempts + 1`.
    fn runs_alone(&self) -> bool {
        self.recovered && self.attempts + 1 >= RUN_ALONE_FROM_ATTEMPT
    }
}

impl From<InboxEvent> for Job {
    fn from(row: InboxEvent) -> Job {
        Job {
            id: row.id,
            store: Arc::from(row.store_hash),
            scope: row.scope,
            hash: row.hash,
            body: row.body,
            received_at: row.received_at,
            attempts: row.attempts,
            done_handlers: row.done_handlers,
            recovered: row.recovered,
        }
    }
}

#[derive(Default)]
struct StoreQueue {
    jobs: VecDeque<Job>,
    /// Queued, in flight and reserved.
    held: usize,
    in_flight: usize,
    /// In the ring of stores that can start an event now.
    ready: bool,
    /// The store's API budget is spent until then.
    paused_until: Option<Instant>,
}

#[derive(Default)]
struct State {
    stores: HashMap<Arc<str>, StoreQueue>,
    /// Stores that can start an event now, in turn.
    ring: VecDeque<Arc<str>>,
    held: usize,
    in_flight: usize,
    /// Fresh rows are claimed for this process only while its handlers run.
    running: bool,
    /// Events that run alone (see [`RUN_ALONE_FROM_ATTEMPT`]), before any other.
    alone: VecDeque<Job>,
    /// The event running alone, while it runs.
    running_alone: Option<i64>,
    /// The last time an event finished, or the first one started after none was in flight.
    last_progress: Option<Instant>,
}

/// What a finished event leaves behind.
pub(crate) enum Finished {
    /// Settled (or to be settled by the writer): its place is free.
    Settled,
    /// Put back at the front of its store's queue, the store paused until then (its API
    /// budget is spent): the event keeps its claim and this does not count as an attempt.
    Requeue(Job, Instant),
}

/// The shared dispatch state; cheap to clone.
#[derive(Clone)]
pub(crate) struct Dispatch {
    state: Arc<Mutex<State>>,
    /// Wakes the dispatch loop: an event to start, a slot freed.
    pub(crate) wake: Arc<Notify>,
    /// Wakes the fetcher: room to claim rows from the database.
    pub(crate) room_freed: Arc<Notify>,
    max_held: usize,
    max_held_per_store: usize,
    max_in_flight: usize,
    max_in_flight_per_store: Option<usize>,
    api: Option<Client>,
}

impl Dispatch {
    pub(crate) fn new(cfg: &Config, api: Option<Client>) -> Dispatch {
        Dispatch {
            state: Arc::default(),
            wake: Arc::default(),
            room_freed: Arc::default(),
            max_held: cfg.max_held,
            max_held_per_store: (cfg.max_held / 2).max(1),
            max_in_flight: cfg.max_in_flight,
            max_in_flight_per_store: cfg.max_in_flight_per_store,
            api,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain counters and queues: a panic elsewhere cannot leave them half-updated.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_running(&self, running: bool) {
        self.lock().running = running;
    }

    /// Reserves a place for a fresh row of `store` about to be inserted claimed; `false` when
    /// the handlers are not running or the process (or that store) holds enough already: the
    /// row is then inserted unclaimed and fetched when there is room.
    pub(crate) fn try_reserve(&self, store: &str) -> bool {
        let mut state = self.lock();
        if !state.running || state.held >= self.max_held {
            return false;
        }
        let per_store = self.max_held_per_store;
        let held = state.stores.get(store).map_or(0, |q| q.held);
        if held >= per_store {
            return false;
        }
        state.held += 1;
        state.stores.entry(Arc::from(store)).or_default().held += 1;
        true
    }

    /// Gives back a reservation whose row was not inserted claimed (a duplicate, or the insert
    /// failed).
    pub(crate) fn cancel_reservation(&self, store: &str) {
        let mut state = self.lock();
        state.held = state.held.saturating_sub(1);
        let empty = match state.stores.get_mut(store) {
            Some(q) => {
                q.held = q.held.saturating_sub(1);
                q.held == 0 && q.jobs.is_empty()
            }
            None => false,
        };
        if empty {
            state.stores.remove(store);
        }
        drop(state);
        self.room_freed.notify_one();
    }

    /// Queues a job; `reserved`: its place was reserved with [`Dispatch::try_reserve`].
    pub(crate) fn push(&self, job: Job, reserved: bool) {
        let mut state = self.lock();
        if !reserved {
            state.held += 1;
        }
        let store = job.store.clone();
        let queue = state.stores.entry(store.clone()).or_default();
        if !reserved {
            queue.held += 1;
        }
        if job.runs_alone() {
            state.alone.push_back(job);
            drop(state);
            self.wake.notify_one();
            return;
        }
        queue.jobs.push_back(job);
        if !queue.ready && queue.paused_until.is_none() {
            queue.ready = true;
            state.ring.push_back(store);
        }
        drop(state);
        self.wake.notify_one();
    }

    /// Places free for rows claimed from the database, and the stores holding their share
    /// already (to leave out of the claim), sorted.
    pub(crate) fn room(&self) -> (usize, Vec<String>) {
        let state = self.lock();
        let mut saturated: Vec<String> = state
            .stores
            .iter()
            .filter(|(_, q)| q.held >= self.max_held_per_store)
            .map(|(store, _)| store.to_string())
            .collect();
        let room = self.max_held.saturating_sub(state.held);
        drop(state);
        saturated.sort_unstable();
        (room, saturated)
    }

    /// The next job to start, store after store, within the budgets; `None` when nothing can
    /// start now. Marks it in flight.
    pub(crate) fn next(&self) -> Option<Job> {
        let now = Instant::now();
        let mut state = self.lock();
        if state.running_alone.is_some() {
            return None;
        }
        if !state.alone.is_empty() {
            // Nothing new starts until the events in flight are done; then this one, alone.
            if state.in_flight > 0 {
                return None;
            }
            let job = state.alone.pop_front()?;
            state.running_alone = Some(job.id);
            state.last_progress = Some(now);
            state.in_flight += 1;
            state.stores.entry(job.store.clone()).or_default().in_flight += 1;
            return Some(job);
        }
        while state.in_flight < self.max_in_flight {
            let store = state.ring.pop_front()?;
            let api_pause = self.api.as_ref().and_then(|api| api.paused_until(&store));
            let Some(queue) = state.stores.get_mut(&store) else {
                continue;
            };
            queue.ready = false;
            let pause = [api_pause, queue.paused_until]
                .into_iter()
                .flatten()
                .filter(|until| *until > now)
                .max();
            queue.paused_until = pause;
            if pause.is_some() {
                // Back in turn when `resume_paused` sees the pause is over.
                continue;
            }
            if self
                .max_in_flight_per_store
                .is_some_and(|cap| queue.in_flight >= cap)
            {
                // Ready again when one of its events finishes.
                continue;
            }
            let Some(job) = queue.jobs.pop_front() else {
                continue;
            };
            queue.in_flight += 1;
            if !queue.jobs.is_empty() {
                queue.ready = true;
                state.ring.push_back(store);
            }
            if state.in_flight == 0 {
                state.last_progress = Some(now);
            }
            state.in_flight += 1;
            return Some(job);
        }
        None
    }

    /// Events in flight and how long none has finished, when that is longer than `threshold`:
    /// handlers that block their thread, or hang past their timeout.
    pub(crate) fn stuck(
        &self,
        threshold: std::time::Duration,
    ) -> Option<(usize, std::time::Duration)> {
        let state = self.lock();
        let since = state.last_progress?.elapsed();
        (state.in_flight > 0 && since > threshold).then_some((state.in_flight, since))
    }

    /// Records the end of the in-flight job `id` of `store`.
    pub(crate) fn finish(&self, store: &Arc<str>, id: i64, finished: Finished) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        state.last_progress = Some(Instant::now());
        if state.running_alone == Some(id) {
            state.running_alone = None;
        }
        let mut freed = false;
        let queue = state.stores.entry(store.clone()).or_default();
        queue.in_flight = queue.in_flight.saturating_sub(1);
        match finished {
            Finished::Settled => {
                queue.held = queue.held.saturating_sub(1);
                freed = true;
            }
            Finished::Requeue(job, until) => {
                queue.jobs.push_front(job);
                if queue.paused_until.is_none_or(|current| current < until) {
                    queue.paused_until = Some(until);
                }
            }
        }
        let readiable = !queue.ready && queue.paused_until.is_none() && !queue.jobs.is_empty();
        if readiable {
            queue.ready = true;
        }
        let empty = queue.held == 0 && queue.jobs.is_empty() && queue.in_flight == 0;
        if empty {
            state.stores.remove(store);
        } else if readiable {
            state.ring.push_back(store.clone());
        }
        if freed {
            state.held = state.held.saturating_sub(1);
        }
        drop(state);
        self.wake.notify_one();
        if freed {
            self.room_freed.notify_one();
        }
    }

    /// Puts stores whose pause is over back in turn; returns the earliest pause still running.
    pub(crate) fn resume_paused(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut state = self.lock();
        let mut earliest: Option<Instant> = None;
        let mut resumed = Vec::new();
        for (store, queue) in state.stores.iter_mut() {
            match queue.paused_until {
                Some(until) if until <= now => {
                    queue.paused_until = None;
                    if !queue.jobs.is_empty() && !queue.ready {
                        queue.ready = true;
                        resumed.push(store.clone());
                    }
                }
                Some(until) => earliest = Some(earliest.map_or(until, |e| e.min(until))),
                None => {}
            }
        }
        state.ring.extend(resumed);
        earliest
    }

    /// Takes every queued job that has not started (shutdown).
    pub(crate) fn drain_queued(&self) -> Vec<Job> {
        let mut state = self.lock();
        let mut jobs = Vec::new();
        for queue in state.stores.values_mut() {
            queue.held = queue.held.saturating_sub(queue.jobs.len());
            jobs.extend(queue.jobs.drain(..));
            queue.ready = false;
        }
        let alone: Vec<Job> = state.alone.drain(..).collect();
        for job in &alone {
            if let Some(queue) = state.stores.get_mut(&job.store) {
                queue.held = queue.held.saturating_sub(1);
            }
        }
        jobs.extend(alone);
        state.held = state.held.saturating_sub(jobs.len());
        state.ring.clear();
        jobs
    }

    /// Events held, and the queue depth of the stores holding most.
    pub(crate) fn snapshot(&self, top: usize) -> Snapshot {
        let state = self.lock();
        let mut depths: Vec<(String, usize)> = state
            .stores
            .iter()
            .map(|(store, q)| (store.to_string(), q.jobs.len()))
            .filter(|(_, depth)| *depth > 0)
            .collect();
        depths.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        depths.truncate(top);
        Snapshot {
            held: state.held,
            deepest: depths,
        }
    }
}

/// A look at the dispatch state, for metrics.
pub(crate) struct Snapshot {
    pub(crate) held: usize,
    pub(crate) deepest: Vec<(String, usize)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(store: &str, id: i64) -> Job {
        Job {
            id,
            store: Arc::from(store),
            scope: "store/order/created".into(),
            hash: id.to_string(),
            body: Vec::new(),
            received_at: OffsetDateTime::UNIX_EPOCH,
            attempts: 1,
            done_handlers: Vec::new(),
            recovered: false,
        }
    }

    fn dispatch(max_in_flight: usize, max_held: usize) -> Dispatch {
        let cfg = Config {
            max_in_flight,
            max_held,
            ..Config::default()
        };
        let d = Dispatch::new(&cfg, None);
        d.set_running(true);
        d
    }

    #[test]
    fn stores_are_served_in_turn() {
        let d = dispatch(100, 100);
        for id in 0..5 {
            d.push(job("a", id), false);
        }
        d.push(job("b", 100), false);
        d.push(job("c", 200), false);
        let order: Vec<String> = std::iter::from_fn(|| d.next())
            .map(|j| j.store.to_string())
            .collect();
        assert_eq!(order, ["a", "b", "c", "a", "a", "a", "a"]);
    }

    #[test]
    fn the_in_flight_budget_and_the_per_store_cap_hold() {
        let cfg = Config {
            max_in_flight: 3,
            max_in_flight_per_store: Some(2),
            max_held: 100,
            ..Config::default()
        };
        let d = Dispatch::new(&cfg, None);
        d.set_running(true);
        for id in 0..4 {
            d.push(job("a", id), false);
        }
        d.push(job("b", 10), false);
        let started: Vec<i64> = std::iter::from_fn(|| d.next()).map(|j| j.id).collect();
        assert_eq!(started, [0, 10, 1], "a: two at most, then b");
        let a: Arc<str> = Arc::from("a");
        d.finish(&a, 0, Finished::Settled);
        assert_eq!(d.next().map(|j| j.id), Some(2));
        assert!(d.next().is_none(), "a at its cap, budget full");
    }

    #[test]
    fn one_store_holds_at_most_half_and_reservations_count() {
        let d = dispatch(10, 4);
        assert!(d.try_reserve("a"));
        assert!(d.try_reserve("a"));
        assert!(!d.try_reserve("a"), "a holds its half");
        assert!(d.try_reserve("b"));
        let (room, saturated) = d.room();
        assert_eq!((room, saturated), (1, vec!["a".to_owned()]));
        d.cancel_reservation("a");
        assert!(d.try_reserve("a"));
        d.set_running(false);
        assert!(
            !d.try_reserve("c"),
            "no fresh claims while the handlers are stopped"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_requeued_event_waits_for_its_store_while_others_go_on() {
        let d = dispatch(10, 100);
        d.push(job("a", 1), false);
        d.push(job("a", 2), false);
        d.push(job("b", 3), false);
        let first = d.next().expect("a's first");
        let (store, id) = (first.store.clone(), first.id);
        let until = Instant::now() + std::time::Duration::from_secs(5);
        d.finish(&store, id, Finished::Requeue(first, until));
        let next: Vec<i64> = std::iter::from_fn(|| d.next()).map(|j| j.id).collect();
        assert_eq!(next, [3], "a is paused with its events; b goes on");
        assert_eq!(d.resume_paused(), Some(until));
        tokio::time::advance(std::time::Duration::from_secs(5)).await;
        assert_eq!(d.resume_paused(), None);
        let resumed: Vec<i64> = std::iter::from_fn(|| d.next()).map(|j| j.id).collect();
        assert_eq!(
            resumed,
            [1, 2],
            "a's events in their order, the requeued one first"
        );
    }
}

#[cfg(test)]
mod alone_tests {
    use super::*;

    #[test]
    fn an_event_recovered_again_runs_alone() {
        let cfg = Config {
            max_in_flight: 10,
            max_held: 100,
            ..Config::default()
        };
        let d = Dispatch::new(&cfg, None);
        d.set_running(true);
        let job = |id, attempts, recovered| Job {
            id,
            store: Arc::from("a"),
            scope: "store/order/created".into(),
            hash: id.to_string(),
            body: Vec::new(),
            received_at: OffsetDateTime::UNIX_EPOCH,
            attempts,
            done_handlers: Vec::new(),
            recovered,
        };
        d.push(job(1, 1, false), false);
        d.push(job(2, 1, true), false);
        let first: Vec<i64> = std::iter::from_fn(|| d.next()).map(|j| j.id).collect();
        assert_eq!(first, [1, 2], "a first recovery runs as usual");
        d.push(job(3, 2, true), false);
        d.push(job(4, 1, false), false);
        assert!(
            d.next().is_none(),
            "the suspect waits for the others in flight"
        );
        let a: Arc<str> = Arc::from("a");
        d.finish(&a, 1, Finished::Settled);
        d.finish(&a, 2, Finished::Settled);
        assert_eq!(d.next().map(|j| j.id), Some(3));
        assert!(d.next().is_none(), "nothing runs beside it");
        d.finish(&a, 3, Finished::Settled);
        assert_eq!(d.next().map(|j| j.id), Some(4));
    }
}
