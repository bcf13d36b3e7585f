//! Where things are: the checkout under test, its scripts, the workspace's binaries and the
//! upstream ones; per-run scratch directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether the end-to-end suites run (`SSRS_E2E=1`).
#[must_use]
pub fn enabled() -> bool {
    std::env::var("SSRS_E2E").is_ok_and(|v| v == "1")
}

/// The checkout under test. Read at run time (`cargo test` sets it to the package under test,
/// one level below the root): the target directory is shared between checkouts (`tests/run`),
/// and a test binary another checkout built and cargo found fresh would otherwise run that
/// checkout's scripts.
#[must_use]
pub fn repo_root() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("..")
}

/// A script of the `tests/cluster` harness.
#[must_use]
pub fn script(name: &str) -> PathBuf {
    repo_root().join("tests/cluster").join(name)
}

/// Runs a repository script (`tests/cluster/…`, relative to the root), failing the test if it
/// fails.
pub fn run_script(script: &str, args: &[&str]) {
    let status = Command::new(repo_root().join(script))
        .args(args)
        .stdout(Stdio::null())
        .status()
        .expect("run script");
    assert!(status.success(), "{script} failed");
}

/// A per-run scratch directory for logs and files (kept after the run for inspection).
#[must_use]
pub fn scratch_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ssrs-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Removes a passed run's scratch directory, unless `SSRS_E2E_KEEP=1` (a failed run keeps it:
/// the logs are what one reads then).
pub fn remove_scratch_dir(dir: &Path) {
    if std::env::var("SSRS_E2E_KEEP").is_ok_and(|v| v == "1") {
        eprintln!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A binary of another workspace package, from the same target directory as this test binary
/// (`cargo test --workspace` and `tests/run` build it; alone, run `cargo build -p package`).
#[must_use]
pub fn workspace_bin(name: &str, package: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join(name))
        .expect("target dir");
    assert!(
        bin.is_file(),
        "{} missing: run `cargo build -p {package}` first",
        bin.display()
    );
    bin
}

/// The directory of the upstream binaries: `SSRS_UPSTREAM_BIN`, else installed (or found
/// cached) by `tests/upstream/install.sh`.
#[must_use]
pub fn upstream_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SSRS_UPSTREAM_BIN") {
        return PathBuf::from(dir);
    }
    let out = Command::new("bash")
        .arg(repo_root().join("tests/upstream/install.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/upstream/install.sh");
    assert!(out.status.success(), "tests/upstream/install.sh failed");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// An upstream binary (`kubeseal`, `controller`) from [`upstream_bin_dir`].
#[must_use]
pub fn upstream_bin(name: &str) -> PathBuf {
    let bin = upstream_bin_dir().join(name);
    assert!(
        bin.is_file(),
        "upstream {name} missing at {}",
        bin.display()
    );
    bin
}
