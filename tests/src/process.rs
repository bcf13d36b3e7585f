//! Processes a test starts: killed on drop; free loopback ports; CLIs run to completion.

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A process we started, killed on drop.
pub struct Process(pub Child);

impl Process {
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Sends the signal `name` (`kill -s`, e.g. `USR1`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -s {name} failed");
    }

    /// SIGTERM and wait (bounded) for a clean exit; returns whether it exited 0.
    #[must_use]
    pub fn terminate(mut self) -> bool {
        self.signal("TERM");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(status)) = self.0.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port nothing listens on now.
#[must_use]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Runs a CLI with `stdin` and no `KUBECONFIG`, asserting success; returns stdout.
pub fn run_tool(bin: &Path, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new(bin)
        .args(args)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait tool");
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
