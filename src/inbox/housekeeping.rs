//! The background work of the inbox: claiming rows from the database when there is room,
//! extending this process's claims, metrics, and purging old rows.

use std::sync::Arc;
use std::time::Duration;

use bigcommerce_app_store::Backend;
use tokio::sync::watch;

use super::dispatch::Job;
use super::Engine;
use crate::metrics as m;

/// Stores whose queue depth is exported (`bcapp_store_queue_depth`): a bounded label set.
const TOP_STORES: usize = 10;

/// Claims due rows into the dispatcher whenever it has room: retries that came due, rows of
/// other instances (or stored unclaimed while this one was full), claims of dead processes.
pub(crate) async fn fetch_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    let cfg = &engine.cfg;
    let mut idle = Duration::from_millis(10);
    // Claim once at least this many places are free, so claims come in useful batches.
    let low_water = (cfg.claim_batch as usize).min(cfg.max_held / 4).max(1);
    // Set when a claim that left out the stores holding their share came back short: the rows
    // stored meanwhile are theirs (the writer hands other stores' events over directly), so
    // while the same stores are left out, claiming again before the idle poll would only read
    // past their backlog. Under a one-store flood that read was most of PostgreSQL's work: the
    // flooding store's refills (claims without skipping) come every few dozen milliseconds,
    // and each was followed by a skipping claim that found nothing.
    let mut futile: Option<(Vec<String>, tokio::time::Instant)> = None;
    loop {
        // Registered before looking, so a wake-up during the claim is not lost.
        let new_rows = engine.new_rows.notified();
        let room_freed = engine.dispatch.room_freed.notified();
        tokio::pin!(new_rows, room_freed);
        new_rows.as_mut().enable();
        room_freed.as_mut().enable();
        if *stop.borrow() {
            return;
        }
        let (room, saturated) = engine.dispatch.room();
        let now = tokio::time::Instant::now();
        if futile.as_ref().is_some_and(|(_, until)| *until <= now) {
            futile = None;
        }
        let futile_now = futile
            .as_ref()
            .is_some_and(|(skipped, _)| *skipped == saturated);
        let mut full_batch = false;
        if room >= low_water && !futile_now {
            let limit = u32::try_from(room).unwrap_or(u32::MAX).min(cfg.claim_batch);
            match claim(&engine, limit, &saturated).await {
                Ok(rows) => {
                    full_batch = rows.len() == limit as usize;
                    if rows.is_empty() {
                        idle = (idle * 2).min(cfg.idle_poll);
                    } else {
                        idle = Duration::from_millis(10);
                    }
                    if !full_batch && !saturated.is_empty() {
                        futile = Some((saturated, tokio::time::Instant::now() + cfg.idle_poll));
                    }
                    for row in rows {
                        engine.dispatch.push(Job::from(row), false);
                    }
                }
                Err(e) => {
                    m::worker_error();
                    tracing::error!(error = %e, "cannot claim events; trying again");
                    idle = cfg.idle_poll;
                }
            }
        }
        if full_batch {
            // More may be due: look again at once (the room check paces it).
            continue;
        }
        let wait = match &futile {
            Some((_, until)) if futile_now => *until,
            _ => tokio::time::Instant::now() + idle,
        };
        tokio::select! {
            _ = tokio::time::sleep_until(wait) => {}
            _ = &mut new_rows, if !futile_now => {}
            // A store left out may have room again.
            _ = &mut room_freed, if room < low_water || futile_now => {}
            _ = stop.changed() => return,
        }
    }
}

/// Claims due rows for this process. PostgreSQL: one locking statement per kind of due row,
/// run beside the writers. SQLite: the due rows are found by a read (which does not hold the
/// write lock), then claimed by the writer.
async fn claim(
    engine: &Engine,
    limit: u32,
    skip: &[String],
) -> Result<Vec<bigcommerce_app_store::InboxEvent>, bigcommerce_app_store::StoreError> {
    let skip: Vec<&str> = skip.iter().map(String::as_str).collect();
    match engine.store.backend() {
        Backend::Postgres => {
            engine
                .store
                .inbox_claim_skipping(&engine.owner, limit, engine.cfg.claim_lease, &skip)
                .await
        }
        Backend::Sqlite => {
            let ids = engine.store.inbox_due(limit, &skip).await?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            engine.writer.claim_ids(ids).await
        }
    }
}

/// Extends this process's claims every quarter of the lease, keeps the gauges current, keeps a
/// young inbox table's statistics current (PostgreSQL), and purges done rows, expired sessions
/// and used signed payloads.
pub(crate) async fn housekeeping_loop(engine: Arc<Engine>, mut stop: watch::Receiver<bool>) {
    let cfg = &engine.cfg;
    let extend_every = cfg.claim_lease / 4;
    let mut extend = tokio::time::interval(extend_every);
    extend.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut gauges = tokio::time::interval(Duration::from_secs(10));
    gauges.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Two catalog reads; an analyze only while the table is young and growing fast.
    let mut statistics = tokio::time::interval(Duration::from_secs(2));
    statistics.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut ticks = 0u32;
    let mut shown: Vec<String> = Vec::new();
    loop {
        tokio::select! {
            _ = extend.tick() => {
                if let Err(e) = engine.writer.extend_claims().await {
                    m::worker_error();
                    tracing::error!(error = %e, "claims not extended; they lapse if this goes on for a lease");
                }
                continue;
            }
            _ = statistics.tick(), if engine.store.backend() == Backend::Postgres => {
                if let Err(e) = engine.store.inbox_refresh_statistics().await {
                    tracing::warn!(error = %e, "cannot refresh the inbox statistics");
                }
                continue;
            }
            _ = gauges.tick() => {}
            _ = stop.changed() => return,
        }
        let snapshot = engine.dispatch.snapshot(TOP_STORES);
        m::held(snapshot.held);
        // Stores that left the top get their gauge back to 0, so the label set stays bounded.
        for store in &shown {
            if !snapshot.deepest.iter().any(|(s, _)| s == store) {
                m::store_queue_depth(store, 0);
            }
        }
        for (store, depth) in &snapshot.deepest {
            m::store_queue_depth(store, *depth);
        }
        shown = snapshot.deepest.into_iter().map(|(s, _)| s).collect();
        match engine.store.inbox_depth().await {
            Ok(depth) => m::inbox_depth(depth),
            Err(e) => tracing::warn!(error = %e, "cannot read the inbox depth"),
        }
        ticks += 1;
        if ticks.is_multiple_of(60) {
            match engine.store.inbox_purge_done(cfg.retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "purged handled events past the retention"),
                Err(e) => tracing::warn!(error = %e, "purge of handled events failed"),
            }
            match engine.store.sessions_purge_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(rows = n, "purged expired sessions and signed payloads"),
                Err(e) => tracing::warn!(error = %e, "purge of expired sessions failed"),
            }
        }
    }
}
