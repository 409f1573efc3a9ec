//! One attempt at one event: parse it into the typed `Event`, find its tenant, run the handlers
//! that have not succeeded yet, and decide the row's outcome.

use std::sync::Arc;
use std::time::Duration;

use bigcommerce_app_store::Settlement;
use rand::Rng;
use tokio::time::Instant;

use super::dispatch::{Finished, Job};
use super::Engine;
use crate::app::Outcome;
use crate::cfg::Config;
use crate::envelope::Envelope;
use crate::metrics as m;

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

/// How long an event waits when its attempt could not be counted (the database is down).
const COUNT_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// How long a store waits when a handler met its spent API budget but the client knows no
/// reset time.
const RATE_LIMIT_FALLBACK_PAUSE: Duration = Duration::from_secs(1);

/// Runs one job and hands its outcome to the writer and the dispatcher.
pub(crate) async fn run(engine: Arc<Engine>, job: Job) {
    let span = tracing::info_span!(
        "event", store = %job.store, scope = %job.scope, hash = %job.hash,
        attempt = job.attempts, id = job.id,
    );
    let (store, id) = (job.store.clone(), job.id);
    let finished = tracing::Instrument::instrument(attempt(&engine, job), span).await;
    engine.dispatch.finish(&store, id, finished);
}

/// What one attempt decided.
enum Decision {
    Done,
    Retry(String),
    Dead(&'static str, String),
    /// The store's API budget is spent: wait for it without counting an attempt.
    RateLimited(Option<Instant>),
}

async fn attempt(engine: &Engine, mut job: Job) -> Finished {
    let cfg = &engine.cfg;
    if job.recovered {
        // Its attempt counts now that it starts (not when it was claimed back).
        match engine
            .store
            .inbox_count_attempt(job.id, &engine.owner)
            .await
        {
            Ok(true) => {
                job.attempts += 1;
                job.recovered = false;
            }
            Ok(false) => {
                tracing::warn!("claim lost before the event started; another process has it");
                return Finished::Settled;
            }
            Err(e) => {
                m::worker_error();
                tracing::error!(error = %e, "cannot count the attempt; the event waits");
                return Finished::Requeue(job, Instant::now() + COUNT_RETRY_PAUSE);
            }
        }
    }
    let mut done_handlers = job.done_handlers.clone();
    let decision = decide(engine, &job, &mut done_handlers).await;
    let settlement = match decision {
        Decision::RateLimited(until) => {
            let until = until.unwrap_or_else(|| Instant::now() + RATE_LIMIT_FALLBACK_PAUSE);
            tracing::info!(paused_for = ?until.saturating_duration_since(Instant::now()), "the store's API budget is spent; its events wait");
            m::rate_limited_pause();
            let job = Job {
                done_handlers,
                ..job
            };
            return Finished::Requeue(job, until);
        }
        Decision::Done => {
            m::handling_lag((engine.store.now() - job.received_at).as_seconds_f64());
            if job.scope == crate::events::Scope::ChannelCreated.as_str() {
                engine.channel_created(&job.store);
            }
            Settlement::Done { id: job.id }
        }
        Decision::Retry(error) if job.attempts < cfg.max_attempts => {
            let delay = backoff(cfg, job.attempts.saturating_sub(1));
            let next_attempt_at = engine.store.now()
                + time::Duration::try_from(delay).unwrap_or(time::Duration::HOUR);
            m::retry();
            tracing::warn!(error = %error, retry_in = ?delay, "event failed; will retry");
            Settlement::Retry {
                id: job.id,
                error,
                next_attempt_at,
                done_handlers,
            }
        }
        Decision::Retry(error) => {
            m::dead_letter("attempts_exhausted");
            tracing::error!(error = %error, attempts = job.attempts, "event failed on its last attempt; dead-lettered");
            Settlement::Dead {
                id: job.id,
                error,
                done_handlers,
            }
        }
        Decision::Dead(reason, error) => {
            m::dead_letter(reason);
            tracing::error!(error = %error, reason, "event dead-lettered");
            Settlement::Dead {
                id: job.id,
                error,
                done_handlers,
            }
        }
    };
    engine.writer.settle(settlement).await;
    Finished::Settled
}

async fn decide(engine: &Engine, job: &Job, done_handlers: &mut Vec<String>) -> Decision {
    let cfg = &engine.cfg;
    if job.attempts > cfg.max_attempts {
        // Started more often than the limit without an outcome: every attempt ended with the
        // process (an abort, running out of memory, a kill).
        return Decision::Dead(
            "attempts_exhausted",
            format!(
                "{} attempts started and none finished: the process stopped while handling this event",
                job.attempts - 1
            ),
        );
    }
    let envelope = match Envelope::from_slice(&job.body) {
        Ok(envelope) => envelope,
        // Stored, so BigCommerce sent it; it does not fit this version's types. Kept for replay
        // after an upgrade.
        Err(e) => return Decision::Dead("unparseable", format!("payload does not parse: {e}")),
    };
    let tenant = match engine.tenants.get(&job.store).await {
        Ok(Some(t)) if t.is_installed() => engine
            .tenants
            .context_for_handlers(&envelope.meta.store_hash, &t),
        Ok(_) => {
            tracing::info!("store uninstalled since the event arrived; not handled");
            return Decision::Done;
        }
        Err(e) => return Decision::Retry(format!("tenant lookup: {e}")),
    };
    let deadline = Instant::now() + cfg.handler_timeout;
    let dispatched = match engine
        .app
        .run_handlers(envelope, tenant, done_handlers, Some(deadline))
        .await
    {
        Ok(dispatched) => dispatched,
        Err(e) => return Decision::Dead("dispatch", e.to_string()),
    };
    let mut retryable = Vec::new();
    let mut permanent = Vec::new();
    let mut rate_limited = false;
    for o in &dispatched.outcomes {
        m::handler_duration(o.handler, o.elapsed.as_secs_f64());
        match &o.outcome {
            Outcome::Succeeded => done_handlers.push(o.handler.to_owned()),
            Outcome::Failed(e) if e.is_rate_limited() => {
                m::handler_failure(o.handler, "rate_limited");
                rate_limited = true;
            }
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
            Outcome::TimedOut(after) => {
                m::handler_failure(o.handler, "timeout");
                retryable.push(format!(
                    "{}: did not finish within the handler timeout ({after:?})",
                    o.handler
                ));
            }
        }
    }
    if !permanent.is_empty() {
        permanent.extend(retryable);
        return Decision::Dead("permanent_error", permanent.join("; "));
    }
    if rate_limited && retryable.is_empty() {
        let until = engine
            .api
            .as_ref()
            .and_then(|api| api.paused_until(&job.store));
        return Decision::RateLimited(until);
    }
    if rate_limited {
        retryable.push("the store's API budget is spent".into());
    }
    if !retryable.is_empty() {
        return Decision::Retry(retryable.join("; "));
    }
    tracing::debug!(
        store = %job.store,
        scope = %job.scope,
        inbox_id = job.id,
        handlers = dispatched.outcomes.len(),
        "event handled"
    );
    Decision::Done
}
