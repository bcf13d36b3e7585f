//! Where results go: stdout, or a file replaced atomically (temp file in the same directory,
//! fsync, rename) so that a failed run never leaves a truncated or half-written file.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sealed_secrets_core::manifest;
use serde::Serialize;

use crate::cli::Format;

/// An output failure, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write to stdout: {0}")]
    Stdout(#[source] std::io::Error),
    #[error("cannot encode output: {0}")]
    Encode(#[source] manifest::ManifestError),
}

/// Renders one object in `format`, exactly as upstream kubeseal does.
///
/// # Errors
/// The object cannot be encoded.
pub fn render(value: &impl Serialize, format: Format) -> Result<String, OutputError> {
    match format {
        Format::Json => manifest::to_json(value),
        Format::Yaml => manifest::to_yaml(value),
    }
    .map_err(OutputError::Encode)
}

/// Writes `bytes` to `path` atomically, creating it with `mode` on Unix (kept if it exists).
///
/// # Errors
/// Any IO failure; the original file is then untouched.
pub fn write_atomic(path: &Path, bytes: &[u8], private: bool) -> Result<(), OutputError> {
    let err = |source| OutputError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".kubeseal-rs-")
        .tempfile_in(dir)
        .map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = match std::fs::metadata(path) {
            Ok(meta) if !private => meta.permissions().mode(),
            _ if private => 0o600,
            _ => 0o644,
        };
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(err)?;
    }
    tmp.write_all(bytes).map_err(err)?;
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

/// Writes to the file if one is given, else to stdout. A closed stdout (broken pipe) is not
/// an error, as with other Unix filters.
///
/// # Errors
/// Writing failed.
pub fn emit(path: Option<&Path>, bytes: &[u8], private: bool) -> Result<(), OutputError> {
    match path {
        Some(path) => write_atomic(path, bytes, private),
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(bytes).and_then(|()| out.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.map_err(OutputError::Stdout),
            }
        }
    }
}
