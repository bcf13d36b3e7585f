//! The API-server client (kube's `Config`/`Client`) against small local servers: offline modes
//! never need a kubeconfig; credentials never go over plain `http://`; TLS is verified unless
//! `--insecure-skip-tls-verify`; a redirect is not followed (so neither the token, the
//! impersonation headers nor the client certificate reach another host); tokens and proxy
//! passwords never appear in an error.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, channel};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const TOKEN: &str = "s3cr3t-t0ken-value";
const CERT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../sealed-secrets-core/tests/data/rsa4096-cert.pem"
);
const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../sealed-secrets-core/tests/data/rsa4096-pkcs8.pem"
);
const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  namespace: prod\nstringData:\n  password: kube-client-test-value\n";

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kubeseal-rs"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("SEALED_SECRETS_CERT")
        .env_remove("https_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("no_proxy")
        .env_remove("NO_PROXY")
        .env("HOME", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    // A command that does not read stdin may exit before this is written.
    let _ = child.stdin.take().unwrap().write_all(SECRET.as_bytes());
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Reads one request head from `stream`.
fn read_head(stream: &mut impl std::io::Read) -> String {
    let mut request = Vec::new();
    let mut byte = [0u8; 1];
    while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
        request.push(byte[0]);
    }
    String::from_utf8_lossy(&request).into_owned()
}

fn tls_config() -> Arc<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(CERT)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(KEY).unwrap();
    Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    )
}

/// An HTTPS server (a self-signed certificate) answering every request with `answer`; the
/// request heads it received come out of the receiver.
fn tls_server(answer: String) -> (u16, Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (send, receive) = channel();
    let config = tls_config();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(tcp) = stream else { continue };
            let Ok(connection) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            let mut tls = rustls::StreamOwned::new(connection, tcp);
            let head = read_head(&mut tls);
            if head.is_empty() {
                continue; // the handshake failed
            }
            let _ = send.send(head);
            let _ = tls.write_all(answer.as_bytes());
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (port, receive)
}

/// A plain-HTTP server answering 404; the request heads come out of the receiver.
fn http_server() -> (u16, Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (send, receive) = channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = send.send(read_head(&mut stream));
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (port, receive)
}

/// A listener that counts the connections made to it and closes them.
fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let _: Option<TcpStream> = stream.ok();
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, count)
}

const NOT_FOUND: &str = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";

fn scratch() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[
            "keygen",
            "--key-size",
            "2048",
            "-w",
            "key.yaml",
            "--cert-out",
            "cert.pem",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let path = dir.path().to_path_buf();
    (dir, path)
}

#[test]
fn offline_modes_never_read_a_kubeconfig() {
    let (_dir, d) = scratch();
    std::fs::write(d.join("garbage"), "clusters: [unclosed\n\u{0}").unwrap();
    std::fs::write(d.join("secret.yaml"), SECRET).unwrap();
    for kubeconfig in ["garbage", "does-not-exist/config"] {
        let env = [("KUBECONFIG", kubeconfig)];
        let cases: [&[&str]; 4] = [
            &["--cert", "cert.pem", "-f", "secret.yaml"],
            &[
                "--cert",
                "cert.pem",
                "--kubeconfig",
                kubeconfig,
                "-f",
                "secret.yaml",
            ],
            &[
                "--raw",
                "--cert",
                "cert.pem",
                "-n",
                "prod",
                "--name",
                "app",
                "--from-file",
                "secret.yaml",
            ],
            &["--cert", "cert.pem", "--fetch-cert"],
        ];
        for args in cases {
            let out = run(&d, args, &env);
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
            assert_eq!(stderr(&out), "", "{args:?}");
        }
        let out = run(&d, &["check", "secret.yaml"], &env);
        assert_eq!(
            out.status.code(),
            Some(1),
            "a plaintext Secret is a problem"
        );
        assert!(!stderr(&out).contains("kubeconfig"), "{}", stderr(&out));
    }
    // The same kubeconfig does stop an online command, naming the file.
    let out = run(&d, &["--fetch-cert"], &[("KUBECONFIG", "garbage")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: cannot fetch certificate: kubeconfig garbage is not a valid kubeconfig\n"
    );
}

#[test]
fn no_credential_goes_over_plain_http() {
    let (_dir, d) = scratch();
    let (port, requests) = http_server();
    let server = format!("http://127.0.0.1:{port}");
    let out = run(
        &d,
        &[
            "--fetch-cert",
            "--server",
            &server,
            "--token",
            TOKEN,
            "--as",
            "me",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.starts_with(&format!(
            "note: {server} is plain http: the credentials of command-line flags are not sent over it\n"
        )),
        "{text}"
    );
    assert!(!text.contains(TOKEN), "{text}");
    let request = requests.try_recv().unwrap().to_ascii_lowercase();
    assert!(!request.contains("authorization"), "{request}");
    assert!(request.contains("impersonate-user: me\r\n"), "{request}");
}

#[test]
fn tls_is_verified_unless_told_not_to() {
    let (_dir, d) = scratch();
    let (port, requests) = tls_server(NOT_FOUND.to_owned());
    let server = format!("https://127.0.0.1:{port}");
    let out = run(
        &d,
        &["--fetch-cert", "--server", &server, "--token", TOKEN],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.starts_with(&format!(
            "error: cannot fetch certificate: cannot reach the API server {server} (command-line flags): "
        )),
        "{text}"
    );
    assert!(text.contains("certificate"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        requests.try_recv().is_err(),
        "no request over an unverified connection"
    );

    let out = run(
        &d,
        &[
            "--fetch-cert",
            "--server",
            &server,
            "--token",
            TOKEN,
            "--insecure-skip-tls-verify",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "the server answers 404");
    assert!(!stderr(&out).contains(TOKEN), "{}", stderr(&out));
    let request = requests.try_recv().unwrap();
    assert!(
        request
            .to_ascii_lowercase()
            .contains(&format!("authorization: bearer {TOKEN}\r\n")),
        "{request}"
    );
}

#[test]
fn redirects_are_not_followed() {
    let (_dir, d) = scratch();
    let (other, connections) = counting_listener();
    let (port, requests) = tls_server(format!(
        "HTTP/1.1 302 Found\r\nLocation: https://localhost:{other}/elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    ));
    let server = format!("https://127.0.0.1:{port}");
    let out = run(
        &d,
        &[
            "--fetch-cert",
            "--server",
            &server,
            "--insecure-skip-tls-verify",
            "--token",
            TOKEN,
            "--client-certificate",
            CERT,
            "--client-key",
            KEY,
            "--as",
            "me",
            "--as-group",
            "admins",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.starts_with(
            "error: cannot fetch certificate: cannot get sealed secret service kube-system/sealed-secrets-controller: 302 Found"
        ),
        "{text}"
    );
    assert!(!text.contains(TOKEN), "{text}");
    let first = requests.try_recv().unwrap().to_ascii_lowercase();
    assert!(first.contains("impersonate-user: me\r\n"), "{first}");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "nothing reached the host redirected to"
    );
}

#[test]
fn tokens_and_proxy_passwords_stay_out_of_errors() {
    let (_dir, d) = scratch();
    // Nothing listens on port 1.
    let out = run(
        &d,
        &[
            "--fetch-cert",
            "--server",
            "https://127.0.0.1:1",
            "--token",
            TOKEN,
        ],
        &[("https_proxy", "http://user:pr0xy-passw0rd@127.0.0.1:1")],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(
        text.starts_with(
            "error: cannot fetch certificate: cannot reach the API server https://127.0.0.1:1 (command-line flags): "
        ),
        "{text}"
    );
    assert!(!text.contains(TOKEN), "{text}");
    assert!(!text.contains("pr0xy-passw0rd"), "{text}");

    // A proxy URL that kube cannot use is named without its password.
    let out = run(
        &d,
        &[
            "--fetch-cert",
            "--server",
            "https://127.0.0.1:1",
            "--token",
            TOKEN,
            "--proxy-url",
            "ftp://user:pr0xy-passw0rd@127.0.0.1:1",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(!text.contains("pr0xy-passw0rd"), "{text}");
    assert!(!text.contains(TOKEN), "{text}");

    // An exec plugin that prints the token and fails: its output is not quoted.
    let kubeconfig = d.join("exec.yaml");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: x\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:1'}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      args: ['-c', 'echo {TOKEN}; echo {TOKEN} >&2; exit 3']\n"
        ),
    )
    .unwrap();
    let out = run(
        &d,
        &["--fetch-cert", "--kubeconfig", kubeconfig.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stderr(&out);
    assert!(!text.contains(TOKEN), "{text}");
    assert!(text.contains("exec credential plugin"), "{text}");
}
