//! `spec.template.data` as upstream v0.40 reads it: a `null` source omits that item from the
//! Secret (#1871), plain sources are visible to the other templates (#1940), and a decrypted
//! item is never replaced by a template of the same name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::LazyLock;

use sealed_secrets_core::keys::PrivateKey;
use sealed_secrets_core::manifest::read_documents;
use sealed_secrets_core::scope::Scope;
use sealed_secrets_core::seal::{UnsealOptions, encrypt_item, unseal};
use sealed_secrets_core::types::{ObjectMeta, SealedSecret};

static KEY: LazyLock<PrivateKey> = LazyLock::new(|| PrivateKey::generate(2048).unwrap());

fn sealed(items: &[(&str, &str)], templates: &[(&str, Option<&str>)]) -> SealedSecret {
    let mut ss = SealedSecret {
        metadata: ObjectMeta {
            name: "app".into(),
            namespace: "ns".into(),
            ..ObjectMeta::default()
        },
        ..SealedSecret::default()
    };
    ss.spec.encrypted_data = Some(
        items
            .iter()
            .map(|(k, v)| {
                let blob = encrypt_item(KEY.public_key(), Scope::Strict, "ns", "app", v.as_bytes())
                    .unwrap();
                ((*k).to_owned(), blob)
            })
            .collect(),
    );
    ss.spec.template.data = templates
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
        .collect();
    ss
}

fn value(ss: &SealedSecret, item: &str) -> Option<String> {
    let out = unseal(ss, &[&*KEY], &UnsealOptions::default()).unwrap();
    out.secret
        .data
        .get(item)
        .map(|v| String::from_utf8(v.expose().to_vec()).unwrap())
}

#[test]
fn a_null_source_omits_the_item_but_templates_still_see_it() {
    let ss = sealed(
        &[("password", "pw"), ("user", "admin")],
        &[
            ("password", None),
            ("dsn", Some("{{ .user }}:{{ .password }}@db")),
        ],
    );
    assert_eq!(value(&ss, "password"), None);
    assert_eq!(value(&ss, "dsn").as_deref(), Some("admin:pw@db"));
    assert_eq!(value(&ss, "user").as_deref(), Some("admin"));
}

#[test]
fn plain_sources_are_visible_to_the_other_templates() {
    let ss = sealed(
        &[("password", "pw")],
        &[
            ("username", Some("admin")),
            ("url", Some("postgres://{{ .username }}:{{ .password }}@db")),
        ],
    );
    assert_eq!(value(&ss, "username").as_deref(), Some("admin"));
    assert_eq!(value(&ss, "url").as_deref(), Some("postgres://admin:pw@db"));
}

#[test]
fn a_decrypted_item_wins_over_a_template_of_its_name() {
    let ss = sealed(
        &[("password", "pw")],
        &[
            ("password", Some("replaced")),
            ("copy", Some("{{ .password }}")),
        ],
    );
    assert_eq!(value(&ss, "password").as_deref(), Some("pw"));
    // In the templates' view too: the decrypted value, not the source.
    assert_eq!(value(&ss, "copy").as_deref(), Some("pw"));
}

#[test]
fn a_null_source_is_read_and_written_back_as_null() {
    let yaml = b"apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: app, namespace: ns}\nspec:\n  encryptedData: {}\n  template:\n    data:\n      password: null\n      dsn: '{{ .password }}'\n";
    let mut docs = read_documents(yaml).unwrap();
    let ss = docs.remove(0).into_sealed_secret().unwrap();
    assert_eq!(ss.spec.template.data.get("password"), Some(&None));
    assert_eq!(
        ss.spec.template.data.get("dsn"),
        Some(&Some("{{ .password }}".to_owned()))
    );
    let json = sealed_secrets_core::manifest::to_json_compact(&ss).unwrap();
    assert!(json.contains(r#""password":null"#), "{json}");
}
