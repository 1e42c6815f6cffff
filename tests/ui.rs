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

/// A diagnostic names the user's code and memokit's public items, never the hidden module the
/// expansion goes through.
#[test]
fn no_diagnostic_names_the_hidden_module() {
    let mut checked = 0;
    for dir in ["ui-tests/fail", "ui-tests/no-tokio"] {
        for entry in std::fs::read_dir(dir).expect("the ui-tests folder") {
            let path = entry.expect("a ui-tests file").path();
            if path.extension().is_some_and(|e| e == "stderr") {
                let text = std::fs::read_to_string(&path).expect("a readable .stderr");
                assert!(
                    !text.contains("__private"),
                    "{} names `__private`",
                    path.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} .stderr files found");
}
