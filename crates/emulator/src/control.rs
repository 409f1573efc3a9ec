//! The control API of a standalone emulator (`bcapp emulator`), under `/_emulator/`: what the
//! merchant or the platform would do (install, open, uninstall, store actions that fire events),
//! as plain HTTP calls, plus read-outs of hooks and deliveries. It needs no token: the emulator
//! is meant to listen on loopback only.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::core::{lock, Core};
use crate::oauth::CallbackOutcome;
use crate::panel::panel_path;
use crate::{dispatcher, oauth, EmulatorError};

pub(crate) fn router() -> Router<Arc<Core>> {
    Router::new()
        .route("/_emulator", get(summary))
        .route("/_emulator/deliveries", get(deliveries))
        .route("/_emulator/stores/{hash}/install", post(install))
        .route("/_emulator/stores/{hash}/load", post(load))
        .route("/_emulator/stores/{hash}/remove_user", post(remove_user))
        .route("/_emulator/stores/{hash}/uninstall", post(uninstall))
        .route("/_emulator/stores/{hash}/events", post(fire))
        .route("/_emulator/stores/{hash}/hooks", get(hooks))
}

fn error(e: EmulatorError) -> Response {
    let status = match e {
        EmulatorError::UnknownStore(_) => StatusCode::NOT_FOUND,
        EmulatorError::AppUnreachable(_) => StatusCode::BAD_GATEWAY,
        EmulatorError::NotInstalled(_) => StatusCode::CONFLICT,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    (status, Json(json!({ "error": e.to_string() }))).into_response()
}

fn outcome(result: Result<CallbackOutcome, EmulatorError>) -> Response {
    match result {
        Ok(o) => Json(json!({ "url": o.url, "status": o.status, "body": o.body })).into_response(),
        Err(e) => error(e),
    }
}

async fn summary(State(core): State<Arc<Core>>) -> Response {
    let state = core.state();
    let mut stores: Vec<Value> = state
        .stores
        .values()
        .map(|s| {
            json!({
                "hash": s.spec.hash,
                "store_id": s.spec.store_id,
                "channels": s.channels,
                "installed": s.token.is_some(),
                "hooks": s.hooks.len(),
                "owner_id": s.spec.owner_id(),
                "panel": format!("{}{}", core.base_url, panel_path(&s.spec.hash)),
            })
        })
        .collect();
    stores.sort_by(|a, b| a["hash"].as_str().cmp(&b["hash"].as_str()));
    Json(json!({
        "api_base": format!("{}/stores/{{hash}}/v3", core.base_url),
        "login_base": core.base_url,
        "app": { "client_id": core.app.client_id, "app_url": core.app.app_url, "oauth_scopes": core.app.oauth_scopes },
        "panel": format!("{}/_emulator/panel", core.base_url),
        "time_scale": core.time_scale,
        "dev_mode": core.dev_mode,
        "stores": stores,
    }))
    .into_response()
}

async fn install(State(core): State<Arc<Core>>, Path(hash): Path<String>) -> Response {
    outcome(oauth::install(&core, &hash).await)
}

fn user_id(
    core: &Core,
    hash: &str,
    query: &BTreeMap<String, String>,
) -> Result<u64, EmulatorError> {
    match query.get("user_id") {
        Some(text) => text
            .parse()
            .map_err(|_| EmulatorError::InvalidConfig(format!("user_id `{text}` is not a number"))),
        None => core.with_store(hash, |s| s.spec.owner_id()),
    }
}

async fn load(
    State(core): State<Arc<Core>>,
    Path(hash): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    match user_id(&core, &hash, &query) {
        Ok(user) => outcome(oauth::load(&core, &hash, user).await),
        Err(e) => error(e),
    }
}

async fn remove_user(
    State(core): State<Arc<Core>>,
    Path(hash): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    match user_id(&core, &hash, &query) {
        Ok(user) => outcome(oauth::remove_user(&core, &hash, user).await),
        Err(e) => error(e),
    }
}

async fn uninstall(State(core): State<Arc<Core>>, Path(hash): Path<String>) -> Response {
    outcome(oauth::uninstall(&core, &hash).await)
}

#[derive(Deserialize)]
struct FireBody {
    scope: String,
    #[serde(default)]
    channel_id: Option<u64>,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    duplicate: bool,
}

async fn fire(
    State(core): State<Arc<Core>>,
    Path(hash): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let body: FireBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": e.to_string() })),
            )
                .into_response()
        }
    };
    let copies = if body.duplicate { 2 } else { 1 };
    match dispatcher::trigger(
        &core,
        &hash,
        &body.scope,
        body.channel_id,
        body.data,
        copies,
    )
    .await
    {
        Ok(report) => Json(json!({
            "scope": report.scope,
            "hash": report.hash,
            "webhook_id": report.webhook_id,
            "hook_ids": report.hook_ids,
            "payload": report.payload,
        }))
        .into_response(),
        Err(e) => error(e),
    }
}

async fn hooks(State(core): State<Arc<Core>>, Path(hash): Path<String>) -> Response {
    match core.with_store(&hash, |s| {
        s.hooks.values().map(|h| h.to_json()).collect::<Vec<_>>()
    }) {
        Ok(hooks) => Json(json!({ "data": hooks })).into_response(),
        Err(e) => error(e),
    }
}

async fn deliveries(State(core): State<Arc<Core>>) -> Response {
    let records: Vec<Value> = lock(&core.deliveries)
        .iter()
        .map(|d| {
            json!({
                "hook_id": d.hook_id,
                "scope": d.scope,
                "hash": d.hash,
                "webhook_id": d.webhook_id,
                "destination": d.destination,
                "attempt": d.attempt,
                "status": d.status,
                "error": d.error,
                "elapsed_ms": d.elapsed.as_millis() as u64,
            })
        })
        .collect();
    Json(json!({ "data": records })).into_response()
}
