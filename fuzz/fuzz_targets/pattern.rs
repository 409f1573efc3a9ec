//! Any string as a `#[webhook_handler]` pattern: parsing and resolving it against the catalogue
//! never panic, and what it resolves to is consistent.

#![no_main]

use bigcommerce_app::Scope;
use bigcommerce_app_catalogue::{ChannelSelector, Pattern, ScopeKind};
use bigcommerce_app_fuzz::{catalogue, input_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = input_text(data);
    let Ok(pattern) = Pattern::parse(&text) else {
        return;
    };
    let catalogue = catalogue();
    assert_eq!(pattern.raw, text);
    assert_eq!(
        pattern.channel.is_some(),
        pattern.kind == ScopeKind::ChannelTemplated,
        "{text:?}"
    );
    let resolved = pattern.resolve(catalogue);
    let wildcard = pattern.catalogue_wildcard(catalogue);
    let scopes = match resolved {
        Ok(scopes) => scopes,
        Err(error) => {
            let _ = error.to_string();
            return;
        }
    };
    assert!(!scopes.is_empty(), "{text:?}");
    for scope in &scopes {
        assert!(
            !scope.wildcard,
            "{text:?} matched the wildcard {}",
            scope.scope
        );
        assert_eq!(scope.kind, pattern.kind, "{text:?} matched {}", scope.scope);
        if pattern.wildcard {
            assert!(
                scope.scope.starts_with(&pattern.body),
                "{text:?}: {}",
                scope.scope
            );
        }
        // The framework's generated scopes know every scope a handler can match.
        assert!(
            Scope::from_catalogue(&scope.scope).is_some(),
            "{}",
            scope.scope
        );
    }
    if !pattern.wildcard {
        assert_eq!(scopes.len(), 1, "{text:?}");
    }
    if let Some(wildcard) = wildcard {
        // The app subscribes to the catalogue wildcard instead of the matched scopes, so the
        // wildcard must deliver exactly them.
        let members: Vec<&str> = catalogue
            .members(wildcard)
            .iter()
            .map(|s| s.scope.as_str())
            .collect();
        let matched: Vec<&str> = scopes.iter().map(|s| s.scope.as_str()).collect();
        assert_eq!(members, matched, "{text:?}");
    }
    if let Some(ChannelSelector::One(id)) = pattern.channel {
        assert!(
            text.split('/').nth(2).is_some_and(|s| s.parse() == Ok(id)),
            "{text:?}"
        );
    }
});
