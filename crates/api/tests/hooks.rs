//! The store client's webhook (hook) calls against a mock BigCommerce.

mod common;

use bigcommerce_app_api::{ApiError, HookFilter, NewWebhook, WebhookStatus, WebhookUpdate};
use common::*;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn create_hook_sends_the_spec_body_and_parses_the_envelope() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(api("/v3/hooks")))
        .and(header("x-auth-token", TOKEN))
        .and(header("accept", "application/json"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "scope": "store/order/created",
            "destination": "https://app.example.com/webhooks",
            "is_active": true,
            "headers": {"x-app-secret": "s3cret"}
        })))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"data": hook_json(18048287, "store/order/created"), "meta": {}}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;

    let hook = store(&server)
        .create_hook(
            &NewWebhook::new("store/order/created", "https://app.example.com/webhooks")
                .with_header("x-app-secret", "s3cret"),
        )
        .await
        .expect("created");
    assert_eq!(hook.id, 18048287);
    assert_eq!(hook.scope, "store/order/created");
    assert_eq!(hook.store_hash.as_deref(), Some(STORE));
    assert!(hook.is_active);
    assert_eq!(
        hook.headers
            .as_ref()
            .and_then(|h| h.get("x-app-secret"))
            .map(String::as_str),
        Some("s3cret")
    );
}

#[tokio::test]
async fn create_hook_accepts_a_bare_object_and_201() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(api("/v3/hooks")))
        .respond_with(ResponseTemplate::new(201).set_body_json(hook_json(7, "store/cart/*")))
        .mount(&server)
        .await;
    let hook = store(&server)
        .create_hook(&NewWebhook::new(
            "store/cart/*",
            "https://app.example.com/webhooks",
        ))
        .await
        .expect("created");
    assert_eq!((hook.id, hook.scope.as_str()), (7, "store/cart/*"));
}

#[tokio::test]
async fn update_get_and_delete_use_the_hook_path() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(api("/v3/hooks/42")))
        .and(body_json(
            json!({"is_active": true, "destination": "https://new.example.com/h"}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": hook_json(42, "store/order/*"), "meta": {}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(api("/v3/hooks/42")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": hook_json(42, "store/order/*"), "meta": {}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(api("/v3/hooks/42")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": hook_json(42, "store/order/*"), "meta": {}})),
        )
        .expect(1)
        .mount(&server)
        .await;

    let store = store(&server);
    let update = WebhookUpdate {
        is_active: Some(true),
        destination: Some("https://new.example.com/h".into()),
        ..WebhookUpdate::default()
    };
    assert_eq!(
        store.update_hook(42, &update).await.expect("updated").id,
        42
    );
    assert_eq!(
        store.get_hook(42).await.expect("fetched").scope,
        "store/order/*"
    );
    let deleted = store.delete_hook(42).await.expect("deleted").expect("body");
    assert_eq!(deleted.id, 42);
}

#[tokio::test]
async fn an_empty_update_is_refused_before_sending() {
    let server = MockServer::start().await;
    let err = store(&server)
        .update_hook(1, &WebhookUpdate::default())
        .await
        .expect_err("refused");
    assert!(matches!(err, ApiError::InvalidRequest(_)), "{err:?}");
    assert!(server
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty());
}

#[tokio::test]
async fn list_all_hooks_walks_every_page_with_filters() {
    let server = MockServer::start().await;
    for page in 1..=3u64 {
        let ids: Vec<Value> = (0..2)
            .map(|i| hook_json(page * 10 + i, "store/order/created"))
            .collect();
        let count = ids.len() as u64;
        Mock::given(method("GET"))
            .and(path(api("/v3/hooks")))
            .and(query_param("page", page.to_string()))
            .and(query_param("limit", "2"))
            .and(query_param("is_active", "true"))
            .and(query_param("scope", "store/order/created"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "data": ids,
                "meta": {"pagination": pagination(page, 3, 2, 6, count)}
            })))
            .expect(1)
            .mount(&server)
            .await;
    }
    let filter = HookFilter {
        is_active: Some(true),
        scope: Some("store/order/created".into()),
        limit: Some(2),
        ..HookFilter::default()
    };
    let hooks = store(&server)
        .list_all_hooks(&filter)
        .await
        .expect("listed");
    let ids: Vec<u64> = hooks.iter().map(|h| h.id).collect();
    assert_eq!(ids, [10, 11, 20, 21, 30, 31]);
}

#[tokio::test]
async fn list_hooks_returns_one_page_with_its_pagination() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("/v3/hooks")))
        .and(query_param("page", "2"))
        .and(query_param(
            "destination",
            "https://app.example.com/webhooks",
        ))
        .and(query_param_is_missing("is_active"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [hook_json(5, "store/product/*")],
            "meta": {"pagination": pagination(2, 2, 1, 2, 1)}
        })))
        .mount(&server)
        .await;
    let page = store(&server)
        .list_hooks(&HookFilter {
            destination: Some("https://app.example.com/webhooks".into()),
            page: Some(2),
            ..HookFilter::default()
        })
        .await
        .expect("listed");
    assert_eq!(page.items.len(), 1);
    let pagination = page.pagination.expect("pagination");
    assert!(!pagination.has_next());
    assert_eq!(pagination.total, 2);
}

#[tokio::test]
async fn hooks_admin_get_and_put() {
    let server = MockServer::start().await;
    let mut listed = hook_json(3, "store/order/created");
    listed["status"] = json!("deactivated");
    listed["is_active"] = json!(false);
    Mock::given(method("GET"))
        .and(path(api("/v3/hooks/admin")))
        .and(query_param("is_active", "false"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {
                "emails": ["ops@example.com"],
                "hooks_list": [listed],
                "blocked_domains": [{
                    "destination": "https://app.example.com/webhooks",
                    "time_left": 120,
                    "reasons": [{"failure_description": "timeout", "count": 12, "timestamp": 1700000000}]
                }]
            },
            "meta": {}
        })))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(api("/v3/hooks/admin")))
        .and(body_json(
            json!({"emails": ["ops@example.com", "dev@example.com"]}),
        ))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;

    let store = store(&server);
    let admin = store
        .get_hooks_admin(Some(false))
        .await
        .expect("admin info");
    assert_eq!(admin.emails, ["ops@example.com"]);
    assert_eq!(admin.hooks_list[0].status, Some(WebhookStatus::Deactivated));
    assert_eq!(admin.blocked_domains[0].time_left, Some(120));
    assert_eq!(admin.blocked_domains[0].reasons[0].count, Some(12));
    store
        .put_hooks_admin(&bigcommerce_app_api::AdminEmails {
            emails: vec!["ops@example.com".into(), "dev@example.com".into()],
        })
        .await
        .expect("emails set");
}

#[tokio::test]
async fn a_401_is_a_typed_status_error_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("/v3/hooks")))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "status": 401,
            "title": "Unauthorized - the v3 Auth client ID or token in the request are not a valid combination for this store.",
            "type": "/api-docs/getting-started/api-status-codes"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = store(&server)
        .list_hooks(&HookFilter::default())
        .await
        .expect_err("unauthorized");
    match &err {
        ApiError::Status {
            status,
            title,
            path,
            ..
        } => {
            assert_eq!(*status, 401);
            assert!(title
                .as_deref()
                .is_some_and(|t| t.starts_with("Unauthorized")));
            assert_eq!(path, "/v3/hooks");
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(err.is_unauthorized());
    assert!(!err.is_retryable());
    assert!(!format!("{err}").contains(TOKEN));
}

#[tokio::test]
async fn a_422_carries_title_detail_and_field_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(api("/v3/hooks")))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "status": 422,
            "title": "JSON data is missing or invalid",
            "type": "/api-docs/getting-started/api-status-codes",
            "detail": "destination must be https",
            "errors": {"destination": "error.path.missing."}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = store(&server)
        .create_hook(&NewWebhook::new("store/order/created", "http://insecure"))
        .await
        .expect_err("invalid");
    match err {
        ApiError::Status {
            status,
            title,
            detail,
            errors,
            body,
            ..
        } => {
            assert_eq!(status, 422);
            assert_eq!(title.as_deref(), Some("JSON data is missing or invalid"));
            assert_eq!(detail.as_deref(), Some("destination must be https"));
            assert_eq!(
                errors.get("destination").map(String::as_str),
                Some("error.path.missing.")
            );
            assert!(body.contains("error.path.missing."));
        }
        other => panic!("unexpected error {other:?}"),
    }
}

#[tokio::test]
async fn a_404_is_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("/v3/hooks/9")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "status": 404, "title": "Webhook with id [9] not found", "type": "/api-docs/getting-started/api-status-codes"
        })))
        .mount(&server)
        .await;
    let err = store(&server).get_hook(9).await.expect_err("missing");
    assert!(err.is_not_found(), "{err:?}");
    assert!(format!("{err}").contains("Webhook with id [9] not found"));
}

#[tokio::test]
async fn a_bad_body_is_a_decode_error_with_the_json_path() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("/v3/hooks")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [hook_json(1, "a"), {"id": "not-a-number", "scope": "b", "destination": "c"}],
            "meta": {}
        })))
        .mount(&server)
        .await;
    let err = store(&server)
        .list_hooks(&HookFilter::default())
        .await
        .expect_err("decode");
    match err {
        ApiError::Decode {
            json_path, status, ..
        } => {
            assert_eq!(json_path, "data[1].id");
            assert_eq!(status, 200);
        }
        other => panic!("unexpected error {other:?}"),
    }
}
