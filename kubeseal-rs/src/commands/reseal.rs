//! `reseal PATH… --cert NEW --recovery-private-key KEYS`: re-encrypt every SealedSecret item
//! under the paths for NEW, offline, as text edits (files keep their layout; items left alone
//! keep their bytes). Nothing is written unless every item could be handled.
//!
//! Which items change — the rule that makes a second run a no-op:
//! 1. an item that the private key of NEW (when it is among KEYS) opens is already done;
//! 2. otherwise the first of KEYS that opens it tells its key; with `--only-key FP`, items
//!    opened by another key are left alone; the rest are re-encrypted for NEW;
//! 3. an item no key opens is already done if its object records NEW in
//!    `sealed-secrets-rs/sealed-with` (resealed earlier without NEW's private key), and an
//!    error otherwise.
//!
//! When every item of an object is then sealed for NEW, its `sealed-with` annotation is set
//! to NEW's fingerprint (added if missing).

use std::collections::BTreeMap;

use sealed_secrets_core::check::SEALED_WITH_ANNOTATION;
use sealed_secrets_core::crypto;
use sealed_secrets_core::edit;
use sealed_secrets_core::keys::PrivateKey;
use sealed_secrets_core::scope::Scope;
use sealed_secrets_core::seal;
use sealed_secrets_core::types::base64_std;

use crate::cli::ResealArgs;
use crate::error::CliError;
use crate::sealed_file::{self, SealedFile};
use crate::{cert_source, input, output};

use super::edit_item::ENCRYPTED_DATA;

const ANNOTATIONS: [&str; 2] = ["metadata", "annotations"];

#[derive(Default)]
struct Tally {
    resealed: usize,
    already: usize,
    other_key: usize,
    objects_changed: usize,
    files_changed: usize,
}

/// Runs `reseal`.
///
/// # Errors
/// Any item that cannot be handled (all are reported), or unusable keys, certificate or files.
pub fn run(args: &ResealArgs) -> Result<(), CliError> {
    let bytes = cert_source::fetch(&args.cert)?;
    let cert = cert_source::parse_for_sealing(&bytes, &args.cert)?;
    let new_fp = cert.fingerprint().to_string();
    let keys = super::recover::load_keys(&args.recovery_private_key)?;
    let new_private = keys.iter().find(|k| k.fingerprint().to_string() == new_fp);
    let files = sealed_file::walk(&args.paths)?;

    let mut problems = Vec::new();
    let mut tally = Tally::default();
    let mut writes: Vec<(SealedFile, String)> = Vec::new();
    for path in &files {
        let bytes = input::read_file(path)?;
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let mut file = match sealed_file::parse(path, text) {
            Ok(Some(file)) => file,
            Ok(None) => continue,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        let changed = reseal_file(
            &mut file,
            &keys,
            new_private,
            &cert,
            &new_fp,
            args,
            &mut problems,
            &mut tally,
        )?;
        if let Some(expected) = changed {
            match file.render_checked(&expected) {
                Ok(text) => writes.push((file, text)),
                Err(e) => problems.push(e.to_string()),
            }
        }
    }
    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("{problem}");
        }
        return Err(CliError::Other(format!(
            "{} problem{}; nothing was written",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        )));
    }
    tally.files_changed = writes.len();
    if !args.dry_run {
        for (file, text) in &writes {
            output::write_atomic(&file.path, text.as_bytes(), false)?;
        }
    }
    println!(
        "{}resealed {} item{} in {} SealedSecret{} ({} file{}) for {new_fp}; {} already sealed for it; {} sealed with other keys left alone",
        if args.dry_run {
            "dry run: would have "
        } else {
            ""
        },
        tally.resealed,
        plural(tally.resealed),
        tally.objects_changed,
        plural(tally.objects_changed),
        tally.files_changed,
        plural(tally.files_changed),
        tally.already,
        tally.other_key,
    );
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Re-encrypts the items of one file; returns the expected objects when something changed.
#[allow(clippy::too_many_arguments)]
fn reseal_file(
    file: &mut SealedFile,
    keys: &[PrivateKey],
    new_private: Option<&PrivateKey>,
    cert: &sealed_secrets_core::cert::Certificate,
    new_fp: &str,
    args: &ResealArgs,
    problems: &mut Vec<String>,
    tally: &mut Tally,
) -> Result<Option<Vec<sealed_secrets_core::types::SealedSecret>>, CliError> {
    let mut expected: Vec<_> = file.objects.iter().map(|o| o.sealed.clone()).collect();
    let mut changed = false;
    #[allow(clippy::needless_range_loop)] // `index` also addresses `file`, which is edited
    for index in 0..file.objects.len() {
        let object = file.objects[index].clone();
        let prefix = format!("{}: {}", file.shown, object.describe());
        let ss = &object.sealed;
        if ss.spec.data.is_some() {
            problems.push(format!(
                "{prefix}: legacy spec.data is not supported; convert it with --re-encrypt first"
            ));
            continue;
        }
        let meta = &ss.metadata;
        let scope = Scope::from_annotations(Some(&meta.annotations));
        let label = scope.label(&meta.namespace, &meta.name);
        let recorded_new = object.sealed_with() == Some(new_fp);
        let mut new_items = BTreeMap::new();
        let mut all_on_new = true;
        let mut object_changed = false;
        for (item, text) in ss.spec.encrypted_data.iter().flatten() {
            let Ok(blob) = base64_std::decode(text) else {
                problems.push(format!("{prefix}: item {item:?} is not valid base64"));
                continue;
            };
            if new_private.is_some_and(|k| crypto::decrypt_with_key(k, &label, &blob).is_ok()) {
                tally.already += 1;
                continue;
            }
            let Ok(opened) = crypto::hybrid_decrypt(keys.iter(), &label, &blob) else {
                if recorded_new {
                    tally.already += 1;
                } else {
                    problems.push(format!("{prefix}: item {item:?}: no key could decrypt it"));
                }
                continue;
            };
            let opener = keys[opened.key_index].fingerprint().to_string();
            if args.only_key.as_deref().is_some_and(|only| only != opener) {
                tally.other_key += 1;
                all_on_new = false;
                continue;
            }
            let sealed = seal::encrypt_item(
                cert.public_key(),
                scope,
                &meta.namespace,
                &meta.name,
                opened.plaintext.expose(),
            )
            .map_err(|e| CliError::Other(format!("{prefix}: cannot encrypt item {item:?}: {e}")))?;
            new_items.insert(item.clone(), sealed);
            tally.resealed += 1;
            object_changed = true;
        }
        for (item, sealed) in &new_items {
            file.edit(index, |chunk| {
                edit::set_entry(chunk, &ENCRYPTED_DATA, item, sealed)
            })?;
        }
        let has_items = ss
            .spec
            .encrypted_data
            .as_ref()
            .is_some_and(|m| !m.is_empty());
        if !new_items.is_empty() {
            expected[index]
                .spec
                .encrypted_data
                .get_or_insert_with(Default::default)
                .extend(new_items);
        }
        if all_on_new && has_items && !recorded_new {
            file.edit(index, |chunk| {
                edit::set_entry(chunk, &ANNOTATIONS, SEALED_WITH_ANNOTATION, new_fp)
            })?;
            expected[index]
                .metadata
                .annotations
                .insert(SEALED_WITH_ANNOTATION.to_owned(), new_fp.to_owned());
            object_changed = true;
        }
        if object_changed {
            tally.objects_changed += 1;
            changed = true;
            eprintln!(
                "{prefix}: {} item{} resealed",
                new_items_count(&object, &expected[index]),
                plural(new_items_count(&object, &expected[index]))
            );
        }
    }
    Ok(changed.then_some(expected))
}

fn new_items_count(
    before: &sealed_file::Object,
    after: &sealed_secrets_core::types::SealedSecret,
) -> usize {
    let old = before
        .sealed
        .spec
        .encrypted_data
        .clone()
        .unwrap_or_default();
    after
        .spec
        .encrypted_data
        .iter()
        .flatten()
        .filter(|(k, v)| old.get(*k) != Some(*v))
        .count()
}
