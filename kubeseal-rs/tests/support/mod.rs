//! What the `kubeseal-rs` end-to-end suites share beyond the `e2e` crate's harness (the
//! `tests/cluster` control plane, network namespaces, processes killed on drop; re-exported
//! here): our binaries, and running the CLI against a kubeconfig.

#![allow(dead_code, unused_imports)] // each suite uses a part

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub use e2e::{
    Cluster, Netns, Process, enabled, kubectl_apply, repo_root, script, upstream_bin_dir,
};

pub fn kubeseal_rs() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubeseal-rs"))
}

/// Our controller's debug build, from the same target directory as this test binary (built by
/// `tests/run` before the tests).
pub fn our_controller() -> PathBuf {
    e2e::workspace_bin("sealed-secrets-controller", "sealed-secrets-controller")
}

/// Runs `program` with `kubeconfig` and none of the environment that would change its choices.
pub fn run(program: &Path, args: &[&str], kubeconfig: &Path) -> Output {
    Command::new(program)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("SEALED_SECRETS_CERT")
        .env_remove("SEALED_SECRETS_CONTROLLER_NAME")
        .env_remove("SEALED_SECRETS_CONTROLLER_NAMESPACE")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()))
}

/// Success; returns stdout.
pub fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: exit {:?}, stderr {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Exit 1 with nothing on stdout; returns stderr.
pub fn fails(out: &Output, what: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: expected exit 1, stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "{what}: stdout must stay empty");
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// kubectl against the harness as cluster-admin; asserts success and returns stdout.
pub fn kubectl(cluster: &Cluster, args: &[&str]) -> String {
    e2e::kubectl(cluster, args, "")
}
