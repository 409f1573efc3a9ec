//! Typed API resources (`bigcommerce_app::resources`): the example responses of BigCommerce's
//! specs parse and round-trip, and a handler fetches the resource its event names from the local
//! BigCommerce, with a deleted one answered as `ResourceError::Gone`.

use std::sync::{Arc, Mutex};

use bigcommerce_app::events::{CartCreated, OrderCreated, ProductCreated};
use bigcommerce_app::resources::{
    Brand, BrandMetafield, Cart, Category, CategoryMetafield, CategoryTree, CategoryTreeNode,
    Channel, Customer, CustomerAddress, InventoryItem, InventoryLocation,
    InventoryLocationMetafield, Order, OrderCoupon, OrderMetafield, OrderProduct,
    OrderShippingAddress, PaymentTransaction, PriceList, Product, ProductMetafield, ProductVariant,
    Refund, Resource, ResourceError, Shipment, StoreInformation, Subscriber,
};
use bigcommerce_app::resources::{
    BrandUpdate, ChannelCreate, ChannelFilter, InventoryItemFilter, InventoryLocationFilter,
    OrderFilter, OrderUpdate, ProductCreate, ProductFilter, ProductUpdate, ShipmentCreate,
};
use bigcommerce_app::resources::{
    CartMetafield, ChannelMetafield, StoreMetafield, VariantMetafield, VariantMetafieldFilter,
};
use bigcommerce_app::testing::TestApp;
use bigcommerce_app::Decimal;
use bigcommerce_app::{webhook_handler, App, AppBuilder, HandlerError, State, Tenant};
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

/// The other example answers of a resource's operations in its spec (its list, create and
/// update, further named examples), each parsed and round-tripped; how many there were.
fn round_trip_more<R: Resource + serde::Serialize>(name: &str) -> usize {
    let path = format!(
        "{}/tests/fixtures/resources/more/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let Ok(text) = std::fs::read_to_string(&path) else {
        return 0;
    };
    let entries: Vec<Value> = serde_json::from_str(&text).unwrap();
    for entry in &entries {
        let sent = entry["example"].clone();
        let what = format!("{name}, {}", entry["operation"]);
        let parsed: R = serde_json::from_value(sent.clone())
            .unwrap_or_else(|e| panic!("{what}: the spec's example does not parse: {e}"));
        let written = serde_json::to_value(&parsed).unwrap();
        assert_eq!(
            without_nulls(written),
            without_nulls(sent),
            "{what}: a field was lost or changed"
        );
    }
    entries.len()
}

/// Every resource of resources.json, with the fixture the tool wrote from its spec.
macro_rules! every_resource {
    ($($fixture:literal => $ty:ty),* $(,)?) => {
        #[test]
        fn every_specs_example_parses_and_round_trips() {
            $(round_trip::<$ty>($fixture);)*
            let more = 0 $(+ round_trip_more::<$ty>($fixture))*;
            // The tool found this many in the specs (tests/fixtures/resources/more/).
            assert_eq!(more, 59, "example answers beyond the first of each resource");
        }

        #[test]
        fn the_round_trip_test_covers_every_resource() {
            let tested = [$(<$ty as Resource>::NAME),*];
            let listed = bigcommerce_app_catalogue::bundled_resources().unwrap();
            let listed: Vec<&str> = listed.resources.iter().map(|r| r.name.as_str()).collect();
            assert_eq!(tested.as_slice(), listed.as_slice());
        }
    };
}

every_resource! {
    "order" => Order,
    "order_product" => OrderProduct,
    "order_shipping_address" => OrderShippingAddress,
    "shipment" => Shipment,
    "product" => Product,
    "product_variant" => ProductVariant,
    "category" => Category,
    "brand" => Brand,
    "customer" => Customer,
    "customer_address" => CustomerAddress,
    "subscriber" => Subscriber,
    "cart" => Cart,
    "channel" => Channel,
    "price_list" => PriceList,
    "refund" => Refund,
    "order_metafield" => OrderMetafield,
    "product_metafield" => ProductMetafield,
    "category_metafield" => CategoryMetafield,
    "brand_metafield" => BrandMetafield,
    "store_information" => StoreInformation,
    "order_coupon" => OrderCoupon,
    "payment_transaction" => PaymentTransaction,
    "inventory_location" => InventoryLocation,
    "inventory_item" => InventoryItem,
    "category_tree" => CategoryTree,
    "category_tree_node" => CategoryTreeNode,
    "store_metafield" => StoreMetafield,
    "variant_metafield" => VariantMetafield,
    "channel_metafield" => ChannelMetafield,
    "cart_metafield" => CartMetafield,
    "inventory_location_metafield" => InventoryLocationMetafield,
}

#[test]
fn a_category_tree_holds_itself_and_an_inventory_item_has_no_id() {
    // A tree's categories nest to any depth: the type holds itself through `children`.
    let node: CategoryTreeNode = serde_json::from_value(json!({
        "id": 1, "name": "Bath", "children": [
            {"id": 2, "parent_id": 1, "children": [{"id": 3, "parent_id": 2, "children": []}]}
        ]
    }))
    .unwrap();
    let child = &node.children.as_ref().unwrap()[0];
    let grandchild = &child.children.as_ref().unwrap()[0];
    assert_eq!(
        (child.id, grandchild.id, grandchild.parent_id),
        (2, 3, Some(2))
    );
    // The inventory list's items are a variant's identity and its stock per location.
    let item: InventoryItem = round_trip("inventory_item");
    let identity = item.identity.unwrap();
    assert_eq!(
        (identity.product_id, identity.variant_id),
        (Some(120), Some(79))
    );
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

/// What a test's handlers saw, one line each (what they fetched, or `gone <kind> <id>`).
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }
}

/// Runs `app` (its handlers sharing one [`Seen`]) for store `alpha` with `channels`, sends it
/// `events` (scope, channel, data) and waits until they are handled; gives the running app and
/// what its handlers saw, sorted.
async fn handled(
    app: AppBuilder,
    channels: &[u64],
    events: Vec<(&str, Option<u64>, Value)>,
) -> (TestApp, Vec<String>) {
    let seen = Seen::default();
    let app = app.state(seen.clone()).build().unwrap();
    let test = TestApp::start(app, &[("alpha", channels)]).await.unwrap();
    test.install("alpha").await.unwrap();
    for (scope, channel, data) in events {
        test.trigger("alpha", scope, channel, Some(data))
            .await
            .unwrap();
    }
    test.wait_idle().await.unwrap();
    let mut lines = seen.0.lock().unwrap().clone();
    lines.sort();
    (test, lines)
}

#[webhook_handler("store/order/created")]
async fn order_created(
    event: OrderCreated,
    tenant: Tenant,
    State(fetched): State<Seen>,
) -> Result<(), HandlerError> {
    // The handler's own argument knows its scope names an order.
    match event.fetch(&tenant).await {
        Ok(order) => fetched.push(format!(
            "order {} {}",
            order.id,
            order
                .total_inc_tax
                .map(|t| t.to_string())
                .unwrap_or_default()
        )),
        Err(ResourceError::Gone { resource, id, .. }) => {
            fetched.push(format!("gone {resource} {id}"))
        }
        Err(other) => return Err(HandlerError::retryable(other)),
    }
    Ok(())
}

#[webhook_handler("store/product/created")]
async fn product_created(
    event: ProductCreated,
    tenant: Tenant,
    State(fetched): State<Seen>,
) -> Result<(), HandlerError> {
    let product: Product = event.fetch(&tenant).await?;
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
    State(fetched): State<Seen>,
) -> Result<(), HandlerError> {
    let cart: Cart = event.fetch(&tenant).await?;
    let lines = cart
        .line_items
        .and_then(|l| l.physical_items)
        .map_or(0, |items| items.len());
    fetched.push(format!("cart {} {lines}", cart.id));
    Ok(())
}

#[tokio::test]
async fn handlers_fetch_what_their_event_names_and_a_deleted_order_is_gone() {
    let fetched = Seen::default();
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

#[tokio::test]
async fn every_resource_kind_is_fetched_from_the_emulator_and_a_missing_one_is_gone() {
    let test = TestApp::start(App::empty().build().unwrap(), &[("alpha", &[1])])
        .await
        .unwrap();
    test.install("alpha").await.unwrap();
    let tenant = test.tenant("alpha").await.unwrap();

    assert_eq!(tenant.fetch::<Order>(7).await.unwrap().id, 7);
    assert_eq!(tenant.fetch::<Product>(9).await.unwrap().id, 9);
    assert_eq!(tenant.fetch::<Cart>("c-1").await.unwrap().id, "c-1");
    assert_eq!(tenant.fetch::<Category>(3).await.unwrap().id, 3);
    assert_eq!(tenant.fetch::<Brand>(4).await.unwrap().id, 4);
    assert_eq!(tenant.fetch::<Customer>(5).await.unwrap().id, 5);
    assert_eq!(tenant.fetch::<Subscriber>(6).await.unwrap().id, 6);
    assert_eq!(tenant.fetch::<Channel>(1).await.unwrap().id, 1);
    let shipment: Shipment = tenant.fetch_in::<Shipment>(7, 2).await.unwrap();
    assert_eq!((shipment.id, shipment.order_id), (2, Some(7)));
    let line: OrderProduct = tenant.fetch_in::<OrderProduct>(7, 11).await.unwrap();
    assert_eq!((line.id, line.order_id), (11, Some(7)));
    let address: OrderShippingAddress = tenant.fetch_in(7, 1).await.unwrap();
    assert_eq!(address.id, 1);
    let variant: ProductVariant = tenant.fetch_in(9, 30).await.unwrap();
    assert_eq!((variant.id, variant.product_id), (30, Some(9)));
    let customer_address: CustomerAddress = tenant.fetch_in(5, 2).await.unwrap();
    assert_eq!(customer_address.customer_id, Some(5));
    assert_eq!(tenant.fetch::<PriceList>(8).await.unwrap().id, 8);
    assert_eq!(tenant.fetch::<Refund>(12).await.unwrap().id, 12);
    let metafield: ProductMetafield = tenant.fetch_in(9, 4).await.unwrap();
    assert_eq!(metafield.id, 4);
    let order_metafield: OrderMetafield = tenant.fetch_in(7, 5).await.unwrap();
    assert_eq!(order_metafield.id, 5);
    let category_metafield: CategoryMetafield = tenant.fetch_in(3, 6).await.unwrap();
    assert_eq!(category_metafield.id, 6);
    let brand_metafield: BrandMetafield = tenant.fetch_in(4, 7).await.unwrap();
    assert_eq!(brand_metafield.id, 7);
    // The same id answers the same body: the emulator's data is stable.
    assert_eq!(
        tenant.fetch::<Brand>(4).await.unwrap(),
        tenant.fetch::<Brand>(4).await.unwrap()
    );

    test.emulator()
        .set_missing("alpha", Served::Other("Brand"), "4")
        .unwrap();
    match tenant.fetch::<Brand>(4).await {
        Err(ResourceError::Gone { resource, id, .. }) => {
            assert_eq!((resource, id.as_str()), ("Brand", "4"))
        }
        other => panic!("expected Gone, got {other:?}"),
    }
    match tenant.fetch_in::<Shipment>(7, 0).await {
        Err(ResourceError::Gone { resource, id, .. }) => {
            assert_eq!((resource, id.as_str()), ("Shipment", "0 of Order 7"))
        }
        other => panic!("expected Gone, got {other:?}"),
    }
    // Gone is permanent as a handler error: the event is not retried, and the log says what
    // BigCommerce answered.
    let gone = HandlerError::from(tenant.fetch::<Order>(0).await.unwrap_err());
    assert!(!gone.is_retryable());
    let logged = gone.to_string();
    assert!(
        logged.starts_with("permanent: Order 0 is gone")
            && logged.contains("/v2/orders/0")
            && logged.contains("404"),
        "{logged}"
    );
    test.stop().await.unwrap();
}

#[webhook_handler("store/order/*")]
async fn any_order_event(
    event: bigcommerce_app::events::OrderEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let order = event.fetch(&tenant).await?;
    seen.0
        .lock()
        .unwrap()
        .push(format!("{} -> order {}", event.scope(), order.id));
    Ok(())
}

#[webhook_handler("store/shipment/*")]
async fn any_shipment_event(
    event: bigcommerce_app::events::ShipmentEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let shipment = event.fetch(&tenant).await?;
    seen.push(format!(
        "{} -> shipment {} of order {}",
        event.scope(),
        shipment.id,
        shipment.order_id.unwrap_or_default()
    ));
    Ok(())
}

#[webhook_handler("store/product/metafield/*")]
async fn any_product_metafield_event(
    event: bigcommerce_app::events::ProductMetafieldEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let metafield = event.fetch(&tenant).await?;
    seen.push(format!(
        "{} -> metafield {} of product {}",
        event.scope(),
        metafield.id,
        event.resource_id()
    ));
    Ok(())
}

#[webhook_handler("store/inventory/location/metafield/*")]
async fn any_location_metafield_event(
    event: bigcommerce_app::events::InventoryLocationMetafieldEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let metafield = event.fetch(&tenant).await?;
    seen.push(format!(
        "{} -> metafield {} of location {}",
        event.scope(),
        metafield.id,
        event.resource_id()
    ));
    Ok(())
}

#[webhook_handler("store/shipment/created")]
async fn shipment_created(
    event: bigcommerce_app::events::ShipmentCreated,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let shipment: Shipment = event.fetch(&tenant).await?;
    seen.push(format!(
        "shipment {} of order {}",
        shipment.id,
        shipment.order_id.unwrap_or_default()
    ));
    Ok(())
}

// In `store/product/*` too, but its own resource is the metafield.
#[webhook_handler("store/product/metafield/created")]
async fn product_metafield_created(
    event: bigcommerce_app::events::ProductMetafieldCreated,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let metafield: ProductMetafield = event.fetch(&tenant).await?;
    seen.push(format!(
        "metafield {} of product {}",
        metafield.id, event.resource_id
    ));
    Ok(())
}

// A line item event may leave its cart's id out: `Option<Cart>`.
#[webhook_handler("store/cart/lineItem/created")]
async fn cart_line_item_created(
    event: bigcommerce_app::events::CartLineItemCreated,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let cart: Option<Cart> = event.fetch(&tenant).await?;
    seen.push(match cart {
        Some(cart) => format!("line item {} of cart {}", event.id, cart.id),
        None => format!("line item {} of no cart", event.id),
    });
    Ok(())
}

// The payload struct named after its one scope fetches too.
#[webhook_handler("store/order/statusUpdated")]
async fn order_status_updated(
    event: bigcommerce_app::events::OrderStatusUpdated,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let order: Order = event.fetch(&tenant).await?;
    seen.push(format!("status of order {}", order.id));
    Ok(())
}

#[webhook_handler("store/sku/updated")]
async fn sku_updated(
    event: bigcommerce_app::events::SkuUpdated,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let variant: ProductVariant = event.fetch(&tenant).await?;
    seen.push(format!(
        "variant {} of product {}",
        variant.id,
        variant.product_id.unwrap_or_default()
    ));
    Ok(())
}

#[webhook_handler("store/customer/address/created")]
async fn customer_address_created(
    event: bigcommerce_app::events::CustomerAddressCreated,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let address: CustomerAddress = event.fetch(&tenant).await?;
    seen.push(format!(
        "address {} of customer {}",
        address.id,
        address.customer_id.unwrap_or_default()
    ));
    Ok(())
}

#[webhook_handler("store/channel/<id>/order/created")]
async fn channel_order_created(
    event: bigcommerce_app::events::ChannelOrderCreated,
    tenant: Tenant,
    channel: bigcommerce_app::events::ChannelId,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let order: Order = event.fetch(&tenant).await?;
    seen.push(format!("order {} on channel {}", order.id, channel.0));
    Ok(())
}

#[webhook_handler("store/product/deleted")]
async fn product_deleted(
    event: bigcommerce_app::events::ProductDeleted,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    match event.fetch(&tenant).await {
        Err(ResourceError::Gone { resource, id, .. }) => seen.push(format!("gone {resource} {id}")),
        other => seen.push(format!("product {} not gone: {other:?}", event.id)),
    }
    Ok(())
}

#[tokio::test]
async fn a_scopes_own_payload_fetches_the_resource_its_event_names() {
    let app = App::empty()
        .handler(shipment_created)
        .handler(product_metafield_created)
        .handler(cart_line_item_created)
        .handler(order_status_updated)
        .handler(sku_updated)
        .handler(customer_address_created)
        .handler(channel_order_created)
        .handler(product_deleted);
    let (test, lines) = handled(
        app,
        &[1, 2],
        vec![
            (
                "store/shipment/created",
                None,
                json!({"type": "shipment", "id": 3, "orderId": 24}),
            ),
            (
                "store/product/metafield/created",
                None,
                json!({"metafield_id": 8, "resource_id": "25", "resource_type": "product"}),
            ),
            (
                "store/cart/lineItem/created",
                None,
                json!({"type": "cart_line_item", "id": "li-1", "cartId": "c-7"}),
            ),
            (
                "store/cart/lineItem/created",
                None,
                json!({"type": "cart_line_item", "id": "li-2"}),
            ),
            (
                "store/order/statusUpdated",
                None,
                json!({"type": "order", "id": 21, "status": {"previous_status_id": 0, "new_status_id": 11}}),
            ),
            (
                "store/sku/updated",
                None,
                json!({"type": "sku", "id": 30, "sku": {"product_id": 9, "variant_id": 30}}),
            ),
            (
                "store/customer/address/created",
                None,
                json!({"type": "customer", "id": 2, "address": {"customer_id": 5}}),
            ),
            (
                "store/channel/{channel_id}/order/created",
                Some(2),
                json!({"order_id": 31}),
            ),
            (
                "store/product/deleted",
                None,
                json!({"type": "product", "id": 9}),
            ),
        ],
    )
    .await;
    assert_eq!(
        lines,
        [
            "address 2 of customer 5",
            "gone Product 9",
            "line item li-1 of cart c-7",
            "line item li-2 of no cart",
            "metafield 8 of product 25",
            "order 31 on channel 2",
            "shipment 3 of order 24",
            "status of order 21",
            "variant 30 of product 9",
        ]
    );
    test.stop().await.unwrap();
}

#[tokio::test]
async fn group_enums_fetch_the_resource_their_events_name() {
    let app = App::empty()
        .handler(any_order_event)
        .handler(any_shipment_event)
        .handler(any_product_metafield_event)
        .handler(any_location_metafield_event);
    let (test, lines) = handled(
        app,
        &[1],
        vec![
            (
                "store/order/statusUpdated",
                None,
                json!({"type": "order", "id": 21, "status": {"previous_status_id": 0, "new_status_id": 11}}),
            ),
            (
                "store/order/transaction/created",
                None,
                json!({"order_id": "22", "transaction_id": "t-1"}),
            ),
            (
                "store/order/metafield/created",
                None,
                json!({"metafield_id": 5, "resource_id": "23", "resource_type": "order"}),
            ),
            (
                "store/shipment/created",
                None,
                json!({"type": "shipment", "id": 3, "orderId": 24}),
            ),
            (
                "store/product/metafield/updated",
                None,
                json!({"metafield_id": 8, "resource_id": "25", "resource_type": "product"}),
            ),
            (
                "store/inventory/location/metafield/created",
                None,
                json!({"metafield_id": 9, "resource_id": "2", "resource_type": "location"}),
            ),
        ],
    )
    .await;
    assert_eq!(
        lines,
        [
            "store/inventory/location/metafield/created -> metafield 9 of location 2",
            "store/order/metafield/created -> order 23",
            "store/order/statusUpdated -> order 21",
            "store/order/transaction/created -> order 22",
            "store/product/metafield/updated -> metafield 8 of product 25",
            "store/shipment/created -> shipment 3 of order 24",
        ]
    );
    test.stop().await.unwrap();
}

#[tokio::test]
async fn listings_walk_every_page_and_refuse_a_filter_the_spec_does_not_document() {
    use futures_util::StreamExt;

    let test = TestApp::start(App::empty().build().unwrap(), &[("alpha", &[1, 2])])
        .await
        .unwrap();
    test.install("alpha").await.unwrap();
    let tenant = test.tenant("alpha").await.unwrap();

    // v3: two pages of two, told by meta.pagination.
    let pages: Vec<_> = tenant.list::<Product>().limit(2).pages().collect().await;
    assert_eq!(pages.len(), 2);
    let products = tenant
        .list::<Product>()
        .filter(ProductFilter::IsVisible(true))
        .filter(ProductFilter::IdIn(vec![1, 2, 3]))
        .limit(2)
        .all()
        .await
        .unwrap();
    let ids: Vec<u64> = products.iter().map(|p| p.id).collect();
    assert_eq!(ids, [1, 2, 3]);

    // v2: a full page asks for the next, which answers 204 No Content.
    let orders = tenant
        .list::<Order>()
        .filter(OrderFilter::StatusId(11))
        .limit(3)
        .all()
        .await
        .unwrap();
    assert_eq!(orders.len(), 3);

    // Nested: the parent's id fills the path, and the items name it.
    let lines = tenant
        .list_in::<OrderProduct>(7)
        .limit(2)
        .all()
        .await
        .unwrap();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| l.order_id == Some(7)), "{lines:?}");

    // The store's channels, from the hand-written list.
    let channels = tenant.list::<Channel>().all().await.unwrap();
    assert_eq!(channels.iter().map(|c| c.id).collect::<Vec<_>>(), [1, 2]);

    // A parameter the spec does not document goes as given.
    let undocumented = tenant
        .list::<Product>()
        .query("colour", "red")
        .all()
        .await
        .unwrap();
    assert_eq!(undocumented.len(), 3);
    test.stop().await.unwrap();
}

#[test]
fn list_filters_are_typed_as_their_specs_say_and_sent_as_bigcommerce_takes_them() {
    use bigcommerce_app::resources::ListFilter;

    assert_eq!(
        ProductFilter::IsVisible(true).parameter(),
        ("is_visible", "true".to_owned())
    );
    // Lists are comma-separated; ids are numbers.
    assert_eq!(
        ProductFilter::IdIn(vec![1, 2]).parameter(),
        ("id:in", "1,2".to_owned())
    );
    assert_eq!(
        InventoryItemFilter::SkuIn(vec!["RE-130".into(), "RE-131".into()]).parameter(),
        ("sku:in", "RE-130,RE-131".to_owned())
    );
    // Amounts keep their exact text.
    assert_eq!(
        OrderFilter::MinTotal("12.50".parse().unwrap()).parameter(),
        ("min_total", "12.50".to_owned())
    );
    // Values the spec lists are an enum, sent as the spec spells them; `Other` sends one it
    // does not list.
    use bigcommerce_app::resources::{ChannelStatus, OrderInclude, ProductDirection, ProductSort};
    assert_eq!(
        ProductFilter::Sort(ProductSort::DateModified).parameter(),
        ("sort", "date_modified".to_owned())
    );
    assert_eq!(
        ProductFilter::Direction(ProductDirection::Desc).parameter(),
        ("direction", "desc".to_owned())
    );
    assert_eq!(
        OrderFilter::Include(vec![
            OrderInclude::ConsignmentsLineItems,
            OrderInclude::Fees
        ])
        .parameter(),
        ("include", "consignments.line_items,fees".to_owned())
    );
    assert_eq!(
        ChannelFilter::StatusIn(vec![
            ChannelStatus::Active,
            ChannelStatus::Other("paused".into())
        ])
        .parameter(),
        ("status:in", "active,paused".to_owned())
    );
}

#[tokio::test]
async fn writes_create_update_and_delete_and_later_reads_see_them() {
    let test = TestApp::start(App::empty().build().unwrap(), &[("alpha", &[1])])
        .await
        .unwrap();
    test.install("alpha").await.unwrap();
    let tenant = test.tenant("alpha").await.unwrap();

    // Create: the spec's required fields in `new`, the rest optional; the answer has them on a
    // resource with a new id, which reads and lists then show.
    let price = Decimal::try_from(7.95).unwrap();
    let mut jar = ProductCreate::new("Glass jar", "physical", 1, price);
    jar.sku = Some("JAR-1".into());
    let created: Product = tenant.create(&jar).await.unwrap();
    assert!(created.id > 3, "{}", created.id);
    assert_eq!(created.name.as_deref(), Some("Glass jar"));
    assert_eq!(created.price.as_ref().map(|p| p.as_str()), Some("7.95"));
    assert_eq!(created.sku.as_deref(), Some("JAR-1"));
    let read: Product = tenant.fetch(created.id).await.unwrap();
    assert_eq!(read, created);
    let listed = tenant.list::<Product>().all().await.unwrap();
    assert_eq!(listed.len(), 4);

    // Update: the hand-written product answers its new fields from then on.
    let rename = ProductUpdate {
        name: Some("Renamed".into()),
        ..Default::default()
    };
    let updated: Product = tenant.update(9, &rename).await.unwrap();
    assert_eq!(updated.name.as_deref(), Some("Renamed"));
    let read: Product = tenant.fetch(9).await.unwrap();
    assert_eq!(read.name.as_deref(), Some("Renamed"));

    // An update keeps what it does not change: the order's total stays as it was.
    let before: Order = tenant.fetch(7).await.unwrap();
    let shipped = OrderUpdate {
        status_id: Some(2),
        ..Default::default()
    };
    let after: Order = tenant.update(7, &shipped).await.unwrap();
    assert_eq!(after.status_id, Some(2));
    assert_eq!(after.total_inc_tax, before.total_inc_tax);
    assert_eq!(tenant.fetch::<Order>(7).await.unwrap(), after);

    // Nested: a shipment created under its order names the order.
    let tracked = ShipmentCreate {
        tracking_number: Some("1Z999".into()),
        items: Some(Vec::new()),
        ..Default::default()
    };
    let shipment: Shipment = tenant.create_in(7, &tracked).await.unwrap();
    assert_eq!(shipment.order_id, Some(7));
    assert_eq!(shipment.tracking_number.as_deref(), Some("1Z999"));

    // A created channel is one of the store's channels: listed with them, and its events go out.
    let channel: Channel = tenant
        .create(&ChannelCreate::new(
            "Pop-up shop",
            "storefront",
            "bigcommerce",
        ))
        .await
        .unwrap();
    let channels = tenant.list::<Channel>().all().await.unwrap();
    assert!(channels.iter().any(|c| c.id == channel.id), "{channels:?}");
    assert_eq!(
        test.emulator().channels("alpha").unwrap().last(),
        Some(&channel.id)
    );

    // Delete: then gone, to reads, lists and a second delete.
    tenant.delete::<Brand>(2).await.unwrap();
    assert!(matches!(
        tenant.fetch::<Brand>(2).await,
        Err(ResourceError::Gone { .. })
    ));
    let brands = tenant.list::<Brand>().all().await.unwrap();
    assert_eq!(brands.iter().map(|b| b.id).collect::<Vec<_>>(), [1, 3]);
    assert!(matches!(
        tenant.delete::<Brand>(2).await,
        Err(ResourceError::Gone { .. })
    ));
    // An update of something gone is Gone too.
    assert!(matches!(
        tenant.update::<Brand>(2, &BrandUpdate::new("x")).await,
        Err(ResourceError::Gone { .. })
    ));
    test.stop().await.unwrap();
}

/// How a test line shows an `Option` fetch: the id, or `none`.
fn shown<T>(fetched: Option<T>, id: impl Fn(&T) -> String) -> String {
    fetched.as_ref().map_or_else(|| "none".to_owned(), id)
}

#[webhook_handler("store/product/*")]
async fn any_product_event(
    event: bigcommerce_app::events::ProductEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    // A variant's metafield names no product: `None`, not an error.
    let product = event.fetch(&tenant).await?;
    seen.push(format!(
        "{} -> product {}",
        event.scope(),
        shown(product, |p| p.id.to_string())
    ));
    Ok(())
}

#[webhook_handler("store/sku/*")]
async fn any_sku_event(
    event: bigcommerce_app::events::SkuEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let variant = event.fetch(&tenant).await?;
    seen.push(format!(
        "{} -> variant {}",
        event.scope(),
        shown(variant, |v| format!(
            "{} of product {}",
            v.id,
            v.product_id.unwrap_or_default()
        ))
    ));
    Ok(())
}

#[webhook_handler("store/customer/*")]
async fn any_customer_event(
    event: bigcommerce_app::events::CustomerEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let customer = event.fetch(&tenant).await?;
    seen.push(format!("{} -> customer {}", event.scope(), customer.id));
    Ok(())
}

#[webhook_handler("store/customer/address/*")]
async fn any_customer_address_event(
    event: bigcommerce_app::events::CustomerAddressEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let address = event.fetch(&tenant).await?;
    seen.push(format!(
        "{} -> address {} of customer {}",
        event.scope(),
        address.id,
        address.customer_id.unwrap_or_default()
    ));
    Ok(())
}

#[webhook_handler("store/cart/*")]
async fn any_cart_event(
    event: bigcommerce_app::events::CartEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    // A line item event may leave its cart's id out: then `None`.
    let cart = event.fetch(&tenant).await?;
    seen.push(format!(
        "{} -> cart {}",
        event.scope(),
        shown(cart, |c| c.id.clone())
    ));
    Ok(())
}

#[webhook_handler("store/channel/<id>/category/*")]
async fn any_channel_category_event(
    event: bigcommerce_app::events::ChannelCategoryEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let category = event.fetch(&tenant).await?;
    seen.push(format!(
        "{} -> category {}",
        event.scope(),
        shown(category, |c| c.id.to_string())
    ));
    Ok(())
}

#[tokio::test]
async fn groups_with_events_naming_other_resources_fetch_where_they_can() {
    let app = App::empty()
        .handler(any_product_event)
        .handler(any_sku_event)
        .handler(any_customer_event)
        .handler(any_customer_address_event)
        .handler(any_cart_event)
        .handler(any_channel_category_event);
    let (test, lines) = handled(
        app,
        &[1],
        vec![
            (
                "store/product/updated",
                None,
                json!({"type": "product", "id": 31}),
            ),
            (
                "store/product/metafield/created",
                None,
                json!({"metafield_id": 2, "resource_id": "32", "resource_type": "product"}),
            ),
            (
                "store/product/variant/metafield/created",
                None,
                json!({"metafield_id": 3, "resource_id": "77", "resource_type": "variant"}),
            ),
            (
                "store/sku/updated",
                None,
                json!({"type": "sku", "id": 40, "sku": {"product_id": 33, "variant_id": 41}}),
            ),
            (
                "store/sku/inventory/updated",
                None,
                json!({"type": "sku", "id": 42, "inventory": {"product_id": 34, "method": "absolute", "value": 5}}),
            ),
            (
                "store/customer/address/updated",
                None,
                json!({"type": "customer", "id": 51, "address": {"customer_id": 35}}),
            ),
            (
                "store/customer/channel/login/access/updated",
                None,
                json!({"customer_id": 36, "channel_ids": [1]}),
            ),
            (
                "store/cart/converted",
                None,
                json!({"type": "cart", "id": "c-9", "orderId": 60}),
            ),
            (
                "store/cart/lineItem/created",
                None,
                json!({"type": "cart_line_item", "id": "li-1", "cartId": "c-10"}),
            ),
            (
                "store/cart/lineItem/deleted",
                None,
                json!({"type": "cart_line_item", "id": "li-2"}),
            ),
            (
                "store/channel/{channel_id}/category/updated",
                Some(1),
                json!({"category_id": 37, "tree_id": 1}),
            ),
            (
                "store/channel/{channel_id}/category/product/assigned",
                Some(1),
                json!({"product_id": 38}),
            ),
        ],
    )
    .await;
    assert_eq!(
        lines,
        [
            "store/cart/converted -> cart c-9",
            "store/cart/lineItem/created -> cart c-10",
            "store/cart/lineItem/deleted -> cart none",
            "store/channel/{channel_id}/category/product/assigned -> category none",
            "store/channel/{channel_id}/category/updated -> category 37",
            "store/customer/address/updated -> address 51 of customer 35",
            "store/customer/address/updated -> customer 35",
            "store/customer/channel/login/access/updated -> customer 36",
            "store/product/metafield/created -> product 32",
            "store/product/updated -> product 31",
            "store/product/variant/metafield/created -> product none",
            "store/sku/inventory/updated -> variant none",
            "store/sku/updated -> variant 41 of product 33",
        ]
    );
    test.stop().await.unwrap();
}

#[tokio::test]
async fn the_store_information_and_resources_the_api_only_lists() {
    let test = TestApp::start(App::empty().build().unwrap(), &[("alpha", &[1])])
        .await
        .unwrap();
    test.install("alpha").await.unwrap();
    let tenant = test.tenant("alpha").await.unwrap();

    // The store's one, known by its hash.
    let store: StoreInformation = tenant.fetch_singleton().await.unwrap();
    assert_eq!(store.id, "alpha");

    // Listed only, under their parent or not, with the filters their specs document.
    let coupons = tenant.list_in::<OrderCoupon>(7).all().await.unwrap();
    assert_eq!(coupons.len(), 3);
    assert!(coupons.iter().all(|c| c.order_id == Some(7)), "{coupons:?}");
    let transactions = tenant
        .list_in::<PaymentTransaction>(7)
        .limit(2)
        .all()
        .await
        .unwrap();
    assert_eq!(transactions.len(), 3);
    assert!(
        transactions
            .iter()
            .all(|t| t.order_id.as_deref() == Some("7")),
        "{transactions:?}"
    );
    let locations = tenant
        .list::<InventoryLocation>()
        .filter(InventoryLocationFilter::IsActive(true))
        .all()
        .await
        .unwrap();
    assert_eq!(
        locations.iter().map(|l| l.id).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    let items = tenant
        .list::<InventoryItem>()
        .filter(InventoryItemFilter::ProductIdIn(vec![120, 121]))
        .all()
        .await
        .unwrap();
    assert_eq!(items.len(), 3);
    let trees = tenant.list::<CategoryTree>().all().await.unwrap();
    let nodes = tenant
        .list_in::<CategoryTreeNode>(trees[0].id)
        .all()
        .await
        .unwrap();
    assert!(nodes.iter().all(|n| n.id > 0), "{nodes:?}");

    // A location's metafield is fetched under it, from its event too.
    let metafield: InventoryLocationMetafield = tenant.fetch_in(2, 5).await.unwrap();
    assert_eq!(metafield.id, 5);
    test.stop().await.unwrap();
}

#[webhook_handler("store/product/*")]
async fn product_as_fetched(
    event: bigcommerce_app::events::ProductEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let line = match event.fetch(&tenant).await {
        Ok(Some(product)) => format!(
            "{} {}: {}",
            event.scope(),
            product.id,
            product.name.unwrap_or_default()
        ),
        Ok(None) => format!("{} names no product", event.scope()),
        Err(ResourceError::Gone { id, .. }) => format!("{} {id}: gone", event.scope()),
        Err(other) => return Err(other.into()),
    };
    seen.push(line);
    Ok(())
}

#[tokio::test]
async fn the_emulators_resources_follow_the_events_it_fires() {
    let seen = Seen::default();
    let app = App::empty()
        .handler(product_as_fetched)
        .state(seen.clone())
        .build()
        .unwrap();
    let test = TestApp::start(app, &[("alpha", &[1])]).await.unwrap();
    test.install("alpha").await.unwrap();
    let tenant = test.tenant("alpha").await.unwrap();
    let product = |id: u64| json!({"type": "product", "id": id});

    // An edit: the handler of `store/product/updated` fetches the new name.
    let mut changes = serde_json::Map::new();
    changes.insert("name".into(), json!("Blue glass jar"));
    test.change("alpha", "store/product/updated", None, product(9), changes)
        .await
        .unwrap();
    test.wait_idle().await.unwrap();
    // Deleted: the handler, and any later fetch, find it gone; created again, it is back.
    test.trigger("alpha", "store/product/deleted", None, Some(product(10)))
        .await
        .unwrap();
    test.wait_idle().await.unwrap();
    assert!(matches!(
        tenant.fetch::<Product>(10).await,
        Err(ResourceError::Gone { .. })
    ));
    test.trigger("alpha", "store/product/created", None, Some(product(10)))
        .await
        .unwrap();
    test.wait_idle().await.unwrap();
    assert_eq!(
        seen.0.lock().unwrap().clone(),
        [
            "store/product/updated 9: Blue glass jar",
            "store/product/deleted 10: gone",
            "store/product/created 10: Sample product 10",
        ]
    );

    // A nested resource: a customer's address deleted by its event is gone under its customer.
    test.trigger(
        "alpha",
        "store/customer/address/deleted",
        None,
        Some(json!({"type": "customer", "id": 4, "address": {"customer_id": 5}})),
    )
    .await
    .unwrap();
    assert!(matches!(
        tenant.fetch_in::<CustomerAddress>(5, 4).await,
        Err(ResourceError::Gone { .. })
    ));
    assert!(tenant.fetch_in::<CustomerAddress>(6, 4).await.is_ok());

    // Changes go only with a resource's own `updated` event, and not to a deleted resource.
    let mut changes = serde_json::Map::new();
    changes.insert("name".into(), json!("x"));
    let error = test
        .emulator()
        .change(
            "alpha",
            "store/cart/lineItem/updated",
            None,
            json!({"type": "cart_line_item", "id": "li-1", "cartId": "c-1"}),
            changes.clone(),
        )
        .await
        .unwrap_err();
    assert!(error.to_string().contains("changes no resource"), "{error}");
    test.trigger("alpha", "store/product/deleted", None, Some(product(11)))
        .await
        .unwrap();
    let error = test
        .emulator()
        .change("alpha", "store/product/updated", None, product(11), changes)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("Product 11 is gone"), "{error}");
    test.stop().await.unwrap();
}

/// Where `body` breaks the spec's schema of the `write` (`create` or `update`) of `resource`.
fn body_violations(resource: &str, write: &str, body: &impl serde::Serialize) -> Vec<String> {
    let answers: Value =
        serde_json::from_str(include_str!("../crates/emulator/spec_answers.json")).unwrap();
    let schema = &answers["answers"][resource][format!("{write}_body")];
    assert!(
        schema.is_object(),
        "{resource}: no {write} body in the spec"
    );
    let validator = jsonschema::draft7::new(schema).unwrap();
    let body = serde_json::to_value(body).unwrap();
    validator
        .iter_errors(&body)
        .map(|e| format!("{resource} {write}{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn typed_write_bodies_are_what_the_specs_request_schemas_allow() {
    use bigcommerce_app::resources::{
        CustomerCreate, ProductCreateCustomUrl, ProductMetafieldCreate,
    };

    let price = Decimal::try_from(7.95).unwrap();
    let mut product = ProductCreate::new("Glass jar", "physical", 1, price);
    product.sku = Some("JAR-1".into());
    product.custom_url = Some(ProductCreateCustomUrl {
        url: Some("/glass-jar/".into()),
        is_customized: Some(true),
        ..Default::default()
    });
    let mut problems = body_violations("Product", "create", &product);
    let update = ProductUpdate {
        name: Some("Renamed".into()),
        is_visible: Some(false),
        ..Default::default()
    };
    problems.extend(body_violations("Product", "update", &update));
    problems.extend(body_violations(
        "Brand",
        "update",
        &BrandUpdate::new("Acme"),
    ));
    let order = OrderUpdate {
        status_id: Some(2),
        customer_message: Some("Leave at the door".into()),
        ..Default::default()
    };
    problems.extend(body_violations("Order", "update", &order));
    let shipment = ShipmentCreate {
        order_address_id: Some(1),
        tracking_number: Some("1Z999".into()),
        items: Some(Vec::new()),
        ..Default::default()
    };
    problems.extend(body_violations("Shipment", "create", &shipment));
    let metafield = ProductMetafieldCreate::new("colour", "blue", "app", "read");
    problems.extend(body_violations("ProductMetafield", "create", &metafield));
    let customer = CustomerCreate {
        first_name: Some("Jane".into()),
        last_name: Some("Doe".into()),
        ..Default::default()
    };
    problems.extend(body_violations("Customer", "create", &customer));
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The schemas hold the spec's requirements: what `new` asks for is what they require.
    let missing = body_violations("Product", "create", &json!({"sku": "JAR-1"}));
    for field in ["name", "type", "weight", "price"] {
        assert!(
            missing.iter().any(|p| p.contains(&format!("\"{field}\""))),
            "{field}: {missing:?}"
        );
    }
}

#[webhook_handler("store/category/*")]
async fn any_category_event(
    event: bigcommerce_app::events::CategoryEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let category = event.fetch(&tenant).await?;
    seen.push(format!("{} -> category {}", event.scope(), category.id));
    Ok(())
}

#[webhook_handler("store/subscriber/*")]
async fn any_subscriber_event(
    event: bigcommerce_app::events::SubscriberEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let subscriber = event.fetch(&tenant).await?;
    seen.push(format!("{} -> subscriber {}", event.scope(), subscriber.id));
    Ok(())
}

#[webhook_handler("store/brand/metafield/*")]
async fn any_brand_metafield_event(
    event: bigcommerce_app::events::BrandMetafieldEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let metafield = event.fetch(&tenant).await?;
    seen.push(format!(
        "{} -> metafield {} of brand {}",
        event.scope(),
        metafield.id,
        event.resource_id()
    ));
    Ok(())
}

#[webhook_handler("store/channel/<id>/cart/*")]
async fn any_channel_cart_event(
    event: bigcommerce_app::events::ChannelCartEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let cart = event.fetch(&tenant).await?;
    seen.push(format!("{} -> cart {}", event.scope(), cart.id));
    Ok(())
}

#[webhook_handler("store/channel/<id>/order/*")]
async fn any_channel_order_event(
    event: bigcommerce_app::events::ChannelOrderEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    let order = event.fetch(&tenant).await?;
    seen.push(format!("{} -> order {}", event.scope(), order.id));
    Ok(())
}

#[tokio::test]
async fn every_other_linked_group_fetches_its_resource() {
    let app = App::empty()
        .handler(any_category_event)
        .handler(any_subscriber_event)
        .handler(any_brand_metafield_event)
        .handler(any_channel_cart_event)
        .handler(any_channel_order_event);
    let (test, lines) = handled(
        app,
        &[1],
        vec![
            (
                "store/category/updated",
                None,
                json!({"type": "category", "id": 71}),
            ),
            (
                "store/subscriber/created",
                None,
                json!({"type": "subscriber", "id": 72}),
            ),
            (
                "store/brand/metafield/created",
                None,
                json!({"metafield_id": 3, "resource_id": "73", "resource_type": "brand"}),
            ),
            (
                "store/channel/{channel_id}/cart/lineItem/updated",
                Some(1),
                json!({"cart_id": "c-74", "cart_item_id": "li-1"}),
            ),
            (
                "store/channel/{channel_id}/order/statusUpdated",
                Some(1),
                json!({"order_id": 75}),
            ),
        ],
    )
    .await;
    assert_eq!(
        lines,
        [
            "store/brand/metafield/created -> metafield 3 of brand 73",
            "store/category/updated -> category 71",
            "store/channel/{channel_id}/cart/lineItem/updated -> cart c-74",
            "store/channel/{channel_id}/order/statusUpdated -> order 75",
            "store/subscriber/created -> subscriber 72",
        ]
    );

    // The store's own metafields are fetched like any other resource.
    let tenant = test.tenant("alpha").await.unwrap();
    let store_metafield: StoreMetafield = tenant.fetch(4).await.unwrap();
    assert_eq!(store_metafield.id, "4");
    // Variants', channels' and carts' metafields are listed store-wide, each naming its owner.
    let colours = tenant
        .list::<VariantMetafield>()
        .filter(VariantMetafieldFilter::Namespace("colours".into()))
        .all()
        .await
        .unwrap();
    assert_eq!(colours.len(), 3);
    assert!(
        colours.iter().all(|m| m.resource_id.is_some()),
        "{colours:?}"
    );
    assert_eq!(
        tenant.list::<ChannelMetafield>().all().await.unwrap().len(),
        3
    );
    assert_eq!(tenant.list::<CartMetafield>().all().await.unwrap().len(), 3);
    test.stop().await.unwrap();
}
