//! The store resources a webhook handler fetches after an event. Channels, orders (v2),
//! products and carts (v3) have hand-written bodies; every other resource of the catalogue's
//! `resources.json` (derived from BigCommerce's specs) is answered with a body generated from its
//! shape, the same for the same id. Any id exists except `0` and the ids marked missing with
//! [`crate::Emulator::set_missing`].

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use std::collections::HashMap;

use bigcommerce_app_catalogue::{ApiVersion, FieldType, PayloadShape, ResourceEntry};
use rand::SeedableRng;
use serde_json::{json, Value};

use crate::core::Core;
use crate::server::{api_error, unknown_store, Caller};

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

fn is_missing(core: &Core, caller: &Caller, kind: Resource, id: &str) -> bool {
    id == "0"
        || core
            .with_store(&caller.store, |s| {
                s.missing.contains(&(kind, id.to_owned()))
            })
            .unwrap_or(true)
}

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
    let Ok(channels) = core.with_store(&caller.store, |s| s.channels.clone()) else {
        return unknown_store();
    };
    let data: Vec<Value> = channels.iter().map(|&id| channel_json(id)).collect();
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

pub(crate) async fn order(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let Ok(number) = id.parse::<u64>() else {
        return v2_not_found();
    };
    if is_missing(&core, &caller, Resource::Order, &id) {
        return v2_not_found();
    }
    let s = seed(&id);
    let subtotal = 10.0 + (s % 9000) as f64 / 100.0;
    Json(json!({
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
            "city": "Austin", "country": "United States", "country_iso2": "US",
        },
        "products": { "url": format!("/v2/orders/{number}/products"), "resource": format!("/orders/{number}/products") },
    }))
    .into_response()
}

/// BigCommerce's v2 API answers errors with an array.
fn v2_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!([{ "status": 404, "message": "The requested resource was not found." }])),
    )
        .into_response()
}

pub(crate) async fn product(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let Ok(number) = id.parse::<u64>() else {
        return not_found("product");
    };
    if is_missing(&core, &caller, Resource::Product, &id) {
        return not_found("product");
    }
    let s = seed(&id);
    Json(json!({
        "data": {
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
        },
        "meta": {},
    }))
    .into_response()
}

pub(crate) async fn cart(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    if is_missing(&core, &caller, Resource::Cart, &id) {
        return not_found("cart");
    }
    let s = seed(&id);
    let price = 5.0 + (s % 20000) as f64 / 100.0;
    Json(json!({
        "data": {
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
        },
        "meta": {},
    }))
    .into_response()
}

fn not_found(what: &str) -> Response {
    api_error(
        StatusCode::NOT_FOUND,
        &format!("The requested {what} was not found."),
        None,
    )
}

/// Resources with a hand-written handler above; the rest are served by [`generated`].
pub(crate) const HAND_WRITTEN: [&str; 3] = ["Order", "Product", "Cart"];

/// `GET` of a resource of `resources.json` without a hand-written handler: a body of its shape,
/// generated from a seed of the ids (so a second fetch answers the same), with its id and, for a
/// nested resource, its parent's id filled in.
pub(crate) async fn generated(
    State(core): State<Arc<Core>>,
    Extension(caller): Extension<Caller>,
    Extension(entry): Extension<Arc<ResourceEntry>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let id = params.get("id").cloned().unwrap_or_default();
    let parent_id = params.get("parent_id").cloned();
    let v2 = entry.version == ApiVersion::V2;
    let gone = || {
        if v2 {
            v2_not_found()
        } else {
            not_found(&entry.name.to_ascii_lowercase())
        }
    };
    let Some(shape) = core.resources.objects.iter().find(|o| o.name == entry.name) else {
        return gone();
    };
    let PayloadShape::Object(fields) = &shape.shape else {
        return gone();
    };
    let numeric = fields
        .iter()
        .any(|f| f.json == "id" && f.ty == FieldType::Id);
    let missing = |id: &str| {
        core.with_store(&caller.store, |s| {
            s.missing.iter().any(|(kind, missing)| {
                matches!(kind, Resource::Other(name) if *name == entry.name) && missing == id
            })
        })
        .unwrap_or(true)
    };
    if id == "0" || (numeric && id.parse::<u64>().is_err()) || missing(&id) {
        return gone();
    }
    let body = generated_body(&core, &entry, &id, parent_id.as_deref(), numeric);
    if entry.wrapped {
        Json(json!({ "data": body, "meta": {} })).into_response()
    } else {
        Json(body).into_response()
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
) -> Value {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed(&format!(
        "{}/{}/{id}",
        entry.name,
        parent_id.unwrap_or_default()
    )));
    let mut body = crate::payloads::object(
        &core.resources.objects,
        &entry.name,
        &entry.name.to_ascii_lowercase(),
        &mut rng,
        0,
    );
    if let Value::Object(map) = &mut body {
        let id_value = match id.parse::<u64>() {
            Ok(number) if numeric => json!(number),
            _ => json!(id),
        };
        map.insert("id".into(), id_value);
        if let (Some(parent), Some(parent_id)) = (&entry.parent, parent_id) {
            let link = format!("{}_id", bigcommerce_app_catalogue::snake_case(parent));
            if map.contains_key(&link) {
                let value = parent_id
                    .parse::<u64>()
                    .map_or_else(|_| json!(parent_id), |n| json!(n));
                map.insert(link, value);
            }
        }
    }
    body
}

/// How many items a generated collection holds, whatever its parent: enough for two pages at a
/// small `limit`.
pub(crate) const COLLECTION_SIZE: u64 = 3;

/// `GET` of the list of a resource of `resources.json`: [`COLLECTION_SIZE`] generated items with
/// ids 1, 2, 3, paged by `page` and `limit` as the API pages (v3 with `meta.pagination`, v2 with
/// `204 No Content` past the end). Filters are accepted and not applied.
pub(crate) async fn generated_list(
    State(core): State<Arc<Core>>,
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
    let numeric = core
        .resources
        .objects
        .iter()
        .find(|o| o.name == entry.name)
        .is_some_and(|o| match &o.shape {
            PayloadShape::Object(fields) => fields
                .iter()
                .any(|f| f.json == "id" && f.ty == FieldType::Id),
            PayloadShape::ArrayOf(_) => false,
        });
    let first = (page - 1).saturating_mul(limit) + 1;
    let items: Vec<Value> = (first..first.saturating_add(limit))
        .take_while(|id| *id <= COLLECTION_SIZE)
        .map(|id| generated_body(&core, &entry, &id.to_string(), parent_id, numeric))
        .collect();
    if entry.version == ApiVersion::V2 {
        if items.is_empty() {
            return StatusCode::NO_CONTENT.into_response();
        }
        return Json(Value::Array(items)).into_response();
    }
    let count = items.len();
    Json(json!({
        "data": items,
        "meta": { "pagination": {
            "total": COLLECTION_SIZE, "count": count, "per_page": limit, "current_page": page,
            "total_pages": COLLECTION_SIZE.div_ceil(limit),
            "links": { "current": format!("?page={page}&limit={limit}") },
        }},
    }))
    .into_response()
}
