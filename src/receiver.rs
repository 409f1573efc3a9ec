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

/// Why a callback was not accepted: the answer BigCommerce gets, the reason logged and counted
/// (`bcapp_webhooks_rejected_total{reason}`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackRejection {
    /// The body is larger than `max_body_bytes` (413).
    #[error("body larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The body could not be read from the connection (400).
    #[error("could not read the body: {0}")]
    UnreadableBody(#[source] axum::Error),
    /// The content type is not `application/json` (415).
    #[error("content type is not application/json")]
    NotJson,
    /// The body is not JSON (400).
    #[error("{0}")]
    MalformedJson(#[source] crate::envelope::ParseError),
    /// The JSON is not a callback: a field is missing or of the wrong type (422).
    #[error("{0}")]
    NotACallback(#[source] crate::envelope::ParseError),
    /// The store never installed the app, or uninstalled it longer ago than the grace (404).
    #[error("store has not installed the app")]
    UnknownStore,
    /// The per-store secret header is missing (401).
    #[error("missing webhook secret header")]
    MissingSecret,
    /// The per-store secret header is not the store's secret (401).
    #[error("wrong webhook secret")]
    WrongSecret,
    /// The Standard Webhooks signature is missing or wrong, with `BCAPP_SIGNATURES=required` (401).
    #[error("webhook signature: {0}")]
    BadSignature(String),
    /// The callback could not be stored in time (503): BigCommerce delivers it again.
    #[error("storage unavailable: {0}")]
    StorageUnavailable(String),
}

impl CallbackRejection {
    /// The HTTP status BigCommerce gets.
    pub fn status(&self) -> StatusCode {
        match self {
            CallbackRejection::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            CallbackRejection::UnreadableBody(_) | CallbackRejection::MalformedJson(_) => {
                StatusCode::BAD_REQUEST
            }
            CallbackRejection::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            CallbackRejection::NotACallback(_) => StatusCode::UNPROCESSABLE_ENTITY,
            CallbackRejection::UnknownStore => StatusCode::NOT_FOUND,
            CallbackRejection::MissingSecret
            | CallbackRejection::WrongSecret
            | CallbackRejection::BadSignature(_) => StatusCode::UNAUTHORIZED,
            CallbackRejection::StorageUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The reason as a metric label.
    pub fn label(&self) -> &'static str {
        match self {
            CallbackRejection::BodyTooLarge { .. } => "body_too_large",
            CallbackRejection::UnreadableBody(_) => "unreadable_body",
            CallbackRejection::NotJson => "not_json",
            CallbackRejection::MalformedJson(_) => "malformed_json",
            CallbackRejection::NotACallback(_) => "not_a_callback",
            CallbackRejection::UnknownStore => "unknown_store",
            CallbackRejection::MissingSecret => "missing_secret",
            CallbackRejection::WrongSecret => "wrong_secret",
            CallbackRejection::BadSignature(_) => "bad_signature",
            CallbackRejection::StorageUnavailable(_) => "storage_unavailable",
        }
    }

    /// Logs and counts the refusal of a callback of `store` (`-` before it is known) and
    /// turns it into the answer.
    fn answer(self, store: &str) -> Response {
        let status = self.status();
        if let CallbackRejection::StorageUnavailable(reason) = &self {
            tracing::error!(store, error = %reason, "callback not stored; answering 503 so BigCommerce retries");
        } else {
            tracing::warn!(status = status.as_u16(), store, reason = %self, "webhook refused");
        }
        m::received(status);
        m::rejected(self.label());
        self.into_response()
    }
}

impl IntoResponse for CallbackRejection {
    fn into_response(self) -> Response {
        let body = match &self {
            // The cause stays in the log: the caller learns only that it may retry.
            CallbackRejection::StorageUnavailable(_) => "storage unavailable".to_owned(),
            other => other.to_string(),
        };
        (self.status(), body).into_response()
    }
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
        return CallbackRejection::BodyTooLarge { limit }.answer("-");
    }
    let body: Bytes = match axum::body::to_bytes(body, limit).await {
        Ok(body) => body,
        Err(e) => {
            return if is_length_limit(&e) {
                CallbackRejection::BodyTooLarge { limit }.answer("-")
            } else {
                CallbackRejection::UnreadableBody(e).answer("-")
            };
        }
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return CallbackRejection::NotJson.answer("-");
    }
    let callback = match Envelope::meta(&body) {
        Ok(callback) => callback,
        Err(e) if e.is_syntax() => return CallbackRejection::MalformedJson(e).answer("-"),
        Err(e) => return CallbackRejection::NotACallback(e).answer("-"),
    };
    let store_hash = callback.store_hash.as_str();
    // Known down: refuse at once rather than queue behind a dead database, letting one
    // callback at a time find out whether it is back.
    let health = rx.ingest.health();
    let probe = health.is_failing();
    if probe && !health.try_probe() {
        return CallbackRejection::StorageUnavailable("the database does not take writes".into())
            .answer(store_hash);
    }
    let _probe = ProbeGuard(probe.then_some(health));
    let deadline = tokio::time::Instant::now() + rx.cfg.ingest_timeout;

    let tenant = match tokio::time::timeout_at(deadline, rx.tenants.get(store_hash)).await {
        Err(_) => {
            return CallbackRejection::StorageUnavailable("tenant lookup timed out".into())
                .answer(store_hash)
        }
        Ok(tenant) => tenant,
    };
    let tenant = match tenant {
        Ok(Some(tenant)) => tenant,
        Ok(None) => return CallbackRejection::UnknownStore.answer(store_hash),
        Err(e) => return CallbackRejection::StorageUnavailable(e.to_string()).answer(store_hash),
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
        return CallbackRejection::UnknownStore.answer(store_hash);
    }

    match headers.get(rx.cfg.secret_header.as_str()) {
        None => return CallbackRejection::MissingSecret.answer(store_hash),
        Some(secret) => {
            if !tenant.accepts_webhook_secret(secret.as_bytes(), now, rx.cfg.secret_rotation_window)
            {
                return CallbackRejection::WrongSecret.answer(store_hash);
            }
        }
    }
    if let Err(reason) = check_signature(&rx, &headers, &body) {
        match rx.cfg.signatures {
            SignatureMode::Required => {
                return CallbackRejection::BadSignature(reason).answer(store_hash)
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
        hash: callback.hash,
        body: body.to_vec(),
    };
    let inserted = match tokio::time::timeout_at(deadline, rx.ingest.insert(event)).await {
        // The row may still be committed: BigCommerce's redelivery is then a duplicate.
        Err(_) => {
            return CallbackRejection::StorageUnavailable("storing timed out".into())
                .answer(store_hash)
        }
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
        Err(e) => CallbackRejection::StorageUnavailable(e.to_string()).answer(store_hash),
    }
}

/// Whether reading the body stopped at the size limit: `http-body-util`'s `LengthLimitError`
/// somewhere in the error's source chain (found by type, not by its message).
fn is_length_limit(error: &axum::Error) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if e.is::<http_body_util::LengthLimitError>() {
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
