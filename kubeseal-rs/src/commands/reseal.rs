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
use sealed_secrets_core::edit;
use sealed_secrets_core::keys::{Decrypter, PrivateKey};
use sealed_secrets_core::seal::{ItemResealer, ResealItemError, Resealed, Work};

use crate::cli::ResealArgs;
use crate::error::CliError;
use crate::sealed_file::{self, SealedFile};
use crate::{input, output};

use super::edit_item::ENCRYPTED_DATA;

const ANNOTATIONS: [&str; 2] = ["metadata", "annotations"];

#[derive(Default)]
struct Tally {
    resealed: usize,
    already: usize,
    other_key: usize,
    objects_changed: usize,
    /// SealedSecrets whose `sealed-with` annotation was added or changed.
    recorded: usize,
    files_changed: usize,
}

impl Tally {
    fn add(&mut self, other: &Self) {
        self.resealed += other.resealed;
        self.already += other.already;
        self.other_key += other.other_key;
        self.objects_changed += other.objects_changed;
        self.recorded += other.recorded;
        self.files_changed += other.files_changed;
    }
}

/// Runs `reseal`.
///
/// # Errors
/// Any item that cannot be handled (all are reported), or unusable keys, certificate or files.
pub fn run(args: &ResealArgs) -> Result<(), CliError> {
    let source = match (&args.environment, &args.cert) {
        (Some(name), _) => crate::mode::CertSource::Environment {
            name: name.clone(),
            config: args.config.clone(),
        },
        (None, Some(location)) => crate::mode::CertSource::Location(location.clone()),
        (None, None) => {
            return Err(
                crate::mode::UsageError("reseal needs --cert or --environment".to_owned()).into(),
            );
        }
    };
    let cert = super::sealing_cert_from(&source)?;
    let new_fp = cert.fingerprint().to_string();
    // --record-only opens nothing: no private keys.
    let keys = if args.record_only {
        Vec::new()
    } else {
        super::recover::load_keys(&args.recovery_private_key)?
    };
    let new_private = keys.iter().find(|k| k.fingerprint().to_string() == new_fp);
    let key_refs: Vec<&dyn Decrypter> = keys.iter().map(|k| k as &dyn Decrypter).collect();
    let files = sealed_file::walk(&args.paths)?;

    // The files are independent: each is read, parsed and re-encrypted (the RSA work) on its
    // own thread, and the results are taken in path order, so the output does not depend on
    // the scheduling.
    let shared = Shared {
        keys: &key_refs,
        new_private,
        cert: &cert,
        new_fp: &new_fp,
        args,
    };
    let mut problems = Vec::new();
    let mut tally = Tally::default();
    let mut writes: Vec<(SealedFile, String)> = Vec::new();
    for report in parallel_map(&files, |path| reseal_path(path, &shared)) {
        let report = report?;
        for note in &report.notes {
            eprintln!("{note}");
        }
        problems.extend(report.problems);
        tally.add(&report.tally);
        writes.extend(report.write);
    }
    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("{problem}");
        }
        return Err(crate::error::CommandError::ResealProblems {
            count: problems.len(),
        }
        .into());
    }
    tally.files_changed = writes.len();
    if !args.dry_run {
        for (file, text) in &writes {
            output::write_atomic(&file.path, text.as_bytes(), false)?;
        }
    }
    let recorded = if tally.recorded == 0 {
        String::new()
    } else {
        format!(
            ", recorded the certificate in {} SealedSecret{}",
            tally.recorded,
            plural(tally.recorded)
        )
    };
    if args.record_only {
        println!(
            "{}recorded the certificate {new_fp} in {} SealedSecret{} ({} file{}); {} already recorded it; {} record another certificate and were left alone; only the key size was checked, not that the key opens the items",
            if args.dry_run {
                "dry run: would have "
            } else {
                ""
            },
            tally.recorded,
            plural(tally.recorded),
            tally.files_changed,
            plural(tally.files_changed),
            tally.already,
            tally.other_key,
        );
        return Ok(());
    }
    println!(
        "{}resealed {} item{} in {} SealedSecret{}{recorded} ({} file{}) for {new_fp}; {} already sealed for it; {} sealed with other keys left alone",
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

/// What every file's work shares.
struct Shared<'a> {
    keys: &'a [&'a dyn Decrypter],
    new_private: Option<&'a PrivateKey>,
    cert: &'a sealed_secrets_core::cert::Certificate,
    new_fp: &'a str,
    args: &'a ResealArgs,
}

/// One file's outcome.
#[derive(Default)]
struct FileReport {
    problems: Vec<String>,
    /// Progress lines, printed in path order.
    notes: Vec<String>,
    tally: Tally,
    write: Option<(SealedFile, String)>,
}

fn reseal_path(path: &std::path::Path, shared: &Shared<'_>) -> Result<FileReport, CliError> {
    let mut report = FileReport::default();
    let bytes = input::read_file(path)?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(report);
    };
    let mut file = match sealed_file::parse(path, text) {
        Ok(Some(file)) => file,
        Ok(None) => return Ok(report),
        Err(e) => {
            report.problems.push(e.to_string());
            return Ok(report);
        }
    };
    if let Some(expected) = reseal_file(&mut file, shared, &mut report)? {
        match file.render_checked(&expected) {
            Ok(text) => report.write = Some((file, text)),
            Err(e) => report.problems.push(e.to_string()),
        }
    }
    Ok(report)
}

/// `f` over `items` on up to `available_parallelism` threads; the results in `items`' order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(index) else { break };
                        out.push((index, f(item)));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| match worker.join() {
                Ok(out) => out,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    });
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, r)| r).collect()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Re-encrypts the items of one file; returns the expected objects when something changed.
fn reseal_file(
    file: &mut SealedFile,
    shared: &Shared<'_>,
    report: &mut FileReport,
) -> Result<Option<Vec<sealed_secrets_core::types::SealedSecret>>, CliError> {
    let Shared {
        keys,
        new_private,
        cert,
        new_fp,
        args,
    } = *shared;
    let mut expected: Vec<_> = file.objects.iter().map(|o| o.sealed.clone()).collect();
    let mut changed = false;
    #[allow(clippy::needless_range_loop)] // `index` also addresses `file`, which is edited
    for index in 0..file.objects.len() {
        let object = file.objects[index].clone();
        let prefix = format!("{}: {}", file.shown, object.describe());
        let ss = &object.sealed;
        if ss.spec.data.is_some() {
            report.problems.push(format!(
                "{prefix}: legacy spec.data is not supported; convert it with --re-encrypt first"
            ));
            continue;
        }
        let recorded_new = object.sealed_with() == Some(new_fp);
        if args.record_only {
            if record_only(file, index, &mut expected, shared, report)? {
                changed = true;
            }
            continue;
        }
        let (problems, tally) = (&mut report.problems, &mut report.tally);
        let mut resealer = ItemResealer::new(ss, keys);
        let mut work = Work::default();
        let mut new_items = BTreeMap::new();
        let mut all_on_new = true;
        let mut object_changed = false;
        for (item, text) in ss.items() {
            if new_private.is_some_and(|k| resealer.opens_with(k, text, &mut work)) {
                tally.already += 1;
                continue;
            }
            let resealed = resealer.reseal(text, cert.public_key(), &mut work, |index| {
                let opener = keys[index].fingerprint().to_string();
                args.only_key.as_deref().is_none_or(|only| only == opener)
            });
            match resealed {
                Ok(Resealed::Sealed { text, .. }) => {
                    new_items.insert(item.to_owned(), text);
                    tally.resealed += 1;
                    object_changed = true;
                }
                Ok(Resealed::Skipped { .. }) => {
                    tally.other_key += 1;
                    all_on_new = false;
                }
                Err(ResealItemError::NoKey) if recorded_new => tally.already += 1,
                Err(ResealItemError::Base64(_)) => {
                    problems.push(format!("{prefix}: item {item:?} is not valid base64"));
                }
                Err(ResealItemError::NoKey) => {
                    problems.push(format!("{prefix}: item {item:?}: no key could decrypt it"));
                }
                // (In-memory keys are never unavailable; reported like the budget if one were.)
                Err(e @ (ResealItemError::TooMuchWork | ResealItemError::KeyUnavailable(_))) => {
                    problems.push(format!("{prefix}: item {item:?}: {e}"));
                }
                Err(ResealItemError::Encrypt) => {
                    return Err(crate::error::CommandError::ResealEncrypt {
                        at: prefix.to_string(),
                        item: item.to_owned(),
                    }
                    .into());
                }
            }
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
        let mut recorded = false;
        if all_on_new && has_items && !recorded_new {
            record(file, index, &mut expected, new_fp)?;
            tally.recorded += 1;
            recorded = true;
            object_changed = true;
        }
        if object_changed {
            tally.objects_changed += 1;
            changed = true;
            let count = new_items_count(&object, &expected[index]);
            let what = match (count, recorded) {
                (0, _) => "certificate recorded, items already sealed for it".to_owned(),
                (n, false) => format!("{n} item{} resealed", plural(n)),
                (n, true) => format!("{n} item{} resealed, certificate recorded", plural(n)),
            };
            let what = if args.dry_run {
                format!("would be: {what}")
            } else {
                what
            };
            report.notes.push(format!("{prefix}: {what}"));
        }
    }
    Ok(changed.then_some(expected))
}

/// Sets the object's `sealed-with` annotation to `fingerprint`, in the file and in `expected`.
fn record(
    file: &mut SealedFile,
    index: usize,
    expected: &mut [sealed_secrets_core::types::SealedSecret],
    fingerprint: &str,
) -> Result<(), CliError> {
    file.edit(index, |chunk| {
        edit::set_entry(chunk, &ANNOTATIONS, SEALED_WITH_ANNOTATION, fingerprint)
    })?;
    expected[index]
        .metadata
        .annotations
        .insert(SEALED_WITH_ANNOTATION.to_owned(), fingerprint.to_owned());
    Ok(())
}

/// `--record-only`: records the certificate on an object that records none, when every item is
/// an RSA block of the certificate's key size and the object passes `check`'s scope rules (the
/// evidence there is without the private key). Returns whether the object changed.
fn record_only(
    file: &mut SealedFile,
    index: usize,
    expected: &mut [sealed_secrets_core::types::SealedSecret],
    shared: &Shared<'_>,
    report: &mut FileReport,
) -> Result<bool, CliError> {
    let object = file.objects[index].clone();
    let prefix = format!("{}: {}", file.shown, object.describe());
    let items = object.sealed.item_count();
    match object.sealed_with() {
        Some(fp) if fp == shared.new_fp => {
            report.tally.already += 1;
            return Ok(false);
        }
        Some(_) => {
            report.tally.other_key += 1;
            return Ok(false);
        }
        None if items == 0 => return Ok(false),
        None => {}
    }
    // check's rules first: an item that is not base64, or shorter than the RSA block its length
    // prefix announces, is not a sealed item whatever its prefix says.
    let problems = sealed_secrets_core::check::check_sealed_object(&prefix, &object.sealed);
    if !problems.is_empty() {
        report.problems.extend(problems);
        return Ok(false);
    }
    let size = shared.cert.public_key().size_bytes();
    for (item, text) in object.sealed.items() {
        let block = sealed_secrets_core::types::base64_std::decode(text)
            .ok()
            .and_then(|blob| sealed_secrets_core::crypto::rsa_block_len(&blob));
        match block {
            Some(block) if block == size => {}
            Some(block) => {
                report.problems.push(format!(
                    "{prefix}: item {item:?} is sealed for a {}-bit key, the certificate has a {}-bit key: not recorded",
                    block * 8,
                    size * 8
                ));
                return Ok(false);
            }
            None => {
                report
                    .problems
                    .push(format!("{prefix}: item {item:?} is not a sealed item"));
                return Ok(false);
            }
        }
    }
    record(file, index, expected, shared.new_fp)?;
    report.tally.recorded += 1;
    report.tally.objects_changed += 1;
    report.notes.push(format!(
        "{prefix}: {}certificate recorded ({items} item{} of its key size)",
        if shared.args.dry_run {
            "would be: "
        } else {
            ""
        },
        plural(items)
    ));
    Ok(true)
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

#[cfg(test)]
mod tests {
    use super::parallel_map;

    #[test]
    fn parallel_map_keeps_the_input_order() {
        let items: Vec<u64> = (0..1000).collect();
        let out = parallel_map(&items, |n| {
            // Uneven work, so the threads finish out of order.
            (0..(n % 7) * 1000).fold(*n, |acc, i| acc.wrapping_add(i % 3))
                - (0..(n % 7) * 1000).map(|i| i % 3).sum::<u64>()
        });
        assert_eq!(out, items);
        assert!(parallel_map(&[] as &[u64], |n| *n).is_empty());
    }
}
