//! Delivering events to hooks: matching, signing, BigCommerce's retry schedule, deactivation after
//! the last retry, and the domain blocklist.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::http::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::blocklist::{BLOCK_FOR, WINDOW};
use crate::core::{lock, random_token, unix_now, Core};
use crate::hooks::HookStatus;
use crate::payloads::{envelope, generate_data, hook_matches, resolve_trigger};
use crate::EmulatorError;

/// BigCommerce's retry intervals in seconds after a failed delivery (about 48 hours in all).
/// After the last one fails, the hook is deactivated.
pub const RETRY_SCHEDULE: [u64; 11] = [
    60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400,
];

/// One attempt to deliver one event to one hook.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    /// The hook delivered through.
    pub hook_id: u64,
    /// The concrete scope delivered.
    pub scope: String,
    /// The payload `hash`, the same for every attempt and copy of one event.
    pub hash: String,
    /// The `webhook-id` header, the same for every attempt and copy of one event.
    pub webhook_id: String,
    /// The URL posted to.
    pub destination: String,
    /// 1 for the first try, 2 for the first retry, ...
    pub attempt: u32,
    /// The app's HTTP status, `None` when no answer came (timeout, connection error, blocked).
    pub status: Option<u16>,
    /// Why the attempt failed, when it did.
    pub error: Option<String>,
    /// When the attempt was made, wall clock.
    pub at: SystemTime,
    /// When the attempt was made, on a monotonic clock from the emulator's start.
    pub elapsed: Duration,
}

impl DeliveryRecord {
    /// The app answered 2xx.
    pub fn is_success(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// What [`crate::Emulator::trigger`] fired.
#[derive(Debug, Clone)]
pub struct TriggerReport {
    /// The concrete scope, with the channel id in place.
    pub scope: String,
    /// The payload `hash`.
    pub hash: String,
    /// The `webhook-id` header of its deliveries.
    pub webhook_id: String,
    /// The callback body as posted.
    pub payload: Value,
    /// The active hooks the event goes to (each once, or twice for a duplicate delivery).
    pub hook_ids: Vec<u64>,
}

/// One event, serialized once so every attempt and copy posts the same bytes.
struct Event {
    scope: String,
    hash: String,
    webhook_id: String,
    body: String,
}

pub(crate) async fn trigger(
    core: &Arc<Core>,
    store: &str,
    scope: &str,
    channel: Option<u64>,
    data: Option<Value>,
    copies: usize,
) -> Result<TriggerReport, EmulatorError> {
    fire(core, store, scope, channel, data, None, copies).await
}

/// [`trigger`] of a resource's `updated` event, with the fields it changes.
pub(crate) async fn trigger_changing(
    core: &Arc<Core>,
    store: &str,
    scope: &str,
    channel: Option<u64>,
    data: Value,
    changes: serde_json::Map<String, Value>,
) -> Result<TriggerReport, EmulatorError> {
    if !scope.ends_with("/updated") {
        return Err(EmulatorError::NotAChange(scope.to_owned()));
    }
    fire(core, store, scope, channel, Some(data), Some(changes), 1).await
}

async fn fire(
    core: &Arc<Core>,
    store: &str,
    scope: &str,
    channel: Option<u64>,
    data: Option<Value>,
    changes: Option<serde_json::Map<String, Value>>,
    copies: usize,
) -> Result<TriggerReport, EmulatorError> {
    let delivered = resolve_trigger(&core.catalogue, scope, channel)?;
    let data = match data {
        Some(data) => data,
        None => {
            let entry = core
                .catalogue
                .scopes
                .get(delivered.entry)
                .ok_or_else(|| EmulatorError::UnknownScope(scope.to_owned()))?;
            generate_data(&core.catalogue, entry)
        }
    };
    // The resource the event names follows it before anyone is told (a handler fetching it
    // must see the change).
    let template = core
        .catalogue
        .scopes
        .get(delivered.entry)
        .map(|e| e.scope.as_str())
        .unwrap_or_default();
    crate::resources::follow_event(core, store, template, &data, changes)?;
    let (store_id, hook_ids, seq) = {
        let mut state = core.state();
        let seq = state.next_event;
        state.next_event += 1;
        let store_state = state
            .stores
            .get(store)
            .ok_or_else(|| EmulatorError::UnknownStore(store.to_owned()))?;
        if let Some(id) = delivered.channel {
            if !store_state.channels.contains(&id) {
                return Err(EmulatorError::UnknownChannel {
                    store: store.to_owned(),
                    channel: id,
                });
            }
        }
        let hook_ids: Vec<u64> = store_state
            .hooks
            .values()
            .filter(|h| h.view.is_active && hook_matches(&core.catalogue, h.resolved, &delivered))
            .map(|h| h.view.id)
            .collect();
        (store_state.spec.store_id, hook_ids, seq)
    };
    let payload = envelope(&delivered.scope, store_id, store, unix_now(), seq, &data);
    let hash = payload["hash"].as_str().unwrap_or_default().to_owned();
    let event = Arc::new(Event {
        scope: delivered.scope.clone(),
        hash: hash.clone(),
        webhook_id: format!("msg_{}", random_token(24)),
        body: payload.to_string(),
    });
    for &hook_id in &hook_ids {
        for _ in 0..copies.max(1) {
            tokio::spawn(deliver(
                core.clone(),
                store.to_owned(),
                hook_id,
                event.clone(),
            ));
        }
    }
    Ok(TriggerReport {
        scope: delivered.scope,
        hash,
        webhook_id: event.webhook_id.clone(),
        payload,
        hook_ids,
    })
}

/// Tries, then retries on the schedule, then deactivates the hook. Stops early when the hook is
/// deleted (uninstall) or switched off.
async fn deliver(core: Arc<Core>, store: String, hook_id: u64, event: Arc<Event>) {
    for attempt in 0..=RETRY_SCHEDULE.len() {
        let hook = core
            .with_store(&store, |s| s.hooks.get(&hook_id).cloned())
            .ok()
            .flatten();
        let Some(hook) = hook.filter(|h| h.view.is_active) else {
            return;
        };
        let outcome = attempt_once(
            &core,
            &hook.view.client_id,
            &hook.view.destination,
            hook.view.headers.as_ref(),
            &event,
        )
        .await;
        let success = outcome.0.is_some_and(|s| (200..300).contains(&s));
        record(
            &core,
            hook_id,
            &hook.view.destination,
            &event,
            attempt as u32 + 1,
            outcome,
        );
        if success {
            return;
        }
        match RETRY_SCHEDULE.get(attempt) {
            Some(&seconds) => tokio::time::sleep(core.scaled(Duration::from_secs(seconds))).await,
            None => {
                let _ = core.with_store(&store, |s| {
                    if let Some(hook) = s.hooks.get_mut(&hook_id) {
                        hook.set_active(false, HookStatus::Deactivated);
                    }
                });
                tracing::info!(
                    hook_id,
                    store,
                    "emulator: hook deactivated after the last retry"
                );
            }
        }
    }
}

/// One POST: `(status, error)`.
async fn attempt_once(
    core: &Core,
    client_id: &str,
    destination: &str,
    custom_headers: Option<&std::collections::BTreeMap<String, String>>,
    event: &Event,
) -> (Option<u16>, Option<String>) {
    let domain = url::Url::parse(destination)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    if lock(&core.blocklist).is_blocked(client_id, &domain, Instant::now()) {
        return (None, Some(format!("domain {domain} is blocklisted")));
    }
    let timestamp = unix_now();
    let signature =
        standardwebhooks::Webhook::from_bytes(core.app.client_secret.as_bytes().to_vec())
            .and_then(|w| w.sign(&event.webhook_id, timestamp, event.body.as_bytes()));
    let mut request = core.http.post(destination);
    for (name, value) in custom_headers.into_iter().flatten() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            request = request.header(name, value);
        }
    }
    request = request
        .header("content-type", "application/json")
        .header("webhook-id", &event.webhook_id)
        .header("webhook-timestamp", timestamp.to_string());
    if let Ok(signature) = signature {
        request = request.header("webhook-signature", signature);
    }
    let result = request
        .timeout(core.delivery_timeout)
        .body(event.body.clone())
        .send()
        .await;
    let (status, error) = match result {
        Ok(response) => {
            let status = response.status().as_u16();
            let error = (!(200..300).contains(&status)).then(|| format!("HTTP {status}"));
            (Some(status), error)
        }
        Err(e) if e.is_timeout() => (None, Some("timeout".to_owned())),
        Err(e) if e.is_connect() => (None, Some("connection refused or unreachable".to_owned())),
        Err(e) => (None, Some(format!("request failed: {e}"))),
    };
    let blocked = lock(&core.blocklist).record(
        client_id,
        &domain,
        error.is_none(),
        error.as_deref(),
        unix_now(),
        Instant::now(),
        core.scaled(WINDOW),
        core.scaled(BLOCK_FOR),
    );
    if blocked {
        tracing::warn!(
            client_id,
            domain,
            "emulator: destination domain blocklisted"
        );
    }
    (status, error)
}

fn record(
    core: &Core,
    hook_id: u64,
    destination: &str,
    event: &Event,
    attempt: u32,
    (status, error): (Option<u16>, Option<String>),
) {
    let record = DeliveryRecord {
        hook_id,
        scope: event.scope.clone(),
        hash: event.hash.clone(),
        webhook_id: event.webhook_id.clone(),
        destination: destination.to_owned(),
        attempt,
        status,
        error,
        at: SystemTime::now(),
        elapsed: core.started.elapsed(),
    };
    let count = {
        let mut deliveries = lock(&core.deliveries);
        deliveries.push(record);
        deliveries.len()
    };
    core.delivery_count.send_replace(count);
}

/// Waits until at least `n` attempts are recorded.
pub(crate) async fn wait_for(
    core: &Core,
    n: usize,
    timeout: Duration,
) -> Result<Vec<crate::DeliveryRecord>, EmulatorError> {
    let mut rx = core.delivery_count.subscribe();
    let waited = tokio::time::timeout(timeout, rx.wait_for(|count| *count >= n)).await;
    let deliveries = lock(&core.deliveries).clone();
    match waited {
        Ok(Ok(_)) => Ok(deliveries),
        _ => Err(EmulatorError::Timeout {
            expected: n,
            got: deliveries.len(),
        }),
    }
}
