//! Generates the typed webhook events (`Event`, `Scope`, group enums, payload structs) from the
//! catalogue crate's `scopes.json` into `$OUT_DIR/events/`, one file per concern. The catalogue crate does the loading,
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
    let files = match bigcommerce_app_catalogue::codegen::generate(&catalogue) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let dir =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("events");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    for file in files {
        let path = dir.join(file.name);
        if let Err(e) = std::fs::write(&path, file.source) {
            eprintln!("error: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}
