//! The store resources a webhook handler fetches after an event. Channels, orders (v2),
//! products and carts (v3) have hand-written bodies; every other resource of the catalogue's
//! `resources.json` (derived from BigCommerce's specs) is answered with a body generated from the
//! spec's schema of its answer ([`crate::spec_body`]), the same for the same id. Any id exists except `0` and the ids marked missing with
//! [`crate::Emulator::set_missing`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use bigcommerce_app_catalogue::{ApiVersion, FieldType, PayloadShape, ResourceEntry};
use rand::SeedableRng;
use serde_json::{json, Value};

use crate::core::Core;
use crate::server::{api_error, unknown_store, Caller};
use crate::spec_body::Answer;

/// A resource kind the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// `GET /v2/orders/{id}`
    Order,
    /// `GET /v3/catalog/products/{id}`
    Product,
    /// `GET /v3/carts/{id}`
    Cart,
    /// Any other resource of `resources.json`, by its name (`"Shipment"`, `"Brand"`).
    Other(&'static str),
}

const CREATED: &str = "Tue, 05 Mar 2024 14:00:00 +0000";
const CREATED_ISO: &str = "2024-03-05T14:00:00Z";

/// A number derived from an id, to vary generated fields.
fn seed(id: &str) -> u64 {
    id.bytes().fold(7u64, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u64::from(b))
    })
}

pub(crate) async fn channels(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
) -> Response {
    // The store's channels; one the app created answers as it was written.
    let Ok(data) = core.with_store(&caller.store, |s| {
        s.channels
            .iter()
            .map(|&id| {
                let key = ("Channel".to_owned(), String::new(), id.to_string());
                s.written
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| channel_json(id))
            })
            .collect::<Vec<Value>>()
    }) else {
        return unknown_store();
    };
    let count = data.len();
    Json(json!({
        "data": data,
        "meta": { "pagination": {
            "total": count, "count": count, "per_page": 50.max(count), "current_page": 1,
            "total_pages": 1, "links": { "current": "?page=1&limit=50" },
        }},
    }))
    .into_response()
}

pub(crate) fn channel_json(id: u64) -> Value {
    json!({
        "id": id,
        "name": if id == 1 { "Default storefront".to_owned() } else { format!("Channel {id}") },
        "type": "storefront",
        "platform": "bigcommerce",
        "status": "active",
        "is_listable_from_ui": true,
        "is_visible": true,
        "date_created": CREATED_ISO,
        "date_modified": CREATED_ISO,
        "icon_url": "",
    })
}

/// BigCommerce's v2 API answers errors with an array.
fn v2_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!([{ "status": 404, "message": "The requested resource was not found." }])),
    )
        .into_response()
}

fn not_found(what: &str) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        &format!("The requested {what} was not found."),
        None,
    )
}

/// `GET` of one resource of `resources.json`: what it is now (see [`current_body`]), or the
/// API's 404 for an id it does not have.
pub(crate) async fn get_one(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
    Extension(entry): Extension<Arc<ResourceEntry>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    // The store's one (store information) is known by the store's hash.
    let id = if entry.is_singleton() {
        caller.store.clone()
    } else {
        params.get("id").cloned().unwrap_or_default()
    };
    let parent = params.get("parent_id").cloned().unwrap_or_default();
    match current_body(&core, &caller.store, &entry, &parent, &id) {
        Some(body) => answer(body, entry.wrapped, StatusCode::OK),
        None => not_found_for(&entry.name, entry.wrapped),
    }
}

/// A body of `entry`'s shape for `id`, generated from a seed of the ids (so the same id answers
/// the same), with its id and, for a nested resource, its parent's id filled in.
fn generated_body(
    core: &Core,
    entry: &ResourceEntry,
    id: &str,
    parent_id: Option<&str>,
    numeric: bool,
    answer: Answer,
) -> Value {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed(&format!(
        "{}/{}/{id}",
        entry.name,
        parent_id.unwrap_or_default()
    )));
    let kind = entry.name.to_ascii_lowercase();
    let mut body = match crate::spec_body::ItemSchema::of(&entry.name, entry.wrapped, answer) {
        Some(schema) => schema.generate(&kind, &mut rng),
        None => crate::payloads::object(&core.resources.objects, &entry.name, &kind, &mut rng, 0),
    };
    if let Value::Object(map) = &mut body {
        // An item without an id of its own (an inventory item) keeps its shape.
        if let Some(kind) = field_type(core, &entry.name, "id") {
            map.insert("id".into(), typed_id(id, numeric && !is_string(&kind)));
        }
        if let (Some(parent), Some(parent_id)) = (&entry.parent, parent_id) {
            let link = format!("{}_id", bigcommerce_app_catalogue::snake_case(parent));
            if let Some(kind) = field_type(core, &entry.name, &link) {
                map.insert(link, typed_id(parent_id, !is_string(&kind)));
            }
        }
    }
    body
}

/// The type of a field of an object of `resources.json`.
fn field_type(core: &Core, object: &str, field: &str) -> Option<FieldType> {
    core.resources
        .objects
        .iter()
        .find(|o| o.name == object)
        .and_then(|o| match &o.shape {
            PayloadShape::Object(fields) => fields.iter().find(|f| f.json == field),
            PayloadShape::ArrayOf(_) => None,
        })
        .map(|f| f.ty.clone())
}

fn is_string(ty: &FieldType) -> bool {
    match ty {
        FieldType::String => true,
        FieldType::Optional(inner) => is_string(inner),
        _ => false,
    }
}

/// An id as JSON: a number where the field is one and the id is numeric, else the text.
fn typed_id(id: &str, as_number: bool) -> Value {
    match id.parse::<u64>() {
        Ok(number) if as_number => json!(number),
        _ => json!(id),
    }
}

/// How many items a generated collection holds, whatever its parent: enough for two pages at a
/// small `limit`.
pub(crate) const COLLECTION_SIZE: u64 = 3;

/// `GET` of the list of a resource of `resources.json`: [`COLLECTION_SIZE`] generated items with
/// ids 1, 2, 3, paged by `page` and `limit` as the API pages (v3 with `meta.pagination`, v2 with
/// `204 No Content` past the end). Filters are accepted and not applied.
pub(crate) async fn generated_list(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
    Extension(entry): Extension<Arc<ResourceEntry>>,
    Path(params): Path<HashMap<String, String>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let number = |name: &str, default: u64| {
        query
            .get(name)
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(default)
    };
    let (page, limit) = (number("page", 1), number("limit", 50).min(250));
    let parent_id = params.get("parent_id").map(String::as_str);
    let numeric = is_numeric(&core, &entry);
    // The generated ids 1 to 3, what the app created, less what it deleted.
    let parent = parent_id.unwrap_or_default().to_owned();
    let (written, deleted) = core
        .with_store(&caller.store, |s| {
            let mine = |key: &&(String, String, String)| key.0 == entry.name && key.1 == parent;
            let written: Vec<(String, Value)> = s
                .written
                .iter()
                .filter(|(key, _)| mine(key))
                .map(|(key, body)| (key.2.clone(), body.clone()))
                .collect();
            let deleted: HashSet<String> = s
                .deleted
                .iter()
                .filter(mine)
                .map(|key| key.2.clone())
                .collect();
            (written, deleted)
        })
        .unwrap_or_default();
    let written_ids: HashSet<String> = written.iter().map(|(id, _)| id.clone()).collect();
    let mut all: Vec<(String, Value)> = (1..=COLLECTION_SIZE)
        .map(|id| id.to_string())
        .filter(|id| !deleted.contains(id) && !written_ids.contains(id))
        .map(|id| {
            let body = generated_body(&core, &entry, &id, parent_id, numeric, Answer::ListItem);
            (id, body)
        })
        .chain(written)
        .collect();
    all.sort_by(|a, b| match (a.0.parse::<u64>(), b.0.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.0.cmp(&b.0),
    });
    let total = all.len() as u64;
    let skip = usize::try_from((page - 1).saturating_mul(limit)).unwrap_or(usize::MAX);
    let items: Vec<Value> = all
        .into_iter()
        .skip(skip)
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|(_, body)| body)
        .collect();
    if entry.version == ApiVersion::V2 {
        if items.is_empty() {
            return StatusCode::NO_CONTENT.into_response();
        }
        return Json(Value::Array(items)).into_response();
    }
    let count = items.len();
    let mut pagination = json!({
        "total": total, "count": count, "per_page": limit, "current_page": page,
        "total_pages": total.div_ceil(limit).max(1),
        "links": { "current": format!("?page={page}&limit={limit}") },
    });
    if let (Some(allowed), Value::Object(fields)) = (
        crate::spec_body::pagination_fields(&entry.name),
        &mut pagination,
    ) {
        fields.retain(|key, _| allowed.contains(&key.as_str()));
    }
    Json(json!({ "data": items, "meta": { "pagination": pagination } })).into_response()
}

fn answer(body: Value, wrapped: bool, status: StatusCode) -> Response {
    if wrapped {
        (status, Json(json!({ "data": body, "meta": {} }))).into_response()
    } else {
        (status, Json(body)).into_response()
    }
}

fn not_found_for(name: &str, wrapped: bool) -> Response {
    if wrapped {
        not_found(&name.to_ascii_lowercase())
    } else {
        v2_not_found()
    }
}

/// The fields of a write's body; `None` for a body that is not a JSON object.
fn fields_of(body: &[u8]) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(fields)) => Some(fields),
        _ => None,
    }
}

/// What BigCommerce answers for a write whose body is not an object.
fn not_an_object() -> Response {
    api_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "The request body must be a JSON object.",
        None,
    )
}

/// `POST` to the list path of a resource: a new resource with the next id, the fields sent laid
/// over a generated body, kept so later `GET`s and lists answer it.
pub(crate) async fn generated_create(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
    Extension(entry): Extension<Arc<ResourceEntry>>,
    Path(params): Path<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let Some(fields) = fields_of(&body) else {
        return not_an_object();
    };
    let parent = params.get("parent_id").cloned();
    let numeric = is_numeric(&core, &entry);
    let Ok(id) = core.with_store(&caller.store, |s| {
        s.next_id += 1;
        // A created channel is one of the store's channels from then on: listed, and its
        // channel-scoped events deliverable, as in a real store.
        if entry.name == "Channel" {
            s.channels.push(s.next_id);
        }
        s.next_id
    }) else {
        return unknown_store();
    };
    let id = if numeric {
        id.to_string()
    } else {
        crate::core::random_uuid()
    };
    let mut created = generated_body(&core, &entry, &id, parent.as_deref(), numeric, Answer::One);
    lay_over(&mut created, fields);
    let key = (entry.name.clone(), parent.unwrap_or_default(), id);
    keep_written(&core, &caller, key, created, entry.wrapped)
}

/// The fields a write sends, over a body; the id is the API's to give.
fn lay_over(body: &mut Value, fields: serde_json::Map<String, Value>) {
    if let Value::Object(map) = body {
        for (key, value) in fields {
            if key != "id" {
                map.insert(key, value);
            }
        }
    }
}

/// Keeps a written body for later reads (undoing an earlier delete of the same key) and answers
/// it.
fn keep_written(
    core: &Core,
    caller: &Caller,
    key: (String, String, String),
    body: Value,
    wrapped: bool,
) -> Response {
    let stored = body.clone();
    let kept = core.with_store(&caller.store, |s| {
        s.deleted.remove(&key);
        s.written.insert(key, stored);
    });
    match kept {
        Ok(()) => answer(body, wrapped, StatusCode::OK),
        Err(_) => unknown_store(),
    }
}

/// `PUT` of a resource: the fields sent laid over what it is now; 404 if it is gone.
pub(crate) async fn generated_update(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
    Extension(entry): Extension<Arc<ResourceEntry>>,
    Path(params): Path<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Response {
    let Some(fields) = fields_of(&body) else {
        return not_an_object();
    };
    let id = params.get("id").cloned().unwrap_or_default();
    let parent = params.get("parent_id").cloned().unwrap_or_default();
    let Some(mut current) = current_body(&core, &caller.store, &entry, &parent, &id) else {
        return not_found_for(&entry.name, entry.wrapped);
    };
    lay_over(&mut current, fields);
    let key = (entry.name.clone(), parent, id);
    keep_written(&core, &caller, key, current, entry.wrapped)
}

/// `DELETE` of a resource: 204, and 404 from then on; 404 if it is already gone.
pub(crate) async fn generated_delete(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
    Extension(entry): Extension<Arc<ResourceEntry>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    let parent = params.get("parent_id").cloned().unwrap_or_default();
    if current_body(&core, &caller.store, &entry, &parent, &id).is_none() {
        return not_found_for(&entry.name, entry.wrapped);
    }
    let key = (entry.name.clone(), parent, id);
    if core
        .with_store(&caller.store, |s| {
            s.written.remove(&key);
            s.deleted.insert(key);
        })
        .is_err()
    {
        return unknown_store();
    }
    StatusCode::NO_CONTENT.into_response()
}

fn is_numeric(core: &Core, entry: &ResourceEntry) -> bool {
    core.resources
        .objects
        .iter()
        .find(|o| o.name == entry.name)
        .is_some_and(|o| match &o.shape {
            PayloadShape::Object(fields) => fields
                .iter()
                .any(|f| f.json == "id" && f.ty == FieldType::Id),
            PayloadShape::ArrayOf(_) => false,
        })
}

/// What a resource is now, as JSON: what the app last wrote; `None` if it deleted it, if the id
/// is `0`, not of the resource's id type, or marked with [`crate::Emulator::set_missing`];
/// otherwise the hand-written body (orders, products, carts) or one generated from its shape.
fn current_body(
    core: &Core,
    store: &str,
    entry: &ResourceEntry,
    parent: &str,
    id: &str,
) -> Option<Value> {
    let key = (entry.name.clone(), parent.to_owned(), id.to_owned());
    let numeric = is_numeric(core, entry);
    let kind = match entry.name.as_str() {
        "Order" => Some(Resource::Order),
        "Product" => Some(Resource::Product),
        "Cart" => Some(Resource::Cart),
        _ => None,
    };
    core.with_store(store, |s| {
        if s.deleted.contains(&key) {
            return None;
        }
        if let Some(body) = s.written.get(&key) {
            return Some(body.clone());
        }
        let marked = s.missing.iter().any(|(k, missing)| {
            missing == id
                && match k {
                    Resource::Other(name) => *name == entry.name,
                    other => Some(*other) == kind,
                }
        });
        let valid = id != "0" && (!numeric || id.parse::<u64>().is_ok());
        (valid && !marked).then(|| match (kind, id.parse::<u64>()) {
            (Some(Resource::Order), Ok(number)) => order_body(id, number),
            (Some(Resource::Product), Ok(number)) => product_body(id, number),
            (Some(Resource::Cart), _) => cart_body(id),
            _ => generated_body(
                core,
                entry,
                id,
                (!parent.is_empty()).then_some(parent),
                numeric,
                Answer::One,
            ),
        })
    })
    .ok()
    .flatten()
}

/// The hand-written order (v2) of an id.
fn order_body(id: &str, number: u64) -> Value {
    let s = seed(id);
    let subtotal = 10.0 + (s % 9000) as f64 / 100.0;
    json!({
        "id": number,
        "customer_id": s % 500,
        "date_created": CREATED,
        "date_modified": CREATED,
        "status_id": 11,
        "status": "Awaiting Fulfillment",
        "subtotal_ex_tax": format!("{subtotal:.4}"),
        "subtotal_inc_tax": format!("{subtotal:.4}"),
        "total_ex_tax": format!("{subtotal:.4}"),
        "total_inc_tax": format!("{subtotal:.4}"),
        "items_total": 1 + s % 4,
        "payment_status": "captured",
        "currency_code": "USD",
        "channel_id": 1,
        "billing_address": {
            "first_name": "Jane", "last_name": "Doe", "email": "customer@example.com",
            "city": "Austin", "zip": "78701", "country": "United States", "country_iso2": "US",
        },
        "products": { "url": format!("/v2/orders/{number}/products"), "resource": format!("/orders/{number}/products") },
    })
}

/// The hand-written product (v3 `data`) of an id.
fn product_body(id: &str, number: u64) -> Value {
    let s = seed(id);
    json!({
        "id": number,
        "name": format!("Sample product {number}"),
        "type": "physical",
        "sku": format!("SKU-{number}"),
        "price": 5.0 + (s % 20000) as f64 / 100.0,
        "weight": 1 + s % 5,
        "inventory_level": s % 100,
        "is_visible": true,
        "date_created": CREATED_ISO,
        "date_modified": CREATED_ISO,
    })
}

/// The hand-written cart (v3 `data`) of an id.
fn cart_body(id: &str) -> Value {
    let s = seed(id);
    let price = 5.0 + (s % 20000) as f64 / 100.0;
    json!({
        "id": id,
        "customer_id": 0,
        "channel_id": 1,
        "email": "",
        "currency": { "code": "USD" },
        "base_amount": price,
        "cart_amount": price,
        "line_items": {
            "physical_items": [{
                "id": crate::core::random_uuid(),
                "product_id": 1 + s % 1000,
                "variant_id": 1 + s % 3000,
                "quantity": 1,
                "sale_price": price,
                "list_price": price,
            }],
            "digital_items": [],
            "gift_certificates": [],
            "custom_items": [],
        },
        "created_time": CREATED_ISO,
        "updated_time": CREATED_ISO,
    })
}

/// The events that are a resource's own lifecycle: `<prefix>created`, `<prefix>updated` and
/// `<prefix>deleted` create, change and delete the resource named by its `fetched_from` link for
/// `<prefix>*`. A line item's events name their cart but are not the cart's lifecycle, so they
/// are not here; an order is archived, never deleted.
const LIFECYCLES: &[(&str, &str)] = &[
    ("store/order/", "Order"),
    ("store/channel/{channel_id}/order/", "Order"),
    ("store/product/", "Product"),
    ("store/sku/", "ProductVariant"),
    ("store/category/", "Category"),
    ("store/channel/{channel_id}/category/", "Category"),
    ("store/customer/", "Customer"),
    ("store/customer/address/", "CustomerAddress"),
    ("store/subscriber/", "Subscriber"),
    ("store/shipment/", "Shipment"),
    ("store/cart/", "Cart"),
    ("store/channel/{channel_id}/cart/", "Cart"),
    ("store/product/metafield/", "ProductMetafield"),
    ("store/brand/metafield/", "BrandMetafield"),
    (
        "store/inventory/location/metafield/",
        "InventoryLocationMetafield",
    ),
];

/// What an event the emulator fires does to the resource it names, so that what a handler then
/// fetches agrees with the event: after `store/product/deleted` the product is gone (404), after
/// `.../created` it exists (again), and `changes` (given by [`crate::Emulator::change`]) are laid
/// over it before its `.../updated` goes out. `scope` is the catalogue's form (channel
/// templated). Events of no lifecycle, or whose payload lacks the ids, change nothing.
pub(crate) fn follow_event(
    core: &Core,
    store: &str,
    scope: &str,
    data: &Value,
    changes: Option<serde_json::Map<String, Value>>,
) -> Result<(), crate::EmulatorError> {
    let Some((prefix, name, action)) = LIFECYCLES.iter().find_map(|(prefix, name)| {
        let action = scope.strip_prefix(prefix)?;
        matches!(action, "created" | "updated" | "deleted").then_some((*prefix, *name, action))
    }) else {
        return refuse_changes(scope, changes);
    };
    let Some(entry) = core.resources.resources.iter().find(|r| r.name == name) else {
        return refuse_changes(scope, changes);
    };
    let wildcard = format!("{prefix}*");
    let Some(link) = entry.fetched_from.iter().find(|l| l.wildcard == wildcard) else {
        return refuse_changes(scope, changes);
    };
    let id = link.id.iter().find_map(|path| id_at(data, path));
    let parent = if entry.parent.is_some() {
        link.parent_id.iter().find_map(|path| id_at(data, path))
    } else {
        Some(String::new())
    };
    let (Some(id), Some(parent)) = (id, parent) else {
        return refuse_changes(scope, changes);
    };
    let key = (entry.name.clone(), parent.clone(), id.clone());
    match action {
        "deleted" => core.with_store(store, |s| {
            s.written.remove(&key);
            s.deleted.insert(key);
        }),
        "created" => core.with_store(store, |s| {
            s.deleted.remove(&key);
        }),
        _ => {
            let Some(changes) = changes else {
                return Ok(());
            };
            let mut body = current_body(core, store, entry, &parent, &id)
                .ok_or_else(|| crate::EmulatorError::Gone(format!("{name} {id}")))?;
            lay_over(&mut body, changes);
            core.with_store(store, |s| {
                s.written.insert(key, body);
            })
        }
    }
}

/// Changes given with an event that names no resource the emulator keeps are an error, not
/// silently dropped.
fn refuse_changes(
    scope: &str,
    changes: Option<serde_json::Map<String, Value>>,
) -> Result<(), crate::EmulatorError> {
    match changes {
        Some(_) => Err(crate::EmulatorError::NotAChange(scope.to_owned())),
        None => Ok(()),
    }
}

/// The id at a JSON path of a payload (`address.customer_id`), as the API's path takes it.
fn id_at(data: &Value, path: &str) -> Option<String> {
    let value = path.split('.').try_fold(data, |node, key| node.get(key))?;
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}
