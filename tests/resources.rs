//! Typed API resources (`bigcommerce_app::resources`): the example responses of BigCommerce's
//! specs parse and round-trip, and a handler fetches the resource its event names from the local
//! BigCommerce, with a deleted one answered as `FetchError::Gone`.

use std::sync::{Arc, Mutex};

use bigcommerce_app::events::{CartCreated, OrderCreated, ProductCreated};
use bigcommerce_app::resources::{Cart, FetchError, Order, Product, Resource};
use bigcommerce_app::testing::TestApp;
use bigcommerce_app::{webhook_handler, App, HandlerError, State, Tenant};
use bigcommerce_app_emulator::Resource as Served;
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/resources/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `null` and absent mean the same to an optional field, which the round trip leaves out.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

fn round_trip<R: Resource + serde::Serialize>(name: &str) -> R {
    let sent = fixture(name);
    let parsed: R = serde_json::from_value(sent.clone())
        .unwrap_or_else(|e| panic!("{name}: the spec's example does not parse: {e}"));
    let written = serde_json::to_value(&parsed).unwrap();
    assert_eq!(
        without_nulls(written),
        without_nulls(sent),
        "{name}: a field was lost or changed"
    );
    parsed
}

#[test]
fn the_specs_example_order_parses_and_round_trips() {
    let order: Order = round_trip("order");
    assert_eq!(order.id, 218);
    // Money keeps the exact text the v2 API sends.
    assert_eq!(order.subtotal_inc_tax.unwrap().as_str(), "67.8400");
    assert_eq!(order.status.as_deref(), Some("Awaiting Payment"));
}

#[test]
fn the_specs_example_product_parses_and_round_trips() {
    let product: Product = round_trip("product");
    assert_eq!(product.id, 174);
    assert_eq!(product.price.unwrap().as_str(), "7.95");
}

#[test]
fn the_specs_example_cart_parses_and_round_trips() {
    let cart: Cart = round_trip("cart");
    let items = cart.line_items.unwrap().physical_items.unwrap();
    assert_eq!(items[0].product_id, Some(12));
}

#[test]
fn ids_as_strings_and_unknown_fields_are_accepted() {
    let order: Order = serde_json::from_value(json!({
        "id": "218", "customer_id": "11", "total_inc_tax": 12.5, "brand_new_field": [1]
    }))
    .unwrap();
    assert_eq!((order.id, order.customer_id), (218, Some(11)));
    assert_eq!(order.total_inc_tax.unwrap().as_str(), "12.5");
    assert_eq!(order.extra["brand_new_field"], json!([1]));
    let err = serde_json::from_value::<Order>(json!({"status": "Shipped"})).unwrap_err();
    assert!(err.to_string().contains("missing field `id`"), "{err}");
}

/// What the handlers fetched, or `gone <kind> <id>`.
#[derive(Clone, Default)]
struct Fetched(Arc<Mutex<Vec<String>>>);

impl Fetched {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }
}

#[webhook_handler("store/order/created")]
async fn order_created(
    event: OrderCreated,
    tenant: Tenant,
    State(fetched): State<Fetched>,
) -> Result<(), HandlerError> {
    match tenant.fetch::<Order>(event.id).await {
        Ok(order) => fetched.push(format!(
            "order {} {}",
            order.id,
            order
                .total_inc_tax
                .map(|t| t.to_string())
                .unwrap_or_default()
        )),
        Err(FetchError::Gone { resource, id, .. }) => fetched.push(format!("gone {resource} {id}")),
        Err(other) => return Err(HandlerError::retryable(other)),
    }
    Ok(())
}

#[webhook_handler("store/product/created")]
async fn product_created(
    event: ProductCreated,
    tenant: Tenant,
    State(fetched): State<Fetched>,
) -> Result<(), HandlerError> {
    let product = tenant.fetch::<Product>(event.id).await?;
    fetched.push(format!(
        "product {} {}",
        product.id,
        product.name.unwrap_or_default()
    ));
    Ok(())
}

#[webhook_handler("store/cart/created")]
async fn cart_created(
    event: CartCreated,
    tenant: Tenant,
    State(fetched): State<Fetched>,
) -> Result<(), HandlerError> {
    let cart = tenant.fetch::<Cart>(&event.id).await?;
    let lines = cart
        .line_items
        .and_then(|l| l.physical_items)
        .map_or(0, |items| items.len());
    fetched.push(format!("cart {} {lines}", cart.id));
    Ok(())
}

#[tokio::test]
async fn handlers_fetch_what_their_event_names_and_a_deleted_order_is_gone() {
    let fetched = Fetched::default();
    let app = App::empty()
        .handler(order_created)
        .handler(product_created)
        .handler(cart_created)
        .state(fetched.clone())
        .build()
        .unwrap();
    let test = TestApp::start(app, &[("alpha", &[1])]).await.unwrap();
    test.install("alpha").await.unwrap();
    test.emulator()
        .set_missing("alpha", Served::Order, "404")
        .unwrap();
    for (scope, data) in [
        ("store/order/created", json!({"type": "order", "id": 7})),
        ("store/order/created", json!({"type": "order", "id": 404})),
        ("store/product/created", json!({"type": "product", "id": 9})),
        (
            "store/cart/created",
            json!({"type": "cart", "id": "41696c19-486f-40a8-ae2a-389d5d24e0c9"}),
        ),
    ] {
        test.trigger("alpha", scope, None, Some(data))
            .await
            .unwrap();
    }
    test.wait_idle().await.unwrap();
    let mut lines = fetched.0.lock().unwrap().clone();
    lines.sort();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[0], "cart 41696c19-486f-40a8-ae2a-389d5d24e0c9 1");
    assert_eq!(lines[1], "gone Order 404");
    assert!(lines[2].starts_with("order 7 "), "{lines:?}");
    assert_eq!(lines[3], "product 9 Sample product 9");
    test.stop().await.unwrap();
}
