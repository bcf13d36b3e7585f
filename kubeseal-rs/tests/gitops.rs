//! The GitOps commands end to end (issue 7): `check` as an offline CI gate, `set`/`unset` and
//! `reseal` as byte-preserving in-place edits, sealing for several clusters at once; and every
//! file they write is accepted by the upstream `kubeseal` v0.40.0 (when installed) and by our
//! recovery.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn ours() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubeseal-rs"))
}

/// The upstream kubeseal binary, or `None` outside CI when it is not installed.
fn upstream() -> Option<PathBuf> {
    let dir = std::env::var_os("SSRS_UPSTREAM_BIN")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|h| PathBuf::from(h).join(".cache/sealed-secrets-rs/upstream-v0.40.0/bin"))
        })?;
    let bin = dir.join("kubeseal");
    if bin.is_file() {
        Some(bin)
    } else {
        assert!(
            std::env::var_os("SSRS_UPSTREAM_BIN").is_none(),
            "upstream kubeseal missing at {}",
            bin.display()
        );
        eprintln!("skipping upstream checks: upstream kubeseal not installed");
        None
    }
}

/// The clock of our commands (`SSRS_NOW`), so recorded `sealed-at` times are known.
const NOW: &str = "2026-12-02T17:00:00Z";

fn run_in(bin: &Path, dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    run_at(bin, dir, NOW, args, stdin)
}

fn run_at(bin: &Path, dir: &Path, now: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(bin)
        .env("SSRS_NOW", now)
        .args(args)
        .current_dir(dir)
        .env_remove("KUBECONFIG")
        .env_remove("SEALED_SECRETS_CERT")
        .env("HOME", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // A command that fails early does not read its stdin.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().expect("wait")
}

fn ok_in(bin: &Path, dir: &Path, args: &[&str], stdin: &[u8]) -> String {
    let out = run_in(bin, dir, args, stdin);
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Self {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
        };
        for name in ["a", "b"] {
            repo.ours(&[
                "keygen",
                "--key-size",
                "2048",
                "-w",
                &format!("keys/{name}.yaml"),
                "--cert-out",
                &format!("certs/{name}.pem"),
            ]);
        }
        repo
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        if args.first() == Some(&"keygen") {
            std::fs::create_dir_all(self.path("keys")).unwrap();
            std::fs::create_dir_all(self.path("certs")).unwrap();
        }
        run_in(&ours(), self.dir.path(), args, stdin)
    }

    /// Runs ours with the clock at `now`; expects success, returns stdout.
    fn ours_at(&self, now: &str, args: &[&str], stdin: &[u8]) -> String {
        let out = run_at(&ours(), self.dir.path(), now, args, stdin);
        assert!(
            out.status.success(),
            "kubeseal-rs {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn ours(&self, args: &[&str]) -> String {
        self.ours_stdin(args, b"")
    }

    fn ours_stdin(&self, args: &[&str], stdin: &[u8]) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "kubeseal-rs {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects exit 1; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args, b"");
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    /// The values of a sealed file opened with key `key` ("a" or "b"), by our recovery and,
    /// when installed, by upstream's.
    fn open(&self, rel: &str, key: &str) -> serde_json::Value {
        let keyfile = format!("keys/{key}.yaml");
        let args = [
            "--recovery-unseal",
            "--recovery-private-key",
            keyfile.as_str(),
            "-f",
            rel,
        ];
        let mine: serde_json::Value = serde_json::from_str(&self.ours(&args)).unwrap();
        if let Some(upstream) = upstream() {
            let theirs: serde_json::Value =
                serde_json::from_str(&ok_in(&upstream, self.dir.path(), &args, b"")).unwrap();
            assert_eq!(mine["data"], theirs["data"], "upstream opens {rel} alike");
            assert_eq!(mine["metadata"], theirs["metadata"]);
        }
        mine["data"].clone()
    }
}

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\nstringData:\n  password: hunter2-Gitops\n  user: admin-Gitops\n";

fn b64(s: &str) -> String {
    use std::fmt::Write as _;
    // Tiny standard base64 for expected values.
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = s.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.write_char(T[(n >> (18 - 6 * i) & 63) as usize] as char)
                    .unwrap();
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A sealed file with hand-written comments and blank lines, as people keep them in git.
fn commented(repo: &Repo, rel: &str, cert: &str) -> String {
    let sealed = repo.ours_stdin(
        &["--cert", cert, "--record-fingerprint", "-o", "yaml"],
        SECRET.as_bytes(),
    );
    let text = format!(
        "# Database credentials for prod.\n{}",
        sealed
            .replace(
                "  encryptedData:\n",
                "  encryptedData:\n    # rotated 2026-11\n"
            )
            .replace(
                "\n  template:",
                "\n\n  template:  # what the Secret looks like"
            )
    );
    repo.write(rel, &text);
    text
}

fn item_line<'t>(text: &'t str, item: &str) -> &'t str {
    text.lines()
        .find(|l| l.trim_start().starts_with(&format!("{item}: ")))
        .unwrap()
}

#[test]
fn set_and_unset_change_one_item_and_keep_every_other_byte() {
    let repo = Repo::new();
    let before = commented(&repo, "prod/db.yaml", "certs/a.pem");
    let user_line = item_line(&before, "user").to_owned();

    // Replace one item: only its line changes.
    repo.ours_stdin(
        &["set", "prod/db.yaml", "password", "--cert", "certs/a.pem"],
        b"new-Password-1",
    );
    let after = repo.read("prod/db.yaml");
    let old_line = item_line(&before, "password");
    let new_line = item_line(&after, "password");
    assert_ne!(old_line, new_line);
    assert_eq!(after, before.replace(old_line, new_line));
    assert_eq!(item_line(&after, "user"), user_line);

    // Add one (sorted position), from a file.
    repo.write("token.txt", "tok-From-File");
    repo.ours(&[
        "set",
        "prod/db.yaml",
        "token",
        "--from-file",
        "token.txt",
        "--cert",
        "certs/a.pem",
    ]);
    let added = repo.read("prod/db.yaml");
    let token_line = item_line(&added, "token").to_owned();
    // ...and its time, in the one sealed-at line (the clock is the same for both).
    let at_line = item_line(&after, "sealed-secrets-rs/sealed-at");
    assert_eq!(
        added,
        after
            .replace(&user_line, &format!("{token_line}\n{user_line}"))
            .replace(
                at_line,
                &at_line.replace(",\"user\"", ",\"token\":\"2026-12-02T17:00:00Z\",\"user\"")
            )
    );
    let data = repo.open("prod/db.yaml", "a");
    assert_eq!(data["password"], b64("new-Password-1"));
    assert_eq!(data["token"], b64("tok-From-File"));
    assert_eq!(data["user"], b64("admin-Gitops"));

    // Remove it again: back to the previous bytes.
    repo.ours(&["unset", "prod/db.yaml", "token"]);
    assert_eq!(repo.read("prod/db.yaml"), after);

    // The same on JSON.
    let json = repo.ours_stdin(&["--cert", "certs/a.pem"], SECRET.as_bytes());
    repo.write("prod/db.json", &json);
    repo.ours_stdin(
        &["set", "prod/db.json", "extra", "--cert", "certs/a.pem"],
        b"x-Json",
    );
    let changed = repo.read("prod/db.json");
    let extra = changed
        .lines()
        .find(|l| l.contains("\"extra\""))
        .unwrap()
        .to_owned();
    let password = json.lines().find(|l| l.contains("\"password\"")).unwrap();
    // Plain sealing records no time; set records the time of the item it seals (last in the
    // outer metadata, which is not sorted).
    let outer_end = "\"namespace\": \"prod\"\n  },\n  \"spec\"";
    let with = |annotations: &str| {
        json.replacen(
            outer_end,
            &format!(
                "\"namespace\": \"prod\",\n    \"annotations\": {annotations}\n  }},\n  \"spec\""
            ),
            1,
        )
    };
    assert_eq!(
        changed,
        with("{\n      \"sealed-secrets-rs/sealed-at\": \"{\\\"extra\\\":\\\"2026-12-02T17:00:00Z\\\"}\"\n    }")
            .replace(password, &format!("{extra}\n{password}")),
    );
    assert_eq!(repo.open("prod/db.json", "a")["extra"], b64("x-Json"));
    repo.ours(&["unset", "prod/db.json", "extra"]);
    // Its entry goes with it; an empty map is left where set made one.
    assert_eq!(repo.read("prod/db.json"), with("{}"));

    // Errors: one line, exit 1, file untouched.
    let err = repo.fails(&["unset", "prod/db.yaml", "nope"]);
    assert_eq!(
        err,
        "error: prod/db.yaml: SealedSecret prod/db has no item \"nope\"\n"
    );
    // -e needs a repository config; without one, nothing is removed.
    let err = repo.fails(&["unset", "prod/db.yaml", "user", "-e", "prod"]);
    assert_eq!(
        err,
        "error: --environment prod: no .sealed-secrets.toml found (give --config)\n"
    );
    assert_eq!(repo.read("prod/db.yaml"), after);
    let err = repo.fails(&["set", "prod/db.yaml", "password", "--cert", "certs/b.pem"]);
    assert!(
        err.contains("prod/db.yaml: SealedSecret prod/db: refusing to set: the file is sealed for namespace prod, name db, scope strict, certificate SHA256:"),
        "{err}"
    );
    assert_eq!(repo.read("prod/db.yaml"), after);
    let usage = repo.run(
        &["set", "prod/db.yaml", "a/b", "--cert", "certs/a.pem"],
        b"x",
    );
    assert_eq!(usage.status.code(), Some(2));
}

fn fingerprint(repo: &Repo, cert: &str) -> String {
    // Sealing with --record-fingerprint records it; read it back from a sealed file.
    let sealed = repo.ours_stdin(
        &["--cert", cert, "--record-fingerprint", "-o", "yaml"],
        SECRET.as_bytes(),
    );
    let line = sealed
        .lines()
        .find(|l| l.contains("sealed-secrets-rs/sealed-with"))
        .unwrap();
    line.split_once(": ").unwrap().1.to_owned()
}

#[test]
fn check_reports_every_problem_with_file_object_and_reason() {
    let repo = Repo::new();
    let fp_b = fingerprint(&repo, "certs/b.pem");
    repo.write(
        ".sealed-secrets.toml",
        &format!(
            "[environments.prod]\ncert = \"certs/a.pem\"\npaths = [\"prod/**\"]\n\n[environments.dev]\nfingerprints = [\"{fp_b}\"]\npaths = [\"dev\"]\n"
        ),
    );
    commented(&repo, "prod/db.yaml", "certs/a.pem");
    let dev = repo.ours_stdin(
        &["--cert", "certs/b.pem", "--record-fingerprint"],
        SECRET.as_bytes(),
    );
    repo.write("dev/db.json", &dev);
    repo.write("charts/values.yaml", "image: {{ .Values.image }}\n");
    // The key Secrets under keys/ are plaintext: check names them. A Go/Helm template is not
    // a manifest: it is skipped with a note (after a scan for literal Secret data).
    let err = repo.fails(&["check"]);
    assert!(
        err.starts_with("note: charts/values.yaml: a Go/Helm template, not a manifest: not checked (no literal Secret data in it)\nkeys/a.yaml: Secret in document 1: plaintext Secret with data"),
        "{err}"
    );
    assert!(
        err.contains(" files (1 Go/Helm template skipped) checked"),
        "{err}"
    );
    // A template that writes a literal value into a Secret is a problem, never skipped.
    repo.write(
        "charts/templates/leak.yaml",
        "{{- if .Values.on }}\nkind: Secret\nmetadata: {name: {{ .Release.Name }}}\nstringData:\n  password: hunter2\n  token: {{ .Values.token | quote }}\n{{- end }}\n",
    );
    let err = repo.fails(&["check", "charts"]);
    assert!(
        err.contains("charts/templates/leak.yaml: document 1: Secret in a Go/Helm template has a literal value for \"password\""),
        "{err}"
    );
    assert!(
        !err.contains("hunter2") && !err.contains("\"token\""),
        "{err}"
    );
    std::fs::remove_file(repo.path("charts/templates/leak.yaml")).unwrap();
    let out = repo.ours(&["check", "prod", "dev"]);
    assert_eq!(out, "checked 2 files: no problems\n");

    // Each kind of failure, all reported at once.
    let good = repo.read("prod/db.yaml");
    repo.write(
        "prod/moved.yaml",
        &good.replacen("namespace: prod", "namespace: other", 1),
    );
    repo.write(
        "prod/scope.yaml",
        &good.replacen(
            "metadata:\n  annotations:\n",
            "metadata:\n  annotations:\n    sealedsecrets.bitnami.com/cluster-wide: \"true\"\n",
            1,
        ),
    );
    let for_b = repo.ours_stdin(
        &[
            "--cert",
            "certs/b.pem",
            "--record-fingerprint",
            "-o",
            "yaml",
        ],
        SECRET.as_bytes(),
    );
    repo.write("prod/wrong-cert.yaml", &for_b);
    let unrecorded = repo.ours_stdin(&["--cert", "certs/a.pem", "-o", "yaml"], SECRET.as_bytes());
    repo.write("prod/unrecorded.yaml", &unrecorded);
    repo.write("prod/plain.yaml", SECRET);
    repo.write(
        "prod/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: prod\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: '{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"stringData\":{\"password\":\"hunter2-Gitops\"}}'\n",
    );
    let short = good.replacen(item_line(&good, "user").trim_start(), "user: AQAAAAAA", 1);
    repo.write("prod/short.yaml", &short);

    let err = repo.fails(&["check", "prod", "dev"]);
    let expected = [
        "prod/cm.yaml: ConfigMap prod/cfg: annotation kubectl.kubernetes.io/last-applied-configuration carries secret data".to_owned(),
        "prod/moved.yaml: SealedSecret other/db: sealed for namespace prod, placed in other".to_owned(),
        "prod/plain.yaml: Secret prod/db: plaintext Secret with data (seal it, and remove it from the repository)".to_owned(),
        "prod/scope.yaml: SealedSecret prod/db: sealed for scope strict, annotated cluster-wide".to_owned(),
        "prod/short.yaml: SealedSecret prod/db: item \"user\": too short for its 256-byte RSA block and GCM tag".to_owned(),
        "prod/unrecorded.yaml: SealedSecret prod/db: no sealed-secrets-rs/sealed-with annotation, so the sealing certificate is unknown (reseal it with kubeseal-rs)".to_owned(),
        format!("prod/wrong-cert.yaml: SealedSecret prod/db: sealed with {fp_b}, which is not a certificate pinned for prod"),
        "error: 7 problems found in 9 files checked".to_owned(),
    ];
    assert_eq!(err.lines().collect::<Vec<_>>(), expected, "{err}");
    assert!(!err.contains("hunter2"));

    // Explicit paths, and a key-size mismatch against the pinned 2048-bit certificate.
    let big = repo.dir.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    repo.ours(&[
        "keygen",
        "--key-size",
        "3072",
        "-w",
        "keys/big.yaml",
        "--cert-out",
        "certs/big.pem",
    ]);
    let sealed_big = repo.ours_stdin(
        &["--cert", "certs/big.pem", "-o", "yaml"],
        SECRET.as_bytes(),
    );
    repo.write("prod/big/db.yaml", &sealed_big);
    let err = repo.fails(&["check", "prod/big"]);
    assert!(err.contains("prod/big/db.yaml: SealedSecret prod/db: item \"password\": RSA block of 384 bytes (3072-bit key) does not fit the pinned 2048-bit key"), "{err}");

    // An expired pinned certificate.
    repo.ours(&[
        "keygen",
        "--key-size",
        "2048",
        "--key-ttl",
        "24h",
        "--not-before",
        "2020-01-01T00:00:00Z",
        "-w",
        "keys/old.yaml",
        "--cert-out",
        "certs/old.pem",
    ]);
    repo.write(
        "cfg/old.toml",
        "[environments.old]\ncert = \"../certs/old.pem\"\npaths = [\"x\"]\n",
    );
    let err = repo.fails(&["check", "--config", "cfg/old.toml", "dev"]);
    assert_eq!(
        err,
        "cfg/old.toml: environment old: certificate ../certs/old.pem expired on 2020-01-02T00:00:00Z\nerror: 1 problem found in 1 file checked\n"
    );
}

#[test]
fn reseal_retargets_items_keeps_layout_and_is_idempotent() {
    let repo = Repo::new();
    let before = commented(&repo, "prod/db.yaml", "certs/a.pem");
    let json = repo.ours_stdin(&["--cert", "certs/a.pem"], SECRET.as_bytes());
    repo.write("prod/db.json", &json);
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: untouched\n";
    repo.write("prod/cm.yaml", cm);

    let args = [
        "reseal",
        "prod",
        "--cert",
        "certs/b.pem",
        "--recovery-private-key",
        "keys/a.yaml,keys/b.yaml",
    ];
    let fp_b = fingerprint(&repo, "certs/b.pem");
    let out = repo.ours(&args);
    assert_eq!(
        out,
        format!(
            "resealed 4 items in 2 SealedSecrets, recorded the certificate in 2 SealedSecrets (2 files) for {fp_b}; 0 already sealed for it; 0 sealed with other keys left alone\n"
        )
    );
    let after = repo.read("prod/db.yaml");
    // Only the item lines and the recorded fingerprint changed.
    let mut expected = before.clone();
    for item in ["password", "user"] {
        expected = expected.replace(item_line(&before, item), item_line(&after, item));
    }
    let fp_line = |t: &str| {
        t.lines()
            .find(|l| l.contains("sealed-secrets-rs/sealed-with"))
            .unwrap()
            .to_owned()
    };
    expected = expected.replace(&fp_line(&before), &fp_line(&after));
    assert_eq!(after, expected);
    assert!(fp_line(&after).ends_with(&fp_b));
    assert_eq!(
        repo.open("prod/db.yaml", "b")["password"],
        b64("hunter2-Gitops")
    );
    assert_eq!(repo.open("prod/db.json", "b")["user"], b64("admin-Gitops"));
    let json_after = repo.read("prod/db.json");
    assert!(json_after.contains(&format!("\"sealed-secrets-rs/sealed-with\": \"{fp_b}\"")));
    assert_eq!(repo.read("prod/cm.yaml"), cm);

    // Second run: nothing to do, nothing written. Also without B's private key.
    let out = repo.ours(&args);
    assert_eq!(
        out,
        format!(
            "resealed 0 items in 0 SealedSecrets (0 files) for {fp_b}; 4 already sealed for it; 0 sealed with other keys left alone\n"
        )
    );
    let out = repo.ours(&[
        "reseal",
        "prod",
        "--cert",
        "certs/b.pem",
        "--recovery-private-key",
        "keys/a.yaml",
    ]);
    assert!(out.starts_with("resealed 0 items"), "{out}");
    assert_eq!(repo.read("prod/db.yaml"), after);
    assert_eq!(repo.read("prod/db.json"), json_after);

    // --only-key: items opened by another key are left alone; a key that opens nothing fails.
    let fp_a = fingerprint(&repo, "certs/a.pem");
    let out = repo.ours(&[
        "reseal",
        "prod",
        "--cert",
        "certs/a.pem",
        "--recovery-private-key",
        "keys/b.yaml",
        "--only-key",
        &fp_a,
        "--dry-run",
    ]);
    assert!(
        out.starts_with("dry run: would have resealed 0 items"),
        "{out}"
    );
    assert!(
        out.ends_with("4 sealed with other keys left alone\n"),
        "{out}"
    );
    let err = repo.fails(&[
        "reseal",
        "prod",
        "--cert",
        "certs/a.pem",
        "--recovery-private-key",
        "keys/a.yaml",
    ]);
    assert!(
        err.contains(
            "prod/db.json: SealedSecret prod/db: item \"password\": no key could decrypt it"
        ),
        "{err}"
    );
    assert!(
        err.ends_with("error: 4 problems; nothing was written\n"),
        "{err}"
    );
    assert_eq!(repo.read("prod/db.yaml"), after);
}

#[test]
fn sealing_for_several_clusters_writes_one_file_per_cluster() {
    let repo = Repo::new();
    let out = repo.ours_stdin(
        &[
            "--cert",
            "certs/a.pem",
            "--cert",
            "certs/b.pem",
            "-w",
            "sealed/{cluster}/{namespace}-{name}.yaml",
        ],
        SECRET.as_bytes(),
    );
    assert_eq!(out, "sealed/a/prod-db.yaml\nsealed/b/prod-db.yaml\n");
    assert_eq!(
        repo.open("sealed/a/prod-db.yaml", "a")["password"],
        b64("hunter2-Gitops")
    );
    assert_eq!(
        repo.open("sealed/b/prod-db.yaml", "b")["user"],
        b64("admin-Gitops")
    );
    let wrong = repo.run(
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            "keys/a.yaml",
            "-f",
            "sealed/b/prod-db.yaml",
        ],
        b"",
    );
    assert_eq!(wrong.status.code(), Some(1));

    // Named environments from the repository config; the outputs pass `check`.
    repo.write(
        ".sealed-secrets.toml",
        "[environments.prod]\ncert = \"certs/a.pem\"\npaths = [\"envs/prod\"]\n\n[environments.staging]\ncert = \"certs/b.pem\"\npaths = [\"envs/staging\"]\n",
    );
    repo.ours_stdin(
        &[
            "-e",
            "prod",
            "-e",
            "staging",
            "-w",
            "envs/{cluster}/{name}.json",
        ],
        SECRET.as_bytes(),
    );
    assert_eq!(
        repo.open("envs/staging/db.json", "b")["password"],
        b64("hunter2-Gitops")
    );
    assert_eq!(
        repo.ours(&["check", "envs"]),
        "checked 2 files: no problems\n"
    );

    // Usage errors.
    let out = repo.run(
        &[
            "--cert",
            "certs/a.pem",
            "--cert",
            "certs/b.pem",
            "-w",
            "x.yaml",
        ],
        SECRET.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: the -w pattern must contain {cluster} when sealing for several clusters\n"
    );
    let out = repo.run(
        &["--cert", "certs/a.pem", "--cert", "certs/b.pem", "--raw"],
        b"x",
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn upstream_merge_into_accepts_edited_files() {
    let Some(upstream) = upstream() else { return };
    let repo = Repo::new();
    commented(&repo, "prod/db.yaml", "certs/a.pem");
    repo.ours_stdin(
        &["set", "prod/db.yaml", "password", "--cert", "certs/a.pem"],
        b"set-Value",
    );
    repo.ours(&[
        "reseal",
        "prod",
        "--cert",
        "certs/b.pem",
        "--recovery-private-key",
        "keys/a.yaml,keys/b.yaml",
    ]);
    let update = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\nstringData:\n  extra: merged-Upstream\n";
    ok_in(
        &upstream,
        repo.dir.path(),
        &["--cert", "certs/b.pem", "--merge-into", "prod/db.yaml"],
        update.as_bytes(),
    );
    let data = repo.open("prod/db.yaml", "b");
    assert_eq!(data["password"], b64("set-Value"));
    assert_eq!(data["extra"], b64("merged-Upstream"));
    assert_eq!(data["user"], b64("admin-Gitops"));
    // The recorded fingerprint stays in the outer metadata only, never in the Secret.
    let secret = ok_in(
        &upstream,
        repo.dir.path(),
        &[
            "--recovery-unseal",
            "--recovery-private-key",
            "keys/b.yaml",
            "-f",
            "prod/db.yaml",
        ],
        b"",
    );
    assert!(!secret.contains("sealed-secrets-rs"), "{secret}");
}

/// Issue 15 item 3: one `-e NAME` is one certificate, as one `--cert`: plain sealing to stdout
/// or a file, `--raw` and `--merge-into` work; `-w` with a placeholder still seals per cluster.
#[test]
fn one_environment_is_one_certificate() {
    let repo = Repo::new();
    repo.write(
        ".sealed-secrets.toml",
        "[environments.prod]\ncert = \"certs/a.pem\"\npaths = [\"envs/prod\"]\n",
    );
    // To stdout, and the fingerprint is recorded as with several environments.
    let sealed = repo.ours_stdin(&["-e", "prod", "-o", "yaml"], SECRET.as_bytes());
    assert!(
        sealed.contains(&format!(
            "sealed-secrets-rs/sealed-with: {}",
            fingerprint(&repo, "certs/a.pem")
        )),
        "{sealed}"
    );
    // To a plain -w file, which `check` accepts for the environment.
    std::fs::create_dir_all(repo.path("envs/prod")).unwrap();
    repo.ours_stdin(
        &["-e", "prod", "-w", "envs/prod/db.yaml"],
        SECRET.as_bytes(),
    );
    assert_eq!(
        repo.open("envs/prod/db.yaml", "a")["password"],
        b64("hunter2-Gitops")
    );
    assert_eq!(
        repo.ours(&["check", "envs"]),
        "checked 1 file: no problems\n"
    );
    // --merge-into the same file.
    let update = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\nstringData:\n  extra: merged-Env\n";
    repo.ours_stdin(
        &["-e", "prod", "--merge-into", "envs/prod/db.yaml"],
        update.as_bytes(),
    );
    let data = repo.open("envs/prod/db.yaml", "a");
    assert_eq!(data["extra"], b64("merged-Env"));
    assert_eq!(data["password"], b64("hunter2-Gitops"));
    // --raw.
    let raw = repo.ours_stdin(
        &["-e", "prod", "--raw", "-n", "prod", "--name", "db"],
        b"raw-Value",
    );
    assert!(!raw.is_empty() && !raw.contains("raw-Value"));
    // A -w pattern: one file for the one cluster, as before.
    repo.ours_stdin(
        &["-e", "prod", "-w", "out/{cluster}/{name}.yaml"],
        SECRET.as_bytes(),
    );
    assert_eq!(
        repo.open("out/prod/db.yaml", "a")["user"],
        b64("admin-Gitops")
    );
    // Modes that use no certificate say so.
    let out = repo.run(&["-e", "prod", "--validate"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --validate uses no certificate; --environment selects one for sealing\n"
    );
}

/// Issue 15 item 4: the editing commands take `-e` and the repository config as sealing does,
/// and a file of one environment cannot get an item sealed for another's certificate.
#[test]
fn editing_commands_take_the_environment_and_refuse_another_clusters_cert() {
    let repo = Repo::new();
    repo.write(
        ".sealed-secrets.toml",
        "[environments.prod]\ncert = \"certs/a.pem\"\npaths = [\"envs/prod\"]\n\n[environments.dev]\ncert = \"certs/b.pem\"\npaths = [\"envs/dev\"]\n",
    );
    std::fs::create_dir_all(repo.path("envs/prod")).unwrap();
    std::fs::create_dir_all(repo.path("envs/dev")).unwrap();
    repo.ours_stdin(
        &["-e", "prod", "-w", "envs/prod/db.yaml"],
        SECRET.as_bytes(),
    );
    let before = repo.read("envs/prod/db.yaml");

    // set -e prod: the environment's certificate, no --cert needed.
    repo.ours_stdin(
        &["set", "envs/prod/db.yaml", "token", "-e", "prod"],
        b"tok-Env",
    );
    assert_eq!(repo.open("envs/prod/db.yaml", "a")["token"], b64("tok-Env"));
    let with_token = repo.read("envs/prod/db.yaml");

    // set -e dev on prod's file: refused, naming both certificates; nothing written.
    let out = repo.run(
        &["set", "envs/prod/db.yaml", "token", "-e", "dev"],
        b"other-Env",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: envs/prod/db.yaml: SealedSecret prod/db: refusing to set: the file is sealed for namespace prod, name db, scope strict, certificate ")
            && err.ends_with("; nothing was written\n")
            && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(repo.read("envs/prod/db.yaml"), with_token);
    // The same through --cert with dev's certificate (the path pins prod's).
    let out = repo.run(
        &["set", "envs/prod/db.yaml", "token", "--cert", "certs/b.pem"],
        b"other-Env",
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(repo.read("envs/prod/db.yaml"), with_token);
    // --merge-into with the other environment: refused as well.
    let update = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\nstringData:\n  extra: merged-Env\n";
    let out = repo.run(
        &["-e", "dev", "--merge-into", "envs/prod/db.yaml"],
        update.as_bytes(),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refusing to merge"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(repo.read("envs/prod/db.yaml"), with_token);

    // unset -e dev on prod's file: refused, naming why.
    let err = repo.fails(&["unset", "envs/prod/db.yaml", "token", "-e", "dev"]);
    assert_eq!(
        err,
        "error: envs/prod/db.yaml: SealedSecret prod/db: not a file of environment dev: its path belongs to prod; nothing was written\n"
    );
    // An unknown environment lists the ones there are.
    let err = repo.fails(&["unset", "envs/prod/db.yaml", "token", "-e", "qa"]);
    assert!(err.contains("no environment \"qa\""), "{err}");
    repo.ours(&["unset", "envs/prod/db.yaml", "token", "-e", "prod"]);
    assert_eq!(repo.read("envs/prod/db.yaml"), before);

    // A file outside every environment's paths that records prod's certificate: unset -e
    // dev refuses by the recorded certificate.
    std::fs::create_dir_all(repo.path("shared")).unwrap();
    repo.ours_stdin(&["-e", "prod", "-w", "shared/db.yaml"], SECRET.as_bytes());
    let err = repo.fails(&["unset", "shared/db.yaml", "user", "-e", "dev"]);
    assert!(
        err.starts_with("error: shared/db.yaml: SealedSecret prod/db: not a file of environment dev: it is sealed with SHA256:")
            && err.ends_with(", not a certificate of dev; nothing was written\n"),
        "{err}"
    );

    // reseal -e dev: re-encrypts for dev's certificate (the private key of prod opens them).
    std::fs::create_dir_all(repo.path("envs/dev")).unwrap();
    repo.ours_stdin(
        &["--cert", "certs/a.pem", "-w", "envs/dev/app.yaml"],
        SECRET.as_bytes(),
    );
    repo.ours(&[
        "reseal",
        "envs/dev",
        "-e",
        "dev",
        "--recovery-private-key",
        "keys/a.yaml",
    ]);
    assert_eq!(
        repo.open("envs/dev/app.yaml", "b")["password"],
        b64("hunter2-Gitops")
    );
    // reseal needs --cert or -e, not both.
    let out = repo.run(
        &[
            "reseal",
            "envs/dev",
            "--recovery-private-key",
            "keys/a.yaml",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    let out = repo.run(
        &[
            "reseal",
            "envs/dev",
            "-e",
            "dev",
            "--cert",
            "certs/b.pem",
            "--recovery-private-key",
            "keys/a.yaml",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));

    // A file that records no certificate, outside every environment: set works and says so.
    repo.ours_stdin(
        &["--cert", "certs/a.pem", "-w", "loose.yaml"],
        SECRET.as_bytes(),
    );
    let out = repo.run(
        &["set", "loose.yaml", "token", "--cert", "certs/a.pem"],
        b"tok-Loose",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("loose.yaml: SealedSecret prod/db records no certificate (sealed-with)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 15 item 8: a repository sealed by upstream kubeseal (no `sealed-with`) under a config
/// that requires it: `reseal --record-only` records the certificate without private keys, and
/// the reports say exactly what changed.
#[test]
fn migrating_an_upstream_repository_records_the_certificate_without_keys() {
    let repo = Repo::new();
    repo.write(
        ".sealed-secrets.toml",
        "[environments.prod]\ncert = \"certs/a.pem\"\npaths = [\"prod\"]\n",
    );
    std::fs::create_dir_all(repo.path("prod")).unwrap();
    // As upstream writes them: no sealed-with.
    repo.ours_stdin(
        &["--cert", "certs/a.pem", "-w", "prod/db.yaml"],
        SECRET.as_bytes(),
    );
    let before = repo.read("prod/db.yaml");
    assert!(!before.contains("sealed-with"));
    let err = repo.fails(&["check", "prod"]);
    assert!(
        err.contains("no sealed-secrets-rs/sealed-with annotation"),
        "{err}"
    );
    let fp_a = fingerprint(&repo, "certs/a.pem");

    // The dry run says what would change and writes nothing.
    let out = repo.run(
        &["reseal", "prod", "-e", "prod", "--record-only", "--dry-run"],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "prod/db.yaml: SealedSecret prod/db: would be: certificate recorded (2 items of its key size)\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "dry run: would have recorded the certificate {fp_a} in 1 SealedSecret (1 file); 0 already recorded it; 0 record another certificate and were left alone; only the key size was checked, not that the key opens the items\n"
        )
    );
    assert_eq!(repo.read("prod/db.yaml"), before);

    // For real: only the annotation is added; check passes; a second run changes nothing.
    let out = repo.ours(&["reseal", "prod", "-e", "prod", "--record-only"]);
    assert!(
        out.starts_with(&format!(
            "recorded the certificate {fp_a} in 1 SealedSecret (1 file)"
        )),
        "{out}"
    );
    let after = repo.read("prod/db.yaml");
    assert!(
        after.contains(&format!("sealed-secrets-rs/sealed-with: {fp_a}")),
        "{after}"
    );
    // Only the annotation is new; every other line is kept.
    assert!(
        before.lines().all(|l| after.lines().any(|a| a == l)),
        "{after}"
    );
    assert!(
        after
            .lines()
            .filter(|l| !before.lines().any(|b| b == *l))
            .all(|l| l.contains("sealed-with") || l.trim() == "annotations:"),
        "{after}"
    );
    assert_eq!(
        repo.ours(&["check", "prod"]),
        "checked 1 file: no problems\n"
    );
    assert_eq!(
        repo.open("prod/db.yaml", "a")["password"],
        b64("hunter2-Gitops")
    );
    let out = repo.ours(&["reseal", "prod", "-e", "prod", "--record-only"]);
    assert!(
        out.starts_with(&format!(
            "recorded the certificate {fp_a} in 0 SealedSecrets (0 files); 1 already recorded it"
        )),
        "{out}"
    );
    assert_eq!(repo.read("prod/db.yaml"), after);

    // Items of another key size are not recorded: a problem, nothing written.
    repo.ours(&[
        "keygen",
        "--key-size",
        "3072",
        "-w",
        "keys/c.yaml",
        "--cert-out",
        "certs/c.pem",
    ]);
    repo.ours_stdin(
        &["--cert", "certs/c.pem", "-w", "prod/other.yaml"],
        SECRET.as_bytes(),
    );
    let other = repo.read("prod/other.yaml");
    let err = repo.fails(&[
        "reseal",
        "prod/other.yaml",
        "--cert",
        "certs/a.pem",
        "--record-only",
    ]);
    assert!(
        err.contains("prod/other.yaml: SealedSecret prod/db: item \"password\" is sealed for a 3072-bit key, the certificate has a 2048-bit key: not recorded"),
        "{err}"
    );
    assert_eq!(repo.read("prod/other.yaml"), other);
    // An item that is not a sealed blob (here 10 bytes whose length prefix announces a 28271-byte
    // RSA block) is named by check's rule, not as a key of another size.
    let line = item_line(&other, "password").to_owned();
    let (indent, _) = line.split_once("password").unwrap();
    let broken = other.replace(&line, &format!("{indent}password: bm90IGEgYmxvYg=="));
    repo.write("prod/other.yaml", &broken);
    let err = repo.fails(&[
        "reseal",
        "prod/other.yaml",
        "--cert",
        "certs/a.pem",
        "--record-only",
    ]);
    assert_eq!(
        err,
        "prod/other.yaml: SealedSecret prod/db: item \"password\": too short for its 28271-byte RSA block and GCM tag\nerror: 1 problem; nothing was written\n"
    );
    assert_eq!(repo.read("prod/other.yaml"), broken);
    repo.write("prod/other.yaml", &other);
    // --record-only takes no private keys.
    let out = repo.run(
        &[
            "reseal",
            "prod",
            "-e",
            "prod",
            "--record-only",
            "--recovery-private-key",
            "keys/a.yaml",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));

    // Resealing with keys reports the recorded certificate per object too.
    let out = repo.run(
        &[
            "reseal",
            "prod/other.yaml",
            "--cert",
            "certs/a.pem",
            "--recovery-private-key",
            "keys/c.yaml",
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "prod/other.yaml: SealedSecret prod/db: 2 items resealed, certificate recorded\n"
    );
}

/// The `sealed-at` line of a YAML file.
fn sealed_at_line(text: &str) -> &str {
    item_line(text, "sealed-secrets-rs/sealed-at")
}

#[test]
fn items_record_when_they_were_sealed_and_check_enforces_a_max_age() {
    let repo = Repo::new();
    let at = |now: &str, args: &[&str], stdin: &[u8]| repo.ours_at(now, args, stdin);
    let fails_at = |now: &str, args: &[&str]| {
        let out = run_at(&ours(), repo.dir.path(), now, args, b"");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    // Sealing with the certificate recorded records each item's time.
    let sealed = at(
        "2026-09-01T00:00:00+02:00",
        &[
            "--cert",
            "certs/a.pem",
            "--record-fingerprint",
            "-o",
            "yaml",
        ],
        SECRET.as_bytes(),
    );
    assert_eq!(
        sealed_at_line(&sealed),
        r#"    sealed-secrets-rs/sealed-at: '{"password":"2026-08-31T22:00:00Z","user":"2026-08-31T22:00:00Z"}'"#
    );
    assert!(!sealed.contains("template:\n    metadata:\n      annotations"));
    repo.write("prod/db.yaml", &sealed);

    // set: the item's time changes, the others' stay; unset: the entry goes.
    let set = ["set", "prod/db.yaml", "password", "--cert", "certs/a.pem"];
    at("2026-11-01T12:00:00Z", &set, b"rotated-Password");
    let after_set = repo.read("prod/db.yaml");
    let t_set = r#"'{"password":"2026-11-01T12:00:00Z","user":"2026-08-31T22:00:00Z"}'"#;
    assert_eq!(
        after_set,
        sealed
            .replace(
                item_line(&sealed, "password"),
                item_line(&after_set, "password")
            )
            .replace(
                sealed_at_line(&sealed),
                &format!("    sealed-secrets-rs/sealed-at: {t_set}")
            )
    );
    let token = ["set", "prod/db.yaml", "token", "--cert", "certs/a.pem"];
    at("2026-11-02T00:00:00Z", &token, b"tok");
    assert!(
        sealed_at_line(&repo.read("prod/db.yaml")).contains(r#""token":"2026-11-02T00:00:00Z""#)
    );
    repo.ours(&["unset", "prod/db.yaml", "token"]);
    assert_eq!(repo.read("prod/db.yaml"), after_set);
    assert_eq!(
        repo.open("prod/db.yaml", "a")["password"],
        b64("rotated-Password")
    );

    // check --max-age: the flag applies to every file.
    std::fs::create_dir_all(repo.path("other")).unwrap();
    std::fs::copy(repo.path("prod/db.yaml"), repo.path("other/db.yaml")).unwrap();
    let now = "2026-12-15T00:00:00Z";
    let out = at(now, &["check", "other", "--max-age", "16w"], b"");
    assert_eq!(out, "checked 1 file: no problems\n");
    assert_eq!(
        fails_at(now, &["check", "other", "--max-age", "90d"]),
        "other/db.yaml: SealedSecret prod/db: item \"user\" was sealed on 2026-08-31T22:00:00Z, older than the max age of 90d (--max-age)\nerror: 1 problem found in 1 file checked\n"
    );
    // An item with no recorded time (plain sealing records none) has an unknown age.
    let plain = repo.ours_stdin(&["--cert", "certs/a.pem", "-o", "yaml"], SECRET.as_bytes());
    assert!(!plain.contains("sealed-at"));
    repo.write("other/plain.yaml", &plain);
    let err = fails_at(now, &["check", "other/plain.yaml", "--max-age", "90d"]);
    assert_eq!(
        err,
        "other/plain.yaml: SealedSecret prod/db: item \"password\" has no sealed-secrets-rs/sealed-at record, so its age is unknown (set it again with kubeseal-rs set)\nother/plain.yaml: SealedSecret prod/db: item \"user\" has no sealed-secrets-rs/sealed-at record, so its age is unknown (set it again with kubeseal-rs set)\nerror: 2 problems found in 1 file checked\n"
    );
    let err = fails_at(now, &["check", "other", "--max-age", "90"]);
    assert!(
        err.starts_with("error: --max-age: invalid duration \"90\""),
        "{err}"
    );

    // The repository config: max-age per environment, for the files it matches (strictest).
    repo.write(
        ".sealed-secrets.toml",
        "[environments.prod]\ncert = \"certs/a.pem\"\npaths = [\"prod/**\"]\nmax-age = \"90d\"\n\n[environments.all]\npaths = [\"**\"]\nmax-age = \"26w\"\n",
    );
    assert_eq!(
        at(
            "2026-11-15T00:00:00Z",
            &["check", "prod", "other/db.yaml"],
            b""
        ),
        "checked 2 files: no problems\n"
    );
    assert_eq!(
        fails_at(now, &["check", "prod", "other/db.yaml"]),
        "prod/db.yaml: SealedSecret prod/db: item \"user\" was sealed on 2026-08-31T22:00:00Z, older than the max age of 90d (environment prod)\nerror: 1 problem found in 2 files checked\n"
    );
    // The flag counts too, when stricter.
    assert!(
        fails_at(now, &["check", "other/db.yaml", "--max-age", "30d"])
            .starts_with("other/db.yaml: SealedSecret prod/db: item \"password\" was sealed on 2026-11-01T12:00:00Z, older than the max age of 30d (--max-age)\n")
    );

    // reseal re-encrypts the same values: their times stay (the age is the value's).
    at(
        "2027-01-01T00:00:00Z",
        &[
            "reseal",
            "prod",
            "--cert",
            "certs/b.pem",
            "--recovery-private-key",
            "keys/a.yaml",
        ],
        b"",
    );
    let resealed = repo.read("prod/db.yaml");
    assert_ne!(item_line(&resealed, "user"), item_line(&after_set, "user"));
    assert_eq!(sealed_at_line(&resealed), sealed_at_line(&after_set));
    assert_eq!(
        repo.open("prod/db.yaml", "b")["password"],
        b64("rotated-Password")
    );

    // --merge-into: the merged item's time changes, the others' stay.
    // (The config pins prod to a's certificate, which the reseal left.)
    std::fs::remove_file(repo.path(".sealed-secrets.toml")).unwrap();
    // A record that does not read: set and unset refuse, nothing is written.
    let good = repo.read("prod/db.yaml");
    let broken = good.replace(
        sealed_at_line(&good),
        "    sealed-secrets-rs/sealed-at: 'nope'",
    );
    repo.write("prod/db.yaml", &broken);
    let unreadable = "error: prod/db.yaml: SealedSecret prod/db: annotation sealed-secrets-rs/sealed-at is not a JSON object of item names to RFC 3339 times; fix or remove it first\n";
    let out = run_at(
        &ours(),
        repo.dir.path(),
        "2027-02-01T00:00:00Z",
        &["set", "prod/db.yaml", "user", "--cert", "certs/b.pem"],
        b"x",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr), unreadable);
    assert_eq!(
        fails_at("2027-02-01T00:00:00Z", &["unset", "prod/db.yaml", "user"]),
        unreadable
    );
    assert_eq!(repo.read("prod/db.yaml"), broken);
    repo.write("prod/db.yaml", &good);

    let one = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\nstringData:\n  user: merged-User\n";
    at(
        "2027-02-01T00:00:00Z",
        &["--cert", "certs/b.pem", "--merge-into", "prod/db.yaml"],
        one.as_bytes(),
    );
    assert_eq!(
        sealed_at_line(&repo.read("prod/db.yaml")),
        r#"    sealed-secrets-rs/sealed-at: '{"password":"2026-11-01T12:00:00Z","user":"2027-02-01T00:00:00Z"}'"#
    );

    // Sealing for several clusters records the time in every output.
    at(
        "2027-03-01T00:00:00Z",
        &[
            "--cert",
            "certs/a.pem",
            "--cert",
            "certs/b.pem",
            "-w",
            "multi/{cluster}/{name}.yaml",
        ],
        SECRET.as_bytes(),
    );
    for cluster in ["a", "b"] {
        assert_eq!(
            sealed_at_line(&repo.read(&format!("multi/{cluster}/db.yaml"))),
            r#"    sealed-secrets-rs/sealed-at: '{"password":"2027-03-01T00:00:00Z","user":"2027-03-01T00:00:00Z"}'"#,
            "{cluster}"
        );
    }
}
