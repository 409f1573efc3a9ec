//! `POST /webhooks`: verify, store, acknowledge.
//!
//! Checks run in this order, each with its own status and a log line naming the store and the
//! reason: body size (413), content type (415), JSON (400) and callback shape (422), store
//! (404; a recently uninstalled store's callbacks are acknowledged and dropped, see
//! [`Config::uninstalled_grace`]), authenticity (401), then the inbox insert. The answer is 200
//! with an empty body only once the row is committed (or was already there: a duplicate); if
//! the database cannot take it the answer is 503, so BigCommerce delivers it again.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Request;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bigcommerce_app_store::{InsertOutcome, NewInboxEvent};

use crate::cfg::{Config, SignatureMode};
use crate::envelope::Envelope;
use crate::metrics as m;
use crate::tenants::TenantCache;

/// Shared state of the callback endpoint.
pub(crate) struct Receiver {
    pub(crate) cfg: Arc<Config>,
    pub(crate) tenants: TenantCache,
    /// The inbox's writer: group commits, fresh rows handed to this process's handlers.
    pub(crate) ingest: crate::inbox::Writer,
    pub(crate) signer: Option<standardwebhooks::Webhook>,
}

fn reject(status: StatusCode, store: &str, reason: &str) -> Response {
    tracing::warn!(status = status.as_u16(), store, reason, "webhook refused");
    m::received(status);
    (status, reason.to_owned()).into_response()
}

pub(crate) async fn receive(State(rx): State<Arc<Receiver>>, request: Request) -> Response {
    // Taking the request apart avoids copying the header map.
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    let limit = rx.cfg.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return reject(
            StatusCode::PAYLOAD_TOO_LARGE,
            "-",
            "body larger than the limit",
        );
    }
    let body: Bytes = match axum::body::to_bytes(body, limit).await {
        Ok(body) => body,
        Err(e) => {
            return if is_length_limit(&e) {
                reject(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "-",
                    "body larger than the limit",
                )
            } else {
                reject(StatusCode::BAD_REQUEST, "-", "could not read the body")
            };
        }
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return reject(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "-",
            "content type is not application/json",
        );
    }
    let callback = match Envelope::header(&body) {
        Ok(callback) => callback,
        Err(e) if e.is_syntax() => return reject(StatusCode::BAD_REQUEST, "-", &e.to_string()),
        Err(e) => return reject(StatusCode::UNPROCESSABLE_ENTITY, "-", &e.to_string()),
    };
    let store_hash = callback.producer.as_str();
    // Known down: refuse at once rather than queue behind a dead database, letting one
    // callback at a time find out whether it is back.
    let health = rx.ingest.health();
    let probe = health.is_failing();
    if probe && !health.try_probe() {
        return storage_down(store_hash, &"the database does not take writes");
    }
    let _probe = ProbeGuard(probe.then_some(health));
    let deadline = tokio::time::Instant::now() + rx.cfg.ingest_timeout;

    let tenant = match tokio::time::timeout_at(deadline, rx.tenants.get(store_hash)).await {
        Err(_) => return storage_down(store_hash, &"tenant lookup timed out"),
        Ok(tenant) => tenant,
    };
    let tenant = match tenant {
        Ok(Some(tenant)) => tenant,
        Ok(None) => {
            return reject(
                StatusCode::NOT_FOUND,
                store_hash,
                "store has not installed the app",
            )
        }
        Err(e) => return storage_down(store_hash, &e),
    };
    let now = time::OffsetDateTime::now_utc();
    if !tenant.is_installed() {
        let recent = tenant.uninstalled_at.is_some_and(|at| {
            now - at
                < time::Duration::try_from(rx.cfg.uninstalled_grace).unwrap_or(time::Duration::MAX)
        });
        if recent {
            tracing::info!(store = store_hash, scope = %callback.scope, "callback of an uninstalled store acknowledged and dropped");
            m::dropped_uninstalled();
            m::received(StatusCode::OK);
            return StatusCode::OK.into_response();
        }
        return reject(
            StatusCode::NOT_FOUND,
            store_hash,
            "store has uninstalled the app",
        );
    }

    match headers.get(rx.cfg.secret_header.as_str()) {
        None => {
            return reject(
                StatusCode::UNAUTHORIZED,
                store_hash,
                "missing webhook secret header",
            )
        }
        Some(secret) => {
            if !tenant.accepts_webhook_secret(secret.as_bytes(), now, rx.cfg.secret_rotation_window)
            {
                return reject(StatusCode::UNAUTHORIZED, store_hash, "wrong webhook secret");
            }
        }
    }
    if let Err(reason) = check_signature(&rx, &headers, &body) {
        match rx.cfg.signatures {
            SignatureMode::Required => {
                return reject(StatusCode::UNAUTHORIZED, store_hash, &reason)
            }
            SignatureMode::Log
                if !headers.contains_key(standardwebhooks::HEADER_WEBHOOK_SIGNATURE) =>
            {
                tracing::debug!(
                    store = store_hash,
                    "callback without a signature (accepted: signatures=log)"
                )
            }
            SignatureMode::Log => {
                tracing::warn!(
                    store = store_hash,
                    reason,
                    "webhook signature not valid (accepted: signatures=log)"
                )
            }
            SignatureMode::Off => {}
        }
    }

    let event = NewInboxEvent {
        store_hash: store_hash.to_owned(),
        scope: callback.scope,
        payload_hash: callback.hash,
        body: body.to_vec(),
    };
    let inserted = match tokio::time::timeout_at(deadline, rx.ingest.insert(event)).await {
        // The row may still be committed: BigCommerce's redelivery is then a duplicate.
        Err(_) => return storage_down(store_hash, &"storing timed out"),
        Ok(inserted) => inserted,
    };
    match inserted {
        Ok(InsertOutcome::Inserted(_)) => {
            m::received(StatusCode::OK);
            StatusCode::OK.into_response()
        }
        Ok(InsertOutcome::Duplicate) => {
            tracing::debug!(store = store_hash, "duplicate callback acknowledged");
            m::duplicate();
            m::received(StatusCode::OK);
            StatusCode::OK.into_response()
        }
        Err(e) => storage_down(store_hash, &e),
    }
}

/// axum reports an exceeded body limit as an error whose source chain says so.
fn is_length_limit(error: &axum::Error) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if e.to_string().contains("length limit exceeded") {
            return true;
        }
        current = e.source();
    }
    false
}

/// Ends a probe of a failing database when its callback is answered.
struct ProbeGuard<'a>(Option<&'a crate::inbox::WriteHealth>);

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if let Some(health) = self.0 {
            health.end_probe();
        }
    }
}

fn storage_down(store: &str, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(store, error = %e, "callback not stored; answering 503 so BigCommerce retries");
    m::received(StatusCode::SERVICE_UNAVAILABLE);
    (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable").into_response()
}

/// Standard Webhooks check; `Err` says why it failed.
fn check_signature(rx: &Receiver, headers: &HeaderMap, body: &[u8]) -> Result<(), String> {
    // `log` without a client secret has nothing to check with; the server said so at start.
    let Some(signer) = rx
        .signer
        .as_ref()
        .filter(|_| rx.cfg.signatures != SignatureMode::Off)
    else {
        return Ok(());
    };
    signer
        .verify(body, headers)
        .map_err(|e| format!("webhook signature: {e}"))
}
