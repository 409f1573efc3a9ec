//! Turns a [`RawCatalogue`] into a [`Catalogue`], rejecting anything the code generator or the
//! router could not handle. Every error names the entry at fault.

use std::collections::{HashMap, HashSet};

use crate::names::{default_variant, is_field_ident, is_type_name, snake_case};
use crate::{
    Catalogue, CatalogueError, Field, FieldType, Payload, PayloadShape, RawCatalogue, RawPayload,
    RawScope, ScopeEntry, ScopeKind, CHANNEL_PLACEHOLDER, CHANNEL_PREFIX,
};

pub(crate) fn validate(raw: RawCatalogue) -> Result<Catalogue, CatalogueError> {
    if raw.format != 1 {
        return Err(CatalogueError::entry(
            "format",
            format!("unsupported format {}, expected 1", raw.format),
        ));
    }
    let payloads = validate_payloads(&raw.payloads)?;
    let payload_names: HashSet<&str> = payloads.iter().map(|p| p.name.as_str()).collect();

    let mut scopes = Vec::with_capacity(raw.scopes.len());
    let mut by_name = HashMap::new();
    let mut variants: HashMap<String, String> = HashMap::new();
    for raw_scope in &raw.scopes {
        let entry = validate_scope(raw_scope, &payload_names)?;
        let index = scopes.len();
        for name in std::iter::once(&entry.scope).chain(&entry.aliases) {
            if by_name.insert(name.clone(), index).is_some() {
                return Err(CatalogueError::entry(
                    &entry.scope,
                    format!("`{name}` is listed more than once (as a scope or an alias)"),
                ));
            }
        }
        if let Some(other) = variants.insert(entry.variant.clone(), entry.scope.clone()) {
            return Err(CatalogueError::entry(
                &entry.scope,
                format!(
                    "Rust variant name `{}` is also used by `{other}`; set `variant` to tell them apart",
                    entry.variant
                ),
            ));
        }
        scopes.push(entry);
    }
    for alias_owner in &scopes {
        for alias in &alias_owner.aliases {
            check_scope_syntax(alias).map_err(|p| {
                CatalogueError::entry(&alias_owner.scope, format!("alias `{alias}`: {p}"))
            })?;
        }
    }

    let catalogue = Catalogue {
        payloads,
        scopes,
        by_name,
    };
    for wildcard in catalogue.wildcards() {
        if catalogue.members(wildcard).is_empty() {
            return Err(CatalogueError::entry(
                &wildcard.scope,
                "wildcard covers no concrete scope of the catalogue",
            ));
        }
    }
    Ok(catalogue)
}

pub(crate) fn validate_payloads(raw: &[RawPayload]) -> Result<Vec<Payload>, CatalogueError> {
    let mut seen = HashSet::new();
    for p in raw {
        if !is_type_name(&p.name) {
            return Err(CatalogueError::entry(
                &p.name,
                "payload name must be an UpperCamelCase ASCII identifier",
            ));
        }
        if !seen.insert(p.name.as_str()) {
            return Err(CatalogueError::entry(&p.name, "payload defined twice"));
        }
    }
    let mut payloads = Vec::with_capacity(raw.len());
    for p in raw {
        let shape = match (&p.fields, &p.items) {
            (Some(fields), None) => PayloadShape::Object(validate_fields(&p.name, fields, &seen)?),
            (None, Some(items)) => {
                if !seen.contains(items.as_str()) {
                    return Err(CatalogueError::entry(
                        &p.name,
                        format!("`items` names unknown payload `{items}`"),
                    ));
                }
                PayloadShape::ArrayOf(items.clone())
            }
            _ => {
                return Err(CatalogueError::entry(
                    &p.name,
                    "a payload has exactly one of `fields` (an object) or `items` (an array)",
                ))
            }
        };
        payloads.push(Payload {
            name: p.name.clone(),
            doc: p.doc.clone(),
            shape,
        });
    }
    // An array payload's element must be an object payload, and objects must not nest into
    // themselves (the generated structs would be infinitely large).
    for p in &payloads {
        if let PayloadShape::ArrayOf(items) = &p.shape {
            if let Some(inner) = payloads.iter().find(|q| &q.name == items) {
                if matches!(inner.shape, PayloadShape::ArrayOf(_)) {
                    return Err(CatalogueError::entry(
                        &p.name,
                        "`items` must name an object payload",
                    ));
                }
            }
        }
        check_no_cycle(&payloads, p, &mut Vec::new())?;
    }
    Ok(payloads)
}

/// The object a field holds directly (not through an array).
fn inline_object(ty: &FieldType) -> Option<&str> {
    match ty {
        FieldType::Object(name) => Some(name),
        FieldType::Optional(inner) => inline_object(inner),
        _ => None,
    }
}

fn check_no_cycle<'a>(
    all: &'a [Payload],
    p: &'a Payload,
    path: &mut Vec<&'a str>,
) -> Result<(), CatalogueError> {
    if path.contains(&p.name.as_str()) {
        return Err(CatalogueError::entry(
            &p.name,
            format!(
                "payload contains itself ({} -> {})",
                path.join(" -> "),
                p.name
            ),
        ));
    }
    path.push(&p.name);
    // Through an array a payload may hold itself (a category's children): the array is the
    // indirection a Rust type needs, and a JSON document is finite.
    let children: Vec<&str> = match &p.shape {
        PayloadShape::Object(fields) => {
            fields.iter().filter_map(|f| inline_object(&f.ty)).collect()
        }
        PayloadShape::ArrayOf(_) => Vec::new(),
    };
    for child in children {
        if let Some(c) = all.iter().find(|q| q.name == child) {
            check_no_cycle(all, c, path)?;
        }
    }
    path.pop();
    Ok(())
}

fn validate_fields(
    payload: &str,
    fields: &[crate::RawField],
    payload_names: &HashSet<&str>,
) -> Result<Vec<Field>, CatalogueError> {
    let mut out = Vec::with_capacity(fields.len());
    let mut json_names = HashSet::new();
    let mut rust_names = HashSet::new();
    for f in fields {
        let at = format!("{payload}.{}", f.name);
        let ty = FieldType::parse(&f.ty).ok_or_else(|| {
            CatalogueError::entry(
                &at,
                format!(
                    "unknown type `{}` (expected id, integer, number, string, boolean, any, \
                     a payload name, [T], or T?)",
                    f.ty
                ),
            )
        })?;
        if let Some(name) = ty.object_name() {
            if !payload_names.contains(name) {
                return Err(CatalogueError::entry(
                    &at,
                    format!("unknown payload type `{name}`"),
                ));
            }
        }
        let rust = f.rust.clone().unwrap_or_else(|| snake_case(&f.name));
        if !is_field_ident(&rust) {
            return Err(CatalogueError::entry(
                &at,
                format!("`{rust}` is not a usable Rust field name; set `rust` to another name"),
            ));
        }
        if rust == "extra" {
            return Err(CatalogueError::entry(
                &at,
                "`extra` is reserved for unknown fields; set `rust` to another name",
            ));
        }
        if !json_names.insert(f.name.clone()) || !rust_names.insert(rust.clone()) {
            return Err(CatalogueError::entry(&at, "field defined twice"));
        }
        out.push(Field {
            json: f.name.clone(),
            rust,
            ty,
            doc: f.doc.clone(),
        });
    }
    Ok(out)
}

fn validate_scope(raw: &RawScope, payloads: &HashSet<&str>) -> Result<ScopeEntry, CatalogueError> {
    let scope = raw.scope.as_str();
    check_scope_syntax(scope).map_err(|p| CatalogueError::entry(scope, p))?;
    let wildcard = scope.ends_with("/*");
    let kind = scope_kind(scope);
    if raw.description.trim().is_empty() {
        return Err(CatalogueError::entry(scope, "description is empty"));
    }
    if raw.group.trim().is_empty() {
        return Err(CatalogueError::entry(scope, "group is empty"));
    }
    match (&raw.payload, wildcard) {
        (Some(_), true) => {
            return Err(CatalogueError::entry(
                scope,
                "a wildcard has no payload of its own; remove `payload`",
            ))
        }
        (None, false) => {
            return Err(CatalogueError::entry(
                scope,
                "a concrete scope needs a `payload`",
            ))
        }
        (Some(p), false) if !payloads.contains(p.as_str()) => {
            return Err(CatalogueError::entry(
                scope,
                format!("unknown payload `{p}`"),
            ))
        }
        _ => {}
    }
    for alias in &raw.aliases {
        if scope_kind(alias.trim_end_matches('/')) != kind {
            return Err(CatalogueError::entry(
                scope,
                format!("alias `{alias}` is not the same kind of scope"),
            ));
        }
    }
    let variant = raw
        .variant
        .clone()
        .unwrap_or_else(|| default_variant(scope));
    if !is_type_name(&variant) {
        return Err(CatalogueError::entry(
            scope,
            format!("variant `{variant}` is not an UpperCamelCase identifier"),
        ));
    }
    Ok(ScopeEntry {
        scope: scope.to_owned(),
        group: raw.group.clone(),
        description: raw.description.clone(),
        kind,
        wildcard,
        payload: raw.payload.clone(),
        aliases: raw.aliases.clone(),
        variant,
    })
}

pub(crate) fn scope_kind(scope: &str) -> ScopeKind {
    match scope.strip_prefix(CHANNEL_PREFIX) {
        Some(rest) if rest.starts_with(CHANNEL_PLACEHOLDER) => ScopeKind::ChannelTemplated,
        Some(rest) if rest.starts_with("*/") => ScopeKind::AllChannels,
        _ => ScopeKind::Store,
    }
}

/// Checks the spelling of a catalogue scope or alias: `store/` then `/`-separated segments of
/// `[A-Za-z0-9_]`, `{channel_id}` only as the channel segment, `*` only as the channel segment
/// of the all-channel scopes or as the last segment. Aliases may end in one `/`.
fn check_scope_syntax(scope: &str) -> Result<(), String> {
    let body = scope.strip_suffix('/').unwrap_or(scope);
    let segments: Vec<&str> = body.split('/').collect();
    if segments.first() != Some(&"store") || segments.len() < 2 {
        return Err("a scope starts with `store/` and has at least one more segment".into());
    }
    let last = segments.len() - 1;
    for (i, segment) in segments.iter().enumerate() {
        let channel_segment = i == 2 && segments[1] == "channel";
        match *segment {
            "" => return Err("empty segment (`//`)".into()),
            "{channel_id}" if channel_segment && i < last => {}
            "{channel_id}" => {
                return Err(
                    "`{channel_id}` is only valid as the third segment of store/channel/{channel_id}/..."
                        .into(),
                )
            }
            "*" if i == last && i >= 1 => {}
            "*" if channel_segment => {}
            "*" => return Err("`*` is only valid as the last segment or as store/channel/*/...".into()),
            s if s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {}
            s => return Err(format!("segment `{s}` has characters other than letters, digits and `_`")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax() {
        assert!(check_scope_syntax("store/order/created").is_ok());
        assert!(check_scope_syntax("store/channel/{channel_id}/order/*").is_ok());
        assert!(check_scope_syntax("store/channel/*/inventory/product/stock_changed").is_ok());
        assert!(check_scope_syntax("store/order/created/").is_ok());
        assert!(check_scope_syntax("store/order//created").is_err());
        assert!(check_scope_syntax("store/order/{channel_id}/x").is_err());
        assert!(check_scope_syntax("store/*/created").is_err());
        assert!(check_scope_syntax("shop/order/created").is_err());
        assert!(check_scope_syntax("store/order/crea-ted").is_err());
    }
}
