//! Every write to the inbox, in group commits: the callbacks of concurrent requests in one
//! insert, the outcomes of many events in one transaction, claims and claim extensions.
//!
//! One writer task does all of it (configurable, see `Config::group_commit_writers`): on SQLite
//! ingest and settlement never wait on each other for the database's single write lock. The
//! outcomes of handled events ride in the commit that inserts the next callbacks (on PostgreSQL
//! one statement, on SQLite one transaction; if it fails, both are retried). A request is
//! answered only after the insert holding its row has committed. A settlement that cannot be
//! written (the database is briefly down) is kept and written again, with backoff, instead of
//! being left to the claim's lease.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bigcommerce_app_store::{
    Claim, Due, InboxEvent, InsertOutcome, NewInboxEvent, Settlement, Store, StoreError,
};
use tokio::sync::{mpsc, oneshot, Notify};

use super::dispatch::{Dispatch, Job};
use crate::metrics as m;

/// Why a callback was not stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IngestError {
    #[error(transparent)]
    Storage(Arc<StoreError>),
    #[error("the inbox writer has stopped")]
    Stopped,
}

/// Whether the database takes new callbacks, as the writer's last insert saw it (updates of
/// existing rows may still succeed on a full disk, so outcomes do not count). While it does
/// not, the receiver refuses at once, letting one callback through at a time to find out when
/// it does again, and readiness reports it.
#[derive(Debug, Default)]
pub(crate) struct WriteHealth {
    failing: AtomicBool,
    /// A callback is trying the database while it is failing.
    probing: AtomicBool,
}

impl WriteHealth {
    pub(crate) fn is_failing(&self) -> bool {
        self.failing.load(Ordering::SeqCst)
    }

    fn succeeded(&self) {
        if self.failing.swap(false, Ordering::SeqCst) {
            tracing::info!("the database takes writes again");
        }
    }

    fn failed(&self, error: &StoreError) {
        if !self.failing.swap(true, Ordering::SeqCst) {
            tracing::error!(error = %error, "the database refuses writes; callbacks get 503 at once until it takes them again");
        }
    }

    /// While failing: `true` for the one caller allowed to try the database now.
    pub(crate) fn try_probe(&self) -> bool {
        !self.probing.swap(true, Ordering::SeqCst)
    }

    pub(crate) fn end_probe(&self) {
        self.probing.store(false, Ordering::SeqCst);
    }
}

/// Longest wait between two tries of a settlement the database refused.
const MAX_SETTLE_BACKOFF: Duration = Duration::from_secs(5);

type InsertReply = oneshot::Sender<Result<InsertOutcome, IngestError>>;
type ClaimReply = oneshot::Sender<Result<Vec<InboxEvent>, StoreError>>;

enum Op {
    Insert {
        event: NewInboxEvent,
        reply: InsertReply,
    },
    Settle(Settlement),
    /// Claims the rows of these ids that are still due (found by a read outside the writer).
    Claim {
        due: Vec<Due>,
        reply: ClaimReply,
    },
    ExtendClaims {
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    /// Answered once every settlement sent before it is written (or given up on).
    Flush(oneshot::Sender<()>),
}

/// The handle of the writer tasks; cheap to clone.
#[derive(Clone)]
pub(crate) struct Writer {
    writers: Arc<[mpsc::Sender<Op>]>,
    next: Arc<AtomicUsize>,
    health: Arc<WriteHealth>,
}

/// What the writer tasks share.
pub(crate) struct WriterSetup {
    pub(crate) store: Store,
    pub(crate) dispatch: Dispatch,
    /// Claim owner of this process.
    pub(crate) owner: Arc<str>,
    pub(crate) lease: Duration,
    pub(crate) max_rows: usize,
    pub(crate) linger: Duration,
    /// Wakes the fetcher when rows were stored unclaimed.
    pub(crate) new_rows: Arc<Notify>,
    pub(crate) health: Arc<WriteHealth>,
}

impl Writer {
    /// Starts `writers` tasks (SQLite: 1).
    pub(crate) fn start(setup: WriterSetup, writers: usize) -> Writer {
        let health = setup.health.clone();
        let setup = Arc::new(setup);
        let writers: Arc<[mpsc::Sender<Op>]> = (0..writers.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(setup.max_rows * 8);
                tokio::spawn(write_loop(setup.clone(), rx));
                tx
            })
            .collect();
        Writer {
            writers,
            next: Arc::default(),
            health,
        }
    }

    /// Whether the database takes writes, as last seen.
    pub(crate) fn health(&self) -> &WriteHealth {
        &self.health
    }

    /// Tries a real write (a row inserted and deleted in one transaction), to tell whether the
    /// database takes writes now; updates the health.
    pub(crate) async fn probe(&self, store: &Store) -> Result<(), StoreError> {
        let result = store.inbox_write_probe().await;
        match &result {
            Ok(()) => self.health.succeeded(),
            Err(e) => self.health.failed(e),
        }
        result
    }

    fn pick(&self) -> &mpsc::Sender<Op> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.writers.len();
        &self.writers[i]
    }

    /// Stores a callback; `Ok` once committed (or already stored).
    pub(crate) async fn insert(&self, event: NewInboxEvent) -> Result<InsertOutcome, IngestError> {
        let (reply, answer) = oneshot::channel();
        self.pick()
            .send(Op::Insert { event, reply })
            .await
            .map_err(|_| IngestError::Stopped)?;
        answer.await.map_err(|_| IngestError::Stopped)?
    }

    /// Queues an outcome for the next group commit.
    pub(crate) async fn settle(&self, settlement: Settlement) {
        if self.pick().send(Op::Settle(settlement)).await.is_err() {
            tracing::error!("the inbox writer has stopped; the outcome is lost and the event runs again when its claim lapses");
        }
    }

    /// Claims for this process the `due` rows still due (through the first writer: on SQLite
    /// the only one).
    pub(crate) async fn claim_ids(&self, due: Vec<Due>) -> Result<Vec<InboxEvent>, StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Config("the inbox writer has stopped".into());
        self.writers[0]
            .send(Op::Claim { due, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Extends every claim of this process.
    pub(crate) async fn extend_claims(&self) -> Result<u64, StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Config("the inbox writer has stopped".into());
        self.writers[0]
            .send(Op::ExtendClaims { reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Waits until every settlement queued so far is written, at most `limit`.
    pub(crate) async fn flush(&self, limit: Duration) {
        let mut answers = Vec::new();
        for writer in self.writers.iter() {
            let (reply, answer) = oneshot::channel();
            if writer.send(Op::Flush(reply)).await.is_ok() {
                answers.push(answer);
            }
        }
        let all = async {
            for answer in answers {
                let _ = answer.await;
            }
        };
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::warn!(
                "outcomes not all written at shutdown; their events run again when the claims lapse"
            );
        }
    }
}

/// Ops taken in one round, by kind.
#[derive(Default)]
struct Round {
    inserts: Vec<(NewInboxEvent, InsertReply)>,
    claims: Vec<(Vec<Due>, ClaimReply)>,
    extends: Vec<oneshot::Sender<Result<u64, StoreError>>>,
    flushes: Vec<oneshot::Sender<()>>,
}

/// Outcomes not written yet, kept across rounds until the database takes them, and when to
/// try again after it refused them.
struct Unsettled {
    batch: Vec<Settlement>,
    backoff: Duration,
    retry_at: Option<tokio::time::Instant>,
}

impl Unsettled {
    const FIRST_BACKOFF: Duration = Duration::from_millis(50);

    fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// Whether they may be written now (not waiting out a backoff).
    fn is_due(&self) -> bool {
        self.retry_at
            .is_none_or(|at| at <= tokio::time::Instant::now())
    }

    /// Takes the `Done` outcomes (the usual ones), leaving the others.
    fn take_done(&mut self) -> Vec<Settlement> {
        let (done, rest) = std::mem::take(&mut self.batch)
            .into_iter()
            .partition(|s| matches!(s, Settlement::Done { .. }));
        self.batch = rest;
        done
    }

    /// Records how writing `batch` went: on failure it is kept and tried again with backoff.
    fn written(&mut self, batch: Vec<Settlement>, result: Result<Vec<bool>, Arc<StoreError>>) {
        match result {
            Ok(applied) => {
                m::settlement_batch(batch.len());
                let lapsed = applied.iter().filter(|a| !**a).count();
                if lapsed > 0 {
                    tracing::warn!(
                        events = lapsed,
                        "claims lapsed before their outcome was written; another process may run them again"
                    );
                }
                self.backoff = Self::FIRST_BACKOFF;
                self.retry_at = None;
            }
            Err(e) => {
                m::worker_error();
                tracing::error!(events = batch.len(), error = %e, retry_in = ?self.backoff, "outcomes not written; writing them again");
                self.batch.extend(batch);
                self.retry_at = Some(tokio::time::Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(MAX_SETTLE_BACKOFF);
            }
        }
    }
}

async fn write_loop(setup: Arc<WriterSetup>, mut rx: mpsc::Receiver<Op>) {
    let mut unsettled = Unsettled {
        batch: Vec::new(),
        backoff: Unsettled::FIRST_BACKOFF,
        retry_at: None,
    };
    let mut waiting_flushes: Vec<oneshot::Sender<()>> = Vec::new();
    let mut open = true;
    // Tries left once every sender is gone (shutdown) and the database still refuses.
    let mut tries_after_close = 10;
    while open || (!unsettled.is_empty() && tries_after_close > 0) {
        let mut round = Round::default();
        let wake = tokio::select! {
            op = rx.recv(), if open => op,
            _ = sleep_until(unsettled.retry_at), if !unsettled.is_empty() => None,
        };
        match wake {
            Some(op) => take(op, &mut round, &mut unsettled.batch),
            None if unsettled
                .retry_at
                .is_some_and(|at| at <= tokio::time::Instant::now()) => {}
            None => open = false,
        }
        if !open {
            tries_after_close -= 1;
        }
        // Whatever queued up while the previous round was written joins this one.
        while round.inserts.len() < setup.max_rows {
            match rx.try_recv() {
                Ok(op) => take(op, &mut round, &mut unsettled.batch),
                Err(_) => break,
            }
        }
        if !setup.linger.is_zero() && !round.inserts.is_empty() {
            let deadline = tokio::time::Instant::now() + setup.linger;
            while round.inserts.len() < setup.max_rows {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(op)) => take(op, &mut round, &mut unsettled.batch),
                    _ => break,
                }
            }
        }
        if !round.inserts.is_empty() {
            // The outcomes of handled events are written with the callbacks, in one commit;
            // the rarer ones (retries, dead letters) below.
            let done = if unsettled.is_due() {
                unsettled.take_done()
            } else {
                Vec::new()
            };
            let ids: Vec<i64> = done.iter().map(Settlement::id).collect();
            let settled = insert(&setup, std::mem::take(&mut round.inserts), &ids).await;
            if !done.is_empty() {
                unsettled.written(done, settled);
            }
        }
        if !unsettled.is_empty() && unsettled.is_due() {
            let batch = std::mem::take(&mut unsettled.batch);
            let result = setup.store.inbox_settle(&setup.owner, &batch).await;
            unsettled.written(batch, result.map_err(Arc::new));
        }
        for (due, reply) in round.claims {
            let claimed = setup
                .store
                .inbox_claim_ids(&setup.owner, &due, setup.lease)
                .await;
            let _ = reply.send(claimed);
        }
        for reply in round.extends {
            let _ = reply.send(
                setup
                    .store
                    .inbox_extend_claims(&setup.owner, setup.lease)
                    .await,
            );
        }
        waiting_flushes.extend(round.flushes);
        if unsettled.is_empty() {
            for flush in waiting_flushes.drain(..) {
                let _ = flush.send(());
            }
        }
    }
    if !unsettled.is_empty() {
        tracing::error!(
            events = unsettled.batch.len(),
            "outcomes never written; their events run again when the claims lapse"
        );
    }
}

fn take(op: Op, round: &mut Round, unsettled: &mut Vec<Settlement>) {
    match op {
        Op::Insert { event, reply } => round.inserts.push((event, reply)),
        Op::Settle(settlement) => unsettled.push(settlement),
        Op::Claim { due, reply } => round.claims.push((due, reply)),
        Op::ExtendClaims { reply } => round.extends.push(reply),
        Op::Flush(reply) => round.flushes.push(reply),
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One group commit of callbacks, with the rows `done` marked done. Rows for which the
/// dispatcher has room are inserted claimed by this process and handed to it directly. Returns,
/// per id of `done`, whether it was settled (see [`Store::inbox_settle`]).
async fn insert(
    setup: &WriterSetup,
    batch: Vec<(
        NewInboxEvent,
        oneshot::Sender<Result<InsertOutcome, IngestError>>,
    )>,
    done: &[i64],
) -> Result<Vec<bool>, Arc<StoreError>> {
    let (events, replies): (Vec<NewInboxEvent>, Vec<_>) = batch.into_iter().unzip();
    let reserved: Vec<bool> = events
        .iter()
        .map(|e| setup.dispatch.try_reserve(&e.store_hash))
        .collect();
    m::group_commit_size(events.len());
    let claim = Claim {
        owner: &setup.owner,
        lease: setup.lease,
    };
    let received_at = setup.store.now();
    match setup
        .store
        .inbox_insert_settling(&events, claim, |i| reserved[i], done)
        .await
    {
        Ok((outcomes, settled)) => {
            setup.health.succeeded();
            let mut unclaimed = false;
            for (((event, reply), outcome), reserved) in
                events.into_iter().zip(replies).zip(outcomes).zip(reserved)
            {
                match (outcome, reserved) {
                    (InsertOutcome::Inserted(id), true) => setup.dispatch.push(
                        Job {
                            id,
                            store: Arc::from(event.store_hash),
                            scope: event.scope,
                            hash: event.hash,
                            body: event.body,
                            received_at,
                            attempts: 1,
                            done_handlers: Vec::new(),
                            recovered: false,
                        },
                        true,
                    ),
                    (InsertOutcome::Inserted(_), false) => unclaimed = true,
                    (InsertOutcome::Duplicate, true) => {
                        setup.dispatch.cancel_reservation(&event.store_hash)
                    }
                    (InsertOutcome::Duplicate, false) => {}
                }
                // A request that gave up (client gone) just drops its answer.
                let _ = reply.send(Ok(outcome));
            }
            if unclaimed {
                setup.new_rows.notify_one();
            }
            Ok(settled)
        }
        Err(e) => {
            setup.health.failed(&e);
            for (event, reserved) in events.iter().zip(reserved) {
                if reserved {
                    setup.dispatch.cancel_reservation(&event.store_hash);
                }
            }
            let e = Arc::new(e);
            for reply in replies {
                let _ = reply.send(Err(IngestError::Storage(e.clone())));
            }
            // The outcomes written with these callbacks share their fate.
            Err(e)
        }
    }
}
