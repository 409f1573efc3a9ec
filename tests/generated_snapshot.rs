//! Golden copies of the generated events and resources sources, one per file, so any change to the code
//! generator or the catalogue shows up in review as a diff of the file it touches. Refresh them
//! with `UPDATE_SNAPSHOTS=1 cargo test --test generated_snapshot` after checking the difference
//! is intended.

macro_rules! generated {
    ($file:literal) => {
        (
            $file,
            include_str!(concat!(env!("OUT_DIR"), "/events/", $file)),
        )
    };
}

/// Every file the build script writes (`codegen::FILES`), with its content.
const GENERATED: [(&str, &str); 5] = [
    generated!("payloads.rs"),
    generated!("scope.rs"),
    generated!("event.rs"),
    generated!("groups.rs"),
    generated!("handler_support.rs"),
];

/// `resources.rs`, generated from resources.json next to the events.
const RESOURCES: &str = include_str!(concat!(env!("OUT_DIR"), "/resources.rs"));

fn check(file: &str) {
    let generated = if file == "resources.rs" {
        &RESOURCES
    } else {
        &GENERATED
            .iter()
            .find(|(name, _)| *name == file)
            .unwrap_or_else(|| panic!("{file} is not a generated file"))
            .1
    };
    let snapshot = if file == "resources.rs" {
        format!("tests/snapshots/{file}.snap")
    } else {
        format!("tests/snapshots/events/{file}.snap")
    };
    let path = format!("{}/{snapshot}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(&path).parent().expect("has a parent"))
            .expect("create the snapshot folder");
        std::fs::write(&path, generated).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}; run with UPDATE_SNAPSHOTS=1 to create it"));
    if expected != *generated {
        let diff = similar::TextDiff::from_lines(expected.as_str(), *generated);
        let unified = diff
            .unified_diff()
            .context_radius(3)
            .header(&snapshot, "generated")
            .to_string();
        panic!(
            "the generated {file} differs from its snapshot:\n{unified}\n\
             If the change is intended, run UPDATE_SNAPSHOTS=1 cargo test --test generated_snapshot"
        );
    }
}

#[test]
fn the_snapshots_cover_every_generated_file() {
    let names: Vec<&str> = GENERATED.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, bigcommerce_app_catalogue::codegen::FILES);
}

#[test]
fn payloads_match_the_snapshot() {
    check("payloads.rs");
}

#[test]
fn scope_matches_the_snapshot() {
    check("scope.rs");
}

#[test]
fn event_matches_the_snapshot() {
    check("event.rs");
}

#[test]
fn groups_match_the_snapshot() {
    check("groups.rs");
}

#[test]
fn handler_support_matches_the_snapshot() {
    check("handler_support.rs");
}

#[test]
fn resources_match_the_snapshot() {
    check("resources.rs");
}
