//! The router: which handlers an event reaches, per tenant, and what the app subscribes to.

use std::sync::{Arc, Mutex};

use bigcommerce_app::events::Scope;
use bigcommerce_app::events::{ChannelOrderEvent, OrderEvent, ResourceRef};
use bigcommerce_app::{
    webhook_handler, App, ChannelId, DispatchError, Envelope, Event, HandlerError, Meta, Outcome,
    Route, State, StaticTenants, StoreHash, Tenant,
};
use serde_json::json;

/// One handler call: (handler, store, variant, channel).
type Sighting = (String, String, String, Option<u64>);

/// What handlers saw.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Sighting>>>);

impl Seen {
    fn push(&self, handler: &str, tenant: &Tenant, variant: &str, channel: Option<ChannelId>) {
        self.0.lock().unwrap().push((
            handler.to_owned(),
            tenant.store_hash().to_string(),
            variant.to_owned(),
            channel.map(|c| c.0),
        ));
    }
    fn take(&self) -> Vec<Sighting> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
    fn handlers(&self) -> Vec<String> {
        let mut names: Vec<String> = self.take().into_iter().map(|s| s.0).collect();
        names.sort();
        names
    }
}

#[webhook_handler("store/order/created")]
async fn exact(
    order: ResourceRef,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    seen.push(
        "exact",
        &tenant,
        &format!("OrderCreated#{}", order.id),
        None,
    );
    Ok(())
}

#[webhook_handler("store/order/*")]
async fn wildcard(
    event: OrderEvent,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    seen.push("wildcard", &tenant, &format!("{:?}", event.scope()), None);
    Ok(())
}

#[webhook_handler("store/channel/<id>/order/*")]
async fn any_channel(
    State(seen): State<Seen>,
    channel: ChannelId,
    event: ChannelOrderEvent,
    tenant: Tenant,
) -> Result<(), HandlerError> {
    seen.push(
        "any_channel",
        &tenant,
        &format!("{:?}", event.scope()),
        Some(channel),
    );
    Ok(())
}

#[webhook_handler("store/channel/2/order/created")]
async fn channel_two(
    event: Event,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    seen.push(
        "channel_two",
        &tenant,
        event.variant_name(),
        event.channel_id(),
    );
    Ok(())
}

#[webhook_handler("store/channel/*/inventory/product/*")]
async fn all_channels(
    event: Event,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    seen.push("all_channels", &tenant, event.variant_name(), None);
    Ok(())
}

#[webhook_handler("*")]
async fn catch_all(
    event: Event,
    meta: Meta,
    tenant: Tenant,
    State(seen): State<Seen>,
) -> Result<(), HandlerError> {
    assert_eq!(meta.store_hash, *tenant.store_hash());
    seen.push(
        "catch_all",
        &tenant,
        event.variant_name(),
        event.channel_id(),
    );
    Ok(())
}

fn app(seen: &Seen) -> App {
    App::empty()
        .handler(exact)
        .handler(wildcard)
        .handler(any_channel)
        .handler(channel_two)
        .handler(all_channels)
        .handler(catch_all)
        .state(seen.clone())
        .tenants(StaticTenants::new([
            Tenant::new(StoreHash::new("aaa").unwrap(), 1),
            Tenant::new(StoreHash::new("bbb").unwrap(), 4),
        ]))
        .build()
        .expect("app builds")
}

fn envelope(store: &str, scope: &str, data: serde_json::Value) -> Envelope {
    let body = json!({
        "scope": scope, "store_id": "1", "producer": format!("stores/{store}"),
        "hash": "h1", "created_at": 1, "data": data,
    });
    Envelope::from_slice(body.to_string().as_bytes()).expect("valid envelope")
}

#[tokio::test]
async fn routing_matrix() {
    let seen = Seen::default();
    let app = app(&seen);
    let cases: &[(&str, serde_json::Value, &[&str])] = &[
        (
            "store/order/created",
            json!({"id": 1}),
            &["catch_all", "exact", "wildcard"],
        ),
        (
            "store/order/statusUpdated",
            json!({"id": 1, "status": {"previous_status_id": 1, "new_status_id": 2}}),
            &["catch_all", "wildcard"],
        ),
        (
            "store/channel/1/order/created",
            json!({"order_id": 1}),
            &["any_channel", "catch_all"],
        ),
        (
            "store/channel/2/order/created",
            json!({"order_id": 1}),
            &["any_channel", "catch_all", "channel_two"],
        ),
        (
            "store/channel/2/order/updated",
            json!({"order_id": 1}),
            &["any_channel", "catch_all"],
        ),
        (
            "store/channel/*/inventory/product/low_stock_reached",
            json!({"product_id": 1, "location_id": 2}),
            &["all_channels", "catch_all"],
        ),
        ("store/cart/created", json!({"id": "c"}), &["catch_all"]),
        ("store/never/heard/of", json!({}), &["catch_all"]),
        ("store/channel/5/never/heard", json!({}), &["catch_all"]),
    ];
    for (scope, data, expected) in cases {
        let dispatched = app
            .dispatch(envelope("aaa", scope, data.clone()))
            .await
            .expect("dispatched");
        assert!(dispatched.all_succeeded(), "{scope}: {dispatched:?}");
        assert_eq!(seen.handlers(), *expected, "{scope}");
        assert_eq!(dispatched.outcomes.len(), expected.len());
    }
}

#[tokio::test]
async fn handlers_receive_their_typed_arguments() {
    let seen = Seen::default();
    let app = app(&seen);
    app.dispatch(envelope(
        "aaa",
        "store/channel/7/order/refund/created",
        json!({"order_id": 3}),
    ))
    .await
    .unwrap();
    let mut got = seen.take();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "any_channel".into(),
                "aaa".into(),
                "ChannelOrderRefundCreated".into(),
                Some(7)
            ),
            (
                "catch_all".into(),
                "aaa".into(),
                "ChannelOrderRefundCreated".into(),
                Some(7)
            ),
        ]
    );
}

#[tokio::test]
async fn each_tenant_gets_its_own_context() {
    let seen = Seen::default();
    let app = app(&seen);
    for store in ["aaa", "bbb"] {
        app.dispatch(envelope(store, "store/order/created", json!({"id": 9})))
            .await
            .unwrap();
    }
    let stores: Vec<_> = seen
        .take()
        .into_iter()
        .filter(|s| s.0 == "exact")
        .map(|s| s.1)
        .collect();
    assert_eq!(stores, ["aaa", "bbb"]);

    let err = app
        .dispatch(envelope("zzz", "store/order/created", json!({"id": 9})))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DispatchError::UnknownTenant(ref s) if s.as_str() == "zzz"),
        "{err}"
    );
    assert!(
        seen.take().is_empty(),
        "no handler runs for an unknown producer"
    );

    // A tenant of another store is refused too.
    let err = app
        .dispatch_to(
            envelope("aaa", "store/order/created", json!({"id": 9})),
            Tenant::new(StoreHash::new("bbb").unwrap(), 4),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, DispatchError::TenantMismatch { .. }));
    assert!(seen.take().is_empty());
}

#[webhook_handler("store/cart/abandoned")]
async fn fails(_cart: bigcommerce_app::events::CartAbandoned) -> Result<(), std::io::Error> {
    Err(std::io::Error::other("BigCommerce timed out"))
}

#[webhook_handler("store/cart/abandoned")]
async fn refuses(_event: Event) -> Result<(), HandlerError> {
    Err(HandlerError::permanent(
        "cart belongs to a deleted customer",
    ))
}

#[webhook_handler("store/cart/abandoned")]
async fn panics(_event: Event) -> Result<(), HandlerError> {
    panic!("handler bug")
}

#[webhook_handler("store/cart/abandoned")]
async fn succeeds(_event: Event) -> Result<(), HandlerError> {
    Ok(())
}

#[tokio::test]
async fn every_outcome_is_reported_and_a_panic_stops_nothing() {
    let app = App::empty()
        .handler(fails)
        .handler(refuses)
        .handler(panics)
        .handler(succeeds)
        .build()
        .unwrap();
    let tenant = Tenant::new(StoreHash::new("aaa").unwrap(), 1);
    let dispatched = app
        .dispatch_to(
            envelope("aaa", "store/cart/abandoned", json!({"id": "c"})),
            tenant,
        )
        .await
        .unwrap();
    let outcomes: Vec<(&str, bool, bool)> = dispatched
        .outcomes
        .iter()
        .map(|o| {
            (
                o.handler.rsplit("::").next().unwrap(),
                o.outcome.is_success(),
                o.outcome.is_retryable(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("fails", false, true),
            ("refuses", false, false),
            ("panics", false, true),
            ("succeeds", true, false)
        ]
    );
    assert!(matches!(&dispatched.outcomes[2].outcome, Outcome::Panicked(m) if m == "handler bug"));
    // Without a tenant lookup, dispatch says so instead of guessing.
    let err = app
        .dispatch(envelope("aaa", "store/cart/abandoned", json!({"id": "c"})))
        .await
        .unwrap_err();
    assert!(matches!(err, DispatchError::NoTenantLookup));
}

#[test]
fn missing_state_is_a_build_error() {
    let err = App::empty()
        .handler(exact)
        .build()
        .err()
        .expect("no Seen state");
    assert!(err.to_string().contains("Seen"), "{err}");
}

#[test]
fn registered_handlers_are_collected_automatically() {
    let app = App::builder().state(Seen::default()).build().unwrap();
    let names: Vec<&str> = app
        .routes()
        .iter()
        .map(|r| r.name.rsplit("::").next().unwrap())
        .collect();
    for expected in [
        "exact",
        "wildcard",
        "any_channel",
        "channel_two",
        "all_channels",
        "catch_all",
        "fails",
    ] {
        assert!(names.contains(&expected), "{expected} not in {names:?}");
    }
    // Adding one again explicitly does not register it twice.
    let again = App::builder()
        .handler(exact)
        .state(Seen::default())
        .build()
        .unwrap();
    assert_eq!(again.routes().len(), app.routes().len());
}

#[tokio::test]
async fn handler_functions_stay_callable() {
    let seen = Seen::default();
    let order = ResourceRef {
        kind: None,
        id: 5,
        extra: Default::default(),
    };
    exact::call(
        order,
        Tenant::new(StoreHash::new("aaa").unwrap(), 1),
        State(seen.clone()),
    )
    .await
    .unwrap();
    assert_eq!(seen.take()[0].2, "OrderCreated#5");
}

fn subscriptions(app: &App) -> Vec<String> {
    let mut list: Vec<String> = app.subscriptions().iter().map(|s| s.to_string()).collect();
    list.sort();
    list
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    list.sort();
    list
}

/// A route without a macro, to state subscription cases compactly.
fn route(
    pattern: &'static str,
    scopes: &'static [Scope],
    channel: Option<u64>,
    spelled_as: Option<Scope>,
) -> Route {
    Route {
        name: pattern,
        pattern,
        scopes,
        catch_all: false,
        channel,
        wildcard: spelled_as,
        state_types: Vec::new,
        call: |_| Box::pin(async { Ok(()) }),
    }
}

#[test]
fn subscriptions_are_the_fewest_scopes_covering_all_handlers() {
    // exact + wildcard -> the wildcard; the channel-2 handler is inside the channel template;
    // `store/channel/*/inventory/product/*` has no BigCommerce wildcard -> its four scopes;
    // the catch-all adds nothing.
    assert_eq!(
        subscriptions(&app(&Seen::default())),
        sorted(&[
            "store/order/*",
            "store/channel/{channel_id}/order/*",
            "store/channel/*/inventory/product/low_stock_reached",
            "store/channel/*/inventory/product/out_of_stock_reached",
            "store/channel/*/inventory/product/settings_changed",
            "store/channel/*/inventory/product/stock_changed",
        ])
    );
}

#[test]
fn handlers_covering_a_whole_wildcard_subscribe_to_it() {
    let app = App::empty()
        .handler(route("a", &[Scope::CartLineItemCreated], None, None))
        .handler(route(
            "b",
            &[Scope::CartLineItemUpdated, Scope::CartLineItemDeleted],
            None,
            None,
        ))
        .handler(route("c", &[Scope::CartCreated], None, None))
        .build()
        .unwrap();
    assert_eq!(
        subscriptions(&app),
        sorted(&["store/cart/lineItem/*", "store/cart/created"])
    );

    // A wider wildcard swallows a narrower one.
    let app = App::empty()
        .handler(route(
            "a",
            &[Scope::CartLineItemCreated],
            None,
            Some(Scope::CartLineItemAll),
        ))
        .handler(route(
            "b",
            Scope::CartAll.members(),
            None,
            Some(Scope::CartAll),
        ))
        .build()
        .unwrap();
    assert_eq!(subscriptions(&app), sorted(&["store/cart/*"]));
}

#[test]
fn fixed_channels_and_templates() {
    let app = App::empty()
        .handler(route("one", &[Scope::ChannelCartCreated], Some(1), None))
        .handler(route("two", &[Scope::ChannelCartCreated], Some(2), None))
        .build()
        .unwrap();
    assert_eq!(
        subscriptions(&app),
        sorted(&[
            "store/channel/1/cart/created",
            "store/channel/2/cart/created"
        ])
    );
    let subs = app.subscriptions();
    assert!(subs.iter().all(|s| !s.is_channel_template()));

    let app = App::empty()
        .handler(route("one", &[Scope::ChannelCartCreated], Some(1), None))
        .handler(route("any", &[Scope::ChannelCartCreated], None, None))
        .build()
        .unwrap();
    let subs = app.subscriptions();
    assert_eq!(subs.len(), 1, "{subs:?}");
    assert!(subs[0].is_channel_template());
    assert_eq!(
        subs[0].for_channel(ChannelId(3)),
        "store/channel/3/cart/created"
    );
}
