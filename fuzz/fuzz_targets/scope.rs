//! Any string as a delivered scope: the catalogue's resolution (`Catalogue::resolve_delivered`)
//! and the generated one the envelope parser uses (`Scope::parse_delivered`) never panic and
//! agree; a resolved scope round-trips through `Scope::delivered`.

#![no_main]

use bigcommerce_app::{ChannelId, Scope};
use bigcommerce_app_fuzz::{catalogue, input_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = input_text(data);
    let catalogue = catalogue();
    let from_catalogue = catalogue.resolve_delivered(&text);
    let generated = Scope::parse_delivered(&text);
    match (from_catalogue, generated) {
        (None, None) => {}
        (Some((entry, channel)), Some((scope, generated_channel))) => {
            assert_eq!(entry.variant, scope.info().variant, "{text:?}");
            assert_eq!(channel.map(ChannelId), generated_channel, "{text:?}");
            assert!(!entry.wildcard, "{text:?} resolved to a wildcard");
            assert_eq!(
                Scope::parse_delivered(&scope.delivered(generated_channel)),
                Some((scope, generated_channel))
            );
        }
        (catalogue, generated) => {
            panic!("{text:?}: catalogue resolves to {catalogue:?}, generated code to {generated:?}")
        }
    }
    // Catalogue spellings (subscriptions, not deliveries) are looked up the same way too.
    assert_eq!(
        catalogue.get(&text).map(|e| e.variant.as_str()),
        Scope::from_catalogue(&text).map(|s| s.info().variant),
        "{text:?}"
    );
});
