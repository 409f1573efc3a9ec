//! What a handler's error means for its event: `anyhow` and `eyre` handlers, `?` on
//! BigCommerce API errors (404 permanent, 5xx and 429 retryable), `.permanent()` and
//! `.retryable()`, and `tenant.api()` without credentials.

use std::collections::BTreeMap;

use anyhow::Context as _;
use bigcommerce_app::api::{ApiError, HttpMethod};
use bigcommerce_app::events::OrderCreated;
use bigcommerce_app::{
    webhook_handler, App, Envelope, HandlerError, Outcome, ResultExt, StoreHash, Tenant,
    WebhookHandler,
};
use serde_json::json;

fn api_error(status: u16) -> ApiError {
    ApiError::Status {
        method: HttpMethod::Get,
        path: "/v2/orders/7".into(),
        status,
        title: Some("The requested resource was not found.".into()),
        detail: None,
        errors: BTreeMap::new(),
        body: String::new(),
    }
}

/// The order id picks the failure: 404, 500 or 429 from the API.
#[allow(clippy::result_large_err)] // the API client's own error type, as its calls return it
fn fetch(order: &OrderCreated) -> Result<(), ApiError> {
    Err(api_error(match order.id {
        1 => 404,
        2 => 500,
        _ => 429,
    }))
}

#[webhook_handler("store/order/created")]
async fn anyhow_handler(order: OrderCreated, tenant: Tenant) -> anyhow::Result<()> {
    if order.id == 4 {
        // Without credentials: `NoApiClient`, through `?` into anyhow.
        tenant.api()?;
    }
    if order.id == 5 {
        anyhow::bail!("the shipping service is down");
    }
    fetch(&order).with_context(|| format!("fetching order {}", order.id))?;
    Ok(())
}

#[webhook_handler("store/order/created")]
async fn eyre_handler(order: OrderCreated) -> eyre::Result<()> {
    fetch(&order)?;
    Ok(())
}

#[webhook_handler("store/order/created")]
async fn question_mark_handler(order: OrderCreated) -> Result<(), HandlerError> {
    fetch(&order)?;
    Ok(())
}

/// The id says how to mark the failure: 1 permanent, 2 retryable (a 404 expected to resolve).
#[webhook_handler("store/order/created")]
async fn marked_handler(order: OrderCreated) -> Result<(), HandlerError> {
    if order.id == 1 {
        "x".parse::<u32>().permanent()?;
    }
    Err(api_error(404)).retryable()?;
    Ok(())
}

#[webhook_handler("store/order/created")]
async fn marked_in_anyhow(_order: OrderCreated) -> anyhow::Result<()> {
    let quantity: u32 = "x".parse().permanent()?;
    let _ = quantity;
    Ok(())
}

/// The outcome of `handler` for `store/order/created` with order `id`.
async fn outcome(handler: impl WebhookHandler, id: u64) -> Outcome {
    let app = App::empty().handler(handler).build().expect("app builds");
    let body = json!({
        "scope": "store/order/created", "store_id": "1", "producer": "stores/abc",
        "hash": "h", "created_at": 1, "data": {"type": "order", "id": id},
    });
    let envelope = Envelope::from_slice(body.to_string().as_bytes()).expect("envelope");
    let tenant = Tenant::new(StoreHash::new("abc").expect("store hash"), 1);
    let mut dispatched = app.dispatch_to(envelope, tenant).await.expect("dispatch");
    assert_eq!(dispatched.outcomes.len(), 1);
    dispatched.outcomes.remove(0).outcome
}

fn failure(outcome: Outcome) -> HandlerError {
    match outcome {
        Outcome::Failed(e) => e,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn anyhow_handlers_are_classified_on_their_whole_chain() {
    let not_found = failure(outcome(anyhow_handler, 1).await);
    assert!(!not_found.is_retryable(), "an API 404 is permanent");
    let text = not_found.to_string();
    assert!(
        text.contains("fetching order 1") && text.contains("answered 404"),
        "the context and the cause are kept: {text}"
    );

    let server_error = failure(outcome(anyhow_handler, 2).await);
    assert!(server_error.is_retryable(), "a 5xx is retryable");
    assert!(!server_error.is_rate_limited());

    let rate_limited = failure(outcome(anyhow_handler, 3).await);
    assert!(rate_limited.is_retryable() && rate_limited.is_rate_limited());

    let no_client = failure(outcome(anyhow_handler, 4).await);
    assert!(!no_client.is_retryable(), "no API client is permanent");
    assert!(no_client.to_string().contains("BC_CLIENT_ID"));

    let plain = failure(outcome(anyhow_handler, 5).await);
    assert!(plain.is_retryable(), "any other error is retryable");
    assert!(plain.to_string().contains("shipping service is down"));

    let marked = failure(outcome(marked_in_anyhow, 1).await);
    assert!(!marked.is_retryable(), ".permanent() survives anyhow");
}

#[tokio::test]
async fn eyre_handlers_are_classified_too() {
    assert!(!failure(outcome(eyre_handler, 1).await).is_retryable());
    assert!(failure(outcome(eyre_handler, 2).await).is_retryable());
}

#[tokio::test]
async fn api_errors_through_question_mark() {
    assert!(!failure(outcome(question_mark_handler, 1).await).is_retryable());
    assert!(failure(outcome(question_mark_handler, 2).await).is_retryable());
    let limited = failure(outcome(question_mark_handler, 3).await);
    assert!(limited.is_rate_limited());
}

#[tokio::test]
async fn marks_override_the_class() {
    let permanent = failure(outcome(marked_handler, 1).await);
    assert!(!permanent.is_retryable());
    assert!(
        permanent.to_string().contains("invalid digit"),
        "{permanent}"
    );
    let retryable = failure(outcome(marked_handler, 2).await);
    assert!(
        retryable.is_retryable(),
        "a 404 marked retryable is retried"
    );
}
