//! The resource catalogue (`resources.json`): the BigCommerce API resources a handler fetches
//! after an event (an order, a product, a cart), with their fields as BigCommerce's OpenAPI specs
//! describe them. `tools/resources_from_specs.py` derives the file from the specs; the framework's
//! build script generates a struct per object and a `Resource` impl per resource from it.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use crate::model::RawPayload;
use crate::validate::validate_payloads;
use crate::{CatalogueError, FieldType, Payload, PayloadShape};

/// The text of the bundled `resources.json`.
pub const BUNDLED_RESOURCES_JSON: &str = include_str!("../resources.json");

/// `resources.json` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResources {
    format: u32,
    source: String,
    resources: Vec<RawResource>,
    objects: Vec<RawPayload>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResource {
    name: String,
    spec: String,
    version: String,
    #[serde(default)]
    get: Option<String>,
    wrapped: bool,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    fetched_from: Vec<EventLink>,
    #[serde(default)]
    list: Option<ListEntry>,
    #[serde(default)]
    operations: Vec<String>,
    #[serde(default)]
    bodies: BTreeMap<String, String>,
}

/// The list operation of a resource.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListEntry {
    /// `GET` path of the collection (`{parent_id}` for a nested resource).
    pub path: String,
    /// The query parameters the spec documents for it, paging (`page`, `limit`) aside.
    pub filters: Vec<FilterEntry>,
}

/// A query parameter of a list operation, as its spec documents it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterEntry {
    /// The parameter as sent (`is_visible`, `id:in`).
    pub name: String,
    /// Its type, in the payload type syntax: `boolean`, `integer`, `id`, `decimal`, `string`,
    /// or a list of one (`[id]`, sent comma-separated).
    #[serde(rename = "type")]
    pub ty: String,
    /// The first sentence of its description in the spec.
    #[serde(default)]
    pub doc: Option<String>,
    /// The values the spec lists for a text parameter (`asc`, `desc`): its value is then an
    /// enum of them (`ProductDirection`), with `Other` for a value the spec does not list.
    #[serde(default)]
    pub values: Vec<String>,
}

impl FilterEntry {
    /// Its type, checked: one of the scalar types above, or a list of one.
    pub fn field_type(&self) -> Option<FieldType> {
        let scalar = |ty: &FieldType| {
            matches!(
                ty,
                FieldType::Boolean
                    | FieldType::Integer
                    | FieldType::Id
                    | FieldType::Decimal
                    | FieldType::String
            )
        };
        match FieldType::parse(&self.ty)? {
            FieldType::Array(inner) if scalar(&inner) => Some(FieldType::Array(inner)),
            one if scalar(&one) => Some(one),
            _ => None,
        }
    }
}

/// Events that name a resource: the group enum of `wildcard` can fetch it. The id is read from
/// each member payload's first field of `id` that it has (`address.customer_id` reads a field of
/// a nested object); for a nested resource, the parent's id from `parent_id` likewise.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventLink {
    /// The wildcard whose group enum gets the `fetch` (`store/order/*`).
    pub wildcard: String,
    /// JSON names of the payload field holding the resource's id, in order of preference.
    pub id: Vec<String>,
    /// For a nested resource: the payload field holding the parent's id.
    #[serde(default)]
    pub parent_id: Vec<String>,
    /// Member scopes (or wildcards of them) whose events name no such resource: their `fetch`
    /// gives `None`, as it does when the id is in an optional field the event left out.
    #[serde(default)]
    pub except: Vec<String>,
}

/// Which REST API generation serves a resource: they differ in their error bodies and in
/// whether a body is wrapped in `{"data": ...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// `/v2/...`: bare bodies, errors as a JSON array.
    V2,
    /// `/v3/...`: `{"data": ..., "meta": ...}`.
    V3,
}

/// A resource the API serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceEntry {
    /// The struct name (`Order`), also an entry of [`Resources::objects`].
    pub name: String,
    /// The spec file and schema it was derived from.
    pub spec: String,
    /// The API generation.
    pub version: ApiVersion,
    /// `GET` path of one resource, `{id}` standing for its id (`/v2/orders/{id}`); without
    /// `{id}` for a singleton (`/v2/store`); `None` for a resource the API only lists.
    pub get: Option<String>,
    /// Whether the body is `{"data": resource}`.
    pub wrapped: bool,
    /// The resource this one lives under (`Order` for a shipment), whose id fills `{parent_id}`.
    pub parent: Option<String>,
    /// The events that name it.
    pub fetched_from: Vec<EventLink>,
    /// Its list operation, if the API has one.
    pub list: Option<ListEntry>,
    /// The writes the API has for it: `create` (a `POST` to the list path), `update` (a `PUT`
    /// to its path), `delete`.
    pub operations: Vec<String>,
    /// The object each write sends (`create` -> `ProductCreate`), from the spec's request
    /// schema; every `create` and `update` has one.
    pub bodies: BTreeMap<String, String>,
}

impl ResourceEntry {
    /// Whether the API serves one of it per store, at a path without an id (`/v2/store`).
    pub fn is_singleton(&self) -> bool {
        self.get.as_ref().is_some_and(|get| !get.contains("{id}"))
    }
}

/// The validated resource catalogue.
#[derive(Debug, Clone)]
pub struct Resources {
    /// Where the fields come from.
    pub source: String,
    /// The resources, in file order.
    pub resources: Vec<ResourceEntry>,
    /// Every object type: the resources and the objects nested in them.
    pub objects: Vec<Payload>,
}

impl Resources {
    /// Parses and validates the text of a `resources.json` file. `taken` are type names already
    /// generated elsewhere (the event payloads), which the objects must not reuse.
    pub fn from_json(text: &str, taken: &[&str]) -> Result<Resources, CatalogueError> {
        let raw: RawResources =
            serde_json::from_str(text).map_err(CatalogueError::ResourcesJson)?;
        if raw.format != 1 {
            return Err(resource_error(
                "format",
                format!("unsupported format {}, expected 1", raw.format),
            ));
        }
        // The object rules are the event payloads' rules; the error names this file.
        let objects = validate_payloads(&raw.objects).map_err(|e| match e {
            CatalogueError::Entry { entry, problem } => CatalogueError::Resource { entry, problem },
            other => other,
        })?;
        if let Some(clash) = objects.iter().find(|o| taken.contains(&o.name.as_str())) {
            return Err(resource_error(
                &clash.name,
                "an object has the name of an event payload",
            ));
        }
        let mut seen = HashSet::new();
        let mut resources = Vec::with_capacity(raw.resources.len());
        for r in raw.resources {
            if !seen.insert(r.name.clone()) {
                return Err(resource_error(&r.name, "resource listed twice"));
            }
            let is_object = objects
                .iter()
                .any(|o| o.name == r.name && matches!(o.shape, PayloadShape::Object(_)));
            if !is_object {
                return Err(resource_error(
                    &r.name,
                    "a resource must name an object of `objects`",
                ));
            }
            let version = match r.version.as_str() {
                "v2" => ApiVersion::V2,
                "v3" => ApiVersion::V3,
                other => {
                    return Err(resource_error(
                        &r.name,
                        format!("version `{other}`: expected `v2` or `v3`"),
                    ))
                }
            };
            let prefix = if version == ApiVersion::V2 {
                "/v2/"
            } else {
                "/v3/"
            };
            match &r.get {
                Some(get)
                    if !get.starts_with(prefix)
                        || get.matches("{id}").count() > 1
                        || (!get.contains("{id}") && (r.parent.is_some() || r.list.is_some())) =>
                {
                    return Err(resource_error(
                        &r.name,
                        format!(
                            "get path `{get}` must start with `{prefix}` and hold `{{id}}` once, or not at all for a singleton (no `parent`, no `list`)"
                        ),
                    ));
                }
                None if r.list.is_none() => {
                    return Err(resource_error(
                        &r.name,
                        "a resource without a get path must have a `list`",
                    ));
                }
                _ => {}
            }
            let singleton = r.get.as_ref().is_some_and(|g| !g.contains("{id}"));
            if singleton && !r.operations.is_empty() {
                return Err(resource_error(
                    &r.name,
                    "a singleton (a get path without `{id}`) has no writes here",
                ));
            }
            if r.get.is_none() && r.operations.iter().any(|o| o != "create") {
                return Err(resource_error(
                    &r.name,
                    "`update` and `delete` need a get path of one resource",
                ));
            }
            if let Some(list) = &r.list {
                if !list.path.starts_with(prefix)
                    || list.path.contains("{id}")
                    || r.parent.is_some() != list.path.contains("{parent_id}")
                {
                    return Err(resource_error(
                        &r.name,
                        format!(
                            "list path `{}` must start with `{prefix}`, hold no `{{id}}`, and hold `{{parent_id}}` exactly when `parent` is set",
                            list.path
                        ),
                    ));
                }
            }
            if let Some(bad) = r
                .list
                .iter()
                .flat_map(|l| &l.filters)
                .find(|f| f.field_type().is_none())
            {
                return Err(resource_error(
                    &r.name,
                    format!(
                        "filter `{}`: type `{}` is not boolean, integer, id, decimal, string or a list of one",
                        bad.name, bad.ty
                    ),
                ));
            }
            for operation in &r.operations {
                if !matches!(operation.as_str(), "create" | "update" | "delete") {
                    return Err(resource_error(
                        &r.name,
                        format!("operation `{operation}`: expected `create`, `update` or `delete`"),
                    ));
                }
            }
            if r.operations.iter().any(|o| o == "create") && r.list.is_none() {
                return Err(resource_error(
                    &r.name,
                    "`create` posts to the list path: give `list`",
                ));
            }
            if r.get
                .as_ref()
                .is_some_and(|get| r.parent.is_some() != get.contains("{parent_id}"))
            {
                return Err(resource_error(
                    &r.name,
                    "`{parent_id}` belongs in the get path exactly when `parent` is set",
                ));
            }
            for write in ["create", "update"] {
                if r.operations.iter().any(|o| o == write) != r.bodies.contains_key(write) {
                    return Err(resource_error(
                        &r.name,
                        format!("`{write}` and its entry in `bodies` go together"),
                    ));
                }
            }
            if let Some((write, body)) = r.bodies.iter().find(|(write, body)| {
                !matches!(write.as_str(), "create" | "update")
                    || !objects
                        .iter()
                        .any(|o| &&o.name == body && matches!(o.shape, PayloadShape::Object(_)))
            }) {
                return Err(resource_error(
                    &r.name,
                    format!("body `{write}` -> `{body}`: a `create` or `update` naming an object of `objects`"),
                ));
            }
            resources.push(ResourceEntry {
                name: r.name,
                spec: r.spec,
                version,
                get: r.get,
                wrapped: r.wrapped,
                parent: r.parent,
                fetched_from: r.fetched_from,
                list: r.list,
                operations: r.operations,
                bodies: r.bodies,
            });
        }
        for r in &resources {
            for link in &r.fetched_from {
                if r.get.is_none() || r.is_singleton() {
                    return Err(resource_error(
                        &r.name,
                        format!(
                            "fetched_from `{}`: only a resource with a get path holding `{{id}}` is fetched by id",
                            link.wildcard
                        ),
                    ));
                }
                if link.id.is_empty() || link.parent_id.is_empty() != r.parent.is_none() {
                    return Err(resource_error(
                        &r.name,
                        format!(
                            "fetched_from `{}`: name the id field, and the parent's exactly for a nested resource",
                            link.wildcard
                        ),
                    ));
                }
            }
            if let Some(parent) = &r.parent {
                if !resources
                    .iter()
                    .any(|p| &p.name == parent && p.parent.is_none())
                {
                    return Err(resource_error(
                        &r.name,
                        format!("parent `{parent}` is not a top-level resource of this file"),
                    ));
                }
            }
        }
        Ok(Resources {
            source: raw.source,
            resources,
            objects,
        })
    }
}

/// The resource catalogue this crate ships, checked against the bundled event catalogue's names.
pub fn bundled_resources() -> Result<Resources, CatalogueError> {
    Resources::bundled_beside(&crate::bundled()?)
}

impl Resources {
    /// The resource catalogue this crate ships, checked against the names of `events` (already
    /// loaded, so it is not parsed a second time).
    pub fn bundled_beside(events: &crate::Catalogue) -> Result<Resources, CatalogueError> {
        let taken: Vec<&str> = events.payloads.iter().map(|p| p.name.as_str()).collect();
        Resources::from_json(BUNDLED_RESOURCES_JSON, &taken)
    }
}

fn resource_error(entry: impl Into<String>, problem: impl Into<String>) -> CatalogueError {
    CatalogueError::Resource {
        entry: entry.into(),
        problem: problem.into(),
    }
}
