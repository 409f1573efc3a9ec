//! The store client's channel calls against a mock BigCommerce.

mod common;

use common::*;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn list_channels_walks_all_pages() {
    let server = MockServer::start().await;
    let channel = |id: u64, name: &str, platform: &str, kind: &str, status: &str| {
        json!({
            "id": id, "name": name, "platform": platform, "type": kind, "status": status,
            "is_listable_from_ui": true, "is_visible": true, "external_id": "",
            "date_created": "2022-01-01T00:00:00Z", "date_modified": "2022-02-01T00:00:00Z",
            "icon_url": "https://example.com/icon.png", "config_meta": {"app": {"id": 123}}
        })
    };
    Mock::given(method("GET"))
        .and(path(api("/v3/channels")))
        .and(query_param("page", "1"))
        .and(query_param("limit", "50"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [channel(1, "Main", "bigcommerce", "storefront", "active"),
                     channel(2, "Amazon", "amazon", "marketplace", "connected")],
            "meta": {"pagination": pagination(1, 2, 2, 3, 2)}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("/v3/channels")))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [channel(7, "POS", "square", "pos", "inactive")],
            "meta": {"pagination": pagination(2, 2, 2, 3, 1)}
        })))
        .expect(1)
        .mount(&server)
        .await;

    let channels = store(&server).list_channels().await.expect("channels");
    assert_eq!(channels.iter().map(|c| c.id).collect::<Vec<_>>(), [1, 2, 7]);
    assert_eq!(channels[1].platform, "amazon");
    assert_eq!(channels[1].channel_type, "marketplace");
    assert!(channels[1].is_live());
    assert!(!channels[2].is_live());
    assert_eq!(channels[0].is_listable_from_ui, Some(true));
    assert_eq!(
        channels[0].extra.get("config_meta"),
        Some(&json!({"app": {"id": 123}}))
    );
}

#[tokio::test]
async fn a_single_page_without_pagination_stops() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("/v3/channels")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": 1, "name": "Main", "platform": "bigcommerce", "type": "storefront", "status": "prelaunch"}],
            "meta": {}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let channels = store(&server).list_channels().await.expect("channels");
    assert_eq!(channels.len(), 1);
    assert_eq!(channels[0].status, "prelaunch");
}

#[tokio::test]
async fn a_server_ignoring_the_page_parameter_does_not_loop() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("/v3/channels")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": 1, "name": "Main", "platform": "bigcommerce", "type": "storefront", "status": "active"}],
            "meta": {"pagination": pagination(1, 3, 1, 3, 1)}
        })))
        .expect(2)
        .mount(&server)
        .await;
    let err = store(&server)
        .list_channels()
        .await
        .expect_err("inconsistent");
    assert!(
        matches!(err, bigcommerce_app_api::ApiError::InvalidRequest(ref m) if m.contains("page 2")),
        "{err:?}"
    );
}
