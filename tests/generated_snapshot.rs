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
        let diff = similar::TextDiff::from_lines(expected.as_str(), GENERATED);
        let unified = diff
            .unified_diff()
            .context_radius(3)
            .header("tests/snapshots/events.rs.snap", "generated")
            .to_string();
        // A template change repeats in every struct: the first hunks say enough.
        const SHOWN: usize = 200;
        let lines: Vec<&str> = unified.lines().collect();
        let more = lines.len().saturating_sub(SHOWN);
        panic!(
            "the generated events differ from the snapshot:\n{}{}\n\
             If the change is intended, run UPDATE_SNAPSHOTS=1 cargo test --test generated_snapshot",
            lines[..lines.len().min(SHOWN)].join("\n"),
            if more > 0 {
                format!("\n... {more} more diff lines")
            } else {
                String::new()
            }
        );
    }
}
