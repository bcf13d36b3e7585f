//! What the `kubeseal-rs` end-to-end suites share: the `tests/cluster` harness, network
//! namespaces, processes killed on drop, and running commands against a kubeconfig.

#![allow(dead_code)] // each suite uses a part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Whether the end-to-end suites run (`SSRS_E2E=1`).
pub fn enabled() -> bool {
    std::env::var("SSRS_E2E").is_ok_and(|v| v == "1")
}

/// The checkout under test. Read at run time (`cargo test` sets it): the target directory is
/// shared between checkouts (`tests/run`), and a test binary another checkout built and cargo
/// found fresh would otherwise run that checkout's scripts.
pub fn repo_root() -> PathBuf {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("..")
}

/// A script of the `tests/cluster` harness.
pub fn script(name: &str) -> PathBuf {
    repo_root().join("tests/cluster").join(name)
}

pub fn kubeseal_rs() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubeseal-rs"))
}

/// Our controller's debug build (built by `tests/run` before the tests).
pub fn our_controller() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| repo_root().join("target"), PathBuf::from);
    let bin = target.join("debug/sealed-secrets-controller");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p sealed-secrets-controller` first",
        bin.display()
    );
    bin
}

/// The upstream binaries: `SSRS_UPSTREAM_BIN`, or what `tests/upstream/install.sh` prints.
pub fn upstream_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SSRS_UPSTREAM_BIN") {
        return PathBuf::from(dir);
    }
    let out = Command::new(repo_root().join("tests/upstream/install.sh"))
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/upstream/install.sh");
    assert!(out.status.success(), "tests/upstream/install.sh failed");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// The harness directory; `down` and removed on drop (also when a test panics).
pub struct Cluster {
    pub dir: PathBuf,
}

impl Cluster {
    /// Starts a control plane in a fresh directory named after `prefix` and this process.
    pub fn start(prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
        let cluster = Self { dir };
        let status = Command::new(script("up"))
            .arg(&cluster.dir)
            .stdout(Stdio::null())
            .status()
            .expect("run tests/cluster/up");
        assert!(status.success(), "tests/cluster/up failed");
        cluster
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script("down")).arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A network namespace from `netns-up`, removed on drop (which also stops what runs in it).
pub struct Netns {
    name: String,
}

impl Netns {
    pub fn up(name: &str, addr: &str) -> Self {
        // A run that was killed may have left it behind.
        let _ = Command::new(script("netns-down"))
            .arg(name)
            .stderr(Stdio::null())
            .status();
        let status = Command::new(script("netns-up"))
            .args([name, addr])
            .stdout(Stdio::null())
            .status()
            .expect("run netns-up");
        assert!(status.success(), "netns-up {name} {addr} failed");
        Self {
            name: name.to_owned(),
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new(script("netns-down")).arg(&self.name).status();
    }
}

/// A process we started, killed on drop.
pub struct Process(pub Child);

impl Process {
    /// Sends the signal `name` (e.g. `USR1`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -s {name}");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

pub fn kubectl(cluster: &Cluster, args: &[&str]) -> String {
    ok(
        &run(Path::new("kubectl"), args, &cluster.kubeconfig()),
        &format!("kubectl {args:?}"),
    )
}

pub fn kubectl_apply(cluster: &Cluster, manifest: &str) {
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = cluster.dir.join(format!("apply-{n}.yaml"));
    std::fs::write(&file, manifest).unwrap();
    kubectl(cluster, &["apply", "-f", file.to_str().unwrap()]);
}
