//! The emulator's answers (one resource, and its list) for every API resource of
//! `resources.json` (derived from BigCommerce's OpenAPI specs) conform to the specs, twice over:
//!
//! - to the resource's shape in `resources.json`: no field the spec does not describe, and every
//!   field of the type the spec gives it;
//! - to the JSON Schema of the whole answer as the spec writes it (`spec_answers.json`, written
//!   from the specs by `crates/catalogue/tools/resources_from_specs.py`): the `data`/`meta`
//!   envelope, enums, formats, bounds, nullability and nesting included.
//!
//! The hand-written bodies (orders, products, carts) are held to the same rules as the generated
//! ones.

mod common;

use bigcommerce_app_catalogue::{
    bundled_resources, ApiVersion, FieldType, Payload, PayloadShape, Resources,
};
use common::*;
use serde_json::Value;

/// Where `value` breaks the shape `ty`; `path` names the place for the message.
fn check(
    resources: &Resources,
    path: &str,
    ty: &FieldType,
    value: &Value,
    problems: &mut Vec<String>,
) {
    let ok = match (ty, value) {
        (FieldType::Optional(_), Value::Null) => true,
        (FieldType::Optional(inner), _) => {
            check(resources, path, inner, value, problems);
            true
        }
        (FieldType::Id, Value::Number(n)) => n.is_u64(),
        (FieldType::Id, Value::String(s)) => s.parse::<u64>().is_ok(),
        (FieldType::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
        (FieldType::Number | FieldType::Decimal, Value::Number(_)) => true,
        (FieldType::Decimal, Value::String(s)) => s.parse::<f64>().is_ok(),
        (FieldType::String, Value::String(_)) | (FieldType::Boolean, Value::Bool(_)) => true,
        (FieldType::Any, _) => true,
        (FieldType::Array(inner), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                check(resources, &format!("{path}[{i}]"), inner, item, problems);
            }
            true
        }
        (FieldType::Object(name), Value::Object(_)) => {
            object(resources, path, name, value, problems);
            true
        }
        _ => false,
    };
    if !ok {
        problems.push(format!("{path}: {value} is not {ty:?}"));
    }
}

fn object(
    resources: &Resources,
    path: &str,
    name: &str,
    value: &Value,
    problems: &mut Vec<String>,
) {
    let shape: &Payload = resources
        .objects
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("no object {name}"));
    let PayloadShape::Object(fields) = &shape.shape else {
        return;
    };
    let Value::Object(map) = value else {
        problems.push(format!("{path}: not an object"));
        return;
    };
    for (key, field_value) in map {
        match fields.iter().find(|f| &f.json == key) {
            Some(field) => check(
                resources,
                &format!("{path}.{key}"),
                &field.ty,
                field_value,
                problems,
            ),
            None => problems.push(format!("{path}.{key}: not a field of {name} in the spec")),
        }
    }
}

/// A resource's path of one, under parent 7, with an id of the resource's kind (a cart's is
/// text).
fn one_path(name: &str, get: &str) -> String {
    get.replace("{parent_id}", "7")
        .replace("{id}", if name == "Cart" { "c-42" } else { "42" })
}

/// A list's path, under parent 7.
fn list_path(list: &str) -> String {
    list.replace("{parent_id}", "7")
}

/// The JSON of a `GET` that must answer 200.
async fn get_ok(url: &str, token: &str) -> Value {
    let answer = reqwest::Client::new()
        .get(url)
        .header("x-auth-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{url}");
    answer.json().await.unwrap()
}

#[tokio::test]
async fn every_resource_answer_conforms_to_its_spec_shape() {
    let resources = bundled_resources().expect("the bundled resources.json is valid");
    let h = start(|c| c).await.installed().await;
    let api = h.api();
    let root = h.emulator.base_url().to_owned() + "/stores/" + STORE;
    let mut problems = Vec::new();
    for entry in &resources.resources {
        // One resource, where the API has a path for one (a singleton's holds no id).
        if let Some(get) = &entry.get {
            let path = one_path(&entry.name, get);
            let body = get_ok(&format!("{root}{path}"), &api.token).await;
            let resource = match entry.version {
                ApiVersion::V3 => {
                    assert!(body.get("meta").is_some(), "{path}: v3 answers carry meta");
                    body["data"].clone()
                }
                ApiVersion::V2 => body,
            };
            object(
                &resources,
                &entry.name,
                &entry.name,
                &resource,
                &mut problems,
            );
        }
        let Some(list) = &entry.list else {
            continue;
        };
        let path = list_path(&list.path);
        let body = get_ok(&format!("{root}{path}?page=1&limit=2"), &api.token).await;
        let items = match entry.version {
            ApiVersion::V3 => {
                assert!(
                    body["meta"]["pagination"].is_object(),
                    "{path}: v3 lists are paginated"
                );
                body["data"].clone()
            }
            ApiVersion::V2 => body,
        };
        let items = items
            .as_array()
            .unwrap_or_else(|| panic!("{path}: not an array"));
        assert!(!items.is_empty(), "{path}");
        for (i, item) in items.iter().enumerate() {
            object(
                &resources,
                &format!("{path}[{i}]"),
                &entry.name,
                item,
                &mut problems,
            );
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_check_finds_an_unknown_field_and_a_wrong_type() {
    let resources = bundled_resources().unwrap();
    let mut problems = Vec::new();
    let body =
        serde_json::json!({"id": 1, "made_up": 2, "status": 5, "billing_address": {"city": 3}});
    object(&resources, "Order", "Order", &body, &mut problems);
    problems.sort();
    assert_eq!(
        problems,
        [
            "Order.billing_address.city: 3 is not String",
            "Order.made_up: not a field of Order in the spec",
            "Order.status: 5 is not String",
        ]
    );
}

/// The spec's JSON Schemas of a resource's answers (`spec_answers.json`, which the emulator
/// also answers by): `get` (one) and `list`, each `null` where the API has no such operation.
fn spec_answers(name: &str) -> Value {
    let path = format!("{}/spec_answers.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let all: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    all["answers"][name].clone()
}

/// Where `body` breaks `schema`, one line per violation.
fn violations(schema: &Value, body: &Value, what: &str) -> Vec<String> {
    let validator = jsonschema::draft7::new(schema)
        .unwrap_or_else(|e| panic!("{what}: the spec's schema does not compile: {e}"));
    validator
        .iter_errors(body)
        .map(|e| format!("{what}{}: {e}", e.instance_path()))
        .collect()
}

#[tokio::test]
async fn every_resource_answer_validates_against_the_specs_schema() {
    let resources = bundled_resources().expect("the bundled resources.json is valid");
    let h = start(|c| c).await.installed().await;
    let api = h.api();
    let root = h.emulator.base_url().to_owned() + "/stores/" + STORE;
    let mut problems = Vec::new();
    let mut checked = 0;
    for entry in &resources.resources {
        let answers = spec_answers(&entry.name);
        if let Some(get) = &entry.get {
            let schema = &answers["get"];
            assert!(schema.is_object(), "{}: no schema of GET one", entry.name);
            let path = one_path(&entry.name, get);
            let body = get_ok(&format!("{root}{path}"), &api.token).await;
            problems.extend(violations(schema, &body, &format!("GET {path}")));
            checked += 1;
        }
        if let Some(list) = &entry.list {
            let schema = &answers["list"];
            assert!(schema.is_object(), "{}: no schema of its list", entry.name);
            let path = list_path(&list.path);
            let body = get_ok(&format!("{root}{path}?page=1&limit=2"), &api.token).await;
            problems.extend(violations(schema, &body, &format!("GET {path}")));
            checked += 1;
        }
    }
    assert!(
        checked >= resources.resources.len(),
        "{checked} answers checked"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The JSON of a write (`POST` or `PUT` of `body`) that must succeed.
async fn write_ok(method: reqwest::Method, url: &str, token: &str, body: &Value) -> Value {
    let answer = reqwest::Client::new()
        .request(method.clone(), url)
        .header("x-auth-token", token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "{method} {url}: {}",
        answer.status()
    );
    answer.json().await.unwrap()
}

/// `schema` with the resource itself (the answer, or its `data`) open to fields it does not
/// list; nested objects stay closed, as `oneOf` alternatives are told apart by it.
fn opened(schema: &Value) -> Value {
    let mut schema = schema.clone();
    let open = |schema: &mut Value, pointer: &str| -> Option<String> {
        let node = schema.pointer_mut(pointer)?;
        if let Some(map) = node.as_object_mut() {
            map.remove("additionalProperties");
        }
        node.get("$ref")?
            .as_str()?
            .strip_prefix("#/definitions/")
            .map(|name| format!("/definitions/{name}"))
    };
    // The answer, then its `data`, each possibly a `$ref` to a definition.
    let mut at = Some(String::new());
    for _ in 0..2 {
        let Some(pointer) = at.take() else { break };
        if let Some(definition) = open(&mut schema, &pointer) {
            open(&mut schema, &definition);
            at = Some(format!("{definition}/properties/data"));
        } else {
            at = Some(format!("{pointer}/properties/data"));
        }
    }
    schema
}

/// A write answers the resource as its `GET` would. The specs' schemas of some write answers
/// list fewer fields than their `GET`'s (a created product's `channels`, a channel's
/// `currencies`, an updated v2 customer's `id` and dates), so here the fields they list are
/// checked (types, enums, formats, bounds, required) and others let through; the `GET` test
/// above refuses stray fields.
#[tokio::test]
async fn every_write_answer_validates_against_the_specs_schema() {
    let resources = bundled_resources().expect("the bundled resources.json is valid");
    let h = start(|c| c).await.installed().await;
    let api = h.api();
    let root = h.emulator.base_url().to_owned() + "/stores/" + STORE;
    let mut problems = Vec::new();
    let mut checked = 0;
    for entry in &resources.resources {
        let answers = spec_answers(&entry.name);
        let writes = [
            (
                "create",
                reqwest::Method::POST,
                entry.list.as_ref().map(|l| list_path(&l.path)),
            ),
            (
                "update",
                reqwest::Method::PUT,
                entry.get.as_ref().map(|g| one_path(&entry.name, g)),
            ),
        ];
        for (write, method, path) in writes {
            let Some(path) = path.filter(|_| entry.operations.iter().any(|o| o == write)) else {
                continue;
            };
            let url = format!("{root}{path}");
            let body = write_ok(method.clone(), &url, &api.token, &serde_json::json!({})).await;
            let what = format!("{method} {path}");
            problems.extend(violations(&opened(&answers[write]), &body, &what));
            checked += 1;
        }
    }
    // Every create and update the resources have (35 when this was written).
    assert!(checked >= 35, "{checked} write answers checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_specs_schema_refuses_a_stray_field_and_a_wrong_type() {
    let schema = &spec_answers("Brand")["get"];
    let body = serde_json::json!({"data": {"id": 1, "name": 5, "colour": "red"}, "meta": {}});
    let mut found = violations(schema, &body, "brand");
    found.sort();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].contains("/data/name") || found[1].contains("/data/name"),
        "{found:?}"
    );
    assert!(found.iter().any(|p| p.contains("colour")), "{found:?}");
}
