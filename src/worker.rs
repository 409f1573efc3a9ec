//! Workers: claim stored callbacks, parse them into typed events, run the handlers, and settle
//! each row: done, retried later with backoff and jitter, or dead-lettered.

use std::sync::Arc;
use std::time::Duration;

use bigcommerce_app_store::{InboxEvent, Store};
use rand::Rng;
use tokio::sync::{watch, Notify};
use tracing::Instrument;

use crate::app::{App, Outcome};
use crate::cfg::Config;
use crate::envelope::Envelope;
use crate::metrics as m;
use crate::tenants::TenantCache;

pub(crate) struct WorkerContext {
    pub(crate) app: App,
    pub(crate) store: Store,
    pub(crate) tenants: TenantCache,
    pub(crate) cfg: Arc<Config>,
    pub(crate) new_rows: Arc<Notify>,
    /// Claim owner prefix unique to this process.
    pub(crate) process_id: String,
    /// Reconciles a store when it gets a new channel.
    pub(crate) reconciler: Option<crate::reconcile::Reconciler>,
}

/// How one event's attempt ended, for the row.
enum Settle {
    Done,
    Retry(String),
    Dead(&'static str, String),
}

/// The delay before attempt `attempt + 1`: exponential from `base`, capped, full jitter.
pub(crate) fn backoff(cfg: &Config, attempt: u32) -> Duration {
    let exp = cfg
        .retry_base
        .saturating_mul(2u32.saturating_pow(attempt.min(30)))
        .min(cfg.retry_max);
    // Full jitter, but never less than half the base so retries do not hammer at once.
    let floor = cfg.retry_base / 2;
    let jittered = rand::thread_rng().gen_range(Duration::ZERO..=exp);
    jittered.max(floor)
}

/// One worker task: runs until `shutdown` flips, then finishes the event in hand.
pub(crate) async fn run(
    ctx: Arc<WorkerContext>,
    index: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let owner = format!("{}-w{index}", ctx.process_id);
    let mut idle = Duration::from_millis(10);
    loop {
        if *shutdown.borrow() {
            break;
        }
        let batch = match ctx
            .store
            .inbox_claim(&owner, ctx.cfg.claim_batch, ctx.cfg.claim_lease)
            .await
        {
            Ok(batch) => batch,
            Err(e) => {
                m::worker_error();
                tracing::error!(worker = %owner, error = %e, "cannot claim events; retrying");
                sleep_or_shutdown(ctx.cfg.idle_poll, &ctx.new_rows, &mut shutdown).await;
                continue;
            }
        };
        if batch.is_empty() {
            sleep_or_shutdown(idle, &ctx.new_rows, &mut shutdown).await;
            idle = (idle * 2).min(ctx.cfg.idle_poll);
            continue;
        }
        idle = Duration::from_millis(10);
        let mut rows = batch.into_iter();
        for row in rows.by_ref() {
            let span = tracing::info_span!(
                "event", store = %row.store_hash, scope = %row.scope, hash = %row.payload_hash,
                attempt = row.attempts + 1, id = row.id,
            );
            handle(&ctx, &owner, row).instrument(span).await;
            if *shutdown.borrow() {
                break;
            }
        }
        // Claimed rows not started before shutdown go back at once rather than at lease expiry.
        if rows.next().is_some() {
            if let Err(e) = ctx.store.inbox_release(&owner).await {
                tracing::warn!(worker = %owner, error = %e, "claims not released; they lapse at lease expiry");
            }
        }
    }
    if let Err(e) = ctx.store.inbox_release(&owner).await {
        tracing::warn!(worker = %owner, error = %e, "claims not released on shutdown; they lapse at lease expiry");
    }
}

async fn sleep_or_shutdown(
    wait: Duration,
    new_rows: &Notify,
    shutdown: &mut watch::Receiver<bool>,
) {
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        _ = new_rows.notified() => {}
        _ = shutdown.changed() => {}
    }
}

async fn handle(ctx: &WorkerContext, owner: &str, row: InboxEvent) {
    let settle = attempt(ctx, &row).await;
    if matches!(settle, Settle::Done) && row.scope == crate::events::Scope::ChannelCreated.as_str()
    {
        // A new channel: its channel-templated subscriptions are due.
        if let Some(reconciler) = ctx.reconciler.clone() {
            let store_hash = row.store_hash.clone();
            tokio::spawn(async move {
                if let Err(e) = reconciler.reconcile_store(&store_hash).await {
                    tracing::error!(store = %store_hash, error = %e, "reconcile after a new channel failed");
                }
            });
        }
    }
    let store = &ctx.store;
    let result = match &settle {
        Settle::Done => store.inbox_complete(row.id, owner).await,
        Settle::Retry(error) if row.attempts + 1 < ctx.cfg.max_attempts => {
            let delay = backoff(&ctx.cfg, row.attempts);
            let next = time::OffsetDateTime::now_utc()
                + time::Duration::try_from(delay).unwrap_or(time::Duration::HOUR);
            m::retry();
            tracing::warn!(error = %error, retry_in = ?delay, "event failed; will retry");
            store.inbox_fail(row.id, owner, error, next).await
        }
        Settle::Retry(error) => {
            m::dead_letter("attempts_exhausted");
            tracing::error!(error = %error, attempts = row.attempts + 1, "event failed on its last attempt; dead-lettered");
            store.inbox_dead_letter(row.id, owner, error).await
        }
        Settle::Dead(reason, error) => {
            m::dead_letter(reason);
            tracing::error!(error = %error, reason, "event dead-lettered");
            store.inbox_dead_letter(row.id, owner, error).await
        }
    };
    match result {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "claim lapsed before the event was settled; another worker may run it again"
        ),
        Err(e) => {
            m::worker_error();
            tracing::error!(error = %e, "could not record the outcome; the claim lapses and the event runs again");
        }
    }
}

async fn attempt(ctx: &WorkerContext, row: &InboxEvent) -> Settle {
    let envelope = match Envelope::from_slice(&row.body) {
        Ok(envelope) => envelope,
        // Stored, so BigCommerce sent it; it does not fit this version's types. Kept for replay
        // after an upgrade.
        Err(e) => return Settle::Dead("unparseable", format!("payload does not parse: {e}")),
    };
    let tenant = match ctx.tenants.get(&row.store_hash).await {
        Ok(Some(t)) if t.is_installed() => ctx.tenants.context(&envelope.producer, &t),
        Ok(_) => {
            tracing::info!("store uninstalled since the event arrived; not handled");
            return Settle::Done;
        }
        Err(e) => return Settle::Retry(format!("tenant lookup: {e}")),
    };
    let dispatched = match tokio::time::timeout(
        ctx.cfg.handler_timeout,
        ctx.app.dispatch_to(envelope, tenant),
    )
    .await
    {
        Ok(Ok(dispatched)) => dispatched,
        Ok(Err(e)) => return Settle::Dead("dispatch", e.to_string()),
        Err(_) => {
            return Settle::Retry(format!(
                "handlers did not finish within {:?}",
                ctx.cfg.handler_timeout
            ))
        }
    };
    let mut retryable = Vec::new();
    let mut permanent = Vec::new();
    for o in &dispatched.outcomes {
        m::handler_duration(o.handler, o.elapsed.as_secs_f64());
        match &o.outcome {
            Outcome::Succeeded => {}
            Outcome::Failed(e) if e.is_retryable() => {
                m::handler_failure(o.handler, "retryable");
                retryable.push(format!("{}: {e}", o.handler));
            }
            Outcome::Failed(e) => {
                m::handler_failure(o.handler, "permanent");
                permanent.push(format!("{}: {e}", o.handler));
            }
            Outcome::Panicked(message) => {
                m::handler_failure(o.handler, "panic");
                retryable.push(format!("{}: panicked: {message}", o.handler));
            }
        }
    }
    if !permanent.is_empty() {
        permanent.extend(retryable);
        return Settle::Dead("permanent_error", permanent.join("; "));
    }
    if !retryable.is_empty() {
        return Settle::Retry(retryable.join("; "));
    }
    Settle::Done
}

/// Keeps `bcapp_inbox_depth` current and purges done rows past the retention.
pub(crate) async fn housekeeping(
    store: Store,
    cfg: Arc<Config>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    let mut since_purge = 0u32;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        match store.inbox_depth().await {
            Ok(depth) => m::inbox_depth(depth),
            Err(e) => tracing::warn!(error = %e, "cannot read the inbox depth"),
        }
        since_purge += 1;
        if since_purge >= 60 {
            since_purge = 0;
            match store.inbox_purge_done(cfg.retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "purged handled events past the retention"),
                Err(e) => tracing::warn!(error = %e, "purge of handled events failed"),
            }
            match store.sessions_purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(rows = n, "purged expired sessions and signed payloads"),
                Err(e) => tracing::warn!(error = %e, "purge of expired sessions failed"),
            }
        }
    }
}
