//! Where `--cert` comes from (SPEC §4.1): a path, a `file://` URL, an `http://` URL, the
//! `SEALED_SECRETS_CERT` variable; a PEM bundle seals for its first certificate only; a URL that
//! does not answer 200 is a one-line error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: prod\nstringData:\n  token: Cert-Source-Value-77\n";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kubeseal-rs")
}

fn run(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_remove("SEALED_SECRETS_CERT")
        .env_remove("KUBECONFIG")
        .env("HOME", "/nonexistent");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

fn keygen(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.yaml"));
    let cert = dir.join(format!("{name}.pem"));
    let out = run(
        &[
            "keygen",
            "--key-size",
            "2048",
            "-w",
            key.to_str().unwrap(),
            "--cert-out",
            cert.to_str().unwrap(),
        ],
        &[],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (key, cert)
}

/// Seals with `args`, then checks which of `keys` opens the result.
fn opens_with(sealed: &Output, key: &Path) -> bool {
    assert!(
        sealed.status.success(),
        "seal: {}",
        String::from_utf8_lossy(&sealed.stderr)
    );
    let out = run(
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            key.to_str().unwrap(),
        ],
        &[],
        &sealed.stdout,
    );
    out.status.success()
}

/// Serves `body` for `/cert.pem` and 404 for anything else, for `requests` requests.
fn serve(body: Vec<u8>, requests: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            reader.read_line(&mut line).unwrap();
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
                    break;
                }
            }
            let (status, payload): (&str, &[u8]) = if line.starts_with("GET /cert.pem ") {
                ("200 OK", &body)
            } else {
                ("404 Not Found", b"404 page not found\n")
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                payload.len()
            );
            let _ = stream.write_all(payload);
        }
    });
    port
}

#[test]
fn cert_from_path_file_url_env_and_http() {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = keygen(dir.path(), "a");
    let cert_s = cert.to_str().unwrap();
    assert!(opens_with(
        &run(&["--cert", cert_s], &[], SECRET.as_bytes()),
        &key
    ));
    let file_url = format!("file://{cert_s}");
    assert!(opens_with(
        &run(&["--cert", &file_url], &[], SECRET.as_bytes()),
        &key
    ));
    assert!(opens_with(
        &run(&[], &[("SEALED_SECRETS_CERT", cert_s)], SECRET.as_bytes()),
        &key
    ));

    let port = serve(std::fs::read(&cert).unwrap(), 2);
    let url = format!("http://127.0.0.1:{port}/cert.pem");
    assert!(opens_with(
        &run(&["--cert", &url], &[], SECRET.as_bytes()),
        &key
    ));
    let missing = format!("http://127.0.0.1:{port}/nothing.pem");
    let out = run(&["--cert", &missing], &[], SECRET.as_bytes());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("404"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_bundle_seals_for_its_first_certificate_only() {
    let dir = tempfile::tempdir().unwrap();
    let (key_a, cert_a) = keygen(dir.path(), "a");
    let (key_b, cert_b) = keygen(dir.path(), "b");
    let bundle = dir.path().join("bundle.pem");
    let mut pem = std::fs::read(&cert_a).unwrap();
    pem.extend(std::fs::read(&cert_b).unwrap());
    std::fs::write(&bundle, pem).unwrap();
    let sealed = run(
        &["--cert", bundle.to_str().unwrap()],
        &[],
        SECRET.as_bytes(),
    );
    assert!(opens_with(&sealed, &key_a));
    assert!(!opens_with(&sealed, &key_b));
}

#[test]
fn an_unreachable_url_is_one_line() {
    // A port nothing listens on: bind, read the port, close.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run(
        &["--cert", &format!("http://127.0.0.1:{port}/cert.pem")],
        &[],
        SECRET.as_bytes(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("cannot fetch"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}
