//! The repository config, `.sealed-secrets.toml`: which certificates the SealedSecrets under
//! which paths may be sealed with, by environment. Found by walking up from the current
//! directory (or given with `--config`); paths in it are relative to its own directory.
//!
//! ```toml
//! [environments.prod]
//! cert = "certs/prod.pem"                 # pins its fingerprint; expiry and key size checked
//! fingerprints = ["SHA256:…"]             # more pinned fingerprints (optional)
//! paths = ["clusters/prod/**"]            # globs: `*`, `?` in a segment, `**` any segments
//! max-age = "90d"                         # items sealed longer ago fail `check` (w, d, h, m, s)
//!
//! [check]
//! require-sealed-with = true              # default: a SealedSecret must record its certificate
//! ```

use std::path::{Component, Path, PathBuf};

use sealed_secrets_core::cert::Certificate;
use toml_edit::{DocumentMut, Item, TableLike};

use crate::input;

/// The config's file name.
pub const FILE_NAME: &str = ".sealed-secrets.toml";

/// One environment (cluster).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    pub name: String,
    /// The certificate file, resolved against the config's directory.
    pub cert: Option<PathBuf>,
    /// The certificate file as written in the config (for messages).
    pub cert_text: Option<String>,
    pub fingerprints: Vec<String>,
    pub paths: Vec<String>,
    /// The rotation policy: items sealed longer ago fail `check` (as written, parsed).
    pub max_age: Option<(String, time::Duration)>,
}

/// A parsed config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoConfig {
    /// The config file.
    pub path: PathBuf,
    /// Its directory: the root that `paths` globs are relative to.
    pub root: PathBuf,
    pub environments: Vec<Environment>,
    pub require_sealed_with: bool,
}

/// A repository config that cannot be used; every message names the file or environment.
#[derive(Debug, thiserror::Error)]
pub enum RepoConfigError {
    /// `FILE: reason`.
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("cannot read the current directory: {0}")]
    CurrentDir(String),
    #[error("environment {name}: cannot read certificate {shown}: {error}")]
    CertUnreadable {
        name: String,
        shown: String,
        error: String,
    },
    #[error("environment {name}: certificate {shown}: {error}")]
    CertInvalid {
        name: String,
        shown: String,
        error: String,
    },
    #[error(transparent)]
    Input(#[from] input::InputError),
}

fn config_error(path: &Path, reason: impl std::fmt::Display) -> RepoConfigError {
    RepoConfigError::Invalid {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Finds the config: `explicit`, else the nearest `.sealed-secrets.toml` from the current
/// directory upwards. `Ok(None)` when there is none.
///
/// # Errors
/// The file cannot be read or is invalid.
pub fn load(explicit: Option<&Path>) -> Result<Option<RepoConfig>, RepoConfigError> {
    let path = match explicit {
        Some(path) => path.to_path_buf(),
        None => {
            let cwd =
                std::env::current_dir().map_err(|e| RepoConfigError::CurrentDir(e.to_string()))?;
            match cwd
                .ancestors()
                .map(|dir| dir.join(FILE_NAME))
                .find(|p| p.is_file())
            {
                Some(found) => found,
                None => return Ok(None),
            }
        }
    };
    let bytes = input::read_file_limited(&path, input::CONFIG_LIMIT).map_err(|e| match e {
        input::InputError::File { source, .. } => config_error(&path, source),
        other => RepoConfigError::Input(other),
    })?;
    let text = std::str::from_utf8(&bytes).map_err(|_| config_error(&path, "not UTF-8 text"))?;
    parse(&path, text).map(Some)
}

/// Parses the config text.
///
/// # Errors
/// Invalid TOML, unknown keys or values of the wrong type.
pub fn parse(path: &Path, text: &str) -> Result<RepoConfig, RepoConfigError> {
    let doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| config_error(path, e.message().trim().to_owned()))?;
    let root = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut config = RepoConfig {
        path: path.to_path_buf(),
        root,
        environments: Vec::new(),
        require_sealed_with: true,
    };
    for (key, item) in doc.iter() {
        match key {
            "environments" => {
                let table = table(path, key, item)?;
                for (name, env) in table.iter() {
                    config
                        .environments
                        .push(environment(path, &config.root, name, env)?);
                }
            }
            "check" => {
                for (k, v) in table(path, key, item)?.iter() {
                    match k {
                        "require-sealed-with" => {
                            config.require_sealed_with = v.as_bool().ok_or_else(|| {
                                config_error(
                                    path,
                                    "check.require-sealed-with must be true or false",
                                )
                            })?;
                        }
                        other => {
                            return Err(config_error(path, format!("unknown key check.{other}")));
                        }
                    }
                }
            }
            other => return Err(config_error(path, format!("unknown key {other}"))),
        }
    }
    Ok(config)
}

fn table<'i>(path: &Path, key: &str, item: &'i Item) -> Result<&'i dyn TableLike, RepoConfigError> {
    item.as_table_like()
        .ok_or_else(|| config_error(path, format!("{key} must be a table")))
}

fn strings(path: &Path, key: &str, item: &Item) -> Result<Vec<String>, RepoConfigError> {
    let wrong = || config_error(path, format!("{key} must be a list of strings"));
    item.as_array()
        .ok_or_else(wrong)?
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(wrong))
        .collect()
}

fn environment(
    path: &Path,
    root: &Path,
    name: &str,
    item: &Item,
) -> Result<Environment, RepoConfigError> {
    let mut env = Environment {
        name: name.to_owned(),
        cert: None,
        cert_text: None,
        fingerprints: Vec::new(),
        paths: Vec::new(),
        max_age: None,
    };
    for (key, value) in table(path, &format!("environments.{name}"), item)?.iter() {
        let full = format!("environments.{name}.{key}");
        match key {
            "cert" => {
                let text = value
                    .as_str()
                    .ok_or_else(|| config_error(path, format!("{full} must be a string")))?;
                env.cert = Some(root.join(text));
                env.cert_text = Some(text.to_owned());
            }
            "fingerprints" => {
                env.fingerprints = strings(path, &full, value)?;
                if let Some(bad) = env.fingerprints.iter().find(|f| !f.starts_with("SHA256:")) {
                    return Err(config_error(
                        path,
                        format!("{full}: {bad:?} is not a SHA256:… fingerprint"),
                    ));
                }
            }
            "paths" => env.paths = strings(path, &full, value)?,
            "max-age" => {
                let text = value
                    .as_str()
                    .ok_or_else(|| config_error(path, format!("{full} must be a string")))?;
                let age = crate::commands::keygen::parse_duration(text)
                    .map_err(|e| config_error(path, format!("{full}: {e}")))?;
                env.max_age = Some((text.to_owned(), age));
            }
            other => {
                return Err(config_error(
                    path,
                    format!("unknown key environments.{name}.{other}"),
                ));
            }
        }
    }
    Ok(env)
}

impl RepoConfig {
    /// The environment called `name`.
    ///
    /// # Errors
    /// There is none.
    pub fn environment(&self, name: &str) -> Result<&Environment, RepoConfigError> {
        self.environments
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.environments.iter().map(|e| e.name.as_str()).collect();
                let known = if known.is_empty() {
                    "it defines none".to_owned()
                } else {
                    format!("it defines {}", known.join(", "))
                };
                config_error(&self.path, format!("no environment {name:?}; {known}"))
            })
    }

    /// The environments whose `paths` match `file`.
    #[must_use]
    pub fn environments_for(&self, file: &Path) -> Vec<&Environment> {
        let Some(relative) = relative_to(file, &self.root) else {
            return Vec::new();
        };
        self.environments
            .iter()
            .filter(|e| e.paths.iter().any(|p| glob_matches(p, &relative)))
            .collect()
    }
}

impl Environment {
    /// Reads the environment's certificate file, if it has one.
    ///
    /// # Errors
    /// The file cannot be read or parsed.
    pub fn load_cert(&self) -> Result<Option<Certificate>, RepoConfigError> {
        let Some(path) = &self.cert else {
            return Ok(None);
        };
        let shown = self.cert_text.as_deref().unwrap_or_default();
        let bytes = input::read_file_limited(path, input::CERT_LIMIT).map_err(|e| match e {
            input::InputError::File { source, .. } => RepoConfigError::CertUnreadable {
                name: self.name.clone(),
                shown: shown.to_owned(),
                error: source.to_string(),
            },
            other => RepoConfigError::Input(other),
        })?;
        Certificate::from_pem(&bytes)
            .map(Some)
            .map_err(|e| RepoConfigError::CertInvalid {
                name: self.name.clone(),
                shown: shown.to_owned(),
                error: e.to_string(),
            })
    }
}

/// `file` relative to `root` as `/`-separated segments (both made absolute first).
fn relative_to(file: &Path, root: &Path) -> Option<Vec<String>> {
    let absolute = |p: &Path| -> Option<PathBuf> {
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().ok()?.join(p)
        };
        let mut out = PathBuf::new();
        for component in p.components() {
            match component {
                Component::CurDir => {}
                Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        Some(out)
    };
    let file = absolute(file)?;
    let root = absolute(root)?;
    let rest = file.strip_prefix(&root).ok()?;
    Some(
        rest.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect(),
    )
}

/// Whether `pattern` (`/`-separated; `**` = any number of segments, `*` and `?` within one)
/// matches the path or one of its parent directories.
#[must_use]
pub fn glob_matches(pattern: &str, path: &[String]) -> bool {
    let pattern: Vec<&str> = pattern
        .trim_start_matches("./")
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    (1..=path.len()).any(|n| segments_match(&pattern, &path[..n]))
}

fn segments_match(pattern: &[&str], path: &[String]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| segments_match(rest, &path[skip..])),
        Some((first, rest)) => path.split_first().is_some_and(|(p, tail)| {
            segment_match(first.as_bytes(), p.as_bytes()) && segments_match(rest, tail)
        }),
    }
}

fn segment_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| segment_match(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && segment_match(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && segment_match(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        s.split('/').map(str::to_owned).collect()
    }

    #[test]
    fn globs() {
        assert!(glob_matches(
            "clusters/prod/**",
            &p("clusters/prod/a/b.yaml")
        ));
        assert!(glob_matches("clusters/prod", &p("clusters/prod/b.yaml")));
        assert!(glob_matches("**/*.yaml", &p("x/y/b.yaml")));
        assert!(glob_matches(
            "clusters/*/db.yaml",
            &p("clusters/dev/db.yaml")
        ));
        assert!(!glob_matches(
            "clusters/prod/*",
            &p("clusters/production/b.yaml")
        ));
        assert!(!glob_matches(
            "clusters/prod/*.json",
            &p("clusters/prod/b.yaml")
        ));
        assert!(glob_matches("a?c/*", &p("abc/x")));
    }

    #[test]
    fn parses_and_rejects_typos() {
        let path = Path::new("repo/.sealed-secrets.toml");
        let config = parse(
            path,
            "[environments.prod]\ncert = \"certs/prod.pem\"\npaths = [\"prod/**\"]\nmax-age = \"2w\"\n\n[environments.dev]\nfingerprints = [\"SHA256:abc\"]\npaths = [\"dev\"]\n\n[check]\nrequire-sealed-with = false\n",
        )
        .unwrap();
        assert_eq!(config.environments.len(), 2);
        assert_eq!(
            config.environments[0].cert.as_deref(),
            Some(Path::new("repo/certs/prod.pem"))
        );
        assert!(!config.require_sealed_with);
        assert_eq!(
            config.environments[0].max_age,
            Some(("2w".to_owned(), time::Duration::days(14)))
        );
        assert_eq!(config.environments[1].max_age, None);
        let err = parse(path, "[environments.prod]\nmax-age = \"90\"\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "repo/.sealed-secrets.toml: environments.prod.max-age: invalid duration \"90\": use units w, d, h, m or s, e.g. 87600h"
        );
        let err = parse(path, "[environments.prod]\nmax-age = 90\n").unwrap_err();
        assert!(
            err.to_string()
                .ends_with("environments.prod.max-age must be a string")
        );
        let err = parse(path, "[environments.prod]\npath = [\"x\"]\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "repo/.sealed-secrets.toml: unknown key environments.prod.path"
        );
        let err = parse(path, "[environments.prod]\nfingerprints = [\"md5:x\"]\n").unwrap_err();
        assert!(err.to_string().contains("is not a SHA256:… fingerprint"));
    }
}
