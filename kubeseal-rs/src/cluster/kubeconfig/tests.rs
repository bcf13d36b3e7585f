//! The kubeconfig selection and override rules, on kube's structures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use super::*;

const A: &str = r"
apiVersion: v1
kind: Config
current-context: a
clusters:
- name: shared
  cluster:
    server: https://a.example:6443/
    certificate-authority: pki/ca.crt
    tls-server-name: a.internal
contexts:
- name: a
  context: {cluster: shared, user: alice, namespace: team-a}
users:
- name: alice
  user:
    client-certificate: pki/alice.crt
    client-key: pki/alice.key
";

const B: &str = r"
apiVersion: v1
kind: Config
current-context: b
clusters:
- name: shared
  cluster:
    server: https://b.example:6443
- name: plain
  cluster:
    server: http://plain.example
contexts:
- name: b
  context: {cluster: shared, user: bob}
- name: c
  context: {cluster: plain, user: bob}
users:
- name: bob
  user:
    token: bob-token
    as: admin
    as-groups: [ops]
";

fn loaded(dir: &Path, files: &[(&str, &str)]) -> Loaded {
    let mut loaded = Loaded::default();
    for (name, text) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        let config = Kubeconfig::read_from(&path).unwrap();
        loaded.files.push((path, config));
    }
    loaded
}

fn cluster_of(r: &Resolved) -> &Cluster {
    r.kubeconfig.clusters[0].cluster.as_ref().unwrap()
}

fn user_of(r: &Resolved) -> &AuthInfo {
    r.kubeconfig.auth_infos[0].auth_info.as_ref().unwrap()
}

#[test]
fn first_file_wins_and_relative_paths_resolve_against_their_file() {
    let dir = tempfile::tempdir().unwrap();
    let both = loaded(dir.path(), &[("sub/a.yaml", A), ("b.yaml", B)]);
    assert_eq!(both.context_namespace(None).as_deref(), Some("team-a"));
    assert_eq!(both.context_namespace(Some("b")), None);
    let r = resolve(&both, &Overrides::default(), &InClusterEnv::default()).unwrap();
    assert_eq!(r.server, "https://a.example:6443");
    assert_eq!(
        r.origin,
        format!(
            "context \"a\" (kubeconfig {})",
            dir.path().join("sub/a.yaml").display()
        )
    );
    let ca = dir.path().join("sub/pki/ca.crt").display().to_string();
    assert_eq!(
        cluster_of(&r).certificate_authority.as_deref(),
        Some(ca.as_str())
    );
    let key = dir.path().join("sub/pki/alice.key").display().to_string();
    assert_eq!(user_of(&r).client_key.as_deref(), Some(key.as_str()));

    let reversed = loaded(dir.path(), &[("b.yaml", B), ("sub/a.yaml", A)]);
    let r = resolve(&reversed, &Overrides::default(), &InClusterEnv::default()).unwrap();
    assert_eq!(r.server, "https://b.example:6443");
    assert_eq!(user_of(&r).impersonate.as_deref(), Some("admin"));
}

#[test]
fn override_flags_apply_as_in_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let both = loaded(dir.path(), &[("a.yaml", A), ("b.yaml", B)]);
    let overrides = Overrides {
        server: Some("api.example:443".to_owned()),
        insecure_skip_tls_verify: true,
        token: Some(SecretString::from("flag-token".to_owned())),
        client_certificate: None,
        user: Some("bob".to_owned()),
        impersonate_groups: vec!["g".to_owned()],
        ..Overrides::default()
    };
    let r = resolve(&both, &overrides, &InClusterEnv::default()).unwrap();
    assert_eq!(r.server, "https://api.example:443");
    let cluster = cluster_of(&r);
    assert_eq!(cluster.tls_server_name, None, "--server clears it");
    assert_eq!(
        cluster.certificate_authority, None,
        "--insecure… replaces trust"
    );
    assert_eq!(cluster.insecure_skip_tls_verify, Some(true));
    let user = user_of(&r);
    assert_eq!(user.token.as_ref().unwrap().expose_secret(), "flag-token");
    assert_eq!(
        user.impersonate_groups.as_deref(),
        Some(&["g".to_owned()][..])
    );
    assert!(!r.dropped_credentials);
}

#[test]
fn plain_http_gets_no_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let b = loaded(dir.path(), &[("b.yaml", B)]);
    let overrides = Overrides {
        context: Some("c".to_owned()),
        ..Overrides::default()
    };
    let r = resolve(&b, &overrides, &InClusterEnv::default()).unwrap();
    assert!(r.dropped_credentials);
    let user = user_of(&r);
    assert!(user.token.is_none());
    assert_eq!(
        user.impersonate.as_deref(),
        Some("admin"),
        "not a credential"
    );
}

#[test]
fn missing_entries_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let a = loaded(dir.path(), &[("a.yaml", A)]);
    let files = dir.path().join("a.yaml").display().to_string();
    let with = |o: Overrides| {
        resolve(&a, &o, &InClusterEnv::default())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        with(Overrides {
            context: Some("nope".to_owned()),
            ..Overrides::default()
        }),
        format!("context \"nope\" not found in kubeconfig {files}")
    );
    assert_eq!(
        with(Overrides {
            user: Some("nobody".to_owned()),
            ..Overrides::default()
        }),
        format!("user \"nobody\" not found in kubeconfig {files}")
    );
    assert_eq!(
        resolve(
            &Loaded::default(),
            &Overrides::default(),
            &InClusterEnv::default()
        )
        .unwrap_err()
        .to_string(),
        "no cluster to connect to: no kubeconfig found (--kubeconfig, KUBECONFIG or ~/.kube/config) and not running in a pod"
    );
}

#[test]
fn parse_errors_name_the_file_not_the_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(
        &path,
        "users:\n- name: u\n  user:\n    token: s3cr3t-token\n    as-groups: s3cr3t-token\n",
    )
    .unwrap();
    let text = load(Some(&path), false).unwrap_err().to_string();
    assert_eq!(
        text,
        format!("kubeconfig {} is not a valid kubeconfig", path.display())
    );
    assert!(load(Some(&path), true).unwrap().files.is_empty());
    let missing = dir.path().join("missing.yaml");
    let err = load(Some(&missing), false).unwrap_err();
    assert!(err.to_string().contains("missing.yaml"), "{err}");
}
