//! The emulator's hooks API answers validate against the response schemas of the official
//! OpenAPI spec (`shared/bc-openapi/webhooks.v3.yml`, read at test time).

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::{json, Map, Value};

fn load_spec() -> Option<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/bc-openapi/webhooks.v3.yml");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_norway::from_str(&text).expect("the spec is YAML")),
        Err(_) => {
            println!("skipped: {} not found", path.display());
            None
        }
    }
}

/// Inlines local `$ref`s and maps OpenAPI 3.0's `nullable: true` onto a JSON Schema type list.
/// Objects that list properties refuse others, so a stray field in an answer fails.
fn resolve(spec: &Value, node: &Value, depth: usize) -> Value {
    assert!(depth < 40, "reference cycle");
    match node {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                let target = reference
                    .strip_prefix('#')
                    .and_then(|p| spec.pointer(p))
                    .unwrap_or_else(|| panic!("unresolved {reference}"));
                return resolve(spec, target, depth + 1);
            }
            let mut out = Map::new();
            for (key, value) in map {
                if matches!(
                    key.as_str(),
                    "nullable" | "example" | "examples" | "readOnly" | "links"
                ) {
                    continue;
                }
                let value = if key == "properties" {
                    Value::Object(
                        value
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(k, v)| (k.clone(), resolve(spec, v, depth + 1)))
                            .collect(),
                    )
                } else {
                    resolve(spec, value, depth + 1)
                };
                out.insert(key.clone(), value);
            }
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(ty)) = out.get("type").cloned() {
                    out.insert("type".into(), json!([ty, "null"]));
                }
            }
            let has_properties = out
                .get("properties")
                .and_then(Value::as_object)
                .is_some_and(|p| !p.is_empty());
            // `allOf` branches see the whole object, so only leaf objects are closed.
            if has_properties && !out.contains_key("additionalProperties") && depth > 0 {
                out.insert("additionalProperties".into(), Value::Bool(false));
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| resolve(spec, v, depth + 1)).collect())
        }
        other => other.clone(),
    }
}

fn response_schema(spec: &Value, path: &str, verb: &str, status: &str) -> Value {
    let escaped = path.replace('~', "~0").replace('/', "~1");
    let response = spec
        .pointer(&format!("/paths/{escaped}/{verb}/responses/{status}"))
        .unwrap_or_else(|| panic!("no {verb} {path} {status} in the spec"));
    let response = resolve(spec, response, 0);
    let schema = response
        .pointer("/content/application~1json/schema")
        .cloned()
        .unwrap_or_else(|| panic!("no JSON schema for {verb} {path} {status}"));
    relax_all_of(schema)
}

/// `webhook_Full` is an `allOf` of two object schemas; closing each branch would refuse the other
/// branch's fields, so `allOf` branches are re-opened.
fn relax_all_of(mut schema: Value) -> Value {
    fn walk(node: &mut Value, in_all_of: bool) {
        match node {
            Value::Object(map) => {
                if in_all_of {
                    map.remove("additionalProperties");
                }
                for (key, value) in map.iter_mut() {
                    walk(value, key == "allOf");
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(item, in_all_of);
                }
            }
            _ => {}
        }
    }
    walk(&mut schema, false);
    schema
}

fn assert_valid(schema: &Value, body: &Value, what: &str) {
    let validator = jsonschema::draft7::new(schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: {body} violates the spec: {errors:?}"
    );
}

#[tokio::test]
async fn hooks_answers_match_the_official_spec() {
    let Some(spec) = load_spec() else { return };
    let h = start(|c| c).await.installed().await;
    let api = h.api();

    let create = response_schema(&spec, "/hooks", "post", "200");
    let list = response_schema(&spec, "/hooks", "get", "200");
    let one = response_schema(&spec, "/hooks/{webhook_id}", "get", "200");
    let update = response_schema(&spec, "/hooks/{webhook_id}", "put", "200");
    let delete = response_schema(&spec, "/hooks/{webhook_id}", "delete", "200");
    let admin = response_schema(&spec, "/hooks/admin", "get", "200");
    let not_found = response_schema(&spec, "/hooks/{webhook_id}", "get", "404");
    let invalid = response_schema(&spec, "/hooks", "post", "422");
    let unauthorized = response_schema(&spec, "/hooks", "get", "401");

    // The checks can fail.
    let validator = jsonschema::draft7::new(&create).unwrap();
    assert!(!validator.is_valid(&json!({ "data": { "id": "seven" } })));
    assert!(!validator.is_valid(&json!({ "data": { "id": 1, "unexpected": true } })));

    let created = api
        .post("/hooks", json!({ "scope": "store/order/created", "destination": h.destination(), "headers": { "k": "v" } }))
        .await;
    assert_eq!(created.status, 200);
    assert_valid(&create, &created.body, "POST /hooks");
    let bare = api
        .post(
            "/hooks",
            json!({ "scope": "store/cart/*", "destination": h.destination() }),
        )
        .await;
    assert_valid(&create, &bare.body, "POST /hooks without headers");
    let id = created.body["data"]["id"].as_u64().unwrap();

    assert_valid(&list, &api.get("/hooks").await.body, "GET /hooks");
    assert_valid(
        &list,
        &api.get("/hooks?page=2&limit=1").await.body,
        "GET /hooks page 2",
    );
    assert_valid(
        &one,
        &api.get(&format!("/hooks/{id}")).await.body,
        "GET /hooks/{id}",
    );
    let updated = api
        .put(&format!("/hooks/{id}"), json!({ "is_active": false }))
        .await;
    assert_valid(&update, &updated.body, "PUT /hooks/{id}");

    assert_eq!(
        api.put("/hooks/admin", json!({ "emails": ["a@example.com"] }))
            .await
            .status,
        204
    );
    assert_valid(
        &admin,
        &api.get("/hooks/admin").await.body,
        "GET /hooks/admin",
    );
    assert_valid(
        &admin,
        &api.get("/hooks/admin?is_active=false").await.body,
        "GET /hooks/admin filtered",
    );

    assert_valid(
        &delete,
        &api.delete(&format!("/hooks/{id}")).await.body,
        "DELETE /hooks/{id}",
    );
    assert_valid(
        &not_found,
        &api.get(&format!("/hooks/{id}")).await.body,
        "404",
    );
    let rejected = api
        .post(
            "/hooks",
            json!({ "scope": "store/nope", "destination": h.destination() }),
        )
        .await;
    assert_eq!(rejected.status, 422);
    assert_valid(&invalid, &rejected.body, "422");
    let mut stranger = h.api();
    stranger.token = "unknown".into();
    assert_valid(&unauthorized, &stranger.get("/hooks").await.body, "401");
}
