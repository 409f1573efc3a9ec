//! Every body the client sends to `/hooks` must validate against the request schemas of the
//! official OpenAPI spec (`shared/bc-openapi/webhooks.v3.yml`, read at test time).

mod common;

use std::path::PathBuf;

use bigcommerce_app_api::{AdminEmails, NewWebhook, WebhookUpdate};
use common::*;
use serde_json::{json, Map, Value};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bc-openapi/webhooks.v3.yml")
}

fn load_spec() -> Option<Value> {
    let path = spec_path();
    let Ok(text) = std::fs::read_to_string(&path) else {
        println!("skipped: {} not found", path.display());
        return None;
    };
    Some(serde_norway::from_str(&text).expect("the spec is valid YAML"))
}

/// Follows a local `#/a/b/c` reference.
fn pointer<'a>(spec: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference.strip_prefix('#').expect("local reference");
    spec.pointer(pointer)
        .unwrap_or_else(|| panic!("unresolved reference {reference}"))
}

/// Inlines every `$ref` and turns the OpenAPI 3.0 dialect into JSON Schema: `nullable: true`
/// adds `null` to `type`. With `strict`, objects that list their properties refuse any other
/// property, so a field the spec does not define (e.g. the removed `events_history_enabled`)
/// fails the check.
fn to_json_schema(spec: &Value, schema: &Value, strict: bool, depth: usize) -> Value {
    assert!(depth < 32, "reference cycle");
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                return to_json_schema(spec, pointer(spec, reference), strict, depth + 1);
            }
            let mut out = Map::new();
            for (key, value) in map {
                match key.as_str() {
                    "nullable" | "example" | "examples" | "readOnly" | "writeOnly" => {}
                    "properties" => {
                        let props = value
                            .as_object()
                            .map(|props| {
                                props
                                    .iter()
                                    .map(|(k, v)| {
                                        (k.clone(), to_json_schema(spec, v, strict, depth + 1))
                                    })
                                    .collect::<Map<_, _>>()
                            })
                            .unwrap_or_default();
                        out.insert(key.clone(), Value::Object(props));
                    }
                    _ => {
                        out.insert(key.clone(), to_json_schema(spec, value, strict, depth + 1));
                    }
                }
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(kind)) = out.get("type").cloned() {
                    out.insert("type".into(), json!([kind, "null"]));
                }
            }
            let lists_properties = out
                .get("properties")
                .and_then(Value::as_object)
                .is_some_and(|p| !p.is_empty());
            if strict && lists_properties && !out.contains_key("additionalProperties") {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| to_json_schema(spec, v, strict, depth + 1))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn request_schema(spec: &Value, path: &str, verb: &str) -> Value {
    let escaped = path.replace('~', "~0").replace('/', "~1");
    let schema = pointer(
        spec,
        &format!("#/paths/{escaped}/{verb}/requestBody/content/application~1json/schema"),
    );
    to_json_schema(spec, schema, true, 0)
}

fn assert_valid(schema: &Value, body: &Value, what: &str) {
    let validator = jsonschema::draft7::new(schema).expect("the schema compiles");
    let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{what} body {body} violates the spec: {errors:?}"
    );
}

#[tokio::test]
async fn hook_request_bodies_match_the_official_spec() {
    let Some(spec) = load_spec() else { return };
    let create = request_schema(&spec, "/hooks", "post");
    let update = request_schema(&spec, "/hooks/{webhook_id}", "put");
    let admin = request_schema(&spec, "/hooks/admin", "put");

    // The checks must be able to fail.
    let validator = jsonschema::draft7::new(&create).expect("compiles");
    assert!(
        !validator.is_valid(&json!({"scope": "store/order/created"})),
        "destination is required"
    );
    assert!(!validator
        .is_valid(&json!({"scope": "s", "destination": "d", "events_history_enabled": true})));
    assert!(!jsonschema::draft7::new(&update)
        .expect("compiles")
        .is_valid(&json!({"headers": {"a": 1}})));

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(r"/v3/hooks$"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": hook_json(1, "store/order/created"), "meta": {}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex(r"/v3/hooks/\d+$"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": hook_json(1, "store/order/created"), "meta": {}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex(r"/v3/hooks/admin$"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;

    let store = store(&server);
    let creates = [
        NewWebhook::new("store/order/created", "https://app.example.com/webhooks"),
        NewWebhook::new(
            "store/channel/1/order/*",
            "https://app.example.com/webhooks",
        )
        .with_header("x-app-secret", "s3cret")
        .with_header("x-tenant", "abc123"),
        NewWebhook {
            is_active: false,
            ..NewWebhook::new("store/cart/lineItem/*", "https://app.example.com/webhooks")
        },
    ];
    for hook in &creates {
        store.create_hook(hook).await.expect("created");
    }
    let updates = [
        WebhookUpdate {
            is_active: Some(true),
            ..WebhookUpdate::default()
        },
        WebhookUpdate {
            scope: Some("store/order/*".into()),
            destination: Some("https://app.example.com/v2/webhooks".into()),
            headers: Some(Some(
                [("x-app-secret".to_owned(), "rotated".to_owned())].into(),
            )),
            ..WebhookUpdate::default()
        },
        WebhookUpdate {
            headers: Some(None),
            ..WebhookUpdate::default()
        },
    ];
    for update in &updates {
        store.update_hook(1, update).await.expect("updated");
    }
    store
        .put_hooks_admin(&AdminEmails {
            emails: vec!["ops@example.com".into()],
        })
        .await
        .expect("emails set");

    let requests = server.received_requests().await.unwrap_or_default();
    let mut checked = 0;
    for request in &requests {
        let body: Value = request.body_json().expect("JSON body");
        let (schema, what) = match (request.method.as_str(), request.url.path()) {
            ("POST", p) if p.ends_with("/v3/hooks") => (&create, "create"),
            ("PUT", p) if p.ends_with("/v3/hooks/admin") => (&admin, "admin put"),
            ("PUT", _) => (&update, "update"),
            other => panic!("unexpected request {other:?}"),
        };
        assert_valid(schema, &body, what);
        checked += 1;
    }
    assert_eq!(checked, creates.len() + updates.len() + 1);
}
