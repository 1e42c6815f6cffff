//! The diagnostics spec: every `ui-tests/fail/*.rs` must fail to compile with exactly its
//! `.stderr`, every `ui-tests/pass/*.rs` must compile and run. Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test --test ui` after an intended change, and review the diff.
//! The toolchain is pinned (rust-toolchain.toml) so compiler upgrades do not churn them.

/// Built with every feature, as `cargo test --workspace --all-features` does.
#[cfg(feature = "tokio")]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui-tests/pass/*.rs");
    cases.compile_fail("ui-tests/fail/*.rs");
}

/// What needs a feature the build lacks: `cargo test -p memokit --test ui`, without features, as
/// `.ci/run` runs it.
#[cfg(not(feature = "tokio"))]
#[test]
fn ui_without_tokio() {
    trybuild::TestCases::new().compile_fail("ui-tests/no-tokio/*.rs");
}
