//! The harness shared by the end-to-end suites of `sealed-secrets-controller` and `kubeseal-rs`
//! (a dev-dependency of both): where the checkout and the binaries are, the `tests/cluster`
//! control plane and network namespaces, processes stopped on drop, kubectl, bounded polling,
//! and the leak check over logs, events and statuses.
//!
//! Each suite keeps what is its own (how it starts a controller, its CLI's output checks) in
//! its `tests/support`. Every process and the control plane are owned by guards whose `Drop`
//! stops them, so a failing assertion leaves nothing running.

// A test harness: failing the test (a panic with what went wrong) is how it reports.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

pub mod cluster;
pub mod leaks;
pub mod paths;
pub mod process;
pub mod wait;

pub use cluster::{
    Cluster, Netns, apply_crd, client, ensure_namespace, kubectl, kubectl_apply,
    sa_kubeconfig_in_netns,
};
pub use leaks::{Plaintexts, assert_json_lines, assert_no_leaks};
pub use paths::{
    enabled, remove_scratch_dir, repo_root, run_script, scratch_dir, script, upstream_bin,
    upstream_bin_dir, workspace_bin,
};
pub use process::{Process, free_port, run_tool};
pub use wait::{eventually, http_get, metric};
