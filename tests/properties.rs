//! Property tests of the parsers and of the subscriptions a set of handlers needs (proptest,
//! 256 cases per property, nothing written to disk on failure: the failing input is printed).
//!
//! - the callback envelope: [`Envelope::meta`] (receiver) and [`Envelope::from_slice`]
//!   (worker) never panic and agree, on arbitrary bytes and on the fixtures with fields replaced;
//! - the delivered-scope resolver ([`Scope::parse_delivered`], [`Scope::from_str`]) never panics
//!   and only accepts catalogue spellings, which round-trip;
//! - the signed payload verifier ([`JwtVerifier::verify`]) never panics, refuses what is not
//!   signed with the secret, and a verified payload always names a valid [`StoreHash`];
//! - [`App::subscriptions`]: for any set of handlers, an event is delivered by some subscription
//!   exactly when some (non-`"*"`) handler takes it, and no subscription is redundant.
//!
//! The handler pattern parser lives in `bigcommerce-app-catalogue`, which this package only uses
//! through the `#[webhook_handler]` macro (at compile time) and its build script; its
//! any-input properties are in the `pattern` and `scope` fuzz targets (`fuzz/`). Here the
//! patterns are exercised through the routes the macro generates for a fixed set of handlers,
//! and through routes built from every catalogue scope the way the macro builds them (checked
//! against the macro's own routes in `catalogue_routes_are_built_like_the_macro_builds_them`).
//!
//! [`Scope::from_str`]: std::str::FromStr::from_str

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use bigcommerce_app::api::{JwtError, JwtVerifier, SecretString};
use bigcommerce_app::events::ScopeKind;
use bigcommerce_app::{
    webhook_handler, App, ChannelId, Envelope, Event, HandlerError, Route, Scope, StoreHash,
    Subscription,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::Config;
use serde_json::{json, Value};

fn config() -> Config {
    Config {
        cases: 256,
        // Integration tests have no `src/` for the regression file; the failing input is printed.
        failure_persistence: None,
        ..Config::default()
    }
}

// ------------------------------------------------------------------------------------------
// Shared generators
// ------------------------------------------------------------------------------------------

/// Any JSON value, a few levels deep.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// What BigCommerce puts where an id goes, and what it might put there by mistake.
fn arb_id_like() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::from),
        any::<u64>().prop_map(|n| Value::from(n.to_string())),
        any::<i64>().prop_map(Value::from),
        any::<i64>().prop_map(|n| Value::from(format!(" {n} "))),
        (0u32..1000).prop_map(|n| json!(f64::from(n) + 0.5)),
        (0u32..1000).prop_map(|n| json!(f64::from(n))),
        "[0-9]{0,25}".prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
        arb_json(),
    ]
}

/// Every segment of every catalogue spelling, plus the pattern and channel tokens.
fn segments() -> Vec<String> {
    let mut all: BTreeSet<String> = [
        "",
        "*",
        "<id>",
        "{channel_id}",
        "0",
        "1",
        "18446744073709551616",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for scope in Scope::ALL {
        for spelling in std::iter::once(scope.as_str()).chain(scope.info().aliases.iter().copied())
        {
            all.extend(spelling.split('/').map(str::to_owned));
        }
    }
    all.into_iter().collect()
}

/// Scope texts: catalogue scopes and aliases as delivered, odd channel segments, catalogue
/// segments in any order, anything.
fn arb_scope_text() -> impl Strategy<Value = String> {
    let aliases: Vec<&'static str> = Scope::ALL
        .iter()
        .flat_map(|s| s.info().aliases.iter().copied())
        .collect();
    let channel_rests: Vec<String> = Scope::ALL
        .iter()
        .filter_map(|s| s.as_str().strip_prefix("store/channel/{channel_id}/"))
        .map(str::to_owned)
        .collect();
    prop_oneof![
        (select(Scope::ALL.to_vec()), any::<u64>())
            .prop_map(|(s, ch)| s.delivered(Some(ChannelId(ch)))),
        (select(aliases), any::<u64>())
            .prop_map(|(a, ch)| a.replace("{channel_id}", &ch.to_string())),
        (
            select(channel_rests),
            "[0-9]{0,25}|-1|\\+1| 1|0x1|1 |[a-z*<>{}_]{0,5}|٣"
        )
            .prop_map(|(rest, id)| format!("store/channel/{id}/{rest}")),
        prop::collection::vec(select(segments()), 0..7).prop_map(|s| s.join("/")),
        ".{0,40}",
    ]
}

// ------------------------------------------------------------------------------------------
// Envelope
// ------------------------------------------------------------------------------------------

fn fixture_path(scope: Scope) -> PathBuf {
    let name = scope
        .as_str()
        .replace("{channel_id}", "ID")
        .replace('*', "ALL")
        .replace('/', ".");
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/events/{name}.json"))
}

/// One sample callback per concrete scope (`tests/fixtures/events`).
fn fixtures() -> &'static [(Scope, Value)] {
    static FIXTURES: OnceLock<Vec<(Scope, Value)>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        Scope::ALL
            .into_iter()
            .filter(|s| !s.info().wildcard)
            .map(|scope| {
                let path = fixture_path(scope);
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                (scope, serde_json::from_str(&text).expect("fixture is JSON"))
            })
            .collect()
    })
}

/// A change to a valid callback.
#[derive(Debug, Clone)]
enum Edit {
    /// Sets (or adds) a top-level field.
    Set(String, Value),
    Remove(String),
    /// Sets the `data` field picked by the index (or adds `_extra`).
    SetData(Index, Value),
    RemoveData(Index),
    /// Re-delivers the fixture's scope on another channel.
    Channel(u64),
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    let field = |name: &'static str, values: BoxedStrategy<Value>| {
        values.prop_map(move |v| Edit::Set(name.to_owned(), v))
    };
    prop_oneof![
        field(
            "scope",
            prop_oneof![arb_scope_text().prop_map(Value::from), arb_json()].boxed()
        ),
        field("store_id", arb_id_like().boxed()),
        field(
            "producer",
            prop_oneof![
                "[a-zA-Z0-9]{0,70}".prop_map(|h| Value::from(format!("stores/{h}"))),
                ".{0,10}".prop_map(|h| Value::from(format!("stores/{h}"))),
                ".{0,20}".prop_map(Value::from),
                arb_json(),
            ]
            .boxed()
        ),
        field(
            "hash",
            prop_oneof![
                "[0-9a-f]{0,40}".prop_map(Value::from),
                ".{0,10}".prop_map(Value::from),
                arb_json()
            ]
            .boxed()
        ),
        field(
            "created_at",
            prop_oneof![arb_id_like(), "-?[0-9]{1,20}".prop_map(Value::from)].boxed()
        ),
        field("data", arb_json().boxed()),
        (".{0,8}", arb_json()).prop_map(|(k, v)| Edit::Set(k, v)),
        select(vec![
            "scope",
            "store_id",
            "producer",
            "hash",
            "created_at",
            "data"
        ])
        .prop_map(|f| Edit::Remove(f.to_owned())),
        (any::<Index>(), prop_oneof![arb_id_like(), arb_json()])
            .prop_map(|(i, v)| Edit::SetData(i, v)),
        any::<Index>().prop_map(Edit::RemoveData),
        any::<u64>().prop_map(Edit::Channel),
    ]
}

/// A body damaged after serialization.
#[derive(Debug, Clone)]
enum Damage {
    None,
    Truncate(Index),
    Replace(Index, u8),
}

fn arb_damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        6 => Just(Damage::None),
        1 => any::<Index>().prop_map(Damage::Truncate),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Damage::Replace(i, b)),
    ]
}

/// A fixture callback with edits applied, serialized and maybe damaged.
fn near_valid_body(fixture: Index, edits: &[Edit], damage: &Damage) -> (Scope, Vec<u8>) {
    let (scope, base) = &fixtures()[fixture.index(fixtures().len())];
    let mut body = base.clone();
    for edit in edits {
        let Some(object) = body.as_object_mut() else {
            break;
        };
        match edit {
            Edit::Set(k, v) => {
                object.insert(k.clone(), v.clone());
            }
            Edit::Remove(k) => {
                object.remove(k);
            }
            Edit::SetData(i, v) => {
                if let Some(Value::Object(data)) = object.get_mut("data") {
                    let key = match data.len() {
                        0 => "_extra".to_owned(),
                        n => data.keys().nth(i.index(n)).cloned().unwrap_or_default(),
                    };
                    data.insert(key, v.clone());
                }
            }
            Edit::RemoveData(i) => {
                if let Some(Value::Object(data)) = object.get_mut("data") {
                    if let Some(key) = (!data.is_empty())
                        .then(|| data.keys().nth(i.index(data.len())).cloned())
                        .flatten()
                    {
                        data.remove(&key);
                    }
                }
            }
            Edit::Channel(ch) => {
                object.insert(
                    "scope".to_owned(),
                    Value::from(scope.delivered(Some(ChannelId(*ch)))),
                );
            }
        }
    }
    let mut bytes = serde_json::to_vec(&body).expect("serializes");
    match damage {
        Damage::None => {}
        Damage::Truncate(i) => bytes.truncate(i.index(bytes.len())),
        Damage::Replace(i, b) => {
            let at = i.index(bytes.len());
            bytes[at] = *b;
        }
    }
    (*scope, bytes)
}

/// The receiver's and the worker's parses of one body agree.
fn check_envelope(body: &[u8]) -> Result<(), TestCaseError> {
    let header = Envelope::meta(body);
    let full = Envelope::from_slice(body);
    match (&header, &full) {
        (Err(header_error), full) => {
            // The full parse runs the same envelope check first, so when the header parse
            // fails the full parse must fail too, with the same error.
            prop_assert_eq!(full.as_ref().err(), Some(header_error));
            if header_error.is_syntax() {
                // "not JSON" (HTTP 400) is never said of valid JSON.
                prop_assert!(serde_json::from_slice::<Value>(body).is_err());
            }
        }
        (Ok(meta), Ok(envelope)) => {
            prop_assert_eq!(meta, &envelope.meta);
            prop_assert!(!meta.scope.is_empty() && !meta.hash.is_empty());
            // The typed event is the one its scope names.
            let resolved = Scope::parse_delivered(&meta.scope);
            prop_assert_eq!(envelope.catalogue_scope(), resolved.map(|r| r.0));
            prop_assert_eq!(envelope.channel_id(), resolved.and_then(|r| r.1));
        }
        (Ok(_), Err(error)) => {
            // A callback whose envelope is fine fails only on its payload (stored by the
            // receiver, failed visibly by the worker).
            prop_assert!(!error.is_syntax(), "{error}");
            prop_assert!(
                error.path() == "data" || error.path().starts_with("data."),
                "{error}"
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn envelope_parsers_agree_on_any_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
        check_envelope(&body)?;
    }

    #[test]
    fn envelope_parsers_agree_on_any_text(body in ".{0,300}") {
        check_envelope(body.as_bytes())?;
    }

    #[test]
    fn envelope_parsers_agree_on_near_valid_callbacks(
        fixture in any::<Index>(),
        edits in prop::collection::vec(arb_edit(), 0..4),
        damage in arb_damage(),
    ) {
        let (scope, body) = near_valid_body(fixture, &edits, &damage);
        check_envelope(&body)?;
        let only_channel_edits = edits.iter().all(|e| matches!(e, Edit::Channel(_)));
        if only_channel_edits && matches!(damage, Damage::None) {
            // The fixtures are valid callbacks, on any channel: the generator is not vacuous.
            let envelope = Envelope::from_slice(&body);
            prop_assert!(envelope.is_ok(), "{envelope:?}");
            prop_assert_eq!(envelope.unwrap().catalogue_scope(), Some(scope));
        }
    }
}

// ------------------------------------------------------------------------------------------
// Delivered scopes
// ------------------------------------------------------------------------------------------

/// `store/channel/<n>/rest` -> `store/channel/{channel_id}/rest`.
fn template_of(delivered: &str) -> String {
    let mut parts: Vec<&str> = delivered.splitn(4, '/').collect();
    if parts.len() == 4 {
        parts[2] = "{channel_id}";
    }
    parts.join("/")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn delivered_scopes_resolve_only_to_catalogue_spellings(text in arb_scope_text()) {
        if let Some((scope, channel)) = Scope::parse_delivered(&text) {
            let info = scope.info();
            prop_assert!(!info.wildcard, "{text} resolved to the wildcard {scope}");
            prop_assert_eq!(channel.is_some(), info.kind == ScopeKind::ChannelTemplated);
            let spelling = if channel.is_some() { template_of(&text) } else { text.clone() };
            prop_assert!(
                spelling == info.scope || info.aliases.contains(&spelling.as_str()),
                "{} resolved to {} whose spellings are {} and {:?}",
                text, scope, info.scope, info.aliases
            );
            // What the framework registers for it comes back as the same scope and channel.
            prop_assert_eq!(Scope::parse_delivered(&scope.delivered(channel)), Some((scope, channel)));
        }
        if let Ok(scope) = text.parse::<Scope>() {
            let info = scope.info();
            prop_assert!(text == info.scope || info.aliases.contains(&text.as_str()));
        }
    }
}

// ------------------------------------------------------------------------------------------
// Signed payload JWT
// ------------------------------------------------------------------------------------------

const CLIENT_ID: &str = "U8RphZeDjQc4kLVSzNjePo0CMjq7yOg";
const SECRET: &str = "app-client-secret";

fn verifier() -> JwtVerifier {
    JwtVerifier::new(CLIENT_ID, &SecretString::new(SECRET))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// Valid claims for `sub`.
fn claims(sub: &str) -> Value {
    let iat = now();
    json!({
        "aud": CLIENT_ID, "iss": "bc", "iat": iat, "nbf": iat - 5, "exp": iat + 3600,
        "jti": "c5f0bcf5-a504-4ae6-8dcc-0e40eaa5a070", "sub": sub,
        "user": {"id": 9876543, "email": "user@example.com", "locale": "en-US"},
        "owner": {"id": 7654321, "email": "owner@example.com"},
        "url": "/", "channel_id": null
    })
}

fn sign_with(alg: Algorithm, secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signs")
}

fn arb_sub() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9]{0,80}".prop_map(|h| format!("stores/{h}")),
        ".{0,12}".prop_map(|h| format!("stores/{h}")),
        "[a-zA-Z0-9]{1,10}".prop_map(|h| format!("store/{h}")),
        ".{0,20}",
    ]
}

/// The Ok case of `verify`: the store hash is one the framework accepts.
fn check_verified(sub: &str, hash: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(Some(hash), sub.strip_prefix("stores/"));
    let store = StoreHash::new(hash);
    prop_assert!(
        store.is_ok(),
        "verify accepted sub {sub:?} ({} chars of store hash) but StoreHash::new refuses {hash:?}: {:?}",
        hash.len(),
        store
    );
    prop_assert_eq!(StoreHash::from_producer(sub).ok(), store.ok());
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_verified_payload_names_a_valid_store_hash(sub in arb_sub()) {
        let token = sign_with(Algorithm::HS256, SECRET, &claims(&sub));
        match verifier().verify(&token) {
            Ok(payload) => {
                prop_assert_eq!(&payload.claims.sub, &sub);
                check_verified(&sub, &payload.store_hash)?;
            }
            // Everything but the subject is valid, so the subject is what is refused, and it
            // is not one the framework would accept either.
            Err(e) => {
                prop_assert_eq!(e, JwtError::BadSubject { sub: sub.clone() });
                prop_assert!(StoreHash::from_producer(&sub).is_err());
            }
        }
    }

    #[test]
    fn a_token_not_signed_with_the_secret_is_refused(
        sub in arb_sub(),
        other_secret in ".{0,20}",
        how in 0..4u8,
    ) {
        let claims = claims(&sub);
        let token = match how {
            0 => sign_with(Algorithm::HS256, &format!("{SECRET}{other_secret}x"), &claims),
            1 => sign_with(Algorithm::HS384, SECRET, &claims),
            2 => sign_with(Algorithm::HS512, SECRET, &claims),
            // `alg: none`, no signature.
            _ => format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            ),
        };
        let result = verifier().verify(&token);
        prop_assert!(result.is_err(), "{result:?}");
        match how {
            0 => prop_assert_eq!(result, Err(JwtError::BadSignature)),
            _ => prop_assert!(
                matches!(result, Err(JwtError::WrongAlgorithm { .. })),
                "{result:?}"
            ),
        }
    }

    #[test]
    fn verify_takes_any_claims_signed_with_the_secret(
        aud in prop_oneof![Just(Value::from(CLIENT_ID)), arb_json()],
        iss in prop_oneof![Just(Value::from("bc")), arb_json()],
        exp in prop_oneof![Just(Value::from(now() + 3600)), arb_id_like()],
        nbf in prop::option::of(arb_id_like()),
        sub in prop_oneof![arb_sub().prop_map(Value::from), arb_json()],
        user_id in arb_id_like(),
        owner in prop_oneof![Just(json!({"id": 1})), arb_json()],
        channel_id in prop::option::of(arb_id_like()),
        extra in prop::collection::btree_map(".{0,6}", arb_json(), 0..3),
    ) {
        let mut claims: serde_json::Map<String, Value> = extra.into_iter().collect();
        for (k, v) in [
            ("aud", aud), ("iss", iss), ("exp", exp), ("iat", Value::from(now())),
            ("sub", sub.clone()), ("user", json!({"id": user_id})), ("owner", owner),
            ("jti", Value::from("j")),
        ] {
            claims.insert(k.to_owned(), v);
        }
        if let Some(nbf) = nbf {
            claims.insert("nbf".to_owned(), nbf);
        }
        if let Some(channel_id) = channel_id {
            claims.insert("channel_id".to_owned(), channel_id);
        }
        let token = sign_with(Algorithm::HS256, SECRET, &Value::Object(claims));
        if let Ok(payload) = verifier().verify(&token) {
            prop_assert_eq!(Some(payload.claims.sub.as_str()), sub.as_str());
            prop_assert_eq!(payload.claims.aud.as_str(), CLIENT_ID);
            prop_assert_eq!(payload.claims.iss.as_str(), "bc");
            check_verified(&payload.claims.sub, &payload.store_hash)?;
        }
    }

    #[test]
    fn verify_refuses_unsigned_text(
        token in prop_oneof![
            ".{0,200}",
            "[A-Za-z0-9_=.-]{0,200}",
            (arb_json(), arb_json(), "[A-Za-z0-9_-]{0,50}").prop_map(|(h, c, s)| format!(
                "{}.{}.{s}",
                URL_SAFE_NO_PAD.encode(h.to_string()),
                URL_SAFE_NO_PAD.encode(c.to_string())
            )),
            (select(vec!["HS256", "none", "RS256", "hs256", ""]), arb_json(), "[A-Za-z0-9_-]{0,50}")
                .prop_map(|(alg, c, s)| format!(
                    " {}.{}.{s}\n",
                    URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string()),
                    URL_SAFE_NO_PAD.encode(c.to_string())
                )),
        ],
    ) {
        // Without the secret there is no valid signature (a random 32-byte HMAC aside).
        let result = verifier().verify(&token);
        prop_assert!(result.is_err(), "{token:?} verified: {result:?}");
    }
}

// ------------------------------------------------------------------------------------------
// Handlers and subscriptions
// ------------------------------------------------------------------------------------------

macro_rules! handlers {
    ($($name:ident = $pattern:literal;)*) => {
        $(
            #[webhook_handler($pattern)]
            async fn $name(_event: Event) -> Result<(), HandlerError> {
                Ok(())
            }
        )*
        /// The routes `#[webhook_handler]` generated for the patterns above.
        const HANDLERS: &[Route] = &[$($name::ROUTE),*];
    };
}

handlers! {
    order_created = "store/order/created";
    order_all = "store/order/*";
    cart_line_item_all = "store/cart/lineItem/*";
    cart_all = "store/cart/*";
    // Wildcards that are not catalogue wildcards: listed scope by scope.
    order_metafield_all = "store/order/metafield/*";
    price_list_all = "store/priceList/*";
    store_all = "store/*";
    channel_line_item_created_alias = "store/channel/<id>/cart/lineItems/created";
    channel_order_created = "store/channel/<id>/order/created";
    channel_order_all = "store/channel/<id>/order/*";
    channel_2_order_created = "store/channel/2/order/created";
    channel_2_order_all = "store/channel/2/order/*";
    channel_3_cart_all = "store/channel/3/cart/*";
    channel_any_all = "store/channel/<id>/*";
    channel_4_site_all = "store/channel/4/settings/site/*";
    all_channels_inventory = "store/channel/*/inventory/product/*";
    all_channels_stock = "store/channel/*/inventory/product/stock_changed";
    store_channel_all = "store/channel/*";
    catch_all = "*";
}

/// Channels the events are delivered on: every fixed channel of the routes, and others.
const CHANNELS: [u64; 5] = [1, 2, 3, 4, 77];

/// One event per concrete scope, per channel for the channel scopes.
fn events() -> &'static [(Scope, Option<u64>, Event)] {
    static EVENTS: OnceLock<Vec<(Scope, Option<u64>, Event)>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let mut events = Vec::new();
        for (scope, body) in fixtures() {
            let channels: Vec<Option<u64>> = match scope.info().kind {
                ScopeKind::ChannelTemplated => CHANNELS.iter().copied().map(Some).collect(),
                _ => vec![None],
            };
            for channel in channels {
                let mut body = body.clone();
                body["scope"] = Value::from(scope.delivered(channel.map(ChannelId)));
                let envelope = Envelope::from_slice(&serde_json::to_vec(&body).unwrap())
                    .unwrap_or_else(|e| panic!("{scope} fixture: {e}"));
                events.push((*scope, channel, envelope.event));
            }
        }
        events
    })
}

/// Whether BigCommerce delivers an event of `scope` on `channel` to `subscription`.
fn delivers(subscription: &Subscription, scope: Scope, channel: Option<u64>) -> bool {
    (subscription.scope == scope || subscription.scope.members().contains(&scope))
        && (subscription.channel.is_none() || subscription.channel == channel)
}

fn build_app(routes: &[Route]) -> App {
    routes
        .iter()
        .fold(App::empty(), |builder, route| builder.handler(*route))
        .build()
        .expect("no state needed")
}

/// Over every concrete scope and channel: delivered by a subscription <=> taken by a handler;
/// and each subscription delivers something no other one does.
fn check_subscriptions(routes: &[Route]) -> Result<(), TestCaseError> {
    let app = build_app(routes);
    let subscriptions = app.subscriptions();
    let names: Vec<&str> = routes.iter().map(|r| r.pattern).collect();
    for (scope, channel, event) in events() {
        let handled = app.routes_for(event).any(|r| !r.catch_all);
        let delivered = subscriptions.iter().any(|s| delivers(s, *scope, *channel));
        prop_assert_eq!(
            handled,
            delivered,
            "{} on channel {:?}: handled by {:?}, subscriptions {:?}",
            scope,
            channel,
            names,
            subscriptions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        );
    }
    let delivered_by: Vec<HashSet<(Scope, Option<u64>)>> = subscriptions
        .iter()
        .map(|s| {
            events()
                .iter()
                .filter(|(scope, channel, _)| delivers(s, *scope, *channel))
                .map(|(scope, channel, _)| (*scope, *channel))
                .collect()
        })
        .collect();
    for (a, mine) in subscriptions.iter().zip(&delivered_by) {
        prop_assert!(!mine.is_empty(), "{a} delivers nothing");
        for (b, theirs) in subscriptions.iter().zip(&delivered_by) {
            if a != b {
                prop_assert!(
                    !mine.is_subset(theirs),
                    "{a} is redundant with {b} (handlers {names:?})"
                );
            }
        }
    }
    // `"*"` handlers receive what the others subscribe to; they add no subscription.
    let without_catch_all: Vec<Route> = routes.iter().filter(|r| !r.catch_all).copied().collect();
    prop_assert_eq!(subscriptions, build_app(&without_catch_all).subscriptions());
    Ok(())
}

/// `Scope::ALL` in a static, for `&'static [Scope]` slices of one scope.
static ALL: [Scope; Scope::ALL.len()] = Scope::ALL;

/// The route `#[webhook_handler]` makes for a pattern spelled as a catalogue scope: the scope
/// (or the wildcard's members), the fixed channel of a channel scope, and the wildcard itself.
fn catalogue_route(scope: Scope, channel: Option<u64>) -> Route {
    let info = scope.info();
    let channel = channel.filter(|_| info.kind == ScopeKind::ChannelTemplated);
    let pattern = match channel {
        Some(id) => scope.delivered(Some(ChannelId(id))),
        None => scope.as_str().replace("{channel_id}", "<id>"),
    };
    Route {
        name: Box::leak(format!("catalogue::{}::{channel:?}", info.variant).into_boxed_str()),
        pattern: Box::leak(pattern.into_boxed_str()),
        scopes: if info.wildcard {
            scope.members()
        } else {
            std::slice::from_ref(&ALL[scope.index()])
        },
        catch_all: false,
        channel,
        wildcard: info.wildcard.then_some(scope),
        ..catch_all::ROUTE
    }
}

/// Every catalogue scope, on any channel and on channels 2 and 3.
fn catalogue_routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let mut routes = Vec::new();
        for scope in Scope::ALL {
            routes.push(catalogue_route(scope, None));
            if scope.info().kind == ScopeKind::ChannelTemplated {
                routes.push(catalogue_route(scope, Some(2)));
                routes.push(catalogue_route(scope, Some(3)));
            }
        }
        routes
    })
}

#[test]
fn catalogue_routes_are_built_like_the_macro_builds_them() {
    let cases = [
        (order_created::ROUTE, Scope::OrderCreated, None),
        (order_all::ROUTE, Scope::OrderAll, None),
        (cart_line_item_all::ROUTE, Scope::CartLineItemAll, None),
        (cart_all::ROUTE, Scope::CartAll, None),
        (
            channel_line_item_created_alias::ROUTE,
            Scope::ChannelCartLineItemCreated,
            None,
        ),
        (
            channel_order_created::ROUTE,
            Scope::ChannelOrderCreated,
            None,
        ),
        (channel_order_all::ROUTE, Scope::ChannelOrderAll, None),
        (
            channel_2_order_created::ROUTE,
            Scope::ChannelOrderCreated,
            Some(2),
        ),
        (channel_2_order_all::ROUTE, Scope::ChannelOrderAll, Some(2)),
        (channel_3_cart_all::ROUTE, Scope::ChannelCartAll, Some(3)),
        (
            all_channels_stock::ROUTE,
            Scope::AllChannelsInventoryProductStockChanged,
            None,
        ),
        (store_channel_all::ROUTE, Scope::ChannelAll, None),
    ];
    for (made, scope, channel) in cases {
        let built = catalogue_route(scope, channel);
        assert_eq!(made.scopes, built.scopes, "{}", made.pattern);
        assert_eq!(made.channel, built.channel, "{}", made.pattern);
        assert_eq!(made.wildcard, built.wildcard, "{}", made.pattern);
        assert!(!made.catch_all);
    }
    // The non-catalogue wildcards list their scopes: every one of the prefix and kind.
    for (made, prefix, kind) in [
        (
            order_metafield_all::ROUTE,
            "store/order/metafield/",
            ScopeKind::Store,
        ),
        (price_list_all::ROUTE, "store/priceList/", ScopeKind::Store),
        (store_all::ROUTE, "store/", ScopeKind::Store),
        (
            channel_any_all::ROUTE,
            "store/channel/{channel_id}/",
            ScopeKind::ChannelTemplated,
        ),
        (
            channel_4_site_all::ROUTE,
            "store/channel/{channel_id}/settings/site/",
            ScopeKind::ChannelTemplated,
        ),
        (
            all_channels_inventory::ROUTE,
            "store/channel/*/inventory/product/",
            ScopeKind::AllChannels,
        ),
    ] {
        let expected: Vec<Scope> = Scope::ALL
            .into_iter()
            .filter(|s| {
                let info = s.info();
                !info.wildcard && info.kind == kind && info.scope.starts_with(prefix)
            })
            .collect();
        assert_eq!(made.scopes, expected.as_slice(), "{}", made.pattern);
        assert_eq!(made.wildcard, None, "{}", made.pattern);
    }
    const { assert!(catch_all::ROUTE.catch_all) };
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn subscriptions_deliver_exactly_what_the_handlers_take(
        picks in prop::collection::vec(any::<bool>(), HANDLERS.len()),
    ) {
        let routes: Vec<Route> = HANDLERS
            .iter()
            .zip(&picks)
            .filter(|(_, &pick)| pick)
            .map(|(route, _)| *route)
            .collect();
        check_subscriptions(&routes)?;
    }

    #[test]
    fn subscriptions_of_catalogue_patterns_deliver_exactly_what_they_match(
        picks in prop::collection::vec(any::<Index>(), 1..6),
        handlers in prop::collection::vec(any::<Index>(), 0..3),
    ) {
        let routes: Vec<Route> = picks
            .iter()
            .map(|i| catalogue_routes()[i.index(catalogue_routes().len())])
            .chain(handlers.iter().map(|i| HANDLERS[i.index(HANDLERS.len())]))
            .collect();
        check_subscriptions(&routes)?;
    }
}

#[test]
fn each_catalogue_pattern_alone_subscribes_to_itself() {
    for route in catalogue_routes() {
        let subscriptions = build_app(&[*route]).subscriptions();
        let scope = route.wildcard.unwrap_or(route.scopes[0]);
        assert_eq!(
            subscriptions,
            vec![Subscription {
                scope,
                channel: route.channel
            }],
            "{}",
            route.pattern
        );
    }
}

/// The bundled catalogue, as the macro reads it.
fn bundled_catalogue() -> &'static bigcommerce_app_catalogue::Catalogue {
    static CATALOGUE: OnceLock<bigcommerce_app_catalogue::Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| bigcommerce_app_catalogue::bundled().expect("bundled catalogue"))
}

/// Pattern-like text: catalogue segments, `<id>`, numbers, `*` and stray characters.
fn pattern_text() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just("store".to_owned()),
        Just("channel".to_owned()),
        Just("<id>".to_owned()),
        Just("*".to_owned()),
        Just("order".to_owned()),
        Just("cart".to_owned()),
        Just("lineItem".to_owned()),
        Just("created".to_owned()),
        "[0-9]{1,3}",
        "[a-zA-Z<>*{}_ ]{0,6}",
    ];
    prop::collection::vec(segment, 0..7).prop_map(|parts| parts.join("/"))
}

proptest! {
    #![proptest_config(Config::with_cases(256))]

    /// Any text as a handler pattern: parsing and resolving never panic, a parsed pattern
    /// keeps its text, and what it resolves to is concrete catalogue scopes of its kind.
    #[test]
    fn patterns_parse_and_resolve_without_panicking(
        text in prop_oneof![any::<String>(), pattern_text()],
    ) {
        let Ok(pattern) = bigcommerce_app_catalogue::Pattern::parse(&text) else {
            return Ok(());
        };
        prop_assert_eq!(&pattern.raw, &text);
        if let Ok(scopes) = pattern.resolve(bundled_catalogue()) {
            prop_assert!(!scopes.is_empty(), "{text:?} resolved to nothing");
            for scope in scopes {
                prop_assert!(!scope.wildcard, "{text:?} resolved to wildcard {}", scope.scope);
                prop_assert_eq!(scope.kind, pattern.kind, "{:?}: {}", text, scope.scope);
            }
        }
    }
}
