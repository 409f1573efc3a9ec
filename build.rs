//! Generates the typed webhook events (`Event`, `Scope`, group enums, payload structs) from the
//! catalogue crate's `scopes.json` into `$OUT_DIR/events/`. The catalogue crate does the loading,
//! validation and generation; a problem in `scopes.json` fails the build with the name of the
//! entry at fault. Cargo reruns this script whenever the catalogue crate (and so its embedded
//! `scopes.json`) changes.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let catalogue = match bigcommerce_app_catalogue::bundled() {
        Ok(catalogue) => catalogue,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let source = match bigcommerce_app_catalogue::codegen::generate(&catalogue) {
        Ok(source) => source,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("events.rs");
    if let Err(e) = std::fs::write(&out, source) {
        eprintln!("error: cannot write {}: {e}", out.display());
        std::process::exit(1);
    }
}
