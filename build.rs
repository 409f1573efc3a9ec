//! Generates the typed webhook events (`Event`, `Scope`, group enums, payload structs) from
//! `scopes.json` into `$OUT_DIR/events.rs`. The catalogue crate does the loading, validation and
//! generation; a problem in `scopes.json` fails the build with the name of the entry at fault.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=scopes.json");
    println!("cargo:rerun-if-changed=build.rs");
    let manifest = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let catalog = match bigcommerce_app_catalog::Catalog::load(manifest.join("scopes.json")) {
        Ok(catalog) => catalog,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let source = match bigcommerce_app_catalog::codegen::generate(&catalog) {
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
