//! The OAuth token exchange of the install flow against a mock token endpoint.

use std::collections::HashMap;
use std::time::Duration;

use bigcommerce_app_api::{OAuthConfig, OAuthError, TokenExchanger};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CLIENT_ID: &str = "app-client-id";
const CLIENT_SECRET: &str = "app-client-secret";
const REDIRECT: &str = "https://app.example.com/auth";

fn exchanger(server: &MockServer) -> TokenExchanger {
    let mut config = OAuthConfig::new(CLIENT_ID, CLIENT_SECRET, REDIRECT);
    config.token_url = format!("{}/oauth2/token", server.uri());
    config.timeout = Duration::from_secs(5);
    TokenExchanger::new(config).expect("exchanger")
}

fn documented_response() -> serde_json::Value {
    json!({
        "access_token": "xxxxalphanumstringxxxx",
        "scope": "store_v2_orders store_channel_listings_read_only",
        "user": {"id": 24654, "username": "merchant@example.com", "email": "merchant@example.com"},
        "owner": {"id": 12345, "username": "owner@example.com", "email": "owner@example.com"},
        "context": "stores/g5cd38",
        "account_uuid": "12345678-90ab-cdef-1234-567890abcdef"
    })
}

#[tokio::test]
async fn exchange_sends_the_form_fields_and_parses_the_response() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(documented_response()))
        .expect(1)
        .mount(&server)
        .await;

    let token = exchanger(&server)
        .exchange_code(
            "qr6h3thvbvag2ffq",
            "store_v2_orders store_channel_listings_read_only",
            "stores/g5cd38",
        )
        .await
        .expect("token");

    let requests = server.received_requests().await.unwrap_or_default();
    let form: HashMap<String, String> = url::form_urlencoded::parse(&requests[0].body)
        .into_owned()
        .collect();
    let expected: HashMap<String, String> = [
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("code", "qr6h3thvbvag2ffq"),
        ("scope", "store_v2_orders store_channel_listings_read_only"),
        ("grant_type", "authorization_code"),
        ("redirect_uri", REDIRECT),
        ("context", "stores/g5cd38"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(form, expected);
    assert!(requests[0].headers.get("authorization").is_none());

    assert_eq!(token.access_token.expose(), "xxxxalphanumstringxxxx");
    assert_eq!(token.store_hash, "g5cd38");
    assert_eq!(token.context, "stores/g5cd38");
    assert_eq!(
        token.scope,
        "store_v2_orders store_channel_listings_read_only"
    );
    assert_eq!(token.user.id, 24654);
    assert_eq!(token.user.username.as_deref(), Some("merchant@example.com"));
    assert_eq!(
        token.owner.as_ref().map(|o| o.email.as_str()),
        Some("owner@example.com")
    );
    assert_eq!(
        token.account_uuid.as_deref(),
        Some("12345678-90ab-cdef-1234-567890abcdef")
    );
    assert!(!format!("{token:?}").contains("xxxxalphanumstringxxxx"));
}

#[tokio::test]
async fn a_refused_exchange_surfaces_bigcommerce_error_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant",
            "error_description": "The authorization code is invalid or has expired."
        })))
        .mount(&server)
        .await;
    let err = exchanger(&server)
        .exchange_code("used-code", "store_v2_orders", "stores/g5cd38")
        .await
        .expect_err("refused");
    match &err {
        OAuthError::Rejected {
            status,
            error,
            description,
            body,
        } => {
            assert_eq!(*status, 400);
            assert_eq!(error.as_deref(), Some("invalid_grant"));
            assert_eq!(
                description.as_deref(),
                Some("The authorization code is invalid or has expired.")
            );
            assert!(body.contains("invalid_grant"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!err.to_string().contains(CLIENT_SECRET));
}

#[tokio::test]
async fn a_non_json_error_keeps_status_and_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(401).set_body_string("Invalid client id."))
        .mount(&server)
        .await;
    let err = exchanger(&server)
        .exchange_code("c", "s", "stores/g5cd38")
        .await
        .expect_err("refused");
    match err {
        OAuthError::Rejected { status, body, .. } => {
            assert_eq!(status, 401);
            assert_eq!(body, "Invalid client id.");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_malformed_success_names_the_field_without_leaking_the_body() {
    let server = MockServer::start().await;
    let mut body = documented_response();
    body["user"] = json!({"email": "no-id@example.com"});
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let err = exchanger(&server)
        .exchange_code("c", "s", "stores/g5cd38")
        .await
        .expect_err("malformed");
    assert!(
        matches!(err, OAuthError::MalformedResponse { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("user"), "{err}");
    assert!(!err.to_string().contains("xxxxalphanumstringxxxx"));
}

#[tokio::test]
async fn a_context_that_is_not_a_store_is_refused() {
    let server = MockServer::start().await;
    let mut body = documented_response();
    body["context"] = json!("accounts/123");
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let err = exchanger(&server)
        .exchange_code("c", "s", "accounts/123")
        .await
        .expect_err("bad context");
    assert!(matches!(err, OAuthError::BadContext { .. }), "{err:?}");
}

#[test]
fn a_bad_token_url_is_a_config_error() {
    let mut config = OAuthConfig::new(CLIENT_ID, CLIENT_SECRET, REDIRECT);
    config.token_url = "not a url".into();
    assert!(matches!(
        TokenExchanger::new(config),
        Err(OAuthError::Config(_))
    ));
}
