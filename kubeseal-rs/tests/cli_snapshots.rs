//! What users read, pinned: `tests/cmd/*.toml` are `trycmd` cases (the command, its exit code,
//! stdout and stderr; `fs.base` a fixture folder copied into a sandbox, `NAME.out/` the files
//! that must be unchanged after it). `TRYCMD=overwrite cargo test -p kubeseal-rs --test
//! cli_snapshots` rewrites them from the binary; review the diff like code.

#[test]
fn cli_snapshots() {
    trycmd::TestCases::new()
        .register_bin(
            "kubeseal-rs",
            std::path::Path::new(env!("CARGO_BIN_EXE_kubeseal-rs")),
        )
        // No kubeconfig (an empty KUBECONFIG is unset for client-go and us), a fixed width.
        .env("KUBECONFIG", "")
        .env("HOME", "/nonexistent")
        .env("COLUMNS", "100")
        .case("tests/cmd/*.toml");
}
