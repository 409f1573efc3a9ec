//! The generated events against the catalogue and the fixtures: every scope, every alias, every
//! concrete scope's sample payload.

use std::path::PathBuf;

use bigcommerce_app::events::ScopeKind;
use bigcommerce_app::{ChannelId, Envelope, Event, Scope};
use serde_json::Value;

fn fixture_path(scope: Scope) -> PathBuf {
    let name = scope
        .as_str()
        .replace("{channel_id}", "ID")
        .replace('*', "ALL")
        .replace('/', ".");
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/events/{name}.json"))
}

#[test]
fn every_scope_round_trips_through_its_string() {
    assert_eq!(Scope::ALL.len(), 201, "the catalogue lists 201 scopes");
    assert_eq!(
        Scope::ALL.iter().filter(|s| !s.info().wildcard).count(),
        179
    );
    for scope in Scope::ALL {
        let text = scope.to_string();
        assert_eq!(text, scope.as_str());
        assert_eq!(text.parse::<Scope>(), Ok(scope), "{text}");
        for alias in scope.info().aliases {
            assert_eq!(alias.parse::<Scope>(), Ok(scope), "alias {alias}");
        }
    }
    assert!("store/order/nothing".parse::<Scope>().is_err());
}

#[test]
fn every_concrete_scope_resolves_when_delivered() {
    for scope in Scope::ALL.into_iter().filter(|s| !s.info().wildcard) {
        let channel = (scope.info().kind == ScopeKind::ChannelTemplated).then_some(ChannelId(7));
        let delivered = scope.delivered(channel);
        assert_eq!(
            Scope::parse_delivered(&delivered),
            Some((scope, channel)),
            "{delivered}"
        );
        for alias in scope.info().aliases {
            let delivered = alias.replace("{channel_id}", "7");
            assert_eq!(
                Scope::parse_delivered(&delivered),
                Some((scope, channel)),
                "{delivered}"
            );
        }
    }
    // Wildcards are subscriptions, never deliveries.
    assert_eq!(Scope::parse_delivered("store/order/*"), None);
}

#[test]
fn every_wildcard_has_members_of_its_own_kind() {
    for wildcard in Scope::ALL.into_iter().filter(|s| s.info().wildcard) {
        let prefix = wildcard.as_str().trim_end_matches('*');
        let members = wildcard.members();
        assert!(!members.is_empty(), "{wildcard}");
        for member in members {
            assert!(
                member.as_str().starts_with(prefix),
                "{member} in {wildcard}"
            );
            assert_eq!(member.info().kind, wildcard.info().kind);
        }
    }
}

/// The async-stripe style round trip: each fixture parses into its scope's variant, and the
/// payload serializes back to exactly the JSON it came from (so every field landed somewhere
/// and kept its value).
#[test]
fn every_concrete_scope_has_a_fixture_that_round_trips() {
    let mut missing = Vec::new();
    for scope in Scope::ALL.into_iter().filter(|s| !s.info().wildcard) {
        let path = fixture_path(scope);
        let Ok(text) = std::fs::read_to_string(&path) else {
            missing.push(path.display().to_string());
            continue;
        };
        let envelope = text
            .parse::<Envelope>()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let raw: Value = serde_json::from_str(&text).expect("fixture is JSON");
        assert_eq!(envelope.event.scope(), Some(scope), "{}", path.display());
        assert_eq!(envelope.event.variant_name(), scope.info().variant);
        assert_eq!(envelope.meta.scope, raw["scope"].as_str().unwrap());
        assert_eq!(envelope.meta.hash, raw["hash"].as_str().unwrap());
        assert_eq!(envelope.meta.store_hash.as_str(), "z4zn3wo");
        match scope.info().kind {
            ScopeKind::ChannelTemplated => {
                let channel = envelope
                    .meta
                    .scope
                    .split('/')
                    .nth(2)
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(envelope.channel_id(), Some(ChannelId(channel)));
            }
            _ => assert_eq!(envelope.channel_id(), None),
        }
        assert_eq!(
            envelope.event.data_json(),
            raw["data"],
            "{}",
            path.display()
        );
    }
    assert!(missing.is_empty(), "scopes without a fixture: {missing:#?}");
}

fn parse(json: Value) -> Envelope {
    Envelope::from_slice(&serde_json::to_vec(&json).unwrap()).expect("parses")
}

fn envelope(scope: &str, data: Value) -> Value {
    serde_json::json!({
        "created_at": 1763800000, "store_id": "1025646", "producer": "stores/abc123",
        "scope": scope, "hash": "0f3c1a", "data": data,
    })
}

#[test]
fn typed_fields_have_the_documented_values() {
    let e = parse(envelope(
        "store/order/statusUpdated",
        serde_json::json!({"type": "order", "id": 250, "status": {"previous_status_id": 0, "new_status_id": 11}}),
    ));
    let Event::OrderStatusUpdated(p) = e.event else {
        panic!("{:?}", e.event)
    };
    let status = p.status.as_ref().expect("status sent");
    assert_eq!(
        (p.id, status.previous_status_id, status.new_status_id),
        (250, 0, 11)
    );
    assert_eq!(p.kind.as_deref(), Some("order"));

    let e = parse(envelope(
        "store/channel/3/cart/lineItem/created",
        serde_json::json!({"cart_id": "c1", "cart_item_id": "i1"}),
    ));
    let Event::ChannelCartLineItemCreated { channel_id, data } = e.event else {
        panic!()
    };
    assert_eq!(
        (
            channel_id,
            data.cart_id.as_str(),
            data.cart_item_id.as_str()
        ),
        (ChannelId(3), "c1", "i1")
    );

    let e = parse(envelope(
        "store/order/transaction/created",
        serde_json::json!({"order_id": "250", "transaction_id": "176342342", "result": {"code": "captured", "type": "success"}}),
    ));
    let Event::OrderTransactionCreated(p) = e.event else {
        panic!()
    };
    assert_eq!(p.order_id, "250");
    assert_eq!(
        p.result.as_ref().and_then(|r| r.kind.as_deref()),
        Some("success")
    );
}

#[test]
fn ids_and_store_id_accept_strings_and_numbers() {
    let mut json = envelope(
        "store/category/deleted",
        serde_json::json!({"type": "category", "id": "42"}),
    );
    json["store_id"] = serde_json::json!(1025646);
    json["created_at"] = serde_json::json!("1763800000");
    let e = parse(json);
    assert_eq!(e.meta.store_id, "1025646");
    assert_eq!(e.meta.created_at, Some(1763800000));
    let Event::CategoryDeleted(p) = e.event else {
        panic!()
    };
    assert_eq!(p.id, 42);

    // A string field given as a number keeps its text.
    let e = parse(envelope(
        "store/product/metafield/created",
        serde_json::json!({"metafield_id": "12", "resource_id": 118}),
    ));
    let Event::ProductMetafieldCreated(p) = e.event else {
        panic!()
    };
    assert_eq!((p.metafield_id, p.resource_id.as_str()), (12, "118"));
}

#[test]
fn unknown_fields_are_kept_not_fatal() {
    let e = parse(envelope(
        "store/order/created",
        serde_json::json!({"type": "order", "id": 1, "channel_hint": {"x": [1, 2]}, "new": true}),
    ));
    let Event::OrderCreated(p) = &e.event else {
        panic!()
    };
    assert_eq!(p.extra["channel_hint"], serde_json::json!({"x": [1, 2]}));
    assert_eq!(p.extra["new"], Value::Bool(true));
    assert_eq!(e.event.data_json()["new"], Value::Bool(true));
}

#[test]
fn optional_fields_may_be_missing_or_null() {
    let e = parse(envelope(
        "store/order/created",
        serde_json::json!({"id": 1, "type": null}),
    ));
    let Event::OrderCreated(p) = e.event else {
        panic!()
    };
    assert_eq!(p.kind, None);
    let e = parse(envelope(
        "store/cart/abandoned",
        serde_json::json!({"id": "c"}),
    ));
    let Event::CartAbandoned(p) = e.event else {
        panic!()
    };
    assert_eq!(p.token, None);
}

#[test]
fn unknown_scope_becomes_unknown_with_its_data() {
    let e = parse(envelope(
        "store/spaceship/launched",
        serde_json::json!({"id": 9}),
    ));
    assert_eq!(e.event.scope(), None);
    assert_eq!(e.event.variant_name(), "Unknown");
    let Event::Unknown { scope, data } = e.event else {
        panic!()
    };
    assert_eq!(scope, "store/spaceship/launched");
    assert_eq!(data, serde_json::json!({"id": 9}));
    // A channel scope this version does not know is unknown too, not an error.
    let e = parse(envelope(
        "store/channel/4/spaceship/launched",
        serde_json::json!({}),
    ));
    assert!(matches!(e.event, Event::Unknown { .. }));
}

#[test]
fn empty_and_array_data() {
    let e = parse(envelope(
        "store/channel/1/socialMediaLinks/updated",
        serde_json::json!({}),
    ));
    let Event::ChannelSocialMediaLinksUpdated { channel_id, data } = e.event else {
        panic!()
    };
    assert_eq!(channel_id, ChannelId(1));
    assert!(data.extra.is_empty());

    let e = parse(envelope(
        "store/priceList/records/created",
        serde_json::json!([{"price_list_id": 1, "variant_id": 179, "currency": "USD"}, {"price_list_id": "2", "variant_id": 180, "currency_code": "EUR"}]),
    ));
    let Event::PriceListRecordsCreated(records) = e.event else {
        panic!()
    };
    assert_eq!(records.0.len(), 2);
    assert_eq!(records.0[1].price_list_id, 2);
    assert_eq!(records.0[1].currency_code.as_deref(), Some("EUR"));
}

#[test]
fn doc_spelling_variants_are_accepted_when_delivered() {
    let e = parse(envelope(
        "store/priceList/updated/",
        serde_json::json!({"price_list_id": 5}),
    ));
    assert_eq!(e.event.scope(), Some(Scope::PriceListUpdated));
    let e = parse(envelope(
        "store/channel/9/cart/lineItems/created",
        serde_json::json!({"cart_id": "a", "cart_item_id": "b"}),
    ));
    assert_eq!(e.event.scope(), Some(Scope::ChannelCartLineItemCreated));
    assert_eq!(e.channel_id(), Some(ChannelId(9)));
}

#[test]
fn group_enums_narrow_events() {
    use bigcommerce_app::events::{ChannelOrderEvent, OrderEvent};
    let e = parse(envelope(
        "store/order/refund/created",
        serde_json::json!({"id": 5, "refund": {"refund_id": 3}}),
    ));
    let OrderEvent::RefundCreated(p) = OrderEvent::try_from(e.event).unwrap() else {
        panic!()
    };
    assert_eq!(p.refund.refund_id, 3);
    let e = parse(envelope(
        "store/channel/2/order/created",
        serde_json::json!({"order_id": 7}),
    ));
    let group = ChannelOrderEvent::try_from(e.event.clone()).unwrap();
    assert_eq!(group.scope(), Scope::ChannelOrderCreated);
    assert!(
        OrderEvent::try_from(e.event).is_err(),
        "a channel order is not a store order"
    );
}

#[test]
fn bad_input_is_reported_with_its_path() {
    let err = Envelope::from_slice(b"{not json").unwrap_err();
    assert!(err.is_syntax(), "{err}");

    let mut json = envelope("store/order/created", serde_json::json!({"id": 1}));
    json.as_object_mut().unwrap().remove("producer");
    let err = Envelope::from_slice(json.to_string().as_bytes()).unwrap_err();
    assert!(!err.is_syntax());
    assert!(err.to_string().contains("producer"), "{err}");

    let mut json = envelope("store/order/created", serde_json::json!({"id": 1}));
    json["producer"] = Value::from("store/abc");
    let err = Envelope::from_slice(json.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.path(), "producer");

    let json = envelope(
        "store/order/statusUpdated",
        serde_json::json!({"id": 1, "status": {"previous_status_id": 1, "new_status_id": "eleven"}}),
    );
    let err = Envelope::from_slice(json.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.path(), "data.status.new_status_id", "{err}");

    let json = envelope("store/order/created", serde_json::json!({"type": "order"}));
    let err = Envelope::from_slice(json.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.path(), "data", "{err}");
    assert!(err.to_string().contains("missing field `id`"), "{err}");

    let json = envelope("store/order/created", serde_json::json!([1]));
    let err = Envelope::from_slice(json.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.path(), "data", "{err}");

    let err = Envelope::from_slice(b"[1, 2]").unwrap_err();
    assert!(!err.is_syntax());

    // The receiver's header check and the worker's full parse accept the same envelopes.
    let mut json = envelope("store/order/created", serde_json::json!({"id": 1}));
    json["hash"] = Value::from("");
    let body = json.to_string();
    assert_eq!(
        Envelope::from_slice(body.as_bytes()).unwrap_err().path(),
        "hash"
    );
    assert_eq!(Envelope::meta(body.as_bytes()).unwrap_err().path(), "hash");
}

/// A callback shaped like the example on BigCommerce's webhooks overview page: no `created_at`, and
/// `store/order/statusUpdated` without `data.status`.
#[test]
fn the_overview_pages_callback_parses() {
    let body = br#"{
        "producer": "stores/7j3lw8z",
        "hash": "3f9ea420af83450d7ef9f78b08c8af25b2213637",
        "data": {"type": "order", "id": 1},
        "scope": "store/order/statusUpdated",
        "store_id": "1025646"
    }"#;
    let e = Envelope::from_slice(body).expect("the documented callback parses");
    assert_eq!(e.meta.created_at, None);
    let Event::OrderStatusUpdated(p) = e.event else {
        panic!("{:?}", e.event)
    };
    assert_eq!((p.id, p.status), (1, None));
    let header = Envelope::meta(body).expect("header");
    assert_eq!(header.created_at, None);
}

/// Group enums read what all their events carry without a match over every variant.
#[test]
fn group_enums_read_their_shared_fields() {
    use bigcommerce_app::events::{ChannelCartEvent, ChannelOrderEvent};
    let e = parse(envelope(
        "store/channel/3/cart/lineItem/updated",
        serde_json::json!({"cart_id": "c-9", "cart_item_id": "i-1"}),
    ));
    let cart = ChannelCartEvent::try_from(e.event).expect("a channel cart event");
    assert_eq!(cart.cart_id(), "c-9");

    let e = parse(envelope(
        "store/channel/3/order/statusUpdated",
        serde_json::json!({"order_id": "77"}),
    ));
    let order = ChannelOrderEvent::try_from(e.event).expect("a channel order event");
    assert_eq!(order.order_id(), 77);
}

/// The error of generating the bundled resources.json once `edit` has changed the entry of
/// `resource`.
fn resources_codegen_error(resource: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut raw: serde_json::Value =
        serde_json::from_str(bigcommerce_app_catalogue::BUNDLED_RESOURCES_JSON).unwrap();
    let entry = raw["resources"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["name"] == resource)
        .unwrap();
    edit(entry);
    let events = bigcommerce_app_catalogue::bundled().unwrap();
    let taken: Vec<&str> = events.payloads.iter().map(|p| p.name.as_str()).collect();
    let resources = bigcommerce_app_catalogue::Resources::from_json(&raw.to_string(), &taken)
        .expect("the edited entry is well formed");
    match bigcommerce_app_catalogue::codegen::generate_resources(&events, &resources) {
        Ok(_) => panic!("generated, expected an error"),
        Err(e) => e.to_string(),
    }
}

/// The error of generating the bundled resources.json with `resource` fetched from `links`.
fn links_error(resource: &str, links: serde_json::Value) -> String {
    resources_codegen_error(resource, |entry| entry["fetched_from"] = links)
}

#[test]
fn an_event_link_names_the_member_without_an_id_and_what_to_do() {
    // A variant's metafield names no product: without `except`, the build says which scope and how.
    let error = links_error(
        "Product",
        serde_json::json!([{"wildcard": "store/product/*", "id": ["id"]}]),
    );
    assert!(
        error.contains("store/product/metafield/created")
            && error.contains("no id field among [\"id\"]")
            && error.contains("list the scope in `except`"),
        "{error}"
    );
}

#[test]
fn an_event_link_excepting_nothing_or_linked_twice_is_an_error() {
    let error = links_error(
        "Product",
        serde_json::json!([{"wildcard": "store/product/*", "id": ["id", "resource_id"],
                "except": ["store/cart/*"]}]),
    );
    assert!(
        error.contains("excepts `store/cart/*`, which covers none of its events"),
        "{error}"
    );
    // `store/category/*` already fetches a Category: a second `fetch` would clash.
    let error = links_error(
        "Brand",
        serde_json::json!([{"wildcard": "store/category/*", "id": ["id"]}]),
    );
    assert!(
        error.contains("are both fetched_from `store/category/*`"),
        "{error}"
    );
}

#[test]
fn a_scopes_payload_type_reads_and_writes_the_shared_structs_json_and_takes_only_its_scope() {
    use bigcommerce_app::events::{FromEvent, OrderCreated, ResourceRef};
    let data = serde_json::json!({"type": "order", "id": "218", "new_field": true});
    let scoped: OrderCreated = serde_json::from_value(data.clone()).unwrap();
    let shared: ResourceRef = serde_json::from_value(data).unwrap();
    assert_eq!(scoped.id, 218);
    assert_eq!(
        serde_json::to_value(&scoped).unwrap(),
        serde_json::to_value(&shared).unwrap()
    );
    assert_eq!(ResourceRef::from(scoped.clone()), shared);

    let created = parse(envelope(
        "store/order/created",
        serde_json::json!({"id": 7}),
    ));
    assert_eq!(OrderCreated::from_event(created.event).unwrap().id, 7);
    // The same shape from another scope is not an `OrderCreated`; the shared struct takes it.
    let updated = parse(envelope(
        "store/order/updated",
        serde_json::json!({"id": 8}),
    ));
    let back = OrderCreated::from_event(updated.event).unwrap_err();
    assert_eq!(ResourceRef::from_event(back).unwrap().id, 8);
}

/// The error of generating the bundled resources.json with `values` listed for `Brand`'s
/// `sort` filter.
fn brand_sort_values_error(values: serde_json::Value) -> String {
    resources_codegen_error("Brand", |brand| {
        let sort = brand["list"]["filters"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|f| f["name"] == "sort")
            .unwrap();
        sort["values"] = values;
    })
}

#[test]
fn filter_values_that_make_no_variant_name_are_errors_naming_them() {
    let error = brand_sort_values_error(serde_json::json!(["name", "Name"]));
    assert!(
        error.contains("value `Name` of filter `sort` gives the variant name `Name`"),
        "{error}"
    );
    // `Other` holds the values the spec does not list.
    let error = brand_sort_values_error(serde_json::json!(["other"]));
    assert!(error.contains("reserved or taken"), "{error}");
}
