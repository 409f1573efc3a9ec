//! The v3 `{data, meta}` response body ([`V3Response`]) and its pagination metadata.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A v3 response: `{"data": T, "meta": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct V3Response<T> {
    /// The payload.
    pub data: T,
    /// Response metadata; `{}` for single resources.
    #[serde(default, deserialize_with = "meta_lenient")]
    pub meta: ResponseMeta,
}

/// `meta` of a v3 response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseMeta {
    /// Present on collection responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
    /// Any other metadata, kept as sent.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// `meta.pagination` of a v3 collection response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pagination {
    /// Items across all pages.
    #[serde(default)]
    pub total: u64,
    /// Items on this page.
    #[serde(default)]
    pub count: u64,
    /// Page size.
    #[serde(default)]
    pub per_page: u64,
    /// This page's number (1-based).
    #[serde(default)]
    pub current_page: u64,
    /// Number of pages.
    #[serde(default)]
    pub total_pages: u64,
    /// Links to neighbouring pages (query strings such as `?page=2&limit=50`).
    #[serde(default)]
    pub links: PageLinks,
}

impl Pagination {
    /// Whether a page follows this one.
    pub fn has_next(&self) -> bool {
        self.current_page < self.total_pages
    }
}

/// `meta.pagination.links`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageLinks {
    /// Link to the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// Link to this page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// Link to the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One page of a collection.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Pagination metadata, when BigCommerce sent it.
    pub pagination: Option<Pagination>,
}

impl<T> From<V3Response<Vec<T>>> for Page<T> {
    fn from(response: V3Response<Vec<T>>) -> Self {
        Self {
            items: response.data,
            pagination: response.meta.pagination,
        }
    }
}

/// `meta` is an object in the spec, but some endpoints send `[]` or `null` when empty.
fn meta_lenient<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ResponseMeta, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Object(map) => {
            serde_json::from_value(Value::Object(map)).map_err(serde::de::Error::custom)
        }
        _ => Ok(ResponseMeta::default()),
    }
}

/// Unwraps `{"data": {...}, "meta": ...}` into its `data`, and passes a bare object through.
/// Older docs show the create-webhook response as a bare webhook object.
pub(crate) fn unwrap_data(value: Value) -> Value {
    match value {
        Value::Object(mut map) if map.get("data").is_some_and(Value::is_object) => {
            map.remove("data").unwrap_or(Value::Null)
        }
        other => other,
    }
}

/// Deserializes a single resource, sent bare or wrapped in `{"data": ...}`.
pub(crate) fn data_of<T: DeserializeOwned>(
    value: Value,
) -> Result<T, serde_path_to_error::Error<serde_json::Error>> {
    serde_path_to_error::deserialize(unwrap_data(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn meta_may_be_an_empty_list() {
        let response: V3Response<Value> =
            serde_json::from_value(json!({"data": {"id": 1}, "meta": []})).expect("parses");
        assert_eq!(response.meta, ResponseMeta::default());
    }

    #[test]
    fn pagination_parses() {
        let response: V3Response<Vec<u32>> = serde_json::from_value(json!({
            "data": [1, 2],
            "meta": {"pagination": {"total": 5, "count": 2, "per_page": 2, "current_page": 1,
                     "total_pages": 3, "links": {"next": "?page=2&limit=2", "current": "?page=1&limit=2"}}}
        }))
        .expect("parses");
        let page = Page::from(response);
        let pagination = page.pagination.expect("pagination");
        assert!(pagination.has_next());
        assert_eq!(pagination.links.next.as_deref(), Some("?page=2&limit=2"));
        assert_eq!(page.items, vec![1, 2]);
    }

    #[test]
    fn unwraps_data_only_when_wrapped() {
        assert_eq!(
            unwrap_data(json!({"data": {"id": 1}, "meta": {}})),
            json!({"id": 1})
        );
        assert_eq!(
            unwrap_data(json!({"id": 1, "scope": "x"})),
            json!({"id": 1, "scope": "x"})
        );
    }
}
