//! The in-memory model of `scopes.json`, exactly as written on disk.
//!
//! The format is documented in `docs/catalogue.md`. Everything here is plain data; checks live in
//! [`crate::validate`] so that a malformed file is reported with the name of the offending entry
//! instead of a serde line/column.

use serde::Deserialize;

/// The raw file: payload shapes and the scopes that use them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCatalogue {
    /// Format version; only `1` exists.
    pub format: u32,
    /// Named payload shapes, referenced by scopes and by object-typed fields.
    pub payloads: Vec<RawPayload>,
    /// Every scope BigCommerce documents, concrete and wildcard.
    pub scopes: Vec<RawScope>,
}

/// One named payload shape: an object with fields, or an array of another shape.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPayload {
    /// The Rust type name.
    pub name: String,
    /// What the shape describes.
    pub doc: String,
    /// Fields of an object payload (mutually exclusive with `items`).
    #[serde(default)]
    pub fields: Option<Vec<RawField>>,
    /// For an array payload: the name of the element shape.
    #[serde(default)]
    pub items: Option<String>,
}

/// One field of an object payload.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawField {
    /// The JSON key as BigCommerce sends it.
    pub name: String,
    /// The Rust field name when the JSON key is not a good one (camelCase, keywords).
    #[serde(default)]
    pub rust: Option<String>,
    /// Type expression, see [`crate::FieldType`].
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    /// What the field holds.
    pub doc: Option<String>,
}

/// One scope record.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScope {
    /// Canonical scope; channel scopes use the `{channel_id}` placeholder, wildcards end in `/*`.
    pub scope: String,
    /// Resource group (`order`, `cart`, ...).
    pub group: String,
    /// One-line description.
    pub description: String,
    /// Payload shape name; required for concrete scopes, absent for wildcards.
    #[serde(default)]
    pub payload: Option<String>,
    /// Other spellings seen in the docs that mean this scope.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Overrides the generated Rust variant name.
    #[serde(default)]
    pub variant: Option<String>,
}
