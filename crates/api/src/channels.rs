//! Channels: `GET /v3/channels`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::StoreClient;
use crate::error::ApiError;

const CHANNELS: &str = "/v3/channels";
/// Page size used by [`StoreClient::list_channels`].
pub const CHANNELS_PAGE_SIZE: u32 = 50;

/// A sales channel of a store (storefront, marketplace, POS, marketing...).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// Channel id; `1` is the default storefront.
    #[serde(deserialize_with = "bigcommerce_app_core::lenient::deserialize")]
    pub id: u64,
    /// Display name.
    pub name: String,
    /// Platform, e.g. `bigcommerce`, `amazon`, `facebook`.
    #[serde(default)]
    pub platform: String,
    /// `storefront`, `marketplace`, `marketing` or `pos` (kept as sent).
    #[serde(rename = "type", default)]
    pub channel_type: String,
    /// `active`, `prelaunch`, `inactive`, `connected`, `disconnected`, `archived`,
    /// `deleted` or `terminated` (kept as sent).
    #[serde(default)]
    pub status: String,
    /// Whether the channel can be picked in the control panel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_listable_from_ui: Option<bool>,
    /// Whether the channel is shown in the control panel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_visible: Option<bool>,
    /// Id of the channel on its platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Creation time (ISO 8601, as sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_created: Option<String>,
    /// Last change (ISO 8601, as sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_modified: Option<String>,
    /// Icon shown in the control panel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
    /// Fields this version does not know (`config_meta`, `is_enabled`, ...), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Channel {
    /// Whether the channel is in a state that takes orders (`active` or `connected`).
    pub fn is_live(&self) -> bool {
        matches!(self.status.as_str(), "active" | "connected")
    }
}

impl StoreClient {
    /// Every channel of the store, walking all pages of `GET /v3/channels`.
    pub async fn list_channels(&self) -> Result<Vec<Channel>, ApiError> {
        self.get_all_pages(CHANNELS, &[], CHANNELS_PAGE_SIZE).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_channel_and_keeps_unknown_fields() {
        let channel: Channel = serde_json::from_value(json!({
            "id": 1, "name": "My Store", "platform": "bigcommerce", "type": "storefront",
            "status": "active", "is_listable_from_ui": true, "is_visible": true,
            "external_id": "", "date_created": "2021-01-01T00:00:00Z",
            "date_modified": "2021-01-02T00:00:00Z", "icon_url": "https://example.com/i.png",
            "config_meta": {"app": {"id": 7}}, "is_enabled": true
        }))
        .expect("parses");
        assert_eq!(channel.channel_type, "storefront");
        assert!(channel.is_live());
        assert_eq!(
            channel.extra.get("config_meta"),
            Some(&json!({"app": {"id": 7}}))
        );
    }
}
