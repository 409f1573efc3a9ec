//! Retries, rate-limit waits and time budgets of the API client.

mod common;

use std::time::{Duration, Instant};

use bigcommerce_app_api::{ApiError, Client, ClientConfig, NewWebhook, RetryPolicy};
use common::*;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn mount_ok(server: &MockServer, route: &str, template: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path(api(route)))
        .respond_with(template)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_429_waits_the_reset_time_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("/v2/orders/1")))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-Rate-Limit-Time-Reset-Ms", "700")
                .insert_header("X-Rate-Limit-Requests-Left", "0")
                .insert_header("X-Rate-Limit-Requests-Quota", "150")
                .insert_header("X-Rate-Limit-Time-Window-Ms", "30000"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_ok(
        &server,
        "/v2/orders/1",
        ResponseTemplate::new(200)
            .insert_header("X-Rate-Limit-Requests-Left", "149")
            .set_body_json(json!({"id": 1, "status": "Shipped"})),
    )
    .await;

    let store = store(&server);
    let started = Instant::now();
    let order: Value = store.get("/v2/orders/1").await.expect("order");
    let elapsed = started.elapsed();
    assert_eq!(order["status"], "Shipped");
    assert!(
        elapsed >= Duration::from_millis(700),
        "waited only {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(5), "waited {elapsed:?}");
    assert_eq!(
        received(&server, "GET", &api("/v2/orders/1")).await.len(),
        2
    );
    let snapshot = store.rate_limit().expect("rate limit seen");
    assert_eq!(snapshot.info.requests_left, Some(149));
}

#[tokio::test]
async fn a_429_without_reset_uses_x_retry_after_seconds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("/v3/catalog/products/5")))
        .respond_with(ResponseTemplate::new(429).insert_header("X-Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_ok(
        &server,
        "/v3/catalog/products/5",
        ResponseTemplate::new(200).set_body_json(json!({"data": {"id": 5}, "meta": {}})),
    )
    .await;
    let started = Instant::now();
    let product: bigcommerce_app_api::V3Response<Value> = store(&server)
        .get("/v3/catalog/products/5")
        .await
        .expect("product");
    assert_eq!(product.data["id"], 5);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn lowercase_rate_limit_headers_are_read() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("/v3/carts/c1")))
        .respond_with(ResponseTemplate::new(429).insert_header("x-rate-limit-time-reset-ms", "400"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_ok(
        &server,
        "/v3/carts/c1",
        ResponseTemplate::new(200)
            .insert_header("x-rate-limit-requests-left", "35")
            .insert_header("x-rate-limit-requests-quota", "150")
            .insert_header("x-rate-limit-time-window-ms", "30000")
            .insert_header("x-rate-limit-time-reset-ms", "15000")
            .set_body_json(json!({"data": {"id": "c1"}})),
    )
    .await;
    let client = client(&server);
    let store = client.store(STORE, TOKEN);
    let started = Instant::now();
    let _: Value = store.get("/v3/carts/c1").await.expect("cart");
    assert!(started.elapsed() >= Duration::from_millis(400));
    let info = client.rate_limit(STORE).expect("seen").info;
    assert_eq!(info.requests_left, Some(35));
    assert_eq!(info.requests_quota, Some(150));
    assert_eq!(info.window, Some(Duration::from_secs(30)));
    assert_eq!(info.reset, Some(Duration::from_secs(15)));
}

#[tokio::test]
async fn an_exhausted_quota_holds_the_next_request_until_reset() {
    let server = MockServer::start().await;
    mount_ok(
        &server,
        "/v2/store",
        ResponseTemplate::new(200)
            .insert_header("X-Rate-Limit-Requests-Left", "0")
            .insert_header("X-Rate-Limit-Time-Reset-Ms", "600")
            .set_body_json(json!({"id": STORE})),
    )
    .await;
    let store = store(&server);
    let _: Value = store.get("/v2/store").await.expect("first");
    let second = Instant::now();
    let _: Value = store.get("/v2/store").await.expect("second");
    assert!(
        second.elapsed() >= Duration::from_millis(550),
        "{:?}",
        second.elapsed()
    );
}

#[tokio::test]
async fn persistent_429_gives_up_as_rate_limited() {
    let server = MockServer::start().await;
    mount_ok(
        &server,
        "/v3/hooks",
        ResponseTemplate::new(429).insert_header("X-Rate-Limit-Time-Reset-Ms", "20"),
    )
    .await;
    let err = store(&server)
        .get::<Value>("/v3/hooks")
        .await
        .expect_err("rate limited");
    match &err {
        ApiError::RateLimited {
            attempts,
            retry_after,
            ..
        } => {
            assert_eq!(*attempts, 4);
            assert_eq!(*retry_after, Some(Duration::from_millis(20)));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(received(&server, "GET", &api("/v3/hooks")).await.len(), 4);
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let server = MockServer::start().await;
    mount_ok(
        &server,
        "/v3/channels",
        ResponseTemplate::new(503)
            .set_body_json(json!({"status": 503, "title": "Service Unavailable"})),
    )
    .await;
    let err = store(&server)
        .get::<Value>("/v3/channels")
        .await
        .expect_err("unavailable");
    assert!(
        matches!(err, ApiError::Status { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(
        received(&server, "GET", &api("/v3/channels")).await.len(),
        4
    );
}

#[tokio::test]
async fn a_transient_5xx_then_success_returns_the_success() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("/v2/orders/2")))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    mount_ok(
        &server,
        "/v2/orders/2",
        ResponseTemplate::new(200).set_body_json(json!({"id": 2})),
    )
    .await;
    let order: Value = store(&server).get("/v2/orders/2").await.expect("order");
    assert_eq!(order["id"], 2);
    assert_eq!(
        received(&server, "GET", &api("/v2/orders/2")).await.len(),
        3
    );
}

#[tokio::test]
async fn a_post_is_not_retried_after_a_5xx_but_is_after_a_429() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(api("/v3/hooks")))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let store = store(&server);
    let err = store
        .create_hook(&NewWebhook::new(
            "store/order/created",
            "https://app.example.com/h",
        ))
        .await
        .expect_err("500");
    assert!(
        matches!(err, ApiError::Status { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(received(&server, "POST", &api("/v3/hooks")).await.len(), 1);

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(api("/v3/hooks")))
        .respond_with(ResponseTemplate::new(429).insert_header("X-Rate-Limit-Time-Reset-Ms", "50"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(api("/v3/hooks")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": hook_json(1, "store/order/created"), "meta": {}})),
        )
        .mount(&server)
        .await;
    let hook = common::store(&server)
        .create_hook(&NewWebhook::new(
            "store/order/created",
            "https://app.example.com/h",
        ))
        .await
        .expect("created after 429");
    assert_eq!(hook.id, 1);
    assert_eq!(received(&server, "POST", &api("/v3/hooks")).await.len(), 2);
}

#[tokio::test]
async fn retries_stop_at_the_time_budget() {
    let server = MockServer::start().await;
    mount_ok(&server, "/v3/hooks", ResponseTemplate::new(503)).await;
    let client = Client::new(ClientConfig {
        retry: RetryPolicy {
            max_elapsed: Duration::ZERO,
            ..fast_retry()
        },
        ..config(&server)
    })
    .expect("client");
    let err = client
        .store(STORE, TOKEN)
        .get::<Value>("/v3/hooks")
        .await
        .expect_err("budget");
    match &err {
        ApiError::BudgetExceeded { attempts, last, .. } => {
            assert_eq!(*attempts, 1);
            assert_eq!(last.status(), Some(503));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(received(&server, "GET", &api("/v3/hooks")).await.len(), 1);
}

#[tokio::test]
async fn a_429_longer_than_the_budget_fails_at_once() {
    let server = MockServer::start().await;
    mount_ok(
        &server,
        "/v3/hooks",
        ResponseTemplate::new(429).insert_header("X-Rate-Limit-Time-Reset-Ms", "60000"),
    )
    .await;
    let started = Instant::now();
    let err = store(&server)
        .get::<Value>("/v3/hooks")
        .await
        .expect_err("limited");
    assert!(
        matches!(err, ApiError::RateLimited { attempts: 1, .. }),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn timeouts_are_retried_for_get_but_not_for_post() {
    let server = MockServer::start().await;
    let slow = ResponseTemplate::new(200)
        .set_body_json(json!({"data": hook_json(1, "a"), "meta": {}}))
        .set_delay(Duration::from_millis(800));
    Mock::given(method("GET"))
        .and(path(api("/v3/hooks/1")))
        .respond_with(slow.clone())
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(api("/v3/hooks")))
        .respond_with(slow)
        .mount(&server)
        .await;
    let client = Client::new(ClientConfig {
        request_timeout: Duration::from_millis(150),
        retry: RetryPolicy {
            max_attempts: 2,
            ..fast_retry()
        },
        ..config(&server)
    })
    .expect("client");
    let store = client.store(STORE, TOKEN);

    let err = store.get_hook(1).await.expect_err("timeout");
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert_eq!(received(&server, "GET", &api("/v3/hooks/1")).await.len(), 2);

    let err = store
        .create_hook(&NewWebhook::new("a", "https://app.example.com/h"))
        .await
        .expect_err("timeout");
    assert!(matches!(err, ApiError::Timeout { .. }), "{err:?}");
    assert_eq!(received(&server, "POST", &api("/v3/hooks")).await.len(), 1);
}

#[tokio::test]
async fn connection_errors_are_retried_even_for_post() {
    // A port with nothing listening: connecting fails, so the request never left.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let client = Client::new(ClientConfig {
        base_url: format!("http://127.0.0.1:{port}"),
        retry: fast_retry(),
        ..ClientConfig::default()
    })
    .expect("client");
    let started = Instant::now();
    let err = client
        .store(STORE, TOKEN)
        .create_hook(&NewWebhook::new("a", "https://app.example.com/h"))
        .await
        .expect_err("refused");
    assert!(matches!(err, ApiError::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn one_store_saturating_its_budget_does_not_delay_another() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/stores/busy/v3/catalog/products"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [], "meta": {}}))
                .set_delay(Duration::from_millis(1500)),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/stores/quiet/v3/catalog/products"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": [], "meta": {}})))
        .mount(&server)
        .await;
    let client = Client::new(ClientConfig {
        max_in_flight_per_store: 2,
        ..config(&server)
    })
    .expect("client");
    let busy = client.store("busy", "token-busy");
    let quiet = client.store("quiet", "token-quiet");

    let started = Instant::now();
    let mut bulk = Vec::new();
    for _ in 0..3 {
        let busy = busy.clone();
        bulk.push(tokio::spawn(async move {
            let _: Value = busy.get("/v3/catalog/products").await.expect("busy");
            Instant::now()
        }));
    }
    // Wait until the busy store's two slots are taken.
    while busy.available_slots() > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let quiet_started = Instant::now();
    let _: Value = quiet.get("/v3/catalog/products").await.expect("quiet");
    let quiet_took = quiet_started.elapsed();
    assert!(
        quiet_took < Duration::from_millis(700),
        "quiet store waited {quiet_took:?}"
    );

    let mut finished = Vec::new();
    for task in bulk {
        finished.push(task.await.expect("task").duration_since(started));
    }
    finished.sort();
    // Two run together; the third needs a free slot of its own store.
    assert!(finished[2] >= Duration::from_millis(2900), "{finished:?}");
    assert_eq!(
        received(&server, "GET", "/stores/busy/v3/catalog/products")
            .await
            .len(),
        3
    );
}

#[tokio::test]
async fn every_request_carries_the_token_and_accept_header() {
    let server = MockServer::start().await;
    mount_ok(
        &server,
        "/v2/orders/3",
        ResponseTemplate::new(200).set_body_json(json!({"id": 3})),
    )
    .await;
    let _: Value = store(&server).get("v2/orders/3").await.expect("order");
    let requests = received(&server, "GET", &api("/v2/orders/3")).await;
    let headers = &requests[0].headers;
    assert_eq!(
        headers.get("x-auth-token").and_then(|v| v.to_str().ok()),
        Some(TOKEN)
    );
    assert_eq!(
        headers.get("accept").and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert!(headers.get("user-agent").is_some());
}

#[tokio::test]
async fn generic_verbs_and_empty_bodies() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path(api("/v2/orders/4")))
        .and(wiremock::matchers::body_json(json!({"status_id": 2})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 4, "status_id": 2})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(api("/v3/carts/c9")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(api("/v3/carts")))
        .and(wiremock::matchers::body_json(json!({"line_items": []})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {"id": "c10"}})))
        .expect(1)
        .mount(&server)
        .await;
    let store = store(&server);
    let order: Value = store
        .put("/v2/orders/4", &json!({"status_id": 2}))
        .await
        .expect("put");
    assert_eq!(order["status_id"], 2);
    store.delete::<()>("/v3/carts/c9").await.expect("deleted");
    let cart: bigcommerce_app_api::V3Response<Value> = store
        .post("/v3/carts", &json!({"line_items": []}))
        .await
        .expect("post");
    assert_eq!(cart.data["id"], "c10");
}

#[tokio::test]
async fn bad_store_hashes_and_paths_are_refused() {
    let server = MockServer::start().await;
    let client = client(&server);
    let err = client
        .store("ab/../cd", TOKEN)
        .get::<Value>("/v3/hooks")
        .await
        .expect_err("bad hash");
    assert!(matches!(err, ApiError::InvalidRequest(_)), "{err:?}");
    let err = client
        .store(STORE, TOKEN)
        .get::<Value>("/v3/../../x")
        .await
        .expect_err("bad path");
    assert!(matches!(err, ApiError::InvalidRequest(_)), "{err:?}");
    assert!(server
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty());
}

#[tokio::test]
async fn a_capped_rate_limit_wait_gives_up_at_once_and_keeps_the_store_paused() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(api("/v2/orders/1")))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("X-Rate-Limit-Time-Reset-Ms", "3000")
                .insert_header("X-Rate-Limit-Requests-Left", "0"),
        )
        .mount(&server)
        .await;
    let capped = store(&server).with_max_rate_limit_wait(Duration::from_millis(250));
    let started = Instant::now();
    let err = capped
        .get::<Value>("/v2/orders/1")
        .await
        .expect_err("rate limited");
    assert!(err.is_rate_limited(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "it did not wait"
    );
    // The pause is known: the next call gives up without sending anything.
    let err = capped
        .get::<Value>("/v2/orders/1")
        .await
        .expect_err("still paused");
    assert!(
        matches!(err, ApiError::RateLimited { attempts: 0, .. }),
        "{err}"
    );
    assert_eq!(
        received(&server, "GET", &api("/v2/orders/1")).await.len(),
        1
    );
}
