//! The hooks v3 API (`/stores/{hash}/v3/hooks` and `/hooks/admin`) with BigCommerce's rules.
//!
//! Shapes and statuses follow the official spec (`webhooks.v3.yml`): every answer is wrapped in
//! `{data, meta}`; create, update and delete answer 200; `PUT /hooks/admin` answers 204; errors use
//! the `{status, title, type, errors}` body. Hooks are visible only to the client that created them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Map, Value};

use crate::core::{lock, unix_now, Core, StoreState};
use crate::payloads::resolve_registered;
use crate::server::{api_error, bad_request, ApiError, Caller};

/// The scope of the delivery-exception hook, which has rules of its own.
pub const DELIVERY_EXCEPTION_SCOPE: &str = "store/hook/deliveryException";
/// At most this many hooks per store + client + scope (BigCommerce, April 2025).
pub const MAX_HOOKS_PER_SCOPE: usize = 10;
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 250;

/// Whether a hook fires, and why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookStatus {
    /// Delivers events.
    Active,
    /// Switched off through the API (`is_active: false`).
    Inactive,
    /// Switched off by BigCommerce after the last retry failed.
    Deactivated,
}

impl HookStatus {
    /// The status as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HookStatus::Active => "active",
            HookStatus::Inactive => "inactive",
            HookStatus::Deactivated => "deactivated",
        }
    }
}

/// A hook as BigCommerce stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct HookView {
    /// The hook id.
    pub id: u64,
    /// The app that created it.
    pub client_id: String,
    /// The store it belongs to.
    pub store_hash: String,
    /// The scope it subscribes to.
    pub scope: String,
    /// Where events are posted.
    pub destination: String,
    /// Headers sent with every delivery.
    pub headers: Option<BTreeMap<String, String>>,
    /// `is_active` as the API shows it.
    pub is_active: bool,
    /// Why it fires or not.
    pub status: HookStatus,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Hook {
    pub view: HookView,
    /// Catalogue entry and channel of the scope, for matching events.
    pub resolved: (usize, Option<u64>),
}

impl Hook {
    pub fn to_json(&self) -> Value {
        let v = &self.view;
        json!({
            "id": v.id,
            "client_id": v.client_id,
            "store_hash": v.store_hash,
            "scope": v.scope,
            "destination": v.destination,
            "headers": v.headers,
            "is_active": v.is_active,
            "created_at": v.created_at,
            "updated_at": v.updated_at,
        })
    }

    fn to_admin_json(&self) -> Value {
        let mut value = self.to_json();
        value["status"] = json!(self.view.status.as_str());
        value
    }

    pub fn set_active(&mut self, active: bool, status_if_off: HookStatus) {
        self.view.is_active = active;
        self.view.status = if active {
            HookStatus::Active
        } else {
            status_if_off
        };
        self.view.updated_at = unix_now();
    }
}

/// The fields of a create or update body, each checked on its own.
#[derive(Default)]
struct HookInput {
    scope: Option<(String, (usize, Option<u64>))>,
    destination: Option<String>,
    headers: Option<Option<BTreeMap<String, String>>>,
    is_active: Option<bool>,
}

fn parse_input(core: &Core, body: &Bytes, creating: bool) -> Result<HookInput, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| ApiError::bad_request())?;
    let Value::Object(map) = value else {
        return Err(ApiError::bad_request());
    };
    let mut input = HookInput::default();
    let mut errors = Map::new();
    match map.get("scope") {
        None | Some(Value::Null) if creating => {
            errors.insert("scope".into(), json!("error.path.missing."));
        }
        None | Some(Value::Null) => {}
        Some(Value::String(scope)) => match resolve_registered(&core.catalogue, scope) {
            Some(resolved) => input.scope = Some((scope.clone(), resolved)),
            None => {
                let mut message = format!("`{scope}` is not a valid webhook scope.");
                if scope.contains('{') {
                    message.push_str(" Channel scopes name a channel id, e.g. store/channel/1/...");
                }
                errors.insert("scope".into(), json!(message));
            }
        },
        Some(_) => {
            errors.insert("scope".into(), json!("must be a string"));
        }
    }
    match map.get("destination") {
        None | Some(Value::Null) if creating => {
            errors.insert("destination".into(), json!("error.path.missing."));
        }
        None | Some(Value::Null) => {}
        Some(Value::String(destination)) => match check_destination(destination, core.dev_mode) {
            Ok(()) => input.destination = Some(destination.clone()),
            Err(message) => {
                errors.insert("destination".into(), json!(message));
            }
        },
        Some(_) => {
            errors.insert("destination".into(), json!("must be a string"));
        }
    }
    match map.get("headers") {
        None => {}
        Some(Value::Null) => input.headers = Some(None),
        Some(Value::Object(headers)) => {
            let mut out = BTreeMap::new();
            for (name, value) in headers {
                match value {
                    Value::String(s) => {
                        out.insert(name.clone(), s.clone());
                    }
                    _ => {
                        errors.insert(
                            format!("headers.{name}"),
                            json!("header values must be strings"),
                        );
                    }
                }
            }
            input.headers = Some(Some(out));
        }
        Some(_) => {
            errors.insert("headers".into(), json!("must be an object"));
        }
    }
    match map.get("is_active") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => input.is_active = Some(*b),
        Some(_) => {
            errors.insert("is_active".into(), json!("must be a boolean"));
        }
    }
    if !creating
        && errors.is_empty()
        && input.scope.is_none()
        && input.destination.is_none()
        && input.headers.is_none()
        && input.is_active.is_none()
    {
        // The spec says "at least one field is required" without naming a status; BigCommerce
        // reports invalid bodies with 422.
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "At least one field is required to update a webhook.",
            Some(json!({})),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "JSON data is missing or invalid",
            Some(Value::Object(errors)),
        ));
    }
    Ok(input)
}

/// HTTPS on port 443; in dev mode also plain HTTP to a loopback host on any port.
pub(crate) fn check_destination(destination: &str, dev_mode: bool) -> Result<(), String> {
    let url = url::Url::parse(destination)
        .map_err(|_| format!("`{destination}` is not an absolute URL."))?;
    if url.host().is_none() {
        return Err(format!("`{destination}` has no host."));
    }
    match url.scheme() {
        "https" if url.port_or_known_default() == Some(443) => Ok(()),
        "https" => Err("The destination must be served on port 443; custom ports are not supported.".into()),
        "http" if dev_mode && is_loopback(&url) => Ok(()),
        "http" => Err("The destination must use HTTPS (dev mode allows http://127.0.0.1 and http://localhost).".into()),
        other => Err(format!("Unsupported scheme `{other}`; the destination must use HTTPS.")),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// BigCommerce's limits on how many hooks a client may hold. Neither the spec nor the docs give
/// the status for breaking them; the emulator answers 422 like other invalid create bodies.
fn check_limits(
    store: &StoreState,
    client_id: &str,
    scope: &str,
    destination: &str,
    exclude: Option<u64>,
) -> Result<(), ApiError> {
    let mine = || {
        store
            .hooks
            .values()
            .filter(move |h| h.view.client_id == client_id && Some(h.view.id) != exclude)
    };
    let refuse = |title: &str, field: &str, message: &str| {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            title,
            Some(json!({ field: message })),
        ))
    };
    if let Some(existing) =
        mine().find(|h| h.view.scope == scope && h.view.destination == destination)
    {
        return refuse(
            "Webhook already exists",
            "destination",
            &format!(
                "Webhook {} already has this scope and destination; only one is allowed per store, client, scope and destination.",
                existing.view.id
            ),
        );
    }
    if mine().filter(|h| h.view.scope == scope).count() >= MAX_HOOKS_PER_SCOPE {
        return refuse(
            "Too many webhooks for this scope",
            "scope",
            &format!(
                "At most {MAX_HOOKS_PER_SCOPE} webhooks are allowed per store, client and scope."
            ),
        );
    }
    if scope == DELIVERY_EXCEPTION_SCOPE {
        if mine().any(|h| h.view.scope == DELIVERY_EXCEPTION_SCOPE) {
            return refuse(
                "Delivery exception webhook already exists",
                "scope",
                "Only one store/hook/deliveryException webhook is allowed per store and client.",
            );
        }
        if mine().any(|h| h.view.destination == destination) {
            return refuse(
                "Destination already in use",
                "destination",
                "The delivery exception webhook needs a destination no other webhook uses.",
            );
        }
    } else if mine()
        .any(|h| h.view.scope == DELIVERY_EXCEPTION_SCOPE && h.view.destination == destination)
    {
        return refuse(
            "Destination already in use",
            "destination",
            "This destination belongs to the delivery exception webhook.",
        );
    }
    Ok(())
}

fn not_found(id: u64) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        &format!("Webhook with id [{id}] not found"),
        None,
    )
}

fn one(hook: &Hook) -> Response {
    Json(json!({ "data": hook.to_json(), "meta": {} })).into_response()
}

struct ListQuery {
    page: usize,
    limit: usize,
    is_active: Option<bool>,
    scope: Option<String>,
    destination: Option<String>,
}

fn parse_query(query: &BTreeMap<String, String>) -> Result<ListQuery, ApiError> {
    let number = |name: &str, default: usize| -> Result<usize, ApiError> {
        match query.get(name) {
            None => Ok(default),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(ApiError::bad_request()),
            },
        }
    };
    let is_active = match query.get("is_active").map(String::as_str) {
        None => None,
        Some("true") | Some("1") => Some(true),
        Some("false") | Some("0") => Some(false),
        Some(_) => return Err(ApiError::bad_request()),
    };
    Ok(ListQuery {
        page: number("page", 1)?,
        limit: number("limit", DEFAULT_LIMIT)?.min(MAX_LIMIT),
        is_active,
        scope: query.get("scope").cloned(),
        destination: query.get("destination").cloned(),
    })
}

/// `meta.pagination` as the spec describes it; absent links are left out.
fn pagination(total: usize, count: usize, page: usize, limit: usize) -> Value {
    let total_pages = total.div_ceil(limit).max(1);
    let link = |p: usize| format!("?page={p}&limit={limit}");
    let mut links = Map::new();
    if page > 1 {
        links.insert("previous".into(), json!(link(page - 1)));
    }
    links.insert("current".into(), json!(link(page)));
    if page < total_pages {
        links.insert("next".into(), json!(link(page + 1)));
    }
    json!({
        "total": total,
        "count": count,
        "per_page": limit,
        "current_page": page,
        "total_pages": total_pages,
        "links": links,
    })
}

fn visible<'a>(store: &'a StoreState, caller: &'a Caller) -> impl Iterator<Item = &'a Hook> {
    store
        .hooks
        .values()
        .filter(move |h| h.view.client_id == caller.client_id)
}

pub(crate) async fn list(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let query = match parse_query(&query) {
        Ok(q) => q,
        Err(error) => return error.into_response(),
    };
    let result = core.with_store(&caller.store, |store| {
        let matching: Vec<Value> = visible(store, &caller)
            .filter(|h| query.is_active.is_none_or(|a| h.view.is_active == a))
            .filter(|h| query.scope.as_ref().is_none_or(|s| &h.view.scope == s))
            .filter(|h| {
                query
                    .destination
                    .as_ref()
                    .is_none_or(|d| &h.view.destination == d)
            })
            .map(Hook::to_json)
            .collect();
        let total = matching.len();
        let page: Vec<Value> = matching
            .into_iter()
            .skip((query.page - 1).saturating_mul(query.limit))
            .take(query.limit)
            .collect();
        let meta = pagination(total, page.len(), query.page, query.limit);
        json!({ "data": page, "meta": { "pagination": meta } })
    });
    match result {
        Ok(body) => Json(body).into_response(),
        Err(_) => crate::server::unknown_store(),
    }
}

pub(crate) async fn create(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let input = match parse_input(&core, &body, true) {
        Ok(input) => input,
        Err(error) => return error.into_response(),
    };
    let (Some((scope, resolved)), Some(destination)) = (input.scope, input.destination) else {
        return bad_request();
    };
    let mut state = core.state();
    let id = state.next_hook_id;
    let Some(store) = state.stores.get_mut(&caller.store) else {
        return crate::server::unknown_store();
    };
    if let Err(error) = check_limits(store, &caller.client_id, &scope, &destination, None) {
        return error.into_response();
    }
    let now = unix_now();
    // The spec gives `default: true`; the old v2 docs said inactive. The emulator follows the spec.
    let is_active = input.is_active.unwrap_or(true);
    let hook = Hook {
        view: HookView {
            id,
            client_id: caller.client_id.clone(),
            store_hash: caller.store.clone(),
            scope,
            destination,
            headers: input.headers.flatten(),
            is_active,
            status: if is_active {
                HookStatus::Active
            } else {
                HookStatus::Inactive
            },
            created_at: now,
            updated_at: now,
        },
        resolved,
    };
    let response = one(&hook);
    store.hooks.insert(id, hook);
    state.next_hook_id += 1;
    response
}

pub(crate) async fn get(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let Some(id) = parse_id(&id) else {
        return bad_request();
    };
    let result = core.with_store(&caller.store, |store| {
        visible(store, &caller)
            .find(|h| h.view.id == id)
            .map(one)
            .unwrap_or_else(|| not_found(id))
    });
    result.unwrap_or_else(|_| crate::server::unknown_store())
}

pub(crate) async fn update(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Some(id) = parse_id(&id) else {
        return bad_request();
    };
    let input = match parse_input(&core, &body, false) {
        Ok(input) => input,
        Err(error) => return error.into_response(),
    };
    let result = core.with_store(&caller.store, |store| {
        let Some(current) = visible(store, &caller).find(|h| h.view.id == id).cloned() else {
            return not_found(id);
        };
        let scope = input
            .scope
            .as_ref()
            .map_or(current.view.scope.clone(), |(s, _)| s.clone());
        let destination = input
            .destination
            .clone()
            .unwrap_or_else(|| current.view.destination.clone());
        if let Err(error) = check_limits(store, &caller.client_id, &scope, &destination, Some(id)) {
            return error.into_response();
        }
        let Some(hook) = store.hooks.get_mut(&id) else {
            return not_found(id);
        };
        if let Some((scope, resolved)) = input.scope {
            hook.view.scope = scope;
            hook.resolved = resolved;
        }
        hook.view.destination = destination;
        if let Some(headers) = input.headers {
            hook.view.headers = headers;
        }
        if let Some(active) = input.is_active {
            hook.set_active(active, HookStatus::Inactive);
        }
        hook.view.updated_at = unix_now();
        one(hook)
    });
    result.unwrap_or_else(|_| crate::server::unknown_store())
}

pub(crate) async fn delete(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let Some(id) = parse_id(&id) else {
        return bad_request();
    };
    let result = core.with_store(&caller.store, |store| {
        if !visible(store, &caller).any(|h| h.view.id == id) {
            return not_found(id);
        }
        match store.hooks.remove(&id) {
            Some(hook) => one(&hook),
            None => not_found(id),
        }
    });
    result.unwrap_or_else(|_| crate::server::unknown_store())
}

fn parse_id(text: &str) -> Option<u64> {
    text.parse::<u64>().ok().filter(|id| *id >= 1)
}

pub(crate) async fn admin_get(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let query = match parse_query(&query) {
        Ok(q) => q,
        Err(error) => return error.into_response(),
    };
    let blocked = lock(&core.blocklist).blocked(&caller.client_id, Instant::now());
    let result = core.with_store(&caller.store, |store| {
        let hooks: Vec<Value> = visible(store, &caller)
            .filter(|h| query.is_active.is_none_or(|a| h.view.is_active == a))
            .map(Hook::to_admin_json)
            .collect();
        let emails = store
            .emails
            .get(&caller.client_id)
            .cloned()
            .unwrap_or_default();
        let count = hooks.len();
        json!({
            "data": {
                "emails": emails,
                "hooks_list": hooks,
                "blocked_domains": blocked.iter().map(|b| json!({
                    "destination": b.domain,
                    "time_left": b.time_left.as_secs_f64().ceil() as u64,
                    "reasons": b.reasons.iter().map(|(description, count, timestamp)| json!({
                        "failure_description": description,
                        "count": count,
                        "timestamp": timestamp,
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            },
            "meta": { "pagination": pagination(count, count, 1, count.max(1)) },
        })
    });
    match result {
        Ok(body) => Json(body).into_response(),
        Err(_) => crate::server::unknown_store(),
    }
}

pub(crate) async fn admin_put(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) else {
        return bad_request();
    };
    let emails = match map.get("emails") {
        Some(Value::Array(items)) => {
            let mut emails = Vec::new();
            for item in items {
                match item.as_str() {
                    Some(email) if is_email(email) => emails.push(email.to_owned()),
                    _ => {
                        return api_error(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "JSON data is missing or invalid",
                            Some(json!({ "emails": format!("{item} is not an email address") })),
                        )
                    }
                }
            }
            emails
        }
        _ => {
            return api_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "JSON data is missing or invalid",
                Some(json!({ "emails": "error.path.missing." })),
            )
        }
    };
    let result = core.with_store(&caller.store, |store| {
        store.emails.insert(caller.client_id.clone(), emails);
    });
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => crate::server::unknown_store(),
    }
}

fn is_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((user, domain)) => !user.is_empty() && domain.contains('.') && !text.contains(' '),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations() {
        assert!(check_destination("https://app.example.com/webhooks", false).is_ok());
        assert!(check_destination("https://app.example.com:443/webhooks", false).is_ok());
        assert!(check_destination("https://app.example.com:8443/webhooks", false).is_err());
        assert!(check_destination("http://app.example.com/webhooks", true).is_err());
        assert!(check_destination("http://127.0.0.1:3000/webhooks", false).is_err());
        assert!(check_destination("http://127.0.0.1:3000/webhooks", true).is_ok());
        assert!(check_destination("http://localhost:3000/webhooks", true).is_ok());
        assert!(check_destination("http://[::1]:3000/webhooks", true).is_ok());
        assert!(check_destination("ftp://example.com/", true).is_err());
        assert!(check_destination("/webhooks", true).is_err());
    }

    #[test]
    fn pagination_links() {
        let meta = pagination(5, 2, 2, 2);
        assert_eq!(meta["total_pages"], 3);
        assert_eq!(meta["links"]["previous"], "?page=1&limit=2");
        assert_eq!(meta["links"]["next"], "?page=3&limit=2");
        let meta = pagination(0, 0, 1, 50);
        assert_eq!(meta["total_pages"], 1);
        assert!(meta["links"].get("next").is_none());
    }
}
