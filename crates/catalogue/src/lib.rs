//! The BigCommerce webhook scope catalogue.
//!
//! `scopes.json`, shipped inside this crate and embedded by [`bundled`], is the single source of
//! truth for every webhook scope. This crate loads and validates it, resolves the scopes BigCommerce actually
//! delivers (`store/channel/1/order/created`) back to catalogue entries, and parses and matches the
//! handler patterns of `#[webhook_handler("...")]`. The framework's build script and the macro both
//! use it, so they can never disagree about what a scope is called or what it carries.

mod model;
mod names;
mod pattern;
mod resources;
mod validate;

#[cfg(feature = "codegen")]
pub mod codegen;

use std::collections::HashMap;
use std::path::Path;

pub use model::{RawCatalogue, RawField, RawPayload, RawScope};
pub use names::{pascal_case, snake_case};
pub use pattern::{is_channel_scope, ChannelSelector, Pattern, PatternError};
pub use resources::{
    bundled_resources, ApiVersion, EventLink, FilterEntry, ListEntry, ResourceEntry, Resources,
    BUNDLED_RESOURCES_JSON,
};

/// The placeholder for the channel id in a channel-templated scope.
pub const CHANNEL_PLACEHOLDER: &str = "{channel_id}";
/// The prefix shared by every channel-templated scope.
pub use bigcommerce_app_core::CHANNEL_PREFIX;

/// A problem with `scopes.json` or `resources.json`, naming the entry at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogueError {
    #[error("cannot read {path}: {source}")]
    /// The catalogue file cannot be read.
    Io {
        /// The file.
        path: String,
        #[source]
        /// The I/O error.
        source: std::io::Error,
    },
    #[error("scopes.json is not valid: {0}")]
    /// The file is not JSON of the catalogue's format.
    Json(#[from] serde_json::Error),
    #[error("scopes.json entry `{entry}`: {problem}")]
    /// An entry breaks a rule; `problem` says which.
    Entry {
        /// The scope or payload name.
        entry: String,
        /// What is wrong with it.
        problem: String,
    },
    #[error("resources.json is not valid: {0}")]
    /// `resources.json` is not JSON of its format.
    ResourcesJson(#[source] serde_json::Error),
    #[error("resources.json entry `{entry}`: {problem}")]
    /// A `resources.json` entry breaks a rule; `problem` says which.
    Resource {
        /// The resource or object name.
        entry: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl CatalogueError {
    pub(crate) fn entry(entry: impl Into<String>, problem: impl Into<String>) -> Self {
        CatalogueError::Entry {
            entry: entry.into(),
            problem: problem.into(),
        }
    }
}

pub use bigcommerce_app_core::{split_channel, ScopeKind};

/// The type of a payload field.
///
/// Written in `scopes.json` as `id`, `integer`, `number`, `decimal`, `string`, `boolean`, `any`, the name of
/// another payload, `[T]` for an array, with a trailing `?` for an optional field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    /// A non-negative identifier; BigCommerce sends some as numbers and some as numeric strings.
    Id,
    /// A signed integer (e.g. an inventory delta), number or numeric string.
    Integer,
    /// A floating point number.
    Number,
    /// An amount of money: a decimal number or decimal string, kept as the exact text sent.
    Decimal,
    /// A string; a number is accepted and kept as its decimal text.
    String,
    /// `true` or `false`.
    Boolean,
    /// Any JSON value, kept as is.
    Any,
    /// A nested object described by another payload entry.
    Object(String),
    /// A JSON array of the inner type.
    Array(Box<FieldType>),
    /// The inner type, or absent/null.
    Optional(Box<FieldType>),
}

impl FieldType {
    /// Parses a type expression; `None` if it is not well formed (names are checked later).
    pub fn parse(expr: &str) -> Option<FieldType> {
        let expr = expr.trim();
        if let Some(inner) = expr.strip_suffix('?') {
            let inner = FieldType::parse(inner)?;
            return match inner {
                FieldType::Optional(_) => None,
                other => Some(FieldType::Optional(Box::new(other))),
            };
        }
        if let Some(inner) = expr.strip_prefix('[').and_then(|e| e.strip_suffix(']')) {
            let inner = FieldType::parse(inner)?;
            return match inner {
                FieldType::Optional(_) => None,
                other => Some(FieldType::Array(Box::new(other))),
            };
        }
        Some(match expr {
            "id" => FieldType::Id,
            "integer" => FieldType::Integer,
            "number" => FieldType::Number,
            "string" => FieldType::String,
            "boolean" => FieldType::Boolean,
            "any" => FieldType::Any,
            "decimal" => FieldType::Decimal,
            name if names::is_type_name(name) => FieldType::Object(name.to_owned()),
            _ => return None,
        })
    }

    /// The field may be absent or null.
    pub fn is_optional(&self) -> bool {
        matches!(self, FieldType::Optional(_))
    }

    /// The object payloads this type refers to, directly or inside arrays/options.
    pub fn object_name(&self) -> Option<&str> {
        match self {
            FieldType::Object(name) => Some(name),
            FieldType::Array(inner) | FieldType::Optional(inner) => inner.object_name(),
            _ => None,
        }
    }
}

/// A field of an object payload, validated.
#[derive(Debug, Clone)]
pub struct Field {
    /// The JSON key as BigCommerce sends it.
    pub json: String,
    /// The Rust field name.
    pub rust: String,
    /// Its type.
    pub ty: FieldType,
    /// What it holds.
    pub doc: Option<String>,
}

/// The shape of a payload.
#[derive(Debug, Clone)]
pub enum PayloadShape {
    /// `data` is an object with these fields.
    Object(Vec<Field>),
    /// `data` is a JSON array of the named object payload.
    ArrayOf(String),
}

/// A named payload shape, validated.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The Rust type name.
    pub name: String,
    /// What it describes.
    pub doc: String,
    /// Object or array.
    pub shape: PayloadShape,
}

/// One catalogue scope, validated.
#[derive(Debug, Clone)]
pub struct ScopeEntry {
    /// Canonical spelling, with `{channel_id}` for channel scopes and `/*` for wildcards.
    pub scope: String,
    /// Resource group (`order`, `cart`, ...).
    pub group: String,
    /// One-line description from BigCommerce's docs.
    pub description: String,
    /// Store-level, channel-templated, or for all channels.
    pub kind: ScopeKind,
    /// Whether it ends in `/*`.
    pub wildcard: bool,
    /// Payload name (concrete scopes only).
    pub payload: Option<String>,
    /// Other spellings seen in BigCommerce's docs, accepted when delivered.
    pub aliases: Vec<String>,
    /// The Rust name of the `Event` / `Scope` variant.
    pub variant: String,
}

impl ScopeEntry {
    /// The scope as a handler pattern would spell it: `{channel_id}` becomes `<id>`.
    pub fn pattern_form(&self) -> String {
        self.scope.replace(CHANNEL_PLACEHOLDER, "<id>")
    }

    /// The Rust name of a wildcard's group enum (`store/order/*` -> `OrderEvent`); `None` for a
    /// concrete scope.
    pub fn group_enum_name(&self) -> Option<String> {
        if !self.wildcard {
            return None;
        }
        let stem = self.variant.strip_suffix("All").unwrap_or(&self.variant);
        Some(format!("{stem}Event"))
    }

    /// The prefix a wildcard covers (`store/order/` for `store/order/*`).
    pub fn wildcard_prefix(&self) -> Option<&str> {
        if self.wildcard {
            self.scope.strip_suffix('*')
        } else {
            None
        }
    }
}

/// The validated catalogue.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// Payload shapes, by name.
    pub payloads: Vec<Payload>,
    /// Every scope, wildcards included.
    pub scopes: Vec<ScopeEntry>,
    /// Canonical spelling and every alias -> index into `scopes`.
    by_name: HashMap<String, usize>,
}

impl Catalogue {
    /// Reads and validates a `scopes.json` file.
    pub fn load(path: impl AsRef<Path>) -> Result<Catalogue, CatalogueError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| CatalogueError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Catalogue::from_json(&text)
    }

    /// Parses and validates the text of a `scopes.json` file.
    pub fn from_json(text: &str) -> Result<Catalogue, CatalogueError> {
        let raw: RawCatalogue = serde_json::from_str(text)?;
        validate::validate(raw)
    }

    /// Looks up a catalogue entry by canonical spelling or alias (template form).
    pub fn get(&self, scope: &str) -> Option<&ScopeEntry> {
        self.by_name.get(scope).map(|&i| &self.scopes[i])
    }

    /// Index of a catalogue entry by canonical spelling or alias.
    pub fn index_of(&self, scope: &str) -> Option<usize> {
        self.by_name.get(scope).copied()
    }

    /// A payload shape by name.
    pub fn payload(&self, name: &str) -> Option<&Payload> {
        self.payloads.iter().find(|p| p.name == name)
    }

    /// Concrete (non-wildcard) scopes.
    pub fn concrete(&self) -> impl Iterator<Item = &ScopeEntry> {
        self.scopes.iter().filter(|s| !s.wildcard)
    }

    /// Wildcard scopes.
    pub fn wildcards(&self) -> impl Iterator<Item = &ScopeEntry> {
        self.scopes.iter().filter(|s| s.wildcard)
    }

    /// The concrete scopes a catalogue wildcard covers: same kind, scope starting with its prefix.
    pub fn members(&self, wildcard: &ScopeEntry) -> Vec<&ScopeEntry> {
        match wildcard.wildcard_prefix() {
            Some(prefix) => self
                .concrete()
                .filter(|s| s.kind == wildcard.kind && s.scope.starts_with(prefix))
                .collect(),
            None => Vec::new(),
        }
    }

    /// Resolves a scope as BigCommerce delivers it (`store/channel/2/cart/created`) to its entry
    /// and channel id. Aliases are accepted. Wildcards are never delivered, so they do not resolve.
    pub fn resolve_delivered(&self, scope: &str) -> Option<(&ScopeEntry, Option<u64>)> {
        if let Some((channel, rest)) = split_channel(scope) {
            let template = format!("{CHANNEL_PREFIX}{CHANNEL_PLACEHOLDER}/{rest}");
            return self
                .get(&template)
                .filter(|e| !e.wildcard && e.kind == ScopeKind::ChannelTemplated)
                .map(|e| (e, Some(channel)));
        }
        self.get(scope)
            .filter(|e| !e.wildcard && e.kind != ScopeKind::ChannelTemplated)
            .map(|e| (e, None))
    }

    /// Scopes whose spelling is closest to `input` (edit distance), best first, for
    /// "did you mean" messages. Compared in pattern form (`<id>` for the channel).
    pub fn suggestions(&self, input: &str, max: usize) -> Vec<String> {
        let mut scored: Vec<(usize, String)> = self
            .scopes
            .iter()
            .map(|s| {
                let form = s.pattern_form();
                (names::edit_distance(input, &form), form)
            })
            .collect();
        scored.sort();
        let limit = (input.len() / 3).max(3);
        scored
            .into_iter()
            .filter(|(d, _)| *d <= limit)
            .take(max)
            .map(|(_, s)| s)
            .collect()
    }
}

/// The catalogue this crate ships (its own `scopes.json`), embedded at compile time so the
/// build script, the macro and the CLI read the same one and need no file at run time.
pub fn bundled() -> Result<Catalogue, CatalogueError> {
    Catalogue::from_json(BUNDLED_JSON)
}

/// The text of the bundled `scopes.json`.
pub const BUNDLED_JSON: &str = include_str!("../scopes.json");

/// Where the bundled catalogue files are, for a build script's `rerun-if-changed`: cargo's own
/// tracking of `include_str!` files through this crate did not always rerun the framework's
/// build script after `resources.json` changed.
pub const BUNDLED_FILES: [&str; 2] = [
    concat!(env!("CARGO_MANIFEST_DIR"), "/scopes.json"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/resources.json"),
];
