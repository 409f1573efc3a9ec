//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use bigcommerce_app_api::{Client, ClientConfig, RetryPolicy, StoreClient};
use serde_json::{json, Value};
use wiremock::MockServer;

pub const STORE: &str = "abc123";
pub const TOKEN: &str = "test-access-token";

/// A retry policy with short waits so that tests run fast.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        max_elapsed: Duration::from_secs(20),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
    }
}

pub fn config(server: &MockServer) -> ClientConfig {
    ClientConfig {
        base_url: server.uri(),
        request_timeout: Duration::from_secs(10),
        retry: fast_retry(),
        ..ClientConfig::default()
    }
}

pub fn client(server: &MockServer) -> Client {
    Client::new(config(server)).expect("client builds")
}

pub fn store(server: &MockServer) -> StoreClient {
    client(server).store(STORE, TOKEN)
}

/// The API path of the test store.
pub fn api(path: &str) -> String {
    format!("/stores/{STORE}{path}")
}

pub fn hook_json(id: u64, scope: &str) -> Value {
    json!({
        "id": id,
        "client_id": "m9r6keqmo7h7f23btnpwernbez1kglkl",
        "store_hash": STORE,
        "scope": scope,
        "destination": "https://app.example.com/webhooks",
        "is_active": true,
        "headers": {"x-app-secret": "s3cret"},
        "created_at": 1561488106,
        "updated_at": 1561488106
    })
}

pub fn pagination(current: u64, total_pages: u64, per_page: u64, total: u64, count: u64) -> Value {
    json!({
        "total": total, "count": count, "per_page": per_page,
        "current_page": current, "total_pages": total_pages,
        "links": {"current": format!("?page={current}&limit={per_page}")}
    })
}

/// Requests the mock server received for `method` and `path`.
pub async fn received(server: &MockServer, method: &str, path: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.method.as_str() == method && r.url.path() == path)
        .collect()
}
