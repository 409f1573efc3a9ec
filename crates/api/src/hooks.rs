//! Webhooks v3: `/v3/hooks` and `/v3/hooks/admin`, shaped after the official OpenAPI spec.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::{decode, decode_resource, StoreClient};
use crate::error::{ApiError, HttpMethod};
use crate::v3_response::{Page, V3Response};

const HOOKS: &str = "/v3/hooks";
const HOOKS_ADMIN: &str = "/v3/hooks/admin";
/// Page size used by [`StoreClient::list_all_hooks`] when the filter sets none.
pub const DEFAULT_HOOKS_PAGE_SIZE: u32 = 100;

/// A webhook as BigCommerce returns it (`webhook_Full`, plus `status` from `/hooks/admin`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    /// Webhook id.
    #[serde(deserialize_with = "bigcommerce_app_core::lenient::deserialize")]
    pub id: u64,
    /// Client id of the API account that owns the hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Store hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_hash: Option<String>,
    /// Subscribed event, e.g. `store/order/created`.
    pub scope: String,
    /// Callback URL.
    pub destination: String,
    /// Whether the hook fires. Absent means `false`: a reconciler then re-activates it.
    #[serde(default)]
    pub is_active: bool,
    /// Custom headers BigCommerce sends with every callback (`null` when none).
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// Creation time, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// Last update, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// Only in `hooks_list` of `GET /hooks/admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<WebhookStatus>,
    /// Deprecated and removed from the spec in 2024; read if an old store still sends it,
    /// never sent by this client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_history_enabled: Option<bool>,
    /// Fields this version does not know, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `status` of a hook in `GET /hooks/admin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookStatus {
    /// Created inactive or switched off.
    Inactive,
    /// Firing.
    Active,
    /// Switched off by BigCommerce after failed deliveries or inactivity.
    Deactivated,
    /// A value this version does not know.
    #[serde(other)]
    Unknown,
}

/// Body of `POST /hooks` (`webhook_Base`). `is_active` is always sent: old docs say a hook
/// created without it starts inactive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWebhook {
    /// Event to subscribe to.
    pub scope: String,
    /// Callback URL (HTTPS on port 443).
    pub destination: String,
    /// Whether the hook fires.
    pub is_active: bool,
    /// Custom headers sent back with every callback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
}

impl NewWebhook {
    /// An active hook for `scope` delivering to `destination`, without custom headers.
    pub fn new(scope: impl Into<String>, destination: impl Into<String>) -> Self {
        Self {
            scope: scope.into(),
            destination: destination.into(),
            is_active: true,
            headers: None,
        }
    }

    /// Adds a custom header sent with every callback.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers
            .get_or_insert_with(BTreeMap::new)
            .insert(name.into(), value.into());
        self
    }
}

/// Body of `PUT /hooks/{id}` (`webhook_Put`): only the fields that are `Some` are sent.
/// At least one must be set.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookUpdate {
    /// New event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// New callback URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Switch the hook on or off (`Some(true)` re-activates a deactivated hook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    /// `Some(Some(map))` replaces the custom headers, `Some(None)` sends `null` to clear them.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "nullable_headers"
    )]
    pub headers: Option<Option<BTreeMap<String, String>>>,
}

impl WebhookUpdate {
    /// Whether no field is set (BigCommerce rejects such an update).
    pub fn is_empty(&self) -> bool {
        self.scope.is_none()
            && self.destination.is_none()
            && self.is_active.is_none()
            && self.headers.is_none()
    }
}

mod nullable_headers {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    type Headers = Option<Option<BTreeMap<String, String>>>;

    pub fn serialize<S: Serializer>(value: &Headers, serializer: S) -> Result<S::Ok, S::Error> {
        // `None` is skipped by `skip_serializing_if`; `Some(None)` becomes `null`.
        value
            .as_ref()
            .and_then(Option::as_ref)
            .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Headers, D::Error> {
        Option::<BTreeMap<String, String>>::deserialize(deserializer).map(Some)
    }
}

/// Query of `GET /hooks`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HookFilter {
    /// Only active (`true`) or inactive (`false`) hooks.
    pub is_active: Option<bool>,
    /// Only hooks of this scope.
    pub scope: Option<String>,
    /// Only hooks delivering to this URL.
    pub destination: Option<String>,
    /// Page number (1-based); ignored by [`StoreClient::list_all_hooks`].
    pub page: Option<u32>,
    /// Page size.
    pub limit: Option<u32>,
}

impl HookFilter {
    fn filters(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if let Some(active) = self.is_active {
            query.push(("is_active", active.to_string()));
        }
        if let Some(scope) = &self.scope {
            query.push(("scope", scope.clone()));
        }
        if let Some(destination) = &self.destination {
            query.push(("destination", destination.clone()));
        }
        query
    }
}

/// `data` of `GET /hooks/admin`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HooksAdmin {
    /// Addresses notified when a hook is deactivated or a domain denylisted.
    #[serde(default)]
    pub emails: Vec<String>,
    /// The API account's hooks, filtered by `is_active`.
    #[serde(default)]
    pub hooks_list: Vec<Webhook>,
    /// Destinations currently denylisted.
    #[serde(default)]
    pub blocked_domains: Vec<BlockedDomain>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A denylisted destination in `GET /hooks/admin`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockedDomain {
    /// The blocked URL.
    #[serde(default)]
    pub destination: String,
    /// Seconds left on the denylist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_left: Option<i64>,
    /// Why it was blocked.
    #[serde(default)]
    pub reasons: Vec<BlockReason>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One reason of a [`BlockedDomain`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockReason {
    /// What failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_description: Option<String>,
    /// How often.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// When, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
}

/// Body of `PUT /hooks/admin`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminEmails {
    /// Addresses to notify.
    pub emails: Vec<String>,
}

fn hook_path(id: u64) -> String {
    format!("{HOOKS}/{id}")
}

impl StoreClient {
    /// `GET /v3/hooks`: one page of this API account's hooks.
    pub async fn list_hooks(&self, filter: &HookFilter) -> Result<Page<Webhook>, ApiError> {
        let mut query = filter.filters();
        if let Some(page) = filter.page {
            query.push(("page", page.to_string()));
        }
        if let Some(limit) = filter.limit {
            query.push(("limit", limit.to_string()));
        }
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.get_page(HOOKS, &query).await
    }

    /// Every hook matching the filter, walking all pages.
    pub async fn list_all_hooks(&self, filter: &HookFilter) -> Result<Vec<Webhook>, ApiError> {
        let query = filter.filters();
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let limit = filter.limit.unwrap_or(DEFAULT_HOOKS_PAGE_SIZE);
        self.get_all_pages(HOOKS, &query, limit).await
    }

    /// `POST /v3/hooks`. Accepts the `{data, meta}` response of the spec and the bare object
    /// of older docs. Only retried when the request was not sent or on 429.
    pub async fn create_hook(&self, hook: &NewWebhook) -> Result<Webhook, ApiError> {
        let body = serde_json::to_vec(hook)
            .map_err(|e| ApiError::InvalidRequest(format!("cannot encode the webhook: {e}")))?;
        let response = self.send(HttpMethod::Post, HOOKS, &[], Some(body)).await?;
        decode_resource(HttpMethod::Post, HOOKS, &response)
    }

    /// `GET /v3/hooks/{id}`.
    pub async fn get_hook(&self, id: u64) -> Result<Webhook, ApiError> {
        let path = hook_path(id);
        let response = self.send(HttpMethod::Get, &path, &[], None).await?;
        decode_resource(HttpMethod::Get, &path, &response)
    }

    /// `PUT /v3/hooks/{id}`. Refuses an empty update without sending it.
    pub async fn update_hook(&self, id: u64, update: &WebhookUpdate) -> Result<Webhook, ApiError> {
        if update.is_empty() {
            return Err(ApiError::InvalidRequest(
                "a webhook update needs at least one field".to_owned(),
            ));
        }
        let path = hook_path(id);
        let body = serde_json::to_vec(update)
            .map_err(|e| ApiError::InvalidRequest(format!("cannot encode the update: {e}")))?;
        let response = self.send(HttpMethod::Put, &path, &[], Some(body)).await?;
        decode_resource(HttpMethod::Put, &path, &response)
    }

    /// `DELETE /v3/hooks/{id}`. Returns the deleted hook, which BigCommerce sends back
    /// (`None` if the body is empty).
    pub async fn delete_hook(&self, id: u64) -> Result<Option<Webhook>, ApiError> {
        let path = hook_path(id);
        let response = self.send(HttpMethod::Delete, &path, &[], None).await?;
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        decode_resource(HttpMethod::Delete, &path, &response).map(Some)
    }

    /// `GET /v3/hooks/admin`: notification emails, hooks and denylisted domains.
    pub async fn get_hooks_admin(&self, is_active: Option<bool>) -> Result<HooksAdmin, ApiError> {
        let active = is_active.map(|a| a.to_string());
        let query: Vec<(&str, &str)> = active.iter().map(|a| ("is_active", a.as_str())).collect();
        let response = self
            .send(HttpMethod::Get, HOOKS_ADMIN, &query, None)
            .await?;
        let response: V3Response<HooksAdmin> = decode(HttpMethod::Get, HOOKS_ADMIN, &response)?;
        Ok(response.data)
    }

    /// `PUT /v3/hooks/admin`: sets the notification emails (BigCommerce answers 204).
    pub async fn put_hooks_admin(&self, emails: &AdminEmails) -> Result<(), ApiError> {
        let body = serde_json::to_vec(emails)
            .map_err(|e| ApiError::InvalidRequest(format!("cannot encode the emails: {e}")))?;
        self.send(HttpMethod::Put, HOOKS_ADMIN, &[], Some(body))
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn update_serializes_only_set_fields_and_null_headers() {
        let update = WebhookUpdate {
            is_active: Some(true),
            headers: Some(None),
            ..WebhookUpdate::default()
        };
        assert_eq!(
            serde_json::to_value(&update).expect("serializes"),
            json!({"is_active": true, "headers": null})
        );
        assert!(WebhookUpdate::default().is_empty());
    }

    #[test]
    fn webhook_keeps_unknown_fields_and_reads_string_ids() {
        let hook: Webhook = serde_json::from_value(json!({
            "id": "18048287", "client_id": "m9r6", "store_hash": "sftg45fsd",
            "scope": "store/order/created", "destination": "https://example.com/hooks",
            "is_active": true, "headers": null, "created_at": 1561488106, "updated_at": 1561488106,
            "status": "deactivated", "brand_new": 1
        }))
        .expect("parses");
        assert_eq!(hook.id, 18048287);
        assert_eq!(hook.status, Some(WebhookStatus::Deactivated));
        assert_eq!(hook.extra.get("brand_new"), Some(&json!(1)));
        assert_eq!(hook.headers, None);
    }

    #[test]
    fn unknown_status_does_not_fail() {
        let hook: Webhook = serde_json::from_value(json!({
            "id": 1, "scope": "s", "destination": "d", "status": "paused"
        }))
        .expect("parses");
        assert_eq!(hook.status, Some(WebhookStatus::Unknown));
        assert!(!hook.is_active);
    }
}
