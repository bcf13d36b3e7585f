//! Reading the input manifest(s) or raw value: `--secret-file` or stdin.

use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// An input failure, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read stdin: {0}")]
    Stdin(#[source] std::io::Error),
}

/// Reads the whole input. Secrets pass through here, so the buffer is zeroized on drop.
///
/// # Errors
/// The file or stdin cannot be read.
pub fn read_input(file: Option<&Path>, tty_hint: &str) -> Result<Zeroizing<Vec<u8>>, InputError> {
    let mut buf = Zeroizing::new(Vec::new());
    match file {
        Some(path) => {
            let mut f = std::fs::File::open(path).map_err(|source| InputError::File {
                path: path.to_path_buf(),
                source,
            })?;
            f.read_to_end(&mut buf).map_err(|source| InputError::File {
                path: path.to_path_buf(),
                source,
            })?;
        }
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() && !tty_hint.is_empty() {
                eprintln!("{tty_hint}");
            }
            stdin
                .lock()
                .read_to_end(&mut buf)
                .map_err(InputError::Stdin)?;
        }
    }
    Ok(buf)
}

/// Reads a named file fully (zeroized on drop).
///
/// # Errors
/// The file cannot be read.
pub fn read_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, InputError> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|source| InputError::File {
            path: path.to_path_buf(),
            source,
        })
}
