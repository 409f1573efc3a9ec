//! Resource bodies generated from what BigCommerce's specs say the API answers: the JSON Schema
//! of each `GET` answer (`spec_answers.json`, written from the specs by
//! `crates/catalogue/tools/resources_from_specs.py`). A generated body takes the spec's example
//! where it gives one, an allowed value where it lists them, a date where it asks for one, and
//! stays within the bounds it sets, so what the emulator answers is what the spec allows
//! (`tests/resource_conformance.rs` checks every answer against the same schemas).

use std::sync::OnceLock;

use rand::Rng;
use serde_json::{json, Map, Value};

const SPEC_ANSWERS: &str = include_str!("../spec_answers.json");

/// How deep objects are filled in: below it only their required fields, and arrays of objects
/// are empty (a category tree's children end there).
const FULL_DEPTH: usize = 4;

fn answers() -> &'static Value {
    static ANSWERS: OnceLock<Value> = OnceLock::new();
    // The file is this crate's own; its conformance test parses it, so `Null` (every resource
    // falling back to its shape in resources.json) is never seen in practice.
    ANSWERS.get_or_init(|| serde_json::from_str(SPEC_ANSWERS).unwrap_or(Value::Null))
}

/// The spec's schema of one resource of `name` and the document its `$ref`s point into: the
/// `data` (v3) or the body (v2) of its `GET` of one, or an item of its list. The two can differ
/// (a refund's `requested_amount` is a string in one and a number in the other), so each answer
/// is generated from its own.
pub(crate) struct ItemSchema {
    document: &'static Value,
    schema: &'static Value,
}

/// Which answer a body is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    One,
    ListItem,
}

impl ItemSchema {
    /// The schema for `answer`, or the other answer's where the spec has only that one.
    pub(crate) fn of(name: &str, wrapped: bool, answer: Answer) -> Option<ItemSchema> {
        let entry = answers().get("answers")?.get(name)?;
        let one = || {
            let document = entry.get("get").filter(|g| g.is_object())?;
            let schema = body(document, wrapped)?;
            Some(ItemSchema { document, schema })
        };
        let item = || {
            let document = entry.get("list").filter(|l| l.is_object())?;
            let items = body(document, wrapped)?;
            let schema = deref(document, items.get("items")?);
            Some(ItemSchema { document, schema })
        };
        match answer {
            Answer::One => one().or_else(item),
            Answer::ListItem => item().or_else(one),
        }
    }

    /// A body of this schema; `kind` names the resource for sample strings (`"product"`).
    pub(crate) fn generate(&self, kind: &str, rng: &mut impl Rng) -> Value {
        generate(self.document, self.schema, kind, kind, rng, 0)
    }
}

/// The schema of an answer's body: its `data` where the API wraps it (v3).
fn body(document: &Value, wrapped: bool) -> Option<&Value> {
    let root = deref(document, document);
    if wrapped {
        Some(deref(document, root.pointer("/properties/data")?))
    } else {
        Some(root)
    }
}

/// Follows `$ref`s (`#/definitions/...`) within `document`.
fn deref<'a>(document: &'a Value, mut node: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(name) = node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/definitions/"))
        else {
            return node;
        };
        match document.pointer(&format!("/definitions/{}", name.replace('~', "~0"))) {
            Some(target) => node = target,
            None => return &Value::Null,
        }
    }
    node
}

/// The JSON type a schema asks for, the first that is not `null`.
fn json_type(schema: &Value) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => Some(t),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null"),
        _ if schema.get("properties").is_some() => Some("object"),
        _ => None,
    }
}

fn generate(
    document: &Value,
    schema: &Value,
    name: &str,
    kind: &str,
    rng: &mut impl Rng,
    depth: usize,
) -> Value {
    let schema = deref(document, schema);
    // Of alternatives, one a value can only match alone: a string, else an array, else the
    // first (two object alternatives often both accept a sparse object).
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(options)) = schema.get(key) {
            let resolved: Vec<&Value> = options.iter().map(|o| deref(document, o)).collect();
            let pick = resolved
                .iter()
                .find(|o| json_type(o) == Some("string"))
                .or_else(|| resolved.iter().find(|o| json_type(o) == Some("array")))
                .or(resolved.first());
            return match pick {
                Some(option) => generate(document, option, name, kind, rng, depth),
                None => json!({}),
            };
        }
    }
    if let Some(Value::Array(allowed)) = schema.get("enum") {
        if let Some(value) = allowed.iter().find(|v| !v.is_null()) {
            return value.clone();
        }
    }
    let example = schema.get("example").filter(|e| !e.is_null());
    match json_type(schema) {
        Some("object") => {
            let mut out = Map::new();
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(Value::Object(properties)) = schema.get("properties") {
                for (field, property) in properties {
                    if depth >= FULL_DEPTH && !required.contains(&field.as_str()) {
                        continue;
                    }
                    out.insert(
                        field.clone(),
                        generate(document, property, field, kind, rng, depth + 1),
                    );
                }
            } else if let Some(Value::Object(example)) = example {
                return Value::Object(example.clone());
            }
            Value::Object(out)
        }
        Some("array") => {
            let items = deref(document, schema.get("items").unwrap_or(&Value::Null));
            let of_objects = matches!(json_type(items), Some("object"));
            if (of_objects && depth >= FULL_DEPTH - 1) || items.is_null() {
                return json!([]);
            }
            json!([generate(document, items, name, kind, rng, depth + 1)])
        }
        Some("string") => Value::String(string(schema, example, name, kind, rng)),
        Some("integer") => {
            if let Some(n) = example.filter(|e| e.is_i64() || e.is_u64()) {
                return n.clone();
            }
            let low = schema.get("minimum").and_then(Value::as_i64).unwrap_or(0);
            let high = schema
                .get("maximum")
                .and_then(Value::as_i64)
                .unwrap_or(low.saturating_add(500))
                .max(low);
            json!(rng.gen_range(low..=high))
        }
        // An id the spec types as a number is a whole one (v2's `customer_id`).
        Some("number") if name == "id" || name.ends_with("_id") => {
            let low = schema.get("minimum").and_then(Value::as_u64).unwrap_or(1);
            let high = schema
                .get("maximum")
                .and_then(Value::as_u64)
                .unwrap_or(100_000)
                .max(low);
            json!(rng.gen_range(low..=high))
        }
        Some("number") => {
            if let Some(n) = example.filter(|e| e.is_number()) {
                return n.clone();
            }
            let low = schema.get("minimum").and_then(Value::as_f64).unwrap_or(0.0);
            let high = schema
                .get("maximum")
                .and_then(Value::as_f64)
                .unwrap_or(low + 500.0)
                .max(low);
            let cents = rng.gen_range(0..=10_000u32);
            let value = low + (high - low) * f64::from(cents) / 10_000.0;
            json!((value * 100.0).round() / 100.0)
        }
        Some("boolean") => example.cloned().unwrap_or(json!(true)),
        _ => example.cloned().unwrap_or(json!({})),
    }
}

/// A string the schema allows: a date or time where it asks for one, the spec's example, or a
/// sample naming the field, within its length bounds.
fn string(
    schema: &Value,
    example: Option<&Value>,
    name: &str,
    kind: &str,
    rng: &mut impl Rng,
) -> String {
    let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
    let mut text = match format {
        "date-time" => "2024-03-05T14:00:00Z".to_owned(),
        "date" => "2024-03-05".to_owned(),
        "email" => "customer@example.com".to_owned(),
        "uri" | "url" => format!("https://example.com/{kind}/{name}"),
        "uuid" => crate::core::random_uuid(),
        _ => match example {
            Some(Value::String(text)) => text.clone(),
            Some(other @ Value::Number(_)) => other.to_string(),
            _ => crate::payloads::sample_string(name, kind, rng),
        },
    };
    let max = schema.get("maxLength").and_then(Value::as_u64);
    if let Some(max) = max.and_then(|m| usize::try_from(m).ok()) {
        text = text.chars().take(max).collect();
    }
    let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0);
    while (text.chars().count() as u64) < min {
        text.push('x');
    }
    text
}

/// The fields the spec allows in a list's `meta.pagination` (`None`: it does not say), so the
/// emulator leaves out those a resource's list does not have (price lists have no `links`).
pub(crate) fn pagination_fields(name: &str) -> Option<Vec<&'static str>> {
    let list = answers().get("answers")?.get(name)?.get("list")?;
    let meta = deref(list, deref(list, list).pointer("/properties/meta")?);
    let pagination = deref(list, meta.pointer("/properties/pagination")?);
    let fields = pagination.get("properties")?.as_object()?;
    Some(fields.keys().map(String::as_str).collect())
}
