//! Compile-time behaviour of `#[webhook_handler]`: every pattern form compiles, and every
//! mistake is a compile error with a stable message (snapshots in `tests/ui/fail/*.stderr`;
//! refresh with `TRYBUILD=overwrite cargo test --test macro_ui` after reviewing).

#[test]
fn webhook_handler_compiles_and_rejects() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
