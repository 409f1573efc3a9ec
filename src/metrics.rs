//! Prometheus metrics (`metrics` facade, exported on `/metrics`).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `bcapp_webhooks_received_total` | counter | `status`: the HTTP status answered |
//! | `bcapp_webhooks_duplicate_total` | counter | |
//! | `bcapp_webhooks_dropped_uninstalled_total` | counter | |
//! | `bcapp_group_commit_rows` | histogram | rows per inbox transaction |
//! | `bcapp_inbox_depth` | gauge | events waiting or being handled (the database's count) |
//! | `bcapp_events_in_flight` | gauge | events whose handlers run in this process |
//! | `bcapp_events_held` | gauge | events this process holds: queued per store, in flight, reserved |
//! | `bcapp_store_queue_depth` | gauge | `store`: events queued in this process, for the 10 stores with most (0 once a store leaves the top) |
//! | `bcapp_handling_lag_seconds` | histogram | from receipt to done, per event |
//! | `bcapp_settlement_rows` | histogram | outcomes per settlement transaction |
//! | `bcapp_rate_limited_pauses_total` | counter | a store's events waited for its API budget |
//! | `bcapp_blocked_handlers_total` | counter | `handler`: ran well past its timeout (it blocks its thread) |
//! | `bcapp_handler_duration_seconds` | histogram | `handler` |
//! | `bcapp_handler_failures_total` | counter | `handler`, `kind`: retryable, permanent, panic, timeout, rate_limited |
//! | `bcapp_event_retries_total` | counter | |
//! | `bcapp_dead_letters_total` | counter | `reason` |
//! | `bcapp_worker_errors_total` | counter | storage errors met by the handling side (claims, outcomes, claim extensions) |
//! | `bcapp_reconcile_total` | counter | `outcome`: created, reactivated, updated, unchanged, deleted, failed |

use std::sync::OnceLock;

use axum::http::StatusCode;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Installs the Prometheus recorder once per process and returns its handle.
pub fn prometheus() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(e) => {
                // Another recorder is installed (the application chose its own): use that.
                tracing::warn!(error = %e, "Prometheus recorder not installed; /metrics is empty");
                None
            }
        })
        .clone()
}

/// A refused callback, by reason ([`crate::receiver::CallbackRejection::label`]).
pub(crate) fn rejected(reason: &'static str) {
    metrics::counter!("bcapp_webhooks_rejected_total", "reason" => reason).increment(1);
}

pub(crate) fn received(status: StatusCode) {
    let status = match status.as_u16() {
        200 => "200",
        400 => "400",
        401 => "401",
        404 => "404",
        413 => "413",
        415 => "415",
        422 => "422",
        503 => "503",
        _ => "other",
    };
    metrics::counter!("bcapp_webhooks_received_total", "status" => status).increment(1);
}

pub(crate) fn duplicate() {
    metrics::counter!("bcapp_webhooks_duplicate_total").increment(1);
}

pub(crate) fn dropped_uninstalled() {
    metrics::counter!("bcapp_webhooks_dropped_uninstalled_total").increment(1);
}

pub(crate) fn group_commit_size(rows: usize) {
    metrics::histogram!("bcapp_group_commit_rows").record(rows as f64);
}

pub(crate) fn inbox_depth(depth: u64) {
    metrics::gauge!("bcapp_inbox_depth").set(depth as f64);
}

pub(crate) fn in_flight(events: usize) {
    metrics::gauge!("bcapp_events_in_flight").set(events as f64);
}

pub(crate) fn held(events: usize) {
    metrics::gauge!("bcapp_events_held").set(events as f64);
}

pub(crate) fn store_queue_depth(store: &str, depth: usize) {
    metrics::gauge!("bcapp_store_queue_depth", "store" => store.to_owned()).set(depth as f64);
}

pub(crate) fn handling_lag(seconds: f64) {
    metrics::histogram!("bcapp_handling_lag_seconds").record(seconds);
}

pub(crate) fn settlement_batch(rows: usize) {
    metrics::histogram!("bcapp_settlement_rows").record(rows as f64);
}

pub(crate) fn blocked_handler(handler: &'static str) {
    metrics::counter!("bcapp_blocked_handlers_total", "handler" => handler).increment(1);
}

pub(crate) fn rate_limited_pause() {
    metrics::counter!("bcapp_rate_limited_pauses_total").increment(1);
}

pub(crate) fn handler_duration(handler: &'static str, seconds: f64) {
    metrics::histogram!("bcapp_handler_duration_seconds", "handler" => handler).record(seconds);
}

pub(crate) fn handler_failure(handler: &'static str, kind: &'static str) {
    metrics::counter!("bcapp_handler_failures_total", "handler" => handler, "kind" => kind)
        .increment(1);
}

pub(crate) fn retry() {
    metrics::counter!("bcapp_event_retries_total").increment(1);
}

pub(crate) fn dead_letter(reason: &'static str) {
    metrics::counter!("bcapp_dead_letters_total", "reason" => reason).increment(1);
}

pub(crate) fn worker_error() {
    metrics::counter!("bcapp_worker_errors_total").increment(1);
}

pub(crate) fn reconcile(outcome: &'static str) {
    metrics::counter!("bcapp_reconcile_total", "outcome" => outcome).increment(1);
}
