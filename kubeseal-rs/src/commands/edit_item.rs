//! `set FILE KEY` and `unset FILE KEY`: change one item of a SealedSecret file in place, as a
//! text edit (comments, order, formatting and the other items' ciphertexts stay byte for
//! byte), written atomically after the result has been read back and compared.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::Path;
use std::process::{Command, Stdio};

use sealed_secrets_core::cert::Certificate;
use sealed_secrets_core::edit::{self, Chunk};
use sealed_secrets_core::seal;
use sealed_secrets_core::sealed_at::{self, SEALED_AT_ANNOTATION};
use sealed_secrets_core::types::{SealedSecret, base64_std};
use zeroize::Zeroizing;

use crate::cli::{SetArgs, UnsetArgs};
use crate::error::{CliError, CommandError, SetError};
use crate::sealed_file::{Object, SealedFile};
use crate::{input, output, sealed_file};

/// `spec.encryptedData`.
pub const ENCRYPTED_DATA: [&str; 2] = ["spec", "encryptedData"];
/// `metadata.annotations` (the outer ones).
pub const ANNOTATIONS: [&str; 2] = ["metadata", "annotations"];

/// The object's `sealed-at` value after `key` was sealed now (other items' times kept).
fn sealed_at_after_set(
    file: &SealedFile,
    object: &Object,
    key: &str,
    now: time::OffsetDateTime,
) -> Result<String, CliError> {
    let existing = object.sealed.metadata.annotations.get(SEALED_AT_ANNOTATION);
    sealed_at::updated(existing.map(String::as_str), [key], now).map_err(|e| {
        CommandError::SealedAt {
            at: format!("{}: {}", file.shown, object.describe()),
            error: e.to_string(),
        }
        .into()
    })
}

/// `change` applied to a chunk's text, keeping its syntax.
fn then<T>(
    chunk: &Chunk,
    text: String,
    change: impl FnOnce(&Chunk) -> Result<T, edit::EditError>,
) -> Result<T, edit::EditError> {
    change(&Chunk {
        text,
        syntax: chunk.syntax,
    })
}

/// Refuses to add an item sealed for another key than the object's other items.
fn check_same_key(file: &SealedFile, object: &Object, cert: &Certificate) -> Result<(), CliError> {
    let fingerprint = cert.fingerprint().to_string();
    let prefix = format!("{}: {}", file.shown, object.describe());
    if let Some(recorded) = object.sealed_with()
        && recorded != fingerprint
    {
        return Err(SetError::OtherKey {
            at: prefix,
            recorded: recorded.to_owned(),
            fingerprint,
        }
        .into());
    }
    let size = cert.public_key().size_bytes();
    for (item, text) in object.sealed.spec.encrypted_data.iter().flatten() {
        let block = base64_std::decode(text)
            .ok()
            .and_then(|blob| sealed_secrets_core::crypto::rsa_block_len(&blob));
        if let Some(block) = block.filter(|b| *b != size) {
            return Err(SetError::KeySize {
                at: prefix,
                item: item.clone(),
                sealed_bits: block * 8,
                cert_bits: size * 8,
            }
            .into());
        }
    }
    Ok(())
}

/// The value: `--from-file`, else a hidden prompt on a terminal, else all of stdin.
fn read_value(from_file: Option<&Path>, key: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    if let Some(path) = from_file {
        return Ok(input::read_file(path)?);
    }
    if !std::io::stdin().is_terminal() {
        return Ok(input::read_stdin_limited(input::MANIFEST_LIMIT)?);
    }
    prompt_hidden(key)
}

/// Reads the value twice from the terminal with echo turned off by `stty` (no raw terminal
/// calls): a typing mistake nobody can see would otherwise be sealed.
fn prompt_hidden(key: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let stty = |arg: &str| {
        Command::new("stty")
            .arg(arg)
            .stdin(Stdio::inherit())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !stty("-echo") {
        return Err(SetError::NoHiddenInput.into());
    }
    let read_line = |prompt: &str| -> std::io::Result<Zeroizing<String>> {
        eprint!("{prompt}");
        let mut line = Zeroizing::new(String::new());
        let read = std::io::stdin().lock().read_line(&mut line);
        eprintln!();
        read.map(|_| line)
    };
    let first = read_line(&format!("value for {key} (input hidden): "));
    let second = match &first {
        Ok(_) => read_line("again, to confirm: "),
        Err(_) => Ok(Zeroizing::new(String::new())),
    };
    stty("echo");
    let (first, second) = (
        first.map_err(input::InputError::Stdin)?,
        second.map_err(input::InputError::Stdin)?,
    );
    let value = first.trim_end_matches(['\n', '\r']);
    if value != second.trim_end_matches(['\n', '\r']) {
        return Err(SetError::Mismatch(key.to_owned()).into());
    }
    Ok(Zeroizing::new(value.as_bytes().to_vec()))
}

fn expected_objects(file: &SealedFile) -> Vec<SealedSecret> {
    file.objects.iter().map(|o| o.sealed.clone()).collect()
}

/// Runs `set`.
///
/// # Errors
/// Unusable file, certificate or value, or an edit this layout does not allow.
pub fn run_set(args: SetArgs) -> Result<(), CliError> {
    let SetArgs {
        file: path,
        key,
        from_file,
        allow_empty,
        name,
        cert,
    } = args;
    let mut file = sealed_file::open(&path)?;
    let index = file.select(name.as_deref())?;
    let source = crate::mode::cert_args_source(&cert);
    let config = cert.config;
    let cert = super::sealing_cert_from(&source)?;
    let object = file.objects[index].clone();
    let meta = &object.sealed.metadata;
    let scope = meta.scope();
    let text = edit::join(&file.chunks);
    super::consistency::refuse_mismatch(
        "set",
        &super::consistency::EditTarget {
            path: &file.path,
            shown: &file.shown,
            text: text.as_bytes(),
            object: &object.describe(),
            sealed: &object.sealed,
            config: config.as_deref(),
        },
        &cert,
        &super::consistency::SealedFor {
            namespace: meta.namespace.clone(),
            name: meta.name.clone(),
            scope,
            fingerprint: Some(cert.fingerprint().to_string()),
        },
    )?;
    // Also covered above when the file records its certificate; kept for files that do not.
    check_same_key(&file, &object, &cert)?;
    // Before the value is asked for: an unreadable record fails without a prompt.
    let stamped = sealed_at_after_set(&file, &object, &key, super::now()?)?;
    let value = read_value(from_file.as_deref(), &key)?;
    if value.is_empty() && !allow_empty {
        let from = from_file.as_deref().map_or_else(
            || {
                if std::io::stdin().is_terminal() {
                    "the prompt".to_owned()
                } else {
                    "stdin".to_owned()
                }
            },
            |p| p.display().to_string(),
        );
        return Err(SetError::Empty {
            at: format!("{}: {}", file.shown, object.describe()),
            key: key.clone(),
            from,
        }
        .into());
    }
    let ciphertext = seal::encrypt_item(
        cert.public_key(),
        scope,
        &meta.namespace,
        &meta.name,
        &value,
    )
    .map_err(|e| {
        CliError::from(SetError::Encrypt {
            at: format!("{}: {}", file.shown, object.describe()),
            key: key.clone(),
            error: e.to_string(),
        })
    })?;
    drop(value);
    let mut expected = expected_objects(&file);
    expected[index]
        .spec
        .encrypted_data
        .get_or_insert_with(Default::default)
        .insert(key.clone(), ciphertext.clone());
    expected[index]
        .metadata
        .annotations
        .insert(SEALED_AT_ANNOTATION.to_owned(), stamped.clone());
    file.edit(index, |chunk| {
        let text = edit::set_entry(chunk, &ENCRYPTED_DATA, &key, &ciphertext)?;
        then(chunk, text, |c| {
            edit::set_string_entry(c, &ANNOTATIONS, SEALED_AT_ANNOTATION, &stamped)
        })
    })?;
    let text = file.render_checked(&expected)?;
    output::write_atomic(&file.path, text.as_bytes(), false)?;
    eprintln!("{}: {}: set item {key:?}", file.shown, object.describe());
    if object.sealed_with().is_none() && object.sealed.item_count() > 0 {
        // Nothing in the file says which cluster its other items are for: not silently.
        eprintln!(
            "note: {}: {} records no certificate (sealed-with): nothing shows that its other items are sealed for {} as the new one is",
            file.shown,
            object.describe(),
            cert.fingerprint()
        );
    }
    Ok(())
}

/// Runs `unset`.
///
/// # Errors
/// Unusable file, no such item, or an edit this layout does not allow.
pub fn run_unset(args: &UnsetArgs) -> Result<(), CliError> {
    let mut file = sealed_file::open(&args.file)?;
    let index = file.select(args.name.as_deref())?;
    let object = file.objects[index].clone();
    if let Some(name) = &args.environment {
        super::consistency::refuse_other_environment(&file, &object, name, args.config.as_deref())?;
    }
    let key = &args.key;
    let mut expected = expected_objects(&file);
    let removed = expected[index]
        .spec
        .encrypted_data
        .as_mut()
        .and_then(|items| items.remove(key));
    if removed.is_none() {
        return Err(SetError::NoItem {
            at: format!("{}: {}", file.shown, object.describe()),
            key: key.clone(),
        }
        .into());
    }
    // Its time goes with it (and the annotation, when no item is left in it).
    let stamped = match object.sealed.metadata.annotations.get(SEALED_AT_ANNOTATION) {
        None => None,
        Some(existing) => Some(sealed_at::without(existing, key).map_err(|e| {
            CliError::from(CommandError::SealedAt {
                at: format!("{}: {}", file.shown, object.describe()),
                error: e.to_string(),
            })
        })?),
    };
    let annotations = &mut expected[index].metadata.annotations;
    match &stamped {
        Some(Some(value)) => {
            annotations.insert(SEALED_AT_ANNOTATION.to_owned(), value.clone());
        }
        Some(None) => {
            annotations.remove(SEALED_AT_ANNOTATION);
        }
        None => {}
    }
    file.edit(index, |chunk| {
        let text = edit::remove_entry(chunk, &ENCRYPTED_DATA, key)?.ok_or(
            edit::EditError::PathNotFound {
                path: format!("spec.encryptedData.{key}"),
            },
        )?;
        match &stamped {
            Some(Some(value)) => then(chunk, text, |c| {
                edit::set_string_entry(c, &ANNOTATIONS, SEALED_AT_ANNOTATION, value)
            }),
            Some(None) => {
                let removed = then(chunk, text.clone(), |c| {
                    edit::remove_entry(c, &ANNOTATIONS, SEALED_AT_ANNOTATION)
                })?;
                Ok(removed.unwrap_or(text))
            }
            None => Ok(text),
        }
    })?;
    let text = file.render_checked(&expected)?;
    output::write_atomic(&file.path, text.as_bytes(), false)?;
    eprintln!(
        "{}: {}: removed item {key:?}",
        file.shown,
        object.describe()
    );
    Ok(())
}
