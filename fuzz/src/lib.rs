//! Helpers shared by the fuzz targets: the bundled catalogue, and a decoder that turns fuzz
//! bytes into text made of catalogue segments, so the scope and pattern targets reach
//! near-valid inputs without a seed corpus (and keep reaching them as the catalogue changes).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use bigcommerce_app_catalogue::Catalogue;

/// The catalogue `#[webhook_handler]` and the build script use (`scopes.json`).
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| bigcommerce_app_catalogue::bundled().expect("bundled catalogue is valid"))
}

/// Every spelling of every catalogue scope (canonical, alias, pattern form), every segment of
/// them, and the channel and wildcard tokens.
fn tokens() -> &'static [String] {
    static TOKENS: OnceLock<Vec<String>> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let mut all: BTreeSet<String> = [
            "/",
            "*",
            "<id>",
            "{channel_id}",
            "store/",
            "store/channel/",
            "0",
            "1",
            "2",
            "18446744073709551615",
            "18446744073709551616",
            "-1",
            " ",
            "stores/",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        for entry in &catalogue().scopes {
            let spellings = std::iter::once(entry.scope.clone())
                .chain(entry.aliases.iter().cloned())
                .chain(std::iter::once(entry.pattern_form()));
            for spelling in spellings {
                all.extend(spelling.split('/').map(str::to_owned));
                all.insert(spelling);
            }
        }
        all.into_iter().collect()
    })
}

/// Decodes fuzz bytes: an ASCII byte stands for itself, a byte with the high bit set and the
/// next byte pick a token.
pub fn catalogue_text(data: &[u8]) -> String {
    let tokens = tokens();
    let mut text = String::new();
    let mut bytes = data.iter().copied();
    while let Some(b) = bytes.next() {
        if b < 0x80 {
            text.push(char::from(b));
        } else {
            let index = (usize::from(b & 0x7f) << 8) | usize::from(bytes.next().unwrap_or(0));
            text.push_str(&tokens[index % tokens.len()]);
        }
    }
    text
}

/// The fuzz input as text: raw (lossy UTF-8) when the first byte is even, catalogue-made
/// otherwise.
pub fn input_text(data: &[u8]) -> String {
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 1 => catalogue_text(rest),
        Some((_, rest)) => String::from_utf8_lossy(rest).into_owned(),
        None => String::new(),
    }
}
