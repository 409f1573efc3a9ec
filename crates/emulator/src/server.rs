//! The HTTP side: routes, the per-store gate (faults, rate limit, authentication) and the
//! connection loop (which can drop a connection without answering).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tower::Service;

use crate::core::Core;
use crate::rate_limit::RateStatus;
use crate::{control, faults, hooks, oauth, panel, resources, EmulatorError};

/// Who is calling the API: the store of the path and the client id behind the token.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub store: String,
    pub client_id: String,
}

/// A BigCommerce v3 error body.
pub(crate) fn api_error(status: StatusCode, title: &str, errors: Option<Value>) -> Response {
    let mut body = json!({
        "status": status.as_u16(),
        "title": title,
        "type": "/api-docs/getting-started/api-status-codes",
    });
    if let Some(errors) = errors {
        body["errors"] = errors;
    }
    (status, Json(body)).into_response()
}

/// A refused API request, turned into a BigCommerce error body when answered.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub title: String,
    pub errors: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, title: impl Into<String>, errors: Option<Value>) -> Self {
        ApiError {
            status,
            title: title.into(),
            errors,
        }
    }

    pub fn bad_request() -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "Input is invalid.", None)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        api_error(self.status, &self.title, self.errors)
    }
}

pub(crate) fn bad_request() -> Response {
    ApiError::bad_request().into_response()
}

pub(crate) fn unknown_store() -> Response {
    api_error(StatusCode::NOT_FOUND, "Store not found.", None)
}

fn unauthorized() -> Response {
    api_error(
        StatusCode::UNAUTHORIZED,
        "Unauthorized - the v3 Auth client ID or token in the request are not a valid combination for this store.",
        None,
    )
}

fn rate_limited(status: RateStatus) -> Response {
    let mut response = api_error(
        StatusCode::TOO_MANY_REQUESTS,
        "You have exceeded the rate limit for this store.",
        None,
    );
    status.write(response.headers_mut(), true);
    response
}

/// The store hash of a `/stores/{hash}/...` path.
pub(crate) fn store_of_path(path: &str) -> Option<&str> {
    path.strip_prefix("/stores/")?
        .split('/')
        .next()
        .filter(|s| !s.is_empty())
}

pub(crate) fn router(core: Arc<Core>) -> Router {
    let api = Router::new()
        .route(
            "/stores/{hash}/v3/hooks",
            get(hooks::list).post(hooks::create),
        )
        .route(
            "/stores/{hash}/v3/hooks/admin",
            get(hooks::admin_get).put(hooks::admin_put),
        )
        .route(
            "/stores/{hash}/v3/hooks/{id}",
            get(hooks::get).put(hooks::update).delete(hooks::delete),
        );
    let mut api = api;
    // Every resource of resources.json: its GET (hand-written for orders, products and carts),
    // its list, and the writes its spec has.
    for entry in &core.resources.resources {
        let shared = Arc::new(entry.clone());
        let has = |operation: &str| entry.operations.iter().any(|o| o == operation);
        if let Some(list) = &entry.list {
            // Channels are the store's own list (the hooks' channel scopes follow it).
            let mut methods = if entry.name == "Channel" {
                get(resources::channels)
            } else {
                get(resources::generated_list)
            };
            if has("create") {
                methods = methods.post(resources::generated_create);
            }
            api = api.route(
                &format!("/stores/{{hash}}{}", list.path),
                methods.layer(Extension(shared.clone())),
            );
        }
        // A resource the API only lists has no path of its own.
        let Some(path) = &entry.get else {
            continue;
        };
        let mut methods = get(resources::get_one);
        if has("update") {
            methods = methods.put(resources::generated_update);
        }
        if has("delete") {
            methods = methods.delete(resources::generated_delete);
        }
        api = api.route(
            &format!("/stores/{{hash}}{path}"),
            methods.layer(Extension(shared)),
        );
    }
    let api = api
        .fallback(|| async { api_error(StatusCode::NOT_FOUND, "Not found.", None) })
        .layer(middleware::from_fn_with_state(core.clone(), store_gate));
    Router::new()
        .route("/oauth2/token", post(oauth::token))
        .merge(control::router())
        .merge(panel::router())
        .merge(api)
        .with_state(core)
}

/// Runs in front of every `/stores/{hash}/...` route: injected faults, the store's quota (headers
/// on every answer, 429 when spent), then the `X-Auth-Token`.
async fn store_gate(State(core): State<Arc<Core>>, mut request: Request, next: Next) -> Response {
    let Some(hash) = store_of_path(request.uri().path()).map(str::to_owned) else {
        return next.run(request).await;
    };
    if core.with_store(&hash, |_| ()).is_err() {
        return unknown_store();
    }
    if let Some(action) = faults::next_action(&core, &hash) {
        if let Some(delay) = action.delay {
            tokio::time::sleep(delay).await;
        }
        if action.rate_limited {
            if let Ok(status) = core.with_store(&hash, |s| s.rate.peek_exhausted()) {
                return rate_limited(status);
            }
        }
        if let Some(code) = action.fail {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let title = status.canonical_reason().unwrap_or("Injected failure");
            let mut response = api_error(status, title, None);
            if let Ok(Ok(quota)) = core.with_store(&hash, |s| s.rate.take()) {
                quota.write(response.headers_mut(), false);
            }
            return response;
        }
    }
    let quota = match core.with_store(&hash, |s| s.rate.take()) {
        Ok(Ok(quota)) => quota,
        Ok(Err(spent)) => return rate_limited(spent),
        Err(_) => return unknown_store(),
    };
    let token = request
        .headers()
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let owner = core.state().tokens.get(&token).cloned();
    let mut response = match owner {
        Some(owner) if owner.store == hash => {
            request.extensions_mut().insert(Caller {
                store: hash,
                client_id: owner.client_id,
            });
            next.run(request).await
        }
        _ => unauthorized(),
    };
    quota.write(response.headers_mut(), false);
    response
}

/// Why a connection was closed without an answer (an injected fault).
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
struct DroppedConnection;

/// Accepts connections until the task is cancelled.
pub(crate) async fn run(core: Arc<Core>, listener: TcpListener) -> Result<(), EmulatorError> {
    let app = router(core.clone());
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and similar: wait a little rather than spin.
                tracing::warn!(%error, "emulator: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let app = app.clone();
        let core = core.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| {
                    let mut app = app.clone();
                    let core = core.clone();
                    async move {
                        if let Some(hash) = store_of_path(request.uri().path()) {
                            if faults::take_drop(&core, hash) {
                                return Err(DroppedConnection);
                            }
                        }
                        let response: Result<Response, Infallible> = app.call(request).await;
                        match response {
                            Ok(response) => Ok(response),
                            Err(never) => match never {},
                        }
                    }
                },
            );
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "emulator: connection ended");
            }
        });
    }
}
