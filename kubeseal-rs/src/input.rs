//! Reading inputs with a byte budget: `--secret-file` or stdin, and every other file the CLI
//! reads (key files, value files, merge and edit targets, files under `check`/`reseal`,
//! certificates, the repository config, kubeconfig files).
//!
//! Files may come from an untrusted pull request, or be `/dev/zero` or a FIFO, so nothing is
//! read without a cap and nothing trusts a file's metadata (its size): every read stops one
//! byte past the limit and fails with `FILE: larger than N bytes`.

use std::io::{IsTerminal as _, Read};
use std::path::{Path, PathBuf};

use sealed_secrets_core::manifest;
use zeroize::Zeroizing;

/// Largest manifest, key file, value file or kubeconfig read: 16 MiB. The API server accepts
/// requests up to 3 MiB and etcd objects up to 1.5 MiB, so one object is far smaller; a file
/// may hold many objects, and 16 MiB leaves room for that while keeping memory bounded.
pub const MANIFEST_LIMIT: u64 = 16 * 1024 * 1024;

/// Largest certificate read (a file, a URL's body or a repository config's `cert`): 1 MiB.
/// A PEM certificate chain is a few kilobytes.
pub const CERT_LIMIT: u64 = 1024 * 1024;

/// Largest repository config (`.sealed-secrets.toml`) read: 1 MiB.
pub const CONFIG_LIMIT: u64 = 1024 * 1024;

/// An input failure, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {source}")]
    File {
        path: PathBuf,
        /// What failed, in Go's words: `open` or `read`.
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read stdin: {0}")]
    Stdin(#[source] std::io::Error),
    /// More than `limit` bytes; `what` is the file (or `stdin`).
    #[error("{what}: larger than {limit} bytes")]
    TooLarge { what: String, limit: u64 },
    /// The input file does not read as manifests (the cause names the document).
    #[error("{path}: {source}")]
    Manifest {
        path: PathBuf,
        #[source]
        source: manifest::ManifestError,
    },
    /// Stdin does not read as manifests (the message names the document).
    #[error(transparent)]
    StdinManifest(manifest::ManifestError),
}

/// An I/O error as Go prints it (`no such file or directory`): the system's message in lower
/// case, without Rust's ` (os error N)`. Go's `syscall` messages are the C library's, lower-cased.
#[must_use]
pub fn go_io_text(err: &std::io::Error) -> String {
    let text = err.to_string();
    let text = match (err.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(at)) => &text[..at],
        _ => text.as_str(),
    };
    text.to_lowercase()
}

/// Reads all of `reader`, failing once it gives more than `limit` bytes (reads at most
/// `limit + 1`). The buffer is zeroized on drop, as secrets pass through here.
///
/// # Errors
/// The read fails (`Err(Ok(io))`), or the input is larger than `limit` (`Err(Err(()))`).
fn read_capped(
    reader: impl Read,
    limit: u64,
) -> Result<Zeroizing<Vec<u8>>, Result<std::io::Error, ()>> {
    let mut buf = Zeroizing::new(Vec::new());
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(Ok)?;
    if u64::try_from(buf.len()).map_or(true, |len| len > limit) {
        return Err(Err(()));
    }
    Ok(buf)
}

/// Reads a named file, at most `limit` bytes (zeroized on drop). `/dev/zero`, FIFOs and
/// growing files are read the same way: up to the limit, never by their reported size.
///
/// # Errors
/// The file cannot be read or is larger than `limit`.
pub fn read_file_limited(path: &Path, limit: u64) -> Result<Zeroizing<Vec<u8>>, InputError> {
    let file_error = |op, source| InputError::File {
        path: path.to_path_buf(),
        op,
        source,
    };
    let file = std::fs::File::open(path).map_err(|e| file_error("open", e))?;
    read_capped(file, limit).map_err(|e| match e {
        Ok(source) => file_error("read", source),
        Err(()) => InputError::TooLarge {
            what: path.display().to_string(),
            limit,
        },
    })
}

/// Reads stdin, at most `limit` bytes.
///
/// # Errors
/// Stdin cannot be read or gives more than `limit` bytes.
pub fn read_stdin_limited(limit: u64) -> Result<Zeroizing<Vec<u8>>, InputError> {
    read_capped(std::io::stdin().lock(), limit).map_err(|e| match e {
        Ok(source) => InputError::Stdin(source),
        Err(()) => InputError::TooLarge {
            what: "stdin".to_owned(),
            limit,
        },
    })
}

/// Reads the whole input ([`MANIFEST_LIMIT`]). Secrets pass through here, so the buffer is
/// zeroized on drop.
///
/// # Errors
/// The file or stdin cannot be read, or is too large.
pub fn read_input(file: Option<&Path>, tty_hint: &str) -> Result<Zeroizing<Vec<u8>>, InputError> {
    match file {
        Some(path) => read_file(path),
        None => {
            if std::io::stdin().is_terminal() && !tty_hint.is_empty() {
                eprintln!("{tty_hint}");
            }
            read_stdin_limited(MANIFEST_LIMIT)
        }
    }
}

/// Reads the input ([`read_input`]) and splits it into documents; a failure names the input
/// file (stdin has no name: the error then starts with the document).
///
/// # Errors
/// The input cannot be read, or a document does not parse.
pub fn read_input_documents(
    file: Option<&Path>,
    tty_hint: &str,
) -> Result<Vec<manifest::Document>, InputError> {
    let bytes = read_input(file, tty_hint)?;
    manifest::read_documents(&bytes).map_err(|source| match file {
        Some(path) => InputError::Manifest {
            path: path.to_path_buf(),
            source,
        },
        None => InputError::StdinManifest(source),
    })
}

/// Reads a named manifest, key or value file fully ([`MANIFEST_LIMIT`], zeroized on drop).
///
/// # Errors
/// The file cannot be read or is too large.
pub fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, InputError> {
    read_file_limited(path, MANIFEST_LIMIT)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // test code
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_limit_and_not_past_it() {
        assert_eq!(read_capped(&b"abcd"[..], 4).unwrap().as_slice(), b"abcd");
        assert!(matches!(read_capped(&b"abcde"[..], 4), Err(Err(()))));
        // An endless reader stops one byte past the limit.
        assert!(matches!(
            read_capped(std::io::repeat(0), 1024),
            Err(Err(()))
        ));
    }
}
