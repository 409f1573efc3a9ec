#!/usr/bin/env python3
"""Derives crates/catalogue/resources.json from BigCommerce's official OpenAPI specs.

Usage: python3 crates/catalogue/tools/resources_from_specs.py DOCS_CHECKOUT

Writes crates/catalogue/resources.json; from each operation's example response in the spec,
tests/fixtures/resources/<resource>.json (the resource as the API's `data`, or the v2 body); and
crates/emulator/spec_answers.json, the JSON Schema of each GET answer (one, and the list) as the
spec writes it, which the emulator answers by and its conformance test checks against, and of
each write's body, which the typed bodies are checked against.

DOCS_CHECKOUT is a checkout of github.com/bigcommerce/docs; the specs are its `reference/*.yml`.
RESOURCES below says, per resource, which spec and which response schema describe it and how
the API serves it. The fields, their JSON types, nesting and descriptions come from the spec:
`allOf` is merged, `$ref` followed, nested objects become their own structs. What the spec
cannot say is decided here, the same way for every resource:

- every field is optional except the resource's id (response schemas rarely list `required`,
  and BigCommerce leaves fields out depending on the store's features);
- integer or number fields named `id` or `*_id` are ids (accepted as numbers or numeric strings);
- every other `number` is `decimal`, kept as the exact text sent (a float would turn `5` into
  `5.0` and round amounts), and so is money given as a decimal string (a field whose name says
  price, cost, amount, total, tax, discount, subtotal or value, with a decimal example).
"""

import json
import re
import sys
from pathlib import Path

import yaml

# name, spec file, response schema, API version, get path, whether v3 wraps it in {data}, the
# parent resource ({parent_id} in the path), doc
RESOURCES = [
    ("Order", "reference/orders.v2.oas2.yml", "order_Resp", "v2", "/v2/orders/{id}", False, None,
     "An order (Orders v2 API, `GET /v2/orders/{order_id}`)."),
    ("OrderProduct", "reference/orders.v2.oas2.yml", "orderProducts", "v2",
     "/v2/orders/{parent_id}/products/{id}", False, "Order",
     "A line of an order (Orders v2 API, `GET /v2/orders/{order_id}/products/{product_id}`)."),
    ("OrderShippingAddress", "reference/orders.v2.oas2.yml", "orderShippingAddress", "v2",
     "/v2/orders/{parent_id}/shipping_addresses/{id}", False, "Order",
     "A shipping address of an order (`GET /v2/orders/{order_id}/shipping_addresses/{id}`)."),
    ("Shipment", "reference/orders.v2.oas2.yml", "orderShipment", "v2",
     "/v2/orders/{parent_id}/shipments/{id}", False, "Order",
     "A shipment of an order (`GET /v2/orders/{order_id}/shipments/{shipment_id}`)."),
    # The answer's schema, not `product_Full`: the answer adds `channels`.
    ("Product", "reference/catalog/products_catalog.v3.yml", None, "v3",
     "/v3/catalog/products/{id}", True, None,
     "A catalog product (Catalog API, `GET /v3/catalog/products/{product_id}`)."),
    ("ProductVariant", "reference/catalog/product-variants_catalog.v3.yml", "productVariant_Full",
     "v3", "/v3/catalog/products/{parent_id}/variants/{id}", True, "Product",
     "A variant (SKU) of a product (`GET /v3/catalog/products/{product_id}/variants/{variant_id}`)."),
    ("Category", "reference/catalog/categories_catalog.v3.yml", "category_Full", "v3",
     "/v3/catalog/categories/{id}", True, None,
     "A category (Catalog API, `GET /v3/catalog/categories/{category_id}`)."),
    ("Brand", "reference/catalog/brands_catalog.v3.yml", "brand_Full", "v3",
     "/v3/catalog/brands/{id}", True, None,
     "A brand (Catalog API, `GET /v3/catalog/brands/{brand_id}`)."),
    ("Customer", "reference/customers.v2.yml", "customer_Full", "v2", "/v2/customers/{id}", False,
     None, "A customer (Customers v2 API, `GET /v2/customers/{customer_id}`)."),
    ("CustomerAddress", "reference/customers.v2.yml", "customerAddress_Full", "v2",
     "/v2/customers/{parent_id}/addresses/{id}", False, "Customer",
     "An address of a customer (`GET /v2/customers/{customer_id}/addresses/{customer_address_id}`)."),
    ("Subscriber", "reference/subscribers.v3.yml", "subscriber_Full", "v3",
     "/v3/customers/subscribers/{id}", True, None,
     "A newsletter subscriber (`GET /v3/customers/subscribers/{subscriber_id}`)."),
    ("Cart", "reference/carts.v3.yml", "Cart_Full", "v3", "/v3/carts/{id}", True, None,
     "A cart (Carts API, `GET /v3/carts/{cartId}`)."),
    ("Channel", "reference/channels.v3.yml", "ChannelWithCurrencies", "v3", "/v3/channels/{id}",
     True, None, "A sales channel (Channels API, `GET /v3/channels/{channel_id}`)."),
    ("PriceList", "reference/price_lists.v3.yml", None, "v3", "/v3/pricelists/{id}", True, None,
     "A price list (Price Lists API, `GET /v3/pricelists/{price_list_id}`)."),
    ("Refund", "reference/orders.v3.yml", None, "v3", "/v3/orders/payment_actions/refunds/{id}",
     True, None, "A refund of an order (Orders v3 API, `GET /v3/orders/payment_actions/refunds/{refund_id}`)."),
    ("OrderMetafield", "reference/orders.v3.yml", None, "v3",
     "/v3/orders/{parent_id}/metafields/{id}", True, "Order",
     "A metafield of an order (`GET /v3/orders/{order_id}/metafields/{metafield_id}`)."),
    ("ProductMetafield", "reference/catalog/products_catalog.v3.yml", "metafield_Full", "v3",
     "/v3/catalog/products/{parent_id}/metafields/{id}", True, "Product",
     "A metafield of a product (`GET /v3/catalog/products/{product_id}/metafields/{metafield_id}`)."),
    ("CategoryMetafield", "reference/catalog/categories_catalog.v3.yml", "metafield_Full", "v3",
     "/v3/catalog/categories/{parent_id}/metafields/{id}", True, "Category",
     "A metafield of a category (`GET /v3/catalog/categories/{category_id}/metafields/{metafield_id}`)."),
    ("BrandMetafield", "reference/catalog/brands_catalog.v3.yml", "metafield_Full", "v3",
     "/v3/catalog/brands/{parent_id}/metafields/{id}", True, "Brand",
     "A metafield of a brand (`GET /v3/catalog/brands/{brand_id}/metafields/{metafield_id}`)."),
    # A singleton: its get path holds no id.
    ("StoreInformation", "reference/store_information.v2.yml", None, "v2", "/v2/store", False,
     None, "The store's profile and settings (Store Information API, `GET /v2/store`)."),
    # Listed only: no get path of one. Their schema is the list's item; the API writes them in
    # batches (an array body) or not at all, so they have no one-by-one writes here.
    ("OrderCoupon", "reference/orders.v2.oas2.yml", None, "v2", None, False, "Order",
     "A coupon applied to an order (`GET /v2/orders/{order_id}/coupons`)."),
    ("PaymentTransaction", "reference/orders.v3.yml", None, "v3", None, True, "Order",
     "A payment transaction of an order (Orders v3 API, `GET /v3/orders/{order_id}/transactions`)."),
    ("InventoryLocation", "reference/locations.v3.yml", None, "v3", None, True, None,
     "An inventory location (Locations API, `GET /v3/inventory/locations`)."),
    ("InventoryItem", "reference/inventory.v3.yml", None, "v3", None, True, None,
     "A variant's stock across locations (Inventory API, `GET /v3/inventory/items`)."),
    ("CategoryTree", "reference/catalog/category-trees_catalog.v3.yml", None, "v3", None, True,
     None, "A category tree, the categories of its channels (`GET /v3/catalog/trees`)."),
    ("CategoryTreeNode", "reference/catalog/category-trees_catalog.v3.yml", None, "v3", None,
     True, "CategoryTree",
     "A category of a tree, with its children (`GET /v3/catalog/trees/{tree_id}/categories`)."),
    ("StoreMetafield", "reference/store_information.v3.yml", None, "v3",
     "/v3/store/metafields/{id}", True, None,
     "A metafield of the store itself (`GET /v3/store/metafields/{metafield_id}`)."),
    # Metafields the API addresses two parents deep (a variant's) or whose specs describe their
    # answers of one inconsistently (a cart's, a channel's): listed store-wide, where every
    # item names its owner in `resource_id`.
    ("VariantMetafield", "reference/catalog/product-variants_catalog.v3.yml", None, "v3", None,
     True, None, "A metafield of a product variant, as the store-wide list gives it (`GET /v3/catalog/variants/metafields`)."),
    ("ChannelMetafield", "reference/channels.v3.yml", None, "v3", None, True, None,
     "A metafield of a channel, as the store-wide list gives it (`GET /v3/channels/metafields`)."),
    ("CartMetafield", "reference/carts.v3.yml", None, "v3", None, True, None,
     "A metafield of a cart, as the store-wide list gives it (`GET /v3/carts/metafields`)."),
    ("InventoryLocationMetafield", "reference/locations.v3.yml", None, "v3",
     "/v3/inventory/locations/{parent_id}/metafields/{id}", True, "InventoryLocation",
     "A metafield of an inventory location (`GET /v3/inventory/locations/{location_id}/metafields/{metafield_id}`)."),
]

# The events that name a resource: the group enum of `wildcard` gets a `fetch` giving it, reading
# the id from each member payload's first field of `id` that it has (`address.customer_id` is a
# field of a nested object; the parent's id likewise from `parent_id` for a nested resource).
# `except` lists the members whose events name no such resource (a variant's metafield among the
# product events): with them, or with an id in an optional field, `fetch` gives an Option.
FETCHED_FROM = {
    "Order": [
        {"wildcard": "store/order/*", "id": ["order_id", "resource_id", "id"]},
        {"wildcard": "store/channel/{channel_id}/order/*", "id": ["order_id"]},
    ],
    "Shipment": [{"wildcard": "store/shipment/*", "id": ["id"], "parent_id": ["orderId"]}],
    "Product": [{"wildcard": "store/product/*", "id": ["id", "resource_id"],
                 "except": ["store/product/variant/metafield/*"]}],
    "ProductVariant": [{"wildcard": "store/sku/*", "id": ["sku.variant_id", "inventory.variant_id"],
                        "parent_id": ["sku.product_id", "inventory.product_id"]}],
    "Category": [
        {"wildcard": "store/category/*", "id": ["resource_id", "id"]},
        {"wildcard": "store/channel/{channel_id}/category/*", "id": ["category_id"],
         "except": ["store/channel/{channel_id}/category/product/*"]},
    ],
    "Customer": [{"wildcard": "store/customer/*", "id": ["address.customer_id", "customer_id", "id"]}],
    "CustomerAddress": [{"wildcard": "store/customer/address/*", "id": ["id"],
                         "parent_id": ["address.customer_id"]}],
    "Subscriber": [{"wildcard": "store/subscriber/*", "id": ["id"]}],
    "Cart": [
        {"wildcard": "store/cart/*", "id": ["cartId", "resource_id", "id"]},
        {"wildcard": "store/cart/lineItem/*", "id": ["cartId"]},
        {"wildcard": "store/channel/{channel_id}/cart/*", "id": ["cart_id"]},
    ],
    "ProductMetafield": [{"wildcard": "store/product/metafield/*", "id": ["metafield_id"],
                          "parent_id": ["resource_id"]}],
    "BrandMetafield": [{"wildcard": "store/brand/metafield/*", "id": ["metafield_id"],
                        "parent_id": ["resource_id"]}],
    "InventoryLocationMetafield": [{"wildcard": "store/inventory/location/metafield/*",
                                    "id": ["metafield_id"], "parent_id": ["resource_id"]}],
}

MONEY = re.compile(r"(price|cost|amount|total|tax|discount|subtotal|value)(_|$)")
RUST_KEYWORDS = {"type": "kind", "ref": "reference", "self": "this", "match": "matched",
                 "mod": "module", "move": "moved", "use": "used", "where": "location",
                 "loop": "looped", "static": "fixed", "async": "asynchronous"}


def load(docs, path):
    return yaml.safe_load((Path(docs) / path).read_text())


def resolve(spec, schema):
    """Follows $ref and merges allOf into one object schema."""
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            return {}
        node = spec
        for part in ref[2:].split("/"):
            node = node.get(part, {})
        schema = node
    if isinstance(schema, dict) and "allOf" in schema:
        merged = {"type": "object", "properties": {}, "description": schema.get("description")}
        required = []
        for part in schema["allOf"]:
            part = resolve(spec, part)
            merged["properties"].update(part.get("properties", {}))
            required += [r for r in part.get("required", []) if r not in required]
            if not merged.get("description"):
                merged["description"] = part.get("description")
        if required:
            merged["required"] = required
        return merged
    return schema or {}


def snake(name):
    name = re.sub(r"[^A-Za-z0-9]+", "_", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower().strip("_")
    if not name or name[0].isdigit():
        name = "field_" + name
    return RUST_KEYWORDS.get(name, name)


def singular(name):
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def pascal(name):
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", name) if p)


def first_sentence(text):
    if not text:
        return None
    text = " ".join(str(text).split())
    text = re.sub(r"\s*\(Float, Float-As-String, Integer\)", "", text)
    match = re.match(r"(.+?\.)(\s|$)", text)
    sentence = match.group(1) if match else text
    return sentence[:200]


class Builder:
    def __init__(self):
        self.objects = {}  # name -> object entry
        self.building = {}  # $ref -> name of the object being built from it (its ancestors)
        # While building a request body: a field the schema lists as `required` is required
        # (in answers every field but the id is optional, see the module doc).
        self.request = False

    def field_type(self, spec, owner, json_name, schema, depth):
        # A schema that holds itself (a category's children): the same type, through an array.
        if isinstance(schema, dict) and schema.get("$ref") in self.building:
            return self.building[schema["$ref"]]
        unresolved = schema
        schema = resolve(spec, schema)
        kind = schema.get("type")
        if "oneOf" in schema or "anyOf" in schema:
            return "any"
        if kind in ("integer", "number") and (json_name == "id" or json_name.endswith("_id")):
            return "id"
        if kind == "integer":
            return "integer"
        if kind == "number":
            return "decimal"
        if kind == "string":
            example = schema.get("example")
            if MONEY.search(json_name) and isinstance(example, str) and re.fullmatch(r"-?\d+(\.\d+)?", example):
                return "decimal"
            return "string"
        if kind == "boolean":
            return "boolean"
        if kind == "array":
            inner = self.field_type(spec, owner, singular(json_name), schema.get("items", {}), depth)
            return f"[{inner}]"
        if (kind == "object" or "properties" in schema) and schema.get("properties") and depth < 3:
            name = owner + pascal(json_name)
            self.object(spec, name, unresolved, first_sentence(schema.get("description")), depth + 1)
            return name
        return "any"

    def object(self, spec, name, schema, doc, depth, id_field=None):
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        if ref:
            self.building[ref] = name
        schema = resolve(spec, schema)
        fields = []
        required = set(schema.get("required") or []) if self.request else {id_field}
        for json_name, prop in (schema.get("properties") or {}).items():
            ty = self.field_type(spec, name, json_name, prop, depth)
            if json_name not in required:
                ty = ty + "?"
            fields.append({
                "name": json_name,
                "rust": snake(json_name),
                "type": ty,
                "doc": first_sentence(resolve(spec, prop).get("description") or prop.get("description")),
            })
        self.objects[name] = {"name": name, "doc": doc or f"`{name}`.", "fields": fields}
        self.building.pop(ref, None)

    def merge(self, target, source):
        merge_objects(self.objects, target, source)


def base_type(ty):
    """An object type's name without `?` and `[...]`, or None for any other type."""
    ty = ty.rstrip("?")
    while ty.startswith("["):
        ty = ty[1:-1].rstrip("?")
    return ty if ty[:1].isupper() else None


def merge_objects(objects, target, source):
    """Adds to object `target` the fields of `source` it lacks, nested objects merged alike."""
    fields = {f["name"]: f for f in objects[target]["fields"]}
    for field in objects[source]["fields"]:
        mine = fields.get(field["name"])
        if mine is None:
            moved = dict(field)
            # A nested object only the source has keeps its own (temporary) type: give it a
            # name under the target.
            inner = base_type(field["type"])
            if inner:
                new = target + inner[len(source):] if inner.startswith(source) else inner
                rename(objects, inner, new)
                moved["type"] = field["type"].replace(inner, new)
            if field["name"] != "id" and not moved["type"].endswith("?"):
                moved["type"] += "?"
            objects[target]["fields"].append(moved)
        else:
            ours, theirs = base_type(mine["type"]), base_type(field["type"])
            if ours and theirs and ours in objects and theirs in objects:
                merge_objects(objects, ours, theirs)


def rename(objects, old, new):
    """Renames object `old` (and the objects named after it) to `new`."""
    for name in sorted(n for n in list(objects) if n.startswith(old)):
        renamed = new + name[len(old):]
        entry = objects.pop(name)
        entry["name"] = renamed
        for field in entry["fields"]:
            inner = base_type(field["type"])
            if inner and inner.startswith(old):
                field["type"] = field["type"].replace(inner, new + inner[len(old):])
        objects[renamed] = entry


def path_item(spec, template):
    """The spec's path item for an API path (`/v2/orders/{id}`), `{}` if it has none. Specs
    write paths without the version prefix and with their own parameter names."""
    if not template:
        return {}
    version, rest = template.split("/", 2)[1:]
    wanted = re.sub(r"\{[^}]+\}", "{}", "/" + rest)
    for path, item in spec.get("paths", {}).items():
        if re.sub(r"\{[^}]+\}", "{}", path) in (wanted, "/" + version + wanted):
            return item
    return {}


def get_answer(spec, template):
    """The media types of the 200 answer of `GET template`."""
    response = resolve(spec, path_item(spec, template).get("get", {}).get("responses", {}).get("200", {}))
    return (response.get("content") or {}).values()


def example_of(spec, get_path, wrapped):
    """The example 200 response of `GET get_path` in the spec, as the resource itself."""
    for media in get_answer(spec, get_path):
        example = media.get("example")
        if example is None:
            for named in (media.get("examples") or {}).values():
                example = named.get("value")
                break
        if example is not None:
            return example.get("data") if wrapped and isinstance(example, dict) else example
    return None


def answer_examples(spec, path, method):
    """Every example the spec gives of the 200 or 201 answer of `method path`."""
    operation = path_item(spec, path).get(method, {}) if path else {}
    found = []
    for status in ("200", "201"):
        response = resolve(spec, operation.get("responses", {}).get(status, {}))
        for media in (response.get("content") or {}).values():
            if media.get("example") is not None:
                found.append(media["example"])
            for named in (media.get("examples") or {}).values():
                named = resolve(spec, named)
                if named.get("value") is not None:
                    found.append(named["value"])
    return found


def more_examples(spec, get, list_path, wrapped, first):
    """The resources in the spec's example answers of its list, create and update (and every
    named example of its GET), but `first` (the main fixture), as `{"operation", "example"}`
    entries."""
    out = []
    seen = []
    for method, path, many in (("get", get, False), ("get", list_path, True),
                               ("post", list_path, False), ("put", get, False)):
        if not path or (method == "get" and many is False and path == list_path):
            continue
        for example in answer_examples(spec, path, method):
            body = example.get("data") if wrapped and isinstance(example, dict) else example
            items = body if many and isinstance(body, list) else [body]
            for item in items:
                if isinstance(item, dict) and item != first and item not in seen:
                    seen.append(item)
                    out.append({"operation": f"{method.upper()} {path}", "example": item})
    return out


def assembled_example(spec, schema, depth):
    schema = resolve(spec, schema)
    if "example" in schema:
        return schema["example"]
    kind = schema.get("type")
    if (kind == "object" or "properties" in schema) and depth < 4:
        out = {}
        for name, prop in (schema.get("properties") or {}).items():
            value = assembled_example(spec, prop, depth + 1)
            if value is not None:
                out[name] = value
        return out
    if kind == "array" and depth < 4:
        item = assembled_example(spec, schema.get("items", {}), depth + 1)
        return [] if item is None else [item]
    return None


def conform(objects, type_name, value, where):
    """The example value with what contradicts its schema left out: some spec examples hold a
    placeholder (`"string"`) where the schema says an object. Says on stderr what it drops."""
    if type_name.endswith("?"):
        type_name = type_name[:-1]
    if type_name.startswith("["):
        if not isinstance(value, list):
            return value
        inner = type_name[1:-1]
        kept = [conform(objects, inner, item, where) for item in value
                if inner not in objects or isinstance(item, dict)]
        if len(kept) != len(value):
            print(f"{where}: the spec's example has items that are not {inner} objects; left out",
                  file=sys.stderr)
        return kept
    if type_name in objects and isinstance(value, dict):
        types = {f["name"]: f["type"] for f in objects[type_name]["fields"]}
        return {k: conform(objects, types[k], v, f"{where}.{k}") if k in types else v
                for k, v in value.items()}
    return value


# Keywords that say nothing about what is valid (descriptions live in resources.json). `example`
# stays: the emulator answers with it where the spec gives one.
DROPPED = {"examples", "readOnly", "writeOnly", "xml", "externalDocs", "title", "description"}


def json_schema(spec, schema):
    """The spec's schema of an answer as a standalone JSON Schema (draft 7): the components it
    uses under `definitions`, `allOf` merged into one object, OpenAPI's `nullable` as a `null`
    type, and objects that list their properties closed to others, so a stray field fails."""
    definitions = {}

    def convert(node):
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if ref:
            if not ref.startswith("#/"):
                return {}
            name = ref.rsplit("/", 1)[-1]
            if name not in definitions:
                definitions[name] = {}  # taken, for a schema that holds itself
                definitions[name] = convert(resolve(spec, {"$ref": ref}))
            return {"$ref": f"#/definitions/{name}"}
        if "allOf" in node:
            node = resolve(spec, node)
        out = {}
        for key, value in node.items():
            if key in DROPPED or key.startswith("x-") or key == "nullable" or value is None:
                continue
            if key == "properties":
                out[key] = {k: convert(v) for k, v in (value or {}).items()}
            elif key == "required":
                out[key] = value
            else:
                out[key] = convert(value)
        # OpenAPI 3.0 writes draft 4's boolean form; draft 7 puts the bound in the keyword.
        for exclusive, bound in (("exclusiveMaximum", "maximum"), ("exclusiveMinimum", "minimum")):
            if isinstance(out.get(exclusive), bool):
                if out.pop(exclusive) and bound in out:
                    out[exclusive] = out.pop(bound)
        if node.get("nullable") is True and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = out["enum"] + [None]
        if out.get("properties") and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out

    root = convert(schema)
    if definitions:
        root["definitions"] = definitions
    return root


def answer_schema(spec, path):
    """The JSON Schema of the 200 answer of `GET path`, or None if the spec has none."""
    if not path:
        return None
    for media in get_answer(spec, path):
        if "schema" in media:
            return json_schema(spec, media["schema"])
    return None


def write_answer_schema(spec, path, method):
    """The JSON Schema of the 200 or 201 answer of a write, or None if the spec has none."""
    operation = path_item(spec, path).get(method, {}) if path else {}
    for status in ("200", "201"):
        response = resolve(spec, operation.get("responses", {}).get(status, {}))
        for media in (response.get("content") or {}).values():
            if "schema" in media:
                return json_schema(spec, media["schema"])
    return None


# The list operation of each resource that has one: its path ({parent_id} for a nested resource).
LISTS = {
    "Order": "/v2/orders",
    "OrderProduct": "/v2/orders/{parent_id}/products",
    "OrderShippingAddress": "/v2/orders/{parent_id}/shipping_addresses",
    "Shipment": "/v2/orders/{parent_id}/shipments",
    "Product": "/v3/catalog/products",
    "ProductVariant": "/v3/catalog/products/{parent_id}/variants",
    "Category": "/v3/catalog/categories",
    "Brand": "/v3/catalog/brands",
    "Customer": "/v2/customers",
    "CustomerAddress": "/v2/customers/{parent_id}/addresses",
    "Subscriber": "/v3/customers/subscribers",
    "Channel": "/v3/channels",
    "PriceList": "/v3/pricelists",
    "Refund": "/v3/orders/payment_actions/refunds",
    "OrderMetafield": "/v3/orders/{parent_id}/metafields",
    "ProductMetafield": "/v3/catalog/products/{parent_id}/metafields",
    "CategoryMetafield": "/v3/catalog/categories/{parent_id}/metafields",
    "BrandMetafield": "/v3/catalog/brands/{parent_id}/metafields",
    "OrderCoupon": "/v2/orders/{parent_id}/coupons",
    "PaymentTransaction": "/v3/orders/{parent_id}/transactions",
    "InventoryLocation": "/v3/inventory/locations",
    "InventoryItem": "/v3/inventory/items",
    "CategoryTree": "/v3/catalog/trees",
    "CategoryTreeNode": "/v3/catalog/trees/{parent_id}/categories",
    "InventoryLocationMetafield": "/v3/inventory/locations/{parent_id}/metafields",
    "StoreMetafield": "/v3/store/metafields",
    "VariantMetafield": "/v3/catalog/variants/metafields",
    "ChannelMetafield": "/v3/channels/metafields",
    "CartMetafield": "/v3/carts/metafields",
}


def operations(spec, get_path, list_path):
    """The writes the spec has for a resource: POST on its list, PUT and DELETE on it."""
    found = []
    if "post" in path_item(spec, list_path):
        found.append("create")
    one = path_item(spec, get_path)
    if "put" in one:
        found.append("update")
    if "delete" in one:
        found.append("delete")
    return found


def list_item_schema(spec, list_path, wrapped):
    """The schema of one item in the 200 answer of `GET list_path` (of its `data` if wrapped)."""
    for media in get_answer(spec, list_path):
        schema = resolve(spec, media.get("schema", {}))
        if wrapped:
            schema = resolve(spec, (schema.get("properties") or {}).get("data", {}))
        # Unresolved: a `$ref` tells the builder which schema an item is, should it hold itself.
        return schema.get("items", {})
    raise SystemExit(f"no GET {list_path} in the spec")


def list_example(spec, list_path, wrapped):
    """The first item of the example 200 answer of `GET list_path` in the spec."""
    example = example_of(spec, list_path, wrapped)
    if isinstance(example, list) and example:
        return example[0]
    return None


def request_schema(spec, path, method):
    """The JSON schema of the body of `method path`, None if it has none or it is not one
    object (batch writes take an array)."""
    operation = path_item(spec, path).get(method, {}) if path else {}
    body = resolve(spec, operation.get("requestBody", {}))
    for media_type, media in (body.get("content") or {}).items():
        if "json" in media_type and "schema" in media:
            schema = media["schema"]
            resolved = resolve(spec, schema)
            if resolved.get("type") == "object" or resolved.get("properties"):
                return schema
    return None


# What a write body is called, per write: `ProductCreate`, `ProductUpdate`.
BODY_SUFFIX = {"create": "Create", "update": "Update"}


def response_schema(spec, get_path, wrapped):
    """The schema of the resource in the 200 answer of `GET get_path` (its `data` if wrapped)."""
    for media in get_answer(spec, get_path):
        schema = resolve(spec, media.get("schema", {}))
        if wrapped:
            schema = resolve(spec, (schema.get("properties") or {}).get("data", {}))
        return schema
    raise SystemExit(f"no GET {get_path} in the spec")


def filter_type(name, schema, spec):
    """The type of a list filter, as resources.json writes types: ids and lists of them as for
    fields (`id:in` is `[id]`), numbers as `decimal`, anything else as text."""
    base = name.split(":")[0]
    is_id = base == "id" or base.endswith("_id") or base.endswith("_ids")
    kind = schema.get("type")
    many = name.endswith(":in") or name.endswith(":not_in")
    if kind == "array":
        kind, many = resolve(spec, schema.get("items", {})).get("type"), True
    if kind in ("integer", "number") and is_id:
        one = "id"
    elif kind == "integer":
        one = "integer"
    elif kind == "number":
        one = "decimal"
    elif kind == "boolean":
        one = "boolean"
    else:
        one = "string"
    return f"[{one}]" if many else one


def list_filters(spec, list_path):
    """The query parameters of `GET list_path` in the spec, paging aside: name, type, doc."""
    filters = []
    for param in path_item(spec, list_path).get("get", {}).get("parameters", []):
        param = resolve(spec, param) if "$ref" in param else param
        name = param.get("name")
        if param.get("in") != "query" or name in ("page", "limit", None):
            continue
        if any(f["name"] == name for f in filters):
            continue
        schema = resolve(spec, param.get("schema") or param)
        entry = {
            "name": name,
            "type": filter_type(name, schema, spec),
            "doc": first_sentence(param.get("description")),
        }
        # The values the spec lists for a text parameter (`sort`, `direction`, `include`).
        listed = schema.get("enum")
        if schema.get("type") == "array":
            listed = resolve(spec, schema.get("items", {})).get("enum")
        if entry["type"] in ("string", "[string]") and listed \
                and all(isinstance(v, str) for v in listed):
            entry["values"] = list(listed)
        filters.append(entry)
    return filters


def main():
    docs = sys.argv[1]
    repo = Path(__file__).resolve().parents[3]
    fixtures = repo / "tests" / "fixtures" / "resources"
    fixtures.mkdir(parents=True, exist_ok=True)
    answers = {}
    builder = Builder()
    resources = []
    for name, path, schema_name, version, get, wrapped, parent, doc in RESOURCES:
        spec = load(docs, path)
        schemas = spec.get("components", {}).get("schemas") or spec.get("definitions") or {}
        # No schema name: the one the GET operation's answer describes inline (of one item of
        # the list for a resource listed only).
        if schema_name:
            schema = schemas[schema_name]
        elif get:
            schema = response_schema(spec, get, wrapped)
        else:
            schema = list_item_schema(spec, LISTS[name], wrapped)
        builder.object(spec, name, schema, doc, 0, id_field="id")
        if get and name in LISTS:
            # The list's items may carry fields the answer of one leaves out (a refund's
            # adjustments): the type has the fields of both.
            temporary = name + "ListItem"
            builder.object(spec, temporary, list_item_schema(spec, LISTS[name], wrapped),
                           None, 0, id_field="id")
            builder.merge(name, temporary)
            for leftover in [n for n in builder.objects if n.startswith(temporary)]:
                del builder.objects[leftover]
        example = example_of(spec, get, wrapped) if get else list_example(spec, LISTS[name], wrapped)
        if example is None:
            # No example response in the spec: one assembled from its schema's field examples.
            example = assembled_example(spec, schema, 0)
            # The id has no example in the spec; the fixture needs one of its documented type.
            id_types = [f["type"] for f in builder.objects[name]["fields"] if f["name"] == "id"]
            if isinstance(example, dict) and "id" not in example and id_types:
                placeholder = 1 if id_types[0] == "id" else "4b1ba2ae-6f56-4e07-9f26-1eb3b6c2fa11"
                example = {"id": placeholder, **example}
        spec_example = example
        if example is not None:
            example = conform(builder.objects, name, example, name)
            (fixtures / f"{snake(name)}.json").write_text(json.dumps(example, indent=2, ensure_ascii=False, default=str) + "\n")
        # The other example answers of its operations, for the round-trip test.
        more = [dict(entry, example=conform(builder.objects, name, entry["example"], name))
                for entry in more_examples(spec, get, LISTS.get(name), wrapped, spec_example)]
        more_file = fixtures / "more" / f"{snake(name)}.json"
        if more:
            more_file.parent.mkdir(exist_ok=True)
            more_file.write_text(json.dumps(more, indent=1, ensure_ascii=False, default=str) + "\n")
        elif more_file.exists():
            more_file.unlink()
        # What the spec says the API answers (the emulator answers by it, and its conformance
        # test checks the answers against it) and what its writes take.
        answers[name] = {
            "spec": path,
            "get": answer_schema(spec, get),
            "list": answer_schema(spec, LISTS.get(name)),
        }
        # The bodies of its writes, typed as the spec's request schemas say.
        # The writes of one resource the spec has; a listed-only resource has none.
        writes = operations(spec, get, LISTS.get(name)) if get else []
        bodies = {}
        dropped = []
        for write, method, target in (("create", "post", LISTS.get(name)), ("update", "put", get)):
            if write not in writes:
                continue
            body = request_schema(spec, target, method)
            if body is None:
                # A batch write (an array body) is not a write of one: not offered here.
                dropped.append(write)
                continue
            body_name = name + BODY_SUFFIX[write]
            builder.request = True
            builder.object(spec, body_name, body,
                           f"The body of a {write} of [`{name}`] (`{method.upper()} {target}`).", 0)
            builder.request = False
            bodies[write] = body_name
            # What the spec says the body may hold, to check the typed bodies against, and what
            # the API answers.
            answers[name][f"{write}_body"] = json_schema(spec, body)
            answers[name][write] = write_answer_schema(spec, target, method)
        resources.append({
            "name": name,
            "spec": (f"{path}#/components/schemas/{schema_name}" if schema_name
                     else f"{path} GET {get}" if get else f"{path} GET {LISTS[name]} (an item)"),
            "version": version,
            **({"get": get} if get else {}),
            "wrapped": wrapped,
            **({"parent": parent} if parent else {}),
            **({"list": {"path": LISTS[name], "filters": list_filters(spec, LISTS[name]) or []}}
               if name in LISTS else {}),
            **({"fetched_from": FETCHED_FROM[name]} if name in FETCHED_FROM else {}),
            "operations": [o for o in writes if o not in dropped],
            **({"bodies": bodies} if bodies else {}),
        })
    out = {
        "format": 1,
        "source": "github.com/bigcommerce/docs reference/*.yml, by crates/catalogue/tools/resources_from_specs.py",
        "resources": resources,
        "objects": sorted(builder.objects.values(), key=lambda o: o["name"]),
    }
    (repo / "crates" / "catalogue" / "resources.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    (repo / "crates" / "emulator" / "spec_answers.json").write_text(json.dumps({
        "source": "github.com/bigcommerce/docs reference/*.yml, by crates/catalogue/tools/resources_from_specs.py",
        "answers": answers,
    }, indent=1, ensure_ascii=False, sort_keys=True, default=str) + "\n")


if __name__ == "__main__":
    main()
