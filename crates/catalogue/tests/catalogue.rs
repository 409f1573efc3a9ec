//! Loading and validating catalogues, resolving delivered scopes, and handler patterns.

use bigcommerce_app_catalogue::{
    bundled, Catalogue, CatalogueError, ChannelSelector, Pattern, PatternError, ScopeKind,
};
use serde_json::json;

fn catalogue() -> Catalogue {
    bundled().expect("the bundled scopes.json is valid")
}

#[test]
fn bundled_catalogue_has_every_documented_scope() {
    let c = catalogue();
    assert_eq!(c.scopes.len(), 201);
    assert_eq!(c.concrete().count(), 179);
    assert_eq!(c.wildcards().count(), 22);
    let count = |k| c.concrete().filter(|s| s.kind == k).count();
    assert_eq!(count(ScopeKind::Store), 117);
    assert_eq!(count(ScopeKind::ChannelTemplated), 58);
    assert_eq!(count(ScopeKind::AllChannels), 4);
}

fn minimal(scopes: serde_json::Value, payloads: serde_json::Value) -> String {
    json!({"format": 1, "payloads": payloads, "scopes": scopes}).to_string()
}

fn ref_payload() -> serde_json::Value {
    json!([{"name": "Ref", "doc": "A ref.", "fields": [{"name": "id", "type": "id"}]}])
}

fn entry_error(text: &str) -> (String, String) {
    match Catalogue::from_json(text) {
        Err(CatalogueError::Entry { entry, problem }) => (entry, problem),
        other => panic!("expected an entry error, got {other:?}"),
    }
}

#[test]
fn duplicate_scope_is_an_error_naming_it() {
    let s = json!({"scope": "store/order/created", "group": "order", "description": "d", "payload": "Ref"});
    let (entry, problem) = entry_error(&minimal(json!([s, s]), ref_payload()));
    assert_eq!(entry, "store/order/created");
    assert!(problem.contains("more than once"), "{problem}");
}

#[test]
fn malformed_templates_are_errors_naming_them() {
    for bad in [
        "store/order/{channel_id}/created",
        "store//created",
        "shop/order/created",
        "store/*/created",
        "store/order/cre-ated",
    ] {
        let s = json!({"scope": bad, "group": "g", "description": "d", "payload": "Ref"});
        let (entry, _) = entry_error(&minimal(json!([s]), ref_payload()));
        assert_eq!(entry, bad);
    }
}

#[test]
fn unknown_types_are_errors_naming_the_field() {
    let payloads = json!([{"name": "Ref", "doc": "d", "fields": [{"name": "id", "type": "uuid"}]}]);
    let (entry, problem) = entry_error(&minimal(json!([]), payloads));
    assert_eq!(entry, "Ref.id");
    assert!(problem.contains("unknown type `uuid`"), "{problem}");

    let payloads =
        json!([{"name": "Ref", "doc": "d", "fields": [{"name": "x", "type": "Missing?"}]}]);
    let (entry, _) = entry_error(&minimal(json!([]), payloads));
    assert_eq!(entry, "Ref.x");

    let s = json!({"scope": "store/order/created", "group": "order", "description": "d", "payload": "Nope"});
    let (entry, problem) = entry_error(&minimal(json!([s]), ref_payload()));
    assert_eq!(entry, "store/order/created");
    assert!(problem.contains("unknown payload"), "{problem}");
}

#[test]
fn wildcard_without_members_is_an_error() {
    let w = json!({"scope": "store/order/*", "group": "order", "description": "d"});
    let s = json!({"scope": "store/cart/created", "group": "cart", "description": "d", "payload": "Ref"});
    let (entry, problem) = entry_error(&minimal(json!([w, s]), ref_payload()));
    assert_eq!(entry, "store/order/*");
    assert!(problem.contains("covers no"), "{problem}");
}

#[test]
fn keyword_field_names_need_a_rust_name() {
    let payloads =
        json!([{"name": "Ref", "doc": "d", "fields": [{"name": "type", "type": "string"}]}]);
    let (entry, problem) = entry_error(&minimal(json!([]), payloads));
    assert_eq!(entry, "Ref.type");
    assert!(problem.contains("rust"), "{problem}");
}

#[test]
fn delivered_scopes_resolve_with_their_channel() {
    let c = catalogue();
    let (e, ch) = c
        .resolve_delivered("store/channel/12/order/statusUpdated")
        .unwrap();
    assert_eq!(
        (e.scope.as_str(), ch),
        ("store/channel/{channel_id}/order/statusUpdated", Some(12))
    );
    let (e, ch) = c.resolve_delivered("store/channel/created").unwrap();
    assert_eq!((e.scope.as_str(), ch), ("store/channel/created", None));
    let (e, _) = c
        .resolve_delivered("store/channel/*/inventory/product/low_stock_reached")
        .unwrap();
    assert_eq!(e.kind, ScopeKind::AllChannels);
    assert!(c.resolve_delivered("store/order/*").is_none());
    assert!(c
        .resolve_delivered("store/channel/x/order/created")
        .is_none());
}

fn resolved(pattern: &str) -> Vec<String> {
    let c = catalogue();
    Pattern::parse(pattern)
        .unwrap()
        .resolve(&c)
        .unwrap()
        .into_iter()
        .map(|s| s.scope.clone())
        .collect()
}

#[test]
fn patterns_of_every_form_resolve() {
    assert_eq!(resolved("store/order/created"), ["store/order/created"]);
    assert_eq!(
        resolved("store/priceList/updated/".trim_end_matches('/')),
        ["store/priceList/updated"]
    );
    let orders = resolved("store/order/*");
    assert!(orders.contains(&"store/order/statusUpdated".to_string()));
    assert!(orders.iter().all(|s| s.starts_with("store/order/")));
    assert_eq!(resolved("store/channel/<id>/cart/*").len(), 9);
    assert_eq!(resolved("store/channel/<id>/cart/lineItem/*").len(), 3);
    let one = Pattern::parse("store/channel/1/order/*").unwrap();
    assert_eq!(one.channel, Some(ChannelSelector::One(1)));
    assert_eq!(resolved("store/channel/1/order/*").len(), 6);
    assert_eq!(resolved("store/channel/*/inventory/product/*").len(), 4);
    assert_eq!(
        resolved("store/channel/*/inventory/product/stock_changed"),
        ["store/channel/*/inventory/product/stock_changed"]
    );
    // `store/channel/*` is the store-level channel wildcard, not the channel scopes.
    let channel = resolved("store/channel/*");
    assert!(channel.contains(&"store/channel/created".to_string()));
    assert!(channel.iter().all(|s| !s.contains("{channel_id}")));
    // A prefix that BigCommerce has no wildcard for still works.
    assert_eq!(resolved("store/channel/<id>/page/*").len(), 2);
}

#[test]
fn catalogue_wildcards_are_recognised() {
    let c = catalogue();
    let p = Pattern::parse("store/channel/<id>/order/*").unwrap();
    assert_eq!(
        p.catalogue_wildcard(&c).map(|w| w.scope.as_str()),
        Some("store/channel/{channel_id}/order/*")
    );
    assert!(Pattern::parse("store/channel/<id>/page/*")
        .unwrap()
        .catalogue_wildcard(&c)
        .is_none());
}

fn error(pattern: &str) -> PatternError {
    match Pattern::parse(pattern) {
        Err(e) => e,
        Ok(p) => p.resolve(&catalogue()).expect_err(pattern),
    }
}

#[test]
fn unknown_scope_suggests_the_closest() {
    let e = error("store/order/statusUpdate");
    let PatternError::UnknownScope { suggestions, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        suggestions.first().map(String::as_str),
        Some("store/order/statusUpdated")
    );
    assert!(e.to_string().contains("did you mean"), "{e}");
}

#[test]
fn bad_patterns_are_rejected_with_a_reason() {
    assert!(matches!(
        error("store/ordr/*"),
        PatternError::EmptyWildcard { .. }
    ));
    assert!(matches!(
        error("store/order/<id>/created"),
        PatternError::Malformed { .. }
    ));
    assert!(matches!(
        error("store/channel/<id>/metafield/created"),
        PatternError::ChannelOnStoreScope { .. }
    ));
    assert!(matches!(
        error("store/order/*/created"),
        PatternError::Malformed { .. }
    ));
    assert!(matches!(
        error("order/created"),
        PatternError::Malformed { .. }
    ));
    assert!(matches!(
        error("store/order/created/"),
        PatternError::Malformed { .. }
    ));
    assert!(matches!(
        error("store/ord er/created"),
        PatternError::Malformed { .. }
    ));
    assert!(matches!(
        error("store/channel/<id>/cart/nothing"),
        PatternError::UnknownScope { .. }
    ));
}
