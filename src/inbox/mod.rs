//! The inbox: one home for the webhook queue, from the committed callback to the settled row.
//!
//! Follow one callback:
//!
//! 1. [`writer`]: the receiver hands the verified callback to a writer task, which inserts it
//!    with the callbacks of concurrent requests in one statement (group commit) and answers once
//!    it is committed. When this process has room, the row is inserted already claimed by it
//!    (with a lease and its first attempt counted) and goes straight to the dispatcher: fresh
//!    events are never read back. While the database refuses inserts, callbacks are refused
//!    at once (one at a time tries it), and readiness says so.
//! 2. [`dispatch`]: held events wait in per-store queues, served in turn, within a budget of
//!    events in flight (`max_in_flight`, hundreds: handlers mostly wait on BigCommerce's API).
//!    A store whose API budget is spent waits apart with its events.
//! 3. [`run`]: one attempt: the typed `Event`, the tenant, the handlers that have not succeeded
//!    yet (a retry runs only the ones that failed), and the row's outcome.
//! 4. [`writer`] again: outcomes are written in group commits (done, retry at a later time,
//!    dead letter); one that cannot be written is written again, not left to the lease.
//! 5. [`housekeeping`]: while this process holds claims it extends them, so a live claim never
//!    lapses however long its handlers take; the fetcher claims rows from the database when
//!    there is room (retries come due, other instances' events, claims of dead processes), and
//!    old rows are purged.
//!
//! The database is read back only for recovery, retries and other instances' events.
//!
//! ## Guarantees
//!
//! - Nothing acknowledged is lost: a row is committed before the 2xx, and a row held by a
//!   process that dies comes back when its lease lapses (`claim_lease`).
//! - At least once per handler: an event's handlers that succeeded are recorded and not run
//!   again; the others run until they succeed or the attempts run out (then a dead letter).
//! - Every attempt that starts is counted (a claim counts it; an event claimed back from a dead
//!   process counts it when it starts), so an event whose handler kills the process reaches the
//!   dead letters after `max_attempts`; from its third attempt it runs alone, taking no other
//!   event down with it.
//! - Several instances on one PostgreSQL run each event once between them while their
//!   processes live (claims are exclusive and extended); a dead instance's events run again.

mod dispatch;
mod housekeeping;
mod run;
mod writer;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bigcommerce_app_api::Client;
use bigcommerce_app_store::{Settlement, Store};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::app::App;
use crate::cfg::Config;
use crate::reconcile::Reconciler;
use crate::tenants::TenantCache;

pub(crate) use dispatch::Dispatch;
pub(crate) use writer::{WriteHealth, Writer, WriterSetup};

/// Everything the handling side of a process shares.
pub(crate) struct Engine {
    pub(crate) app: App,
    pub(crate) store: Store,
    pub(crate) tenants: TenantCache,
    pub(crate) cfg: Arc<Config>,
    pub(crate) api: Option<Client>,
    pub(crate) dispatch: Dispatch,
    pub(crate) writer: Writer,
    /// Wakes the fetcher: rows were stored unclaimed.
    pub(crate) new_rows: Arc<Notify>,
    /// Reconciles a store when it gets a new channel.
    pub(crate) reconciler: Option<Reconciler>,
    /// Whether the dispatch loop runs (readiness).
    pub(crate) alive: Arc<AtomicBool>,
    /// Claim owner of this process.
    pub(crate) owner: Arc<str>,
}

impl Engine {
    /// A new channel: its channel-templated subscriptions are due.
    fn channel_created(&self, store: &str) {
        if let Some(reconciler) = self.reconciler.clone() {
            let store_hash = store.to_owned();
            tokio::spawn(async move {
                if let Err(e) = reconciler.reconcile_store(&store_hash).await {
                    tracing::error!(store = %store_hash, error = %e, "reconcile after a new channel failed");
                }
            });
        }
    }

    /// Runs held events until `stop` flips; then waits for the ones in flight up to the
    /// shutdown grace, aborts the rest, gives back what never started and writes the outcomes.
    pub(crate) async fn dispatch_loop(self: Arc<Engine>, mut stop: watch::Receiver<bool>) {
        self.alive.store(true, Ordering::SeqCst);
        self.dispatch.set_running(true);
        let mut tasks: JoinSet<()> = JoinSet::new();
        loop {
            let woken = self.dispatch.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let next_resume = self.dispatch.resume_paused();
            while let Some(job) = self.dispatch.next() {
                tasks.spawn(run::run(self.clone(), job));
            }
            crate::metrics::in_flight(tasks.len());
            tokio::select! {
                _ = woken => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = sleep_until(next_resume), if next_resume.is_some() => {}
                _ = stop.changed() => break,
            }
        }
        self.dispatch.set_running(false);
        let unstarted = self.dispatch.drain_queued();
        for job in &unstarted {
            self.writer
                .settle(Settlement::Unstarted {
                    id: job.id,
                    counted: !job.recovered,
                })
                .await;
        }
        let deadline = tokio::time::Instant::now() + self.cfg.shutdown_grace;
        while !tasks.is_empty() {
            match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                Ok(_) => {}
                Err(_) => {
                    tracing::warn!(
                        events = tasks.len(),
                        "handlers still running after the shutdown grace; aborted (their events run again)"
                    );
                    tasks.abort_all();
                    while tasks.join_next().await.is_some() {}
                }
            }
        }
        self.writer.flush(self.cfg.shutdown_grace).await;
        // Whatever this process still holds (aborted events) is due again at once.
        match self.store.inbox_release(&self.owner).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "claims released at shutdown"),
            Err(e) => {
                tracing::warn!(error = %e, "claims not released at shutdown; they lapse at lease expiry")
            }
        }
        crate::metrics::in_flight(0);
        self.alive.store(false, Ordering::SeqCst);
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

pub(crate) use housekeeping::{fetch_loop, housekeeping_loop};
