//! Generates the typed webhook events (`Event`, `Scope`, group enums, payload structs) from the
//! catalogue crate's `scopes.json` into `$OUT_DIR/events/`, one file per concern, and the API
//! resources of its `resources.json` into `$OUT_DIR/resources.rs`. The catalogue crate does the
//! loading, validation and generation; a problem in either file fails the build with the name of
//! the entry at fault. Cargo reruns this script whenever the catalogue crate or one of its two
//! files changes.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for file in bigcommerce_app_catalogue::BUNDLED_FILES {
        println!("cargo:rerun-if-changed={file}");
    }
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
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let dir = out_dir.join("events");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    let resources = match bigcommerce_app_catalogue::Resources::bundled_beside(&catalogue) {
        Ok(resources) => resources,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let resources_file =
        match bigcommerce_app_catalogue::codegen::generate_resources(&catalogue, &resources) {
            Ok(file) => file,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        };
    let resources_path = out_dir.join(resources_file.name);
    if let Err(e) = std::fs::write(&resources_path, resources_file.source) {
        eprintln!("error: cannot write {}: {e}", resources_path.display());
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
