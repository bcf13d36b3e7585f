//! Manifest files as the GitOps commands see them: the files under some paths, and one file
//! cut into documents (`edit::Chunk`s) with the SealedSecrets in it, edited as text and checked
//! by reading the result back before anything is written.

use std::path::{Path, PathBuf};

use sealed_secrets_core::check::SEALED_WITH_ANNOTATION;
use sealed_secrets_core::edit::{self, Chunk};
use sealed_secrets_core::manifest;
use sealed_secrets_core::types::SealedSecret;

use crate::input;

/// Why a manifest file cannot be read or edited; every message starts with the file.
#[derive(Debug, thiserror::Error)]
pub enum SealedFileError {
    /// A path or directory that cannot be read.
    #[error("{path}: {error}")]
    Io { path: String, error: String },
    /// A document that does not parse or is not a SealedSecret.
    #[error("{file}: {error}")]
    Document { file: String, error: String },
    #[error("{0}: SealedSecrets inside a List cannot be edited in place")]
    InList(String),
    #[error("{0}: not UTF-8 text")]
    NotUtf8(String),
    #[error("{0}: no SealedSecret in the file")]
    NoSealedSecret(String),
    #[error("{file}: no SealedSecret named {name:?}")]
    NoneNamed { file: String, name: String },
    #[error("{file}: {count} SealedSecrets in the file; choose one with --name")]
    Several { file: String, count: usize },
    #[error("{file}: {object}: {error}")]
    Edit {
        file: String,
        object: String,
        error: String,
    },
    #[error("{0}: the edited file did not read back as intended; it was left unchanged")]
    ReadBack(String),
    #[error(transparent)]
    Input(#[from] input::InputError),
}

/// The path as shown in messages (without a leading `./`).
#[must_use]
pub fn display(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf));
    let text = relative.as_deref().unwrap_or(path).display().to_string();
    text.strip_prefix("./").map(str::to_owned).unwrap_or(text)
}

/// The manifest files under `paths`: files given by name, and `.yaml`, `.yml` and `.json` files
/// found by walking directories (sorted; hidden entries and symbolic links skipped).
///
/// # Errors
/// A path does not exist or a directory cannot be read.
pub fn walk(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SealedFileError> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| SealedFileError::Io {
            path: display(path),
            error: e.to_string(),
        })?;
        if meta.is_dir() {
            walk_dir(path, &mut out)?;
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SealedFileError> {
    let err = |e: std::io::Error| SealedFileError::Io {
        path: display(dir),
        error: e.to_string(),
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(err)?;
        let path = entry.path();
        if kind.is_dir() {
            walk_dir(&path, out)?;
        } else if kind.is_file()
            && path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            out.push(path);
        }
    }
    Ok(())
}

/// One SealedSecret of a file: the chunk (document) it is in, and the object.
#[derive(Clone, Debug)]
pub struct Object {
    pub chunk: usize,
    pub sealed: SealedSecret,
}

impl Object {
    /// `SealedSecret ns/name`, for messages.
    #[must_use]
    pub fn describe(&self) -> String {
        let m = &self.sealed.metadata;
        if m.namespace.is_empty() {
            format!("SealedSecret {}", m.name)
        } else {
            format!("SealedSecret {}/{}", m.namespace, m.name)
        }
    }

    /// The recorded sealing certificate, if any.
    #[must_use]
    pub fn sealed_with(&self) -> Option<&str> {
        self.sealed
            .metadata
            .annotations
            .get(SEALED_WITH_ANNOTATION)
            .map(String::as_str)
    }
}

/// A manifest file cut into documents.
#[derive(Debug)]
pub struct SealedFile {
    pub path: PathBuf,
    pub shown: String,
    pub chunks: Vec<Chunk>,
    pub objects: Vec<Object>,
}

/// Reads the SealedSecrets of `text`. `Ok(None)` when the file holds none.
///
/// # Errors
/// A document that is a SealedSecret does not parse, or SealedSecrets sit inside a `List`.
pub fn parse(path: &Path, text: &str) -> Result<Option<SealedFile>, SealedFileError> {
    let shown = display(path);
    let chunks = edit::split(text);
    let mut objects = Vec::new();
    for (index, chunk) in chunks.iter().enumerate() {
        let documents = match manifest::read_documents(chunk.text.as_bytes()) {
            Ok(documents) => documents,
            Err(_) if !chunk.text.contains("SealedSecret") => continue,
            Err(e) => {
                return Err(SealedFileError::Document {
                    file: shown,
                    error: e.to_string(),
                });
            }
        };
        let count = documents.len();
        for document in documents {
            if document.kind() != Some("SealedSecret") {
                continue;
            }
            if count > 1 || document.position().item.is_some() {
                return Err(SealedFileError::InList(shown));
            }
            let sealed = document
                .into_sealed_secret()
                .map_err(|e| SealedFileError::Document {
                    file: shown.clone(),
                    error: e.to_string(),
                })?;
            objects.push(Object {
                chunk: index,
                sealed,
            });
        }
    }
    if objects.is_empty() {
        return Ok(None);
    }
    Ok(Some(SealedFile {
        path: path.to_path_buf(),
        shown,
        chunks,
        objects,
    }))
}

/// Reads and parses a file that must hold SealedSecrets.
///
/// # Errors
/// Unreadable, not UTF-8, or no SealedSecret in it.
pub fn open(path: &Path) -> Result<SealedFile, SealedFileError> {
    let bytes = input::read_file(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| SealedFileError::NotUtf8(display(path)))?;
    parse(path, text)?.ok_or_else(|| SealedFileError::NoSealedSecret(display(path)))
}

impl SealedFile {
    /// The one SealedSecret to edit: the only one, or the one named `name`.
    ///
    /// # Errors
    /// None or several match.
    pub fn select(&self, name: Option<&str>) -> Result<usize, SealedFileError> {
        let matching: Vec<usize> = (0..self.objects.len())
            .filter(|&i| name.is_none_or(|n| self.objects[i].sealed.metadata.name == n))
            .collect();
        match (matching.as_slice(), name) {
            ([one], _) => Ok(*one),
            ([], Some(n)) => Err(SealedFileError::NoneNamed {
                file: self.shown.clone(),
                name: n.to_string(),
            }),
            (_, _) => Err(SealedFileError::Several {
                file: self.shown.clone(),
                count: matching.len(),
            }),
        }
    }

    /// Applies an edit to the chunk of object `index`.
    ///
    /// # Errors
    /// The edit is not possible in this layout.
    pub fn edit(
        &mut self,
        index: usize,
        change: impl FnOnce(&Chunk) -> Result<String, edit::EditError>,
    ) -> Result<(), SealedFileError> {
        let object = &self.objects[index];
        let chunk = &mut self.chunks[object.chunk];
        let text = change(chunk).map_err(|e| SealedFileError::Edit {
            file: self.shown.clone(),
            object: object.describe(),
            error: e.to_string(),
        })?;
        chunk.text = text;
        Ok(())
    }

    /// The file's new text, after checking that reading it back gives exactly `expected`
    /// (the objects as they should now be, in file order).
    ///
    /// # Errors
    /// The edited text does not read back as intended (nothing is written then).
    pub fn render_checked(&self, expected: &[SealedSecret]) -> Result<String, SealedFileError> {
        let text = edit::join(&self.chunks);
        let mismatch = || SealedFileError::ReadBack(self.shown.clone());
        let reread = parse(&self.path, &text)
            .map_err(|_| mismatch())?
            .ok_or_else(mismatch)?;
        let got: Vec<&SealedSecret> = reread.objects.iter().map(|o| &o.sealed).collect();
        let want: Vec<&SealedSecret> = expected.iter().collect();
        if got == want {
            Ok(text)
        } else {
            Err(mismatch())
        }
    }
}
