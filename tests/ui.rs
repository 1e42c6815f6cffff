//! The diagnostics spec: every `ui-tests/fail/*.rs` must fail to compile with exactly its
//! `.stderr`, every `ui-tests/pass/*.rs` must compile and run. Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test --test ui` after an intended change, and review the diff.
//! The toolchain is pinned (rust-toolchain.toml) so compiler upgrades do not churn them.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui-tests/pass/*.rs");
    cases.compile_fail("ui-tests/fail/*.rs");
}
