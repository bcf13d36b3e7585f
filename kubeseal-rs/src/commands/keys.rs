//! `keys list|backup|restore|prune`: the controller's sealing keys, with safety rails
//! (`docs/keys.md`).
//!
//! - `list` prints every key Secret of the controller's namespace with its fingerprint, validity,
//!   state and the number of SealedSecrets recorded as depending on it (the controller's
//!   `status.unsealedDigest`; for objects written before ADR 0004 the Secret's
//!   `sealed-secrets-rs/unsealed-digest` annotation, read as metadata only: no Secret data is
//!   transferred).
//! - `backup` writes every key Secret (any value of the key label, plus the legacy
//!   `sealed-secrets-key`), stripped of server fields, as one v1 List: mode 0600, atomic, an
//!   existing file only replaced with `--force`.
//! - `restore` checks the whole file first (every document a `kubernetes.io/tls` Secret with
//!   the key label and a usable key), then creates only the missing keys; a Secret of the same
//!   name that holds another key stops it before anything is created. It never overwrites and
//!   creates nothing that is not in the file.
//! - `prune` deletes key Secrets by fingerprint (or `--older-than`), never the newest key and
//!   never one a SealedSecret depends on: recorded dependents, plus the unrecorded
//!   SealedSecrets the key opens (checked with the key itself, one RSA operation per item).
//!   Deletes carry a uid precondition.

mod inventory;

use std::path::Path;

use sealed_secrets_core::key_secret::{self, SEALED_SECRETS_KEY_LABEL, TLS_SECRET_TYPE};
use sealed_secrets_core::manifest;
use sealed_secrets_core::public_cert::{self, DEFAULT_CONFIGMAP_NAME};
use sealed_secrets_core::types::Secret;
use sealed_secrets_core::wrapped_key;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cli::keys::{
    KeysAction, KeysArgs, KeysBackupArgs, KeysCluster, KeysListArgs, KeysPruneArgs, KeysRestoreArgs,
};
use crate::cluster::{self, kube_api::KubeApi};
use crate::error::{CliError, KeysError, one_line};
use crate::{input, output};

use inventory::{KeyInfo, LEGACY_KEY_NAME, dependents, few, inventory, usage};

/// Runs a `keys` subcommand.
///
/// # Errors
/// Bad input, a refused or failed API call, or a safety rail (see the module docs).
pub fn run(args: &KeysArgs) -> Result<(), CliError> {
    match &args.action {
        KeysAction::List(a) => list(a),
        KeysAction::Backup(a) => backup(a),
        KeysAction::Restore(a) => restore(a),
        KeysAction::Prune(a) => prune(a),
    }
}

fn api_error(e: &cluster::kube_api::ApiError) -> CliError {
    KeysError::Api(one_line(e)).into()
}

fn connect(c: &KeysCluster) -> Result<KubeApi, CliError> {
    let overrides = crate::mode::overrides(c.context.as_deref(), &c.connection);
    KubeApi::connect(c.kubeconfig.as_deref(), &overrides).map_err(|e| api_error(&e))
}

/// The key Secrets of `namespace`: labelled ones plus the unlabelled legacy one.
fn key_secrets(api: &KubeApi, namespace: &str) -> Result<Vec<Secret>, CliError> {
    let mut secrets = api.key_secrets(namespace).map_err(|e| api_error(&e))?;
    if !secrets.iter().any(|s| s.metadata.name == LEGACY_KEY_NAME)
        && let Some(legacy) = api
            .secret(namespace, LEGACY_KEY_NAME)
            .map_err(|e| api_error(&e))?
    {
        secrets.push(legacy);
    }
    Ok(secrets)
}

fn usage_of(api: &KubeApi) -> Result<inventory::Usage, CliError> {
    let sealed = api.sealed_secrets().map_err(|e| api_error(&e))?;
    let secrets = api.secret_metadata().map_err(|e| api_error(&e))?;
    Ok(usage(sealed, &secrets))
}

fn date(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| t.replace_nanosecond(0).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "-".to_owned())
}

fn stdout(text: &str) -> Result<(), CliError> {
    Ok(output::emit(None, text.as_bytes(), false)?)
}

fn list(args: &KeysListArgs) -> Result<(), CliError> {
    let namespace = &args.cluster.controller_namespace;
    let api = connect(&args.cluster)?;
    let mut keys = inventory(&key_secrets(&api, namespace)?);
    let published = published_listing(&api, namespace);
    let merged = published
        .as_deref()
        .is_some_and(|json| inventory::merge_published(&mut keys, json));
    let usage = usage_of(&api)?;
    let mut out = format!(
        "{:<51} {:<30} {:<21} {:<21} {:<10} {:<10} {}\n",
        "FINGERPRINT", "SECRET", "NOT BEFORE", "NOT AFTER", "STATE", "DEPENDENTS", "WHERE"
    );
    for key in &keys {
        let fp = key.fingerprint.as_deref().unwrap_or("-");
        out.push_str(&format!(
            "{:<51} {:<30} {:<21} {:<21} {:<10} {:<10} {}\n",
            fp,
            key.name,
            date(key.not_before),
            date(key.not_after),
            key.state(),
            usage.dependents(fp).len(),
            key.location
        ));
    }
    stdout(&out)?;
    if keys.is_empty() {
        eprintln!("no key Secrets in namespace {namespace:?}");
    }
    if !merged {
        eprintln!(
            "note: no key listing in configmap {namespace}/{DEFAULT_CONFIGMAP_NAME} (a controller before sealed-secrets-rs 0.1, or --cert-configmap elsewhere): keys outside Secrets (PKCS#11 tokens) are not shown"
        );
    }
    if !usage.unrecorded.is_empty() {
        eprintln!(
            "note: {} SealedSecrets carry no current record of their key (not unsealed by sealed-secrets-rs yet, failing, or changed since): {}; keys prune checks them with the key itself",
            usage.unrecorded.len(),
            few(&usage
                .unrecorded
                .iter()
                .map(|s| format!("{}/{}", s.metadata.namespace, s.metadata.name))
                .collect::<Vec<_>>())
        );
    }
    Ok(())
}

/// The key listing the controller publishes in its certificate ConfigMap, if the ConfigMap is
/// the controller's (labelled) and has one. Best effort: `None` on any failure.
fn published_listing(api: &KubeApi, namespace: &str) -> Option<String> {
    let object = api.configmap(namespace, DEFAULT_CONFIGMAP_NAME).ok()??;
    let label = object
        .pointer(&format!(
            "/metadata/labels/{}",
            public_cert::LABEL.replace('~', "~0").replace('/', "~1")
        ))
        .and_then(serde_json::Value::as_str);
    if !public_cert::is_ours(label) {
        return None;
    }
    object
        .pointer(&format!(
            "/data/{}",
            public_cert::KEYS_DATA_KEY.replace('/', "~1")
        ))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

/// A `v1` List of key Secrets, the shape `kubectl get -o yaml` writes.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyList {
    api_version: &'static str,
    items: Vec<Secret>,
    kind: &'static str,
}

/// A key Secret as it goes into a backup: what `kubectl apply -f` needs to recreate it, no
/// server-owned fields.
fn for_backup(mut secret: Secret, namespace: &str) -> Secret {
    secret.kind = "Secret".to_owned();
    secret.api_version = "v1".to_owned();
    secret.metadata.strip_server_fields();
    secret.metadata.managed_fields.clear();
    secret.metadata.owner_references.clear();
    secret.metadata.finalizers.clear();
    secret
        .metadata
        .annotations
        .remove("kubectl.kubernetes.io/last-applied-configuration");
    secret.metadata.namespace = namespace.to_owned();
    secret
}

fn backup(args: &KeysBackupArgs) -> Result<(), CliError> {
    let to_stdout = args.output.as_os_str() == "-";
    if !to_stdout && !args.force && args.output.exists() {
        return Err(KeysError::Exists(args.output.display().to_string()).into());
    }
    let namespace = &args.cluster.controller_namespace;
    let api = connect(&args.cluster)?;
    let secrets = key_secrets(&api, namespace)?;
    if secrets.is_empty() {
        return Err(KeysError::NothingToBackUp(namespace.clone()).into());
    }
    let keys = inventory(&secrets);
    let mut items: Vec<Secret> = secrets
        .into_iter()
        .map(|s| for_backup(s, namespace))
        .collect();
    items.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let list = KeyList {
        api_version: "v1",
        items,
        kind: "List",
    };
    let rendered = zeroize::Zeroizing::new(output::render(&list, args.format)?);
    if to_stdout {
        stdout(&rendered)?;
    } else {
        output::write_atomic(&args.output, rendered.as_bytes(), true)?;
    }
    let unreadable = keys.iter().filter(|k| !k.readable).count();
    let wrapped = keys
        .iter()
        .filter(|k| k.readable && k.key.is_none())
        .count();
    eprintln!(
        "wrote {} key Secrets of namespace {namespace:?} to {}: {}",
        keys.len(),
        if to_stdout {
            "stdout".to_owned()
        } else {
            args.output.display().to_string()
        },
        keys.iter()
            .map(KeyInfo::describe)
            .collect::<Vec<_>>()
            .join(", ")
    );
    if unreadable > 0 {
        eprintln!("warning: {unreadable} of them hold no usable key (copied as they are)");
    }
    if wrapped > 0 {
        eprintln!(
            "note: {wrapped} of them are wrapped by a KMS key: the backup restores only where that KMS key can be used (docs/keys.md)"
        );
    }
    Ok(())
}

/// One key Secret read from a backup file, checked.
struct Restorable {
    secret: Secret,
    fingerprint: String,
    not_before: OffsetDateTime,
}

/// Reads and checks every document of a backup file before anything is sent.
fn read_backup(path: &Path) -> Result<Vec<Restorable>, CliError> {
    let shown = path.display().to_string();
    let bytes = input::read_file(path)?;
    let documents =
        manifest::read_documents(&bytes).map_err(|e| KeysError::Backup(format!("{shown}: {e}")))?;
    let mut out: Vec<Restorable> = Vec::new();
    for document in documents {
        let position = document.position();
        let secret = document
            .into_secret()
            .map_err(|e| KeysError::Backup(format!("{shown}: {e}")))?;
        let name = if secret.metadata.name.is_empty() {
            secret.metadata.generate_name.clone()
        } else {
            secret.metadata.name.clone()
        };
        let at = format!("{shown}: {position} (Secret {name:?})");
        if secret.type_ != TLS_SECRET_TYPE {
            return Err(KeysError::Backup(format!(
                "{at} is not a key Secret: type {:?}, expected {TLS_SECRET_TYPE:?}",
                secret.type_
            ))
            .into());
        }
        if !secret
            .metadata
            .labels
            .contains_key(SEALED_SECRETS_KEY_LABEL)
        {
            return Err(KeysError::Backup(format!(
                "{at} is not a key Secret: no {SEALED_SECRETS_KEY_LABEL} label"
            ))
            .into());
        }
        let (fingerprint, cert) = match wrapped_key::wrapped_from_secret(&secret) {
            // Wrapped (ADR 0008): the certificate names the key; the KMS checks the rest.
            Ok(Some((_, cert))) => (cert.public_key().fingerprint().to_string(), cert),
            Err(e) => return Err(KeysError::Backup(format!("{at}: {e}")).into()),
            Ok(None) => {
                let material = key_secret::key_from_secret(&secret)
                    .map_err(|e| KeysError::Backup(format!("{shown}: {position}: {e}")))?;
                let fingerprint = material.key.fingerprint().to_string();
                if material.cert.fingerprint().to_string() != fingerprint {
                    eprintln!(
                        "warning: {at}: its certificate does not match its private key (restored as it is)"
                    );
                }
                (fingerprint, material.cert)
            }
        };
        if out.iter().any(|r| r.fingerprint == fingerprint) {
            continue;
        }
        out.push(Restorable {
            secret,
            fingerprint,
            not_before: cert.not_before(),
        });
    }
    if out.is_empty() {
        return Err(KeysError::EmptyBackup(shown.to_string()).into());
    }
    // Oldest first, so creation times follow the keys' order.
    out.sort_by_key(|r| r.not_before);
    Ok(out)
}

fn restore(args: &KeysRestoreArgs) -> Result<(), CliError> {
    let wanted = read_backup(&args.file)?;
    let namespace = &args.cluster.controller_namespace;
    let api = connect(&args.cluster)?;
    let present = inventory(&key_secrets(&api, namespace)?);

    // Decide everything before creating anything.
    let mut to_create = Vec::new();
    let mut lines = Vec::new();
    for item in &wanted {
        let name = &item.secret.metadata.name;
        if let Some(existing) = present
            .iter()
            .find(|k| k.fingerprint.as_deref() == Some(item.fingerprint.as_str()))
        {
            lines.push(format!(
                "skipped {namespace}/{} ({}): already present",
                existing.name, item.fingerprint
            ));
            continue;
        }
        if !name.is_empty()
            && let Some(other) = api.secret(namespace, name).map_err(|e| api_error(&e))?
        {
            let holds = match wrapped_key::wrapped_from_secret(&other) {
                Ok(Some((wrapped, cert))) => format!(
                    "key {} (wrapped by KMS key {})",
                    cert.public_key().fingerprint(),
                    wrapped.key_id
                ),
                _ => key_secret::key_from_secret(&other).map_or_else(
                    |_| "something else".to_owned(),
                    |m| format!("key {}", m.key.fingerprint()),
                ),
            };
            return Err(KeysError::OtherKeyExists {
                namespace: namespace.clone(),
                name: name.clone(),
                holds,
                fingerprint: item.fingerprint.clone(),
            }
            .into());
        }
        to_create.push(item);
    }
    for item in to_create {
        let shown = if item.secret.metadata.name.is_empty() {
            format!("{}…", item.secret.metadata.generate_name)
        } else {
            item.secret.metadata.name.clone()
        };
        if args.dry_run {
            lines.push(format!(
                "would add {namespace}/{shown} ({})",
                item.fingerprint
            ));
            continue;
        }
        let secret = for_backup(item.secret.clone(), namespace);
        api.create_secret(namespace, &secret).map_err(|e| {
            CliError::from(KeysError::RestoreStopped {
                error: one_line(&e),
                restored: lines.iter().filter(|l| l.starts_with("added")).count(),
            })
        })?;
        lines.push(format!("added {namespace}/{shown} ({})", item.fingerprint));
    }
    let mut out = lines.join("\n");
    out.push('\n');
    stdout(&out)?;
    for stray in present.iter().filter(|k| {
        k.fingerprint
            .as_deref()
            .is_none_or(|fp| !wanted.iter().any(|w| w.fingerprint == fp))
    }) {
        eprintln!(
            "note: key Secret {namespace}/{} is not in {}; restore did not touch it",
            stray.describe(),
            args.file.display()
        );
    }
    Ok(())
}

fn prune(args: &KeysPruneArgs) -> Result<(), CliError> {
    let cutoff = match &args.older_than {
        Some(text) => Some(
            OffsetDateTime::now_utc()
                - super::keygen::parse_duration(text)
                    .map_err(|e| CliError::Usage(crate::mode::UsageError(e)))?,
        ),
        None => None,
    };
    let namespace = &args.cluster.controller_namespace;
    let api = connect(&args.cluster)?;
    let keys = inventory(&key_secrets(&api, namespace)?);

    // The keys asked for: by fingerprint every one must exist; by age the old readable ones.
    let candidates: Vec<&KeyInfo> = match cutoff {
        None => {
            let mut chosen = Vec::new();
            for fp in &args.fingerprints {
                let found: Vec<&KeyInfo> = keys
                    .iter()
                    .filter(|k| k.fingerprint.as_deref() == Some(fp.as_str()))
                    .collect();
                if found.is_empty() {
                    return Err(KeysError::UnknownFingerprint {
                        namespace: namespace.clone(),
                        fingerprint: fp.clone(),
                    }
                    .into());
                }
                chosen.extend(found);
            }
            chosen
        }
        Some(cutoff) => keys
            .iter()
            .filter(|k| k.not_before.is_some_and(|t| t < cutoff))
            .collect(),
    };
    let usage = usage_of(&api)?;

    let mut refusals = Vec::new();
    let mut deletable = Vec::new();
    for key in candidates {
        let Some(fp) = key.fingerprint.as_deref().filter(|_| key.readable) else {
            continue;
        };
        if key.newest {
            refusals.push(format!(
                "key {fp} (Secret {namespace}/{}) is the newest key, the one the controller seals with",
                key.name
            ));
            continue;
        }
        let users = match key.key.as_ref() {
            Some(private) => dependents(&usage, fp, private),
            // A wrapped key cannot be asked here: only records count, so every unrecorded
            // SealedSecret might depend on it.
            None if !usage.unrecorded.is_empty() => {
                refusals.push(format!(
                    "key {fp} (Secret {namespace}/{}) is wrapped by a KMS key ({}): {} SealedSecrets carry no current record of their key and kubeseal-rs cannot check them without the KMS; prune it once the controller has synced them",
                    key.name,
                    key.location,
                    usage.unrecorded.len()
                ));
                continue;
            }
            None => usage.dependents(fp).to_vec(),
        };
        if !users.is_empty() {
            refusals.push(format!(
                "key {fp} (Secret {namespace}/{}) is still used by {} SealedSecrets ({}); re-encrypt them for another key first (kubeseal-rs --re-encrypt, or kubeseal-rs reseal)",
                key.name,
                users.len(),
                few(&users)
            ));
            continue;
        }
        deletable.push(key);
    }
    // By fingerprint the request is all or nothing; by age the keys in use are kept.
    if cutoff.is_none() && !refusals.is_empty() {
        return Err(KeysError::PruneRefused(refusals.join("; ")).into());
    }
    let mut out = String::new();
    for refusal in &refusals {
        out.push_str(&format!("kept: {refusal}\n"));
    }
    for key in &deletable {
        let fp = key.fingerprint.as_deref().unwrap_or_default();
        if args.dry_run {
            out.push_str(&format!(
                "would delete key Secret {namespace}/{} ({fp}): no SealedSecret depends on it\n",
                key.name
            ));
            continue;
        }
        api.delete_secret(namespace, &key.name, &key.uid)
            .map_err(|e| api_error(&e))?;
        out.push_str(&format!(
            "deleted key Secret {namespace}/{} ({fp})\n",
            key.name
        ));
    }
    if deletable.is_empty() && refusals.is_empty() {
        out.push_str("no key is old enough to prune\n");
    }
    stdout(&out)?;
    if !args.dry_run && !deletable.is_empty() {
        eprintln!("note: a running controller keeps deleted keys in memory until it restarts");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod tests {
    use super::*;
    use crate::cli::Format;

    #[test]
    fn backups_carry_no_server_fields() {
        let secret: Secret = serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": "k", "namespace": "old", "uid": "u", "resourceVersion": "7",
                "creationTimestamp": "2026-01-01T00:00:00Z",
                "managedFields": [{"manager": "x"}],
                "labels": {SEALED_SECRETS_KEY_LABEL: "active"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "keep": "1"}
            },
            "type": TLS_SECRET_TYPE,
            "data": {"tls.key": "eA==", "tls.crt": "eQ=="}
        }))
        .unwrap();
        let out = for_backup(secret, "ns");
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "kind": "Secret", "apiVersion": "v1",
                "metadata": {
                    "name": "k", "namespace": "ns",
                    "labels": {SEALED_SECRETS_KEY_LABEL: "active"},
                    "annotations": {"keep": "1"}
                },
                "data": {"tls.crt": "eQ==", "tls.key": "eA=="},
                "type": TLS_SECRET_TYPE
            })
        );
        let list = KeyList {
            api_version: "v1",
            items: vec![out],
            kind: "List",
        };
        let yaml = output::render(&list, Format::Yaml).unwrap();
        assert!(yaml.starts_with("---\napiVersion: v1\nitems:\n"), "{yaml}");
        assert!(yaml.ends_with("kind: List\n"), "{yaml}");
    }

    #[test]
    fn dates_are_rfc3339_seconds() {
        let t = time::macros::datetime!(2026-11-29 16:00:01.5 UTC);
        assert_eq!(date(Some(t)), "2026-11-29T16:00:01Z");
        assert_eq!(date(None), "-");
    }
}
