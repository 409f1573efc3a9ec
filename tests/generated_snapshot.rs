//! A golden copy of the generated events source, so any change to the code generator or the
//! catalogue shows up in review. Refresh it with `UPDATE_SNAPSHOTS=1 cargo test --test
//! generated_snapshot` after checking the difference is intended.

const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/events.rs"));

#[test]
fn generated_source_matches_the_snapshot() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/snapshots/events.rs.snap"
    );
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, GENERATED).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(path)
        .expect("tests/snapshots/events.rs.snap is missing; run with UPDATE_SNAPSHOTS=1");
    if expected != GENERATED {
        let line = expected
            .lines()
            .zip(GENERATED.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(GENERATED.lines().count()))
            + 1;
        panic!(
            "generated events differ from tests/snapshots/events.rs.snap from line {line}:\n  snapshot:  {:?}\n  generated: {:?}\n\
             If the change is intended, run UPDATE_SNAPSHOTS=1 cargo test --test generated_snapshot",
            expected.lines().nth(line - 1).unwrap_or(""),
            GENERATED.lines().nth(line - 1).unwrap_or("")
        );
    }
}
