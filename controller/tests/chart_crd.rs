//! The Helm chart installs the same CRD as the generated `crds/bitnami.com_sealedsecrets.yaml`
//! (Helm reads `crds/` inside the chart, so the chart keeps a copy; `crd::tests` checks the
//! generated file against the Rust types), and its values take every key of upstream's chart.

#![allow(clippy::panic, clippy::expect_used)] // test code

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn chart_crd_is_the_generated_crd() {
    let root = Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("..");
    let generated = root.join("crds/bitnami.com_sealedsecrets.yaml");
    let chart = root.join("charts/sealed-secrets-rs/crds/bitnami.com_sealedsecrets.yaml");
    let read =
        |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    assert!(
        read(&generated) == read(&chart),
        "{} differs from {}: run `cp crds/bitnami.com_sealedsecrets.yaml charts/sealed-secrets-rs/crds/`",
        chart.display(),
        generated.display()
    );
}

// ---------------------------------------------------------------------------------------------
// The chart takes every key of upstream's chart

/// Upstream releases whose chart (`helm/sealed-secrets` in the release's Go module source) our
/// chart must accept: the pinned peer and the one before it.
const UPSTREAM_CHARTS: &[&str] = &["v0.40.0", "v0.36.6"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// upstream's chart directory, from the Go module cache (`go mod download` when missing).
fn upstream_chart(version: &str) -> PathBuf {
    let module = "github.com/bitnami-labs/sealed-secrets";
    let out = Command::new("go")
        .args(["mod", "download", "-json", &format!("{module}@{version}")])
        .env("GOFLAGS", "-mod=mod")
        .output()
        .unwrap_or_else(|e| panic!("go mod download {module}@{version}: {e}"));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "go mod download {module}@{version}: {e}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let dir = info["Dir"]
        .as_str()
        .unwrap_or_else(|| panic!("go mod download {module}@{version} gave no Dir: {info}"));
    PathBuf::from(dir).join("helm/sealed-secrets")
}

fn read_values(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every key path of a values tree (`a.b.c`); a list is a leaf (its items are data, not keys).
fn key_paths(prefix: &str, v: &serde_json::Value, out: &mut BTreeSet<String>) {
    if let serde_json::Value::Object(map) = v {
        for (k, child) in map {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            out.insert(path.clone());
            key_paths(&path, child, out);
        }
    }
}

#[test]
fn chart_has_every_key_of_upstreams_chart() {
    let ours_path = repo_root().join("charts/sealed-secrets-rs/values.yaml");
    let mut ours = BTreeSet::new();
    key_paths("", &read_values(&ours_path), &mut ours);
    for version in UPSTREAM_CHARTS {
        let path = upstream_chart(version).join("values.yaml");
        let mut theirs = BTreeSet::new();
        key_paths("", &read_values(&path), &mut theirs);
        assert!(
            theirs.len() > 100,
            "{}: only {} keys",
            path.display(),
            theirs.len()
        );
        let missing: Vec<&String> = theirs.difference(&ours).collect();
        assert!(
            missing.is_empty(),
            "charts/sealed-secrets-rs/values.yaml lacks keys of upstream's chart {version}: {missing:?}"
        );
    }
}

/// values.schema.json names every key of values.yaml (so the schema, which refuses unknown keys,
/// accepts all of ours, and therefore all of upstream's).
#[test]
fn schema_knows_every_key_of_the_values() {
    let chart = repo_root().join("charts/sealed-secrets-rs");
    let schema: serde_json::Value = serde_json::from_slice(
        &std::fs::read(chart.join("values.schema.json")).expect("values.schema.json"),
    )
    .expect("values.schema.json is JSON");
    let values = read_values(&chart.join("values.yaml"));
    fn walk(path: &str, schema: &serde_json::Value, values: &serde_json::Value) {
        let Some(map) = values.as_object() else {
            return;
        };
        let Some(props) = schema.get("properties").and_then(|p| p.as_object()) else {
            assert!(
                schema.get("additionalProperties") != Some(&serde_json::Value::Bool(false)),
                "schema at {path:?} refuses every key"
            );
            return;
        };
        for (k, v) in map {
            let child = props
                .get(k)
                .unwrap_or_else(|| panic!("values.schema.json lacks {path}{k}"));
            walk(&format!("{path}{k}."), child, v);
        }
    }
    walk("", &schema, &values);
}
