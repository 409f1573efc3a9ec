//! Callback payloads: resolving the scope of an event, generating its `data` from the catalogue's
//! payload shape, and building the envelope BigCommerce posts.

use bigcommerce_app_catalogue::{
    split_channel, Catalogue, FieldType, Payload, PayloadShape, ScopeEntry, ScopeKind,
    CHANNEL_PLACEHOLDER, CHANNEL_PREFIX,
};
use rand::Rng;
use serde_json::{json, Map, Value};
use sha1::{Digest, Sha1};

use crate::EmulatorError;

/// A scope as delivered: concrete, with its channel id filled in.
#[derive(Debug, Clone)]
pub(crate) struct DeliveredScope {
    pub scope: String,
    pub entry: usize,
    pub channel: Option<u64>,
}

/// Turns what a caller of `trigger` wrote into the scope BigCommerce would deliver.
///
/// Accepts a concrete scope (`store/order/created`, `store/channel/2/order/created`), or a channel
/// template (`{channel_id}` or `<id>`) together with `channel`. Wildcards are never delivered.
pub(crate) fn resolve_trigger(
    catalogue: &Catalogue,
    scope: &str,
    channel: Option<u64>,
) -> Result<DeliveredScope, EmulatorError> {
    let template = scope.replace("<id>", CHANNEL_PLACEHOLDER);
    let concrete = if template.contains(CHANNEL_PLACEHOLDER) {
        let id = channel.ok_or_else(|| EmulatorError::ChannelRequired(scope.to_owned()))?;
        template.replace(CHANNEL_PLACEHOLDER, &id.to_string())
    } else {
        template
    };
    let (entry, found_channel) = catalogue
        .resolve_delivered(&concrete)
        .ok_or_else(|| EmulatorError::UnknownScope(scope.to_owned()))?;
    match (found_channel, channel) {
        (Some(a), Some(b)) if a != b => {
            return Err(EmulatorError::ChannelMismatch(scope.to_owned()));
        }
        (None, Some(_)) if entry.kind == ScopeKind::Store => {
            return Err(EmulatorError::ChannelMismatch(scope.to_owned()));
        }
        _ => {}
    }
    let index = catalogue
        .index_of(&entry.scope)
        .ok_or_else(|| EmulatorError::UnknownScope(scope.to_owned()))?;
    // Deliver the canonical spelling, with the channel id in place.
    let scope = match found_channel {
        Some(id) => entry.scope.replace(CHANNEL_PLACEHOLDER, &id.to_string()),
        None => entry.scope.clone(),
    };
    Ok(DeliveredScope {
        scope,
        entry: index,
        channel: found_channel,
    })
}

/// A scope a hook may be registered with, resolved to its catalogue entry and channel.
///
/// Channel scopes must name a number (`store/channel/1/order/*`); the literal
/// `store/channel/{channel_id}/...` template is not a scope BigCommerce accepts. The all-channel
/// inventory scopes keep their literal `*`.
pub(crate) fn resolve_registered(
    catalogue: &Catalogue,
    scope: &str,
) -> Option<(usize, Option<u64>)> {
    if let Some((channel, rest)) = split_channel(scope) {
        let template = format!("{CHANNEL_PREFIX}{CHANNEL_PLACEHOLDER}/{rest}");
        let index = catalogue.index_of(&template)?;
        return (catalogue.scopes[index].kind == ScopeKind::ChannelTemplated)
            .then_some((index, Some(channel)));
    }
    let index = catalogue.index_of(scope)?;
    (catalogue.scopes[index].kind != ScopeKind::ChannelTemplated).then_some((index, None))
}

/// Whether a hook registered for `registered` receives an event of `delivered`: the same scope,
/// or a wildcard of the same kind whose prefix covers it, on the same channel.
pub(crate) fn hook_matches(
    catalogue: &Catalogue,
    registered: (usize, Option<u64>),
    delivered: &DeliveredScope,
) -> bool {
    if registered.1 != delivered.channel {
        return false;
    }
    if registered.0 == delivered.entry {
        return true;
    }
    let (Some(wildcard), Some(target)) = (
        catalogue.scopes.get(registered.0),
        catalogue.scopes.get(delivered.entry),
    ) else {
        return false;
    };
    match wildcard.wildcard_prefix() {
        Some(prefix) => wildcard.kind == target.kind && target.scope.starts_with(prefix),
        None => false,
    }
}

/// Plausible `data` for a scope, following its catalogue payload shape: numbers for `id`,
/// strings for `string`, one element for arrays, nested objects, optional fields filled.
pub(crate) fn generate_data(catalogue: &Catalogue, entry: &ScopeEntry) -> Value {
    let mut rng = rand::thread_rng();
    let Some(payload) = entry.payload.as_deref().and_then(|n| catalogue.payload(n)) else {
        return json!({});
    };
    match &payload.shape {
        PayloadShape::Object(_) => object(
            &catalogue.payloads,
            &payload.name,
            &entry.group,
            &mut rng,
            0,
        ),
        PayloadShape::ArrayOf(item) => Value::Array(vec![object(
            &catalogue.payloads,
            item,
            &entry.group,
            &mut rng,
            0,
        )]),
    }
}

/// A plausible object of the shape `name` among `shapes` (event payloads or API resources).
pub(crate) fn object(
    shapes: &[Payload],
    name: &str,
    group: &str,
    rng: &mut impl Rng,
    depth: usize,
) -> Value {
    let mut out = Map::new();
    let Some(payload) = shapes.iter().find(|p| p.name == name) else {
        return Value::Object(out);
    };
    let PayloadShape::Object(fields) = &payload.shape else {
        return Value::Object(out);
    };
    for field in fields {
        out.insert(
            field.json.clone(),
            value(shapes, &field.json, &field.ty, group, rng, depth),
        );
    }
    Value::Object(out)
}

fn value(
    shapes: &[Payload],
    name: &str,
    ty: &FieldType,
    group: &str,
    rng: &mut impl Rng,
    depth: usize,
) -> Value {
    match ty {
        FieldType::Id => json!(rng.gen_range(1..100_000u64)),
        FieldType::Integer => json!(rng.gen_range(-20..=20i64)),
        FieldType::Number => json!(f64::from(rng.gen_range(100..100_000u32)) / 100.0),
        FieldType::Boolean => json!(true),
        FieldType::Any => json!({}),
        FieldType::Decimal => json!(format!(
            "{}.{:02}",
            rng.gen_range(0..500),
            rng.gen_range(0..100)
        )),
        FieldType::String => json!(sample_string(name, group, rng)),
        FieldType::Optional(inner) => value(shapes, name, inner, group, rng, depth),
        // Deep down, an array of objects is empty: a type that holds itself through an array (a
        // category tree's children) ends there, with every object whole.
        FieldType::Array(inner) if depth >= 2 && matches!(**inner, FieldType::Object(_)) => {
            json!([])
        }
        FieldType::Array(inner) => {
            json!([value(shapes, name, inner, group, rng, depth)])
        }
        FieldType::Object(object_name) if depth < 8 => {
            object(shapes, object_name, group, rng, depth + 1)
        }
        FieldType::Object(_) => json!({}),
    }
}

pub(crate) fn sample_string(name: &str, group: &str, rng: &mut impl Rng) -> String {
    let lower = name.to_ascii_lowercase();
    if lower == "type" {
        return group.to_owned();
    }
    if lower == "id" || lower.ends_with("uuid") || lower == "token" {
        return crate::core::random_uuid();
    }
    if lower.ends_with("id") {
        return rng.gen_range(1..100_000u64).to_string();
    }
    if lower.contains("email") {
        return "customer@example.com".to_owned();
    }
    if lower.contains("status") {
        return "active".to_owned();
    }
    format!("sample {name}")
}

/// The callback body BigCommerce posts.
pub(crate) fn envelope(
    scope: &str,
    store_id: u64,
    store_hash: &str,
    created_at: i64,
    event_seq: u64,
    data: &Value,
) -> Value {
    json!({
        "scope": scope,
        "store_id": store_id.to_string(),
        "producer": format!("stores/{store_hash}"),
        "hash": event_hash(scope, store_id, created_at, event_seq, data),
        "created_at": created_at,
        "data": data,
    })
}

/// SHA-1 (40 hex digits) over the event: two events with the same `data` still get different
/// hashes, and every re-delivery of one event carries the same one.
fn event_hash(scope: &str, store_id: u64, created_at: i64, event_seq: u64, data: &Value) -> String {
    let mut hasher = Sha1::new();
    hasher.update(format!("{scope}|{store_id}|{created_at}|{event_seq}|").as_bytes());
    hasher.update(data.to_string().as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        bigcommerce_app_catalogue::bundled().expect("bundled catalogue")
    }

    #[test]
    fn trigger_scopes_resolve_with_their_channel() {
        let catalogue = catalogue();
        let s = resolve_trigger(
            &catalogue,
            "store/channel/{channel_id}/order/created",
            Some(2),
        )
        .expect("template with channel");
        assert_eq!(s.scope, "store/channel/2/order/created");
        assert_eq!(s.channel, Some(2));
        let s = resolve_trigger(&catalogue, "store/channel/<id>/cart/created", Some(3))
            .expect("pattern");
        assert_eq!(s.scope, "store/channel/3/cart/created");
        assert!(
            resolve_trigger(&catalogue, "store/channel/{channel_id}/order/created", None).is_err()
        );
        assert!(resolve_trigger(&catalogue, "store/order/*", None).is_err());
        assert!(resolve_trigger(&catalogue, "store/order/created", Some(1)).is_err());
        assert!(resolve_trigger(&catalogue, "store/nothing/here", None).is_err());
        let s = resolve_trigger(&catalogue, "store/order/created", None).expect("store scope");
        assert_eq!(s.channel, None);
    }

    #[test]
    fn registered_scopes_follow_bigcommerce_rules() {
        let catalogue = catalogue();
        assert!(resolve_registered(&catalogue, "store/order/created").is_some());
        assert!(resolve_registered(&catalogue, "store/order/*").is_some());
        assert_eq!(
            resolve_registered(&catalogue, "store/channel/7/order/*").map(|r| r.1),
            Some(Some(7))
        );
        assert!(resolve_registered(
            &catalogue,
            "store/channel/*/inventory/product/stock_changed"
        )
        .is_some());
        assert!(
            resolve_registered(&catalogue, "store/channel/{channel_id}/order/created").is_none()
        );
        assert!(resolve_registered(&catalogue, "store/order/nope").is_none());
        assert!(resolve_registered(&catalogue, "store/channel/1/created").is_none());
    }

    #[test]
    fn wildcards_cover_their_kind_and_channel_only() {
        let catalogue = catalogue();
        let delivered =
            resolve_trigger(&catalogue, "store/channel/1/order/created", None).expect("ok");
        let reg = |s: &str| resolve_registered(&catalogue, s).expect(s);
        assert!(hook_matches(
            &catalogue,
            reg("store/channel/1/order/*"),
            &delivered
        ));
        assert!(hook_matches(
            &catalogue,
            reg("store/channel/1/order/created"),
            &delivered
        ));
        assert!(!hook_matches(
            &catalogue,
            reg("store/channel/2/order/*"),
            &delivered
        ));
        assert!(!hook_matches(&catalogue, reg("store/order/*"), &delivered));
        assert!(!hook_matches(
            &catalogue,
            reg("store/channel/*"),
            &delivered
        ));
        let store_level = resolve_trigger(&catalogue, "store/order/created", None).expect("ok");
        assert!(hook_matches(&catalogue, reg("store/order/*"), &store_level));
    }

    #[test]
    fn generated_data_follows_the_shape() {
        let catalogue = catalogue();
        let entry = catalogue.get("store/order/created").expect("entry");
        let data = generate_data(&catalogue, entry);
        assert!(data["id"].is_u64(), "{data}");
        let entry = catalogue.get("store/cart/created").expect("entry");
        let data = generate_data(&catalogue, entry);
        assert!(data["id"].is_string(), "{data}");
    }

    #[test]
    fn envelope_hash_is_stable_per_event() {
        let data = json!({"id": 1});
        let a = envelope("store/order/created", 1, "abc", 10, 1, &data);
        let b = envelope("store/order/created", 1, "abc", 10, 1, &data);
        let c = envelope("store/order/created", 1, "abc", 10, 2, &data);
        assert_eq!(a["hash"], b["hash"]);
        assert_ne!(a["hash"], c["hash"]);
        assert_eq!(a["hash"].as_str().map(str::len), Some(40));
        assert_eq!(a["producer"], "stores/abc");
        assert_eq!(a["store_id"], "1");
    }
}
