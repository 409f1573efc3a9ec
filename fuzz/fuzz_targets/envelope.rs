//! Any bytes as a callback body: `Envelope::meta` (the receiver) and `Envelope::from_slice`
//! (the worker) never panic and agree.

#![no_main]

use bigcommerce_app::{Envelope, Scope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let header = Envelope::meta(body);
    let full = Envelope::from_slice(body);
    match (&header, &full) {
        (Err(error), full) => {
            // `from_slice` runs the same envelope check as `header` before it reads `data`, so
            // when the header parse fails the full parse must fail too, with the same error.
            assert_eq!(full.as_ref().err(), Some(error));
            if error.is_syntax() {
                // "not JSON" (HTTP 400) is never said of valid JSON.
                assert!(serde_json::from_slice::<serde_json::Value>(body).is_err());
            }
        }
        (Ok(meta), Ok(envelope)) => {
            assert_eq!(meta, &envelope.meta);
            // The typed event is the one its scope names.
            let resolved = Scope::parse_delivered(&meta.scope);
            assert_eq!(envelope.catalogue_scope(), resolved.map(|r| r.0));
            assert_eq!(envelope.channel_id(), resolved.and_then(|r| r.1));
        }
        (Ok(_), Err(error)) => {
            // A callback whose envelope is fine fails only on its payload: the receiver stores
            // it and the worker fails it visibly.
            assert!(!error.is_syntax(), "{error}");
            assert!(
                error.path() == "data" || error.path().starts_with("data."),
                "{error}"
            );
        }
    }
});
