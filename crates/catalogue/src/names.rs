//! Naming rules shared by the build script and the macro, so both derive the same Rust names
//! from a scope string.

/// `statusUpdated` -> `StatusUpdated`, `stock_changed` -> `StockChanged`, `SEO` -> `Seo`.
pub fn pascal_case(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for part in split_words(word) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.extend(chars.flat_map(char::to_lowercase));
        }
    }
    out
}

/// `couponId` -> `coupon_id`, `SEO` -> `seo`.
pub fn snake_case(word: &str) -> String {
    split_words(word)
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join("_")
}

/// Splits on `_`, `-`, and lower->upper camel boundaries; an all-caps run stays one word.
fn split_words(word: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in word.chars() {
        if c == '_' || c == '-' {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// A payload type name: an ASCII identifier starting with an upper-case letter.
pub(crate) fn is_type_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_alphanumeric())
}

/// A field name usable as a Rust identifier without `r#`.
pub(crate) fn is_field_ident(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !is_keyword(name)
}

fn is_keyword(name: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
        "mut", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true",
        "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final",
        "macro", "override", "priv", "try", "typeof", "unsized", "virtual", "yield", "gen",
    ];
    KEYWORDS.contains(&name)
}

/// The default variant name of a scope:
/// - `store/order/statusUpdated` -> `OrderStatusUpdated`
/// - `store/channel/{channel_id}/cart/created` -> `ChannelCartCreated`
/// - `store/channel/*/inventory/product/stock_changed` -> `AllChannelsInventoryProductStockChanged`
/// - wildcards get an `All` suffix: `store/order/*` -> `OrderAll`
pub(crate) fn default_variant(scope: &str) -> String {
    let rest = scope.strip_prefix("store/").unwrap_or(scope);
    let mut name = String::new();
    for segment in rest.split('/') {
        match segment {
            "{channel_id}" => {}
            "*" => name.push_str("All"),
            s => name.push_str(&pascal_case(s)),
        }
    }
    if let Some(after) = rest.strip_prefix("channel/*/") {
        let mut all = String::from("AllChannels");
        for segment in after.split('/') {
            all.push_str(&pascal_case(segment));
        }
        return all;
    }
    name
}

/// Levenshtein distance over bytes; scope strings are ASCII.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = prev[j] + usize::from(!ca.eq_ignore_ascii_case(&cb));
            cur[j + 1] = substitution.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        assert_eq!(pascal_case("statusUpdated"), "StatusUpdated");
        assert_eq!(pascal_case("stock_changed"), "StockChanged");
        assert_eq!(pascal_case("SEO"), "Seo");
        assert_eq!(snake_case("couponId"), "coupon_id");
        assert_eq!(snake_case("order_id"), "order_id");
    }

    #[test]
    fn variants() {
        assert_eq!(
            default_variant("store/order/statusUpdated"),
            "OrderStatusUpdated"
        );
        assert_eq!(
            default_variant("store/channel/{channel_id}/cart/created"),
            "ChannelCartCreated"
        );
        assert_eq!(
            default_variant("store/channel/*/inventory/product/stock_changed"),
            "AllChannelsInventoryProductStockChanged"
        );
        assert_eq!(default_variant("store/order/*"), "OrderAll");
        assert_eq!(
            default_variant("store/channel/{channel_id}/order/*"),
            "ChannelOrderAll"
        );
    }

    #[test]
    fn distance() {
        assert_eq!(
            edit_distance("store/order/statusUpdate", "store/order/statusUpdated"),
            1
        );
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
