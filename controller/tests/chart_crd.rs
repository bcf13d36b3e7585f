//! The Helm chart installs the same CRD as the generated `crds/bitnami.com_sealedsecrets.yaml`
//! (Helm reads `crds/` inside the chart, so the chart keeps a copy; `crd::tests` checks the
//! generated file against the Rust types).

#![allow(clippy::panic)] // test code

use std::path::Path;

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
