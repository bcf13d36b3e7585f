//! `krm`: a KRM function (exec form) that Kustomize runs as a generator. It reads a
//! `ResourceList` on stdin whose `functionConfig` is a `SealedSecretGenerator`, seals the
//! Secret it describes (files, env files, literals — like Kustomize's `secretGenerator`) and
//! writes the `ResourceList` back with the SealedSecret added to `items`. Failures are KRM
//! `results` on stdout, one line on stderr and exit 1; nothing is added then.
//!
//! The files come from the repository, possibly from an untrusted pull request that CI
//! builds: every path must stay inside the kustomization directory (Kustomize's working
//! directory for the function) — absolute paths, `..` and symlinks leading out are refused —
//! and env-file lines without `=` are refused rather than read from the process environment,
//! so a build cannot seal the CI runner's files or variables into a Secret for the cluster.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use sealed_secrets_core::cert::Certificate;
use sealed_secrets_core::check::SEALED_WITH_ANNOTATION;
use sealed_secrets_core::manifest;
use sealed_secrets_core::scope::Scope;
use sealed_secrets_core::seal::{self, SealOptions};
use sealed_secrets_core::secret_bytes::SecretBytes;
use sealed_secrets_core::types::{ObjectMeta, Secret};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::error::{self, CliError, KrmError};
use crate::{cert_source, input, output, repo_config};

/// The functionConfig's `apiVersion`.
pub const API_VERSION: &str = "kubeseal-rs.sealed-secrets.io/v1alpha1";
/// The functionConfig's `kind`.
pub const KIND: &str = "SealedSecretGenerator";

/// The largest file or env file read, and the most all values may add up to: a Secret holds
/// at most 1 MiB.
const FILE_LIMIT_BYTES: usize = 1024 * 1024;
const FILE_LIMIT: u64 = FILE_LIMIT_BYTES as u64;

/// The fields a `SealedSecretGenerator` may have.
const FIELDS: [&str; 12] = [
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "type",
    "scope",
    "files",
    "envs",
    "literals",
    "cert",
    "environment",
];

/// A checked `SealedSecretGenerator`.
#[derive(Debug, PartialEq, Eq)]
struct Generator {
    name: String,
    namespace: String,
    type_: String,
    scope: Scope,
    files: Vec<String>,
    envs: Vec<String>,
    literals: Vec<String>,
    cert: Option<String>,
    environment: Option<String>,
}

fn config_error(reason: impl std::fmt::Display) -> CliError {
    KrmError::Config(reason.to_string()).into()
}

fn string_field(config: &Value, field: &str) -> Result<Option<String>, CliError> {
    match config.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(config_error(format!("{field} must be a string"))),
    }
}

fn list_field(config: &Value, field: &str) -> Result<Vec<String>, CliError> {
    let wrong = || config_error(format!("{field} must be a list of strings"));
    match config.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(wrong))
            .collect(),
        Some(_) => Err(wrong()),
    }
}

/// Reads the functionConfig. Unknown fields are errors: a typo must not drop a file silently.
fn parse_generator(config: &Value) -> Result<Generator, CliError> {
    let Some(fields) = config.as_object() else {
        return Err(KrmError::NoFunctionConfig.into());
    };
    let kind = string_field(config, "kind")?.unwrap_or_default();
    let api_version = string_field(config, "apiVersion")?.unwrap_or_default();
    if kind != KIND || api_version != API_VERSION {
        return Err(KrmError::OtherFunction {
            api_version,
            kind,
            expected: format!("{API_VERSION}/{KIND}"),
        }
        .into());
    }
    if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(config_error(format!("unknown field {unknown}")));
    }
    let metadata_name = config
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let name = string_field(config, "name")?
        .or(metadata_name)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| config_error("name (or metadata.name) is required"))?;
    let scope = match string_field(config, "scope")? {
        None => Scope::Strict,
        Some(text) => text.parse().map_err(|_| {
            config_error(format!(
                "scope {text:?} is not strict, namespace-wide or cluster-wide"
            ))
        })?,
    };
    let namespace = string_field(config, "namespace")?.unwrap_or_default();
    if namespace.is_empty() && scope != Scope::ClusterWide {
        return Err(config_error(format!(
            "{name}: namespace is required (the SealedSecret is sealed for it; Kustomize's namespace does not change it)"
        )));
    }
    let generator = Generator {
        name,
        namespace,
        type_: string_field(config, "type")?.unwrap_or_default(),
        scope,
        files: list_field(config, "files")?,
        envs: list_field(config, "envs")?,
        literals: list_field(config, "literals")?,
        cert: string_field(config, "cert")?,
        environment: string_field(config, "environment")?,
    };
    if generator.cert.is_some() && generator.environment.is_some() {
        return Err(config_error("give cert or environment, not both"));
    }
    if generator.files.is_empty() && generator.envs.is_empty() && generator.literals.is_empty() {
        return Err(config_error(format!(
            "{}: no files, envs or literals",
            generator.name
        )));
    }
    Ok(generator)
}

/// `path` (as written in the config) resolved inside `root` (canonical): relative, without
/// `..`, and still inside `root` once symlinks are followed. A regular file.
fn resolve_in(root: &Path, text: &str) -> Result<PathBuf, CliError> {
    let refuse = |why: &str| config_error(format!("path {text:?}: {why}"));
    let path = Path::new(text);
    if text.is_empty() {
        return Err(refuse("empty"));
    }
    for component in path.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err(refuse(
                    "`..` is refused: paths stay inside the kustomization directory",
                ));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(refuse(
                    "absolute paths are refused: give it relative to the kustomization directory",
                ));
            }
        }
    }
    let real = root
        .join(path)
        .canonicalize()
        .map_err(|e| refuse(&format!("cannot read it: {e}")))?;
    if !real.starts_with(root) {
        return Err(refuse(
            "a symlink leads outside the kustomization directory",
        ));
    }
    if !real.is_file() {
        return Err(refuse("not a regular file"));
    }
    Ok(real)
}

fn read_in(root: &Path, text: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let path = resolve_in(root, text)?;
    input::read_file_limited(&path, FILE_LIMIT).map_err(|e| match e {
        input::InputError::File { source, .. } => {
            config_error(format!("path {text:?}: cannot read it: {source}"))
        }
        other => CliError::Input(other),
    })
}

/// A valid Secret data key (Kubernetes' `IsConfigMapKey`).
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The Secret's data from files, env files and literals, in Kustomize's order (files, then
/// envs, then literals). Errors name the source and the key, never a value.
fn collect_data(
    root: &Path,
    generator: &Generator,
) -> Result<BTreeMap<String, SecretBytes>, CliError> {
    let mut data = BTreeMap::new();
    let mut insert = |key: String, value: &[u8], origin: &str| -> Result<(), CliError> {
        if !valid_key(&key) {
            return Err(config_error(format!(
                "{origin}: the key is not a valid Secret key (letters, digits, '-', '_', '.')"
            )));
        }
        if data.contains_key(&key) {
            return Err(config_error(format!(
                "{origin}: key {key:?} is defined twice"
            )));
        }
        data.insert(key, SecretBytes::from_slice(value));
        Ok(())
    };
    for source in &generator.files {
        let (key, path) = match source.split_once('=') {
            Some((key, path)) => (key.to_owned(), path),
            None => {
                let base = Path::new(source)
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                (base.to_owned(), source.as_str())
            }
        };
        let bytes = read_in(root, path)?;
        insert(key, &bytes, &format!("files: {path}"))?;
    }
    for path in &generator.envs {
        let bytes = read_in(root, path)?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| config_error(format!("envs: {path}: not UTF-8 text")))?;
        for (index, line) in text.lines().enumerate() {
            let origin = format!("envs: {path} line {}", index + 1);
            let line = if index == 0 {
                line.trim_start_matches('\u{feff}')
            } else {
                line
            };
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(config_error(format!(
                    "{origin}: no '=' (a value from the environment is refused: write KEY=value)"
                )));
            };
            insert(key.to_owned(), value.as_bytes(), &origin)?;
        }
    }
    for (index, literal) in generator.literals.iter().enumerate() {
        let origin = format!("literals[{index}]");
        let Some((key, value)) = literal.split_once('=') else {
            return Err(config_error(format!("{origin}: no '=' (write KEY=value)")));
        };
        insert(key.to_owned(), value.as_bytes(), &origin)?;
    }
    // The controller refuses more (docs/controller.md); better said at build time.
    let total: usize = data.values().map(|v| v.expose().len()).sum();
    if total > FILE_LIMIT_BYTES {
        return Err(config_error(format!(
            "{}: the values exceed the {FILE_LIMIT_BYTES}-byte limit of a Secret",
            generator.name
        )));
    }
    Ok(data)
}

/// The certificate: `cert` (a path inside the kustomization directory, or an http(s) URL),
/// else the repository config's `environment`, else the one environment whose `paths` cover
/// the kustomization directory.
fn certificate(root: &Path, generator: &Generator) -> Result<Certificate, CliError> {
    if let Some(location) = &generator.cert {
        if location.starts_with("https://") || location.starts_with("http://") {
            let bytes = cert_source::fetch(location)?;
            return Ok(cert_source::parse_for_sealing(&bytes, location)?);
        }
        let path = location.strip_prefix("file://").unwrap_or(location);
        let bytes = read_in(root, path)?;
        return Ok(cert_source::parse_for_sealing(&bytes, path)?);
    }
    let config = repo_config::load(None)?;
    let Some(config) = config else {
        return Err(config_error(format!(
            "give cert, or environment with a {} above the kustomization directory",
            repo_config::FILE_NAME
        )));
    };
    let env = if let Some(name) = &generator.environment {
        config.environment(name)?
    } else {
        match config
            .environments_for(&root.join("kustomization.yaml"))
            .as_slice()
        {
            [env] => *env,
            [] => {
                return Err(config_error(format!(
                    "give cert or environment: no environment of {} covers this directory",
                    config.path.display()
                )));
            }
            _ => {
                return Err(config_error(format!(
                    "give environment: several environments of {} cover this directory",
                    config.path.display()
                )));
            }
        }
    };
    let Some(path) = &env.cert else {
        return Err(config_error(format!(
            "environment {} has no cert to seal with",
            env.name
        )));
    };
    let bytes = input::read_file_limited(path, input::CERT_LIMIT).map_err(|e| match e {
        input::InputError::File { source, .. } => config_error(format!(
            "environment {}: {}: {source}",
            env.name,
            path.display()
        )),
        other => CliError::Input(other),
    })?;
    Ok(cert_source::parse_for_sealing(
        &bytes,
        &format!("of environment {}", env.name),
    )?)
}

/// The SealedSecret the generator describes, as JSON.
fn generate(root: &Path, generator: &Generator) -> Result<Value, CliError> {
    let data = collect_data(root, generator)?;
    let cert = certificate(root, generator)?;
    let secret = Secret {
        metadata: ObjectMeta {
            name: generator.name.clone(),
            namespace: generator.namespace.clone(),
            ..ObjectMeta::default()
        },
        data,
        type_: generator.type_.clone(),
        ..Secret::default()
    };
    let options = SealOptions {
        scope: Some(generator.scope),
        ..SealOptions::default()
    };
    let mut sealed = seal::seal_secret(secret, cert.public_key(), &options).map_err(|source| {
        CliError::Seal {
            context: format!("{KIND} {}", generator.name),
            source,
        }
    })?;
    // `kubeseal-rs check` requires the recorded certificate by default.
    sealed.metadata.annotations.insert(
        SEALED_WITH_ANNOTATION.to_owned(),
        cert.fingerprint().to_string(),
    );
    serde_json::to_value(&sealed).map_err(|e| KrmError::Encode(e.to_string()).into())
}

/// Reads the ResourceList from `bytes` (YAML or JSON, one document). Not through
/// `manifest::read_documents`: that unpacks anything whose kind ends in `List`, and reads
/// YAML 1.1 as kubeseal does, where Kustomize's kyaml writes YAML 1.2.
fn parse_resource_list(bytes: &[u8]) -> Result<Value, CliError> {
    let text = std::str::from_utf8(bytes).map_err(|_| KrmError::NotUtf8)?;
    // No snippet: the error would quote the input, which may hold Secrets.
    let options = serde_saphyr::options! { with_snippet: false };
    let list: Value = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let location = e
            .location()
            .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
            .unwrap_or_default();
        KrmError::NotYaml { location }
    })?;
    let is_list = list.get("kind").and_then(Value::as_str) == Some("ResourceList")
        && list
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("config.kubernetes.io/"));
    if !is_list {
        return Err(KrmError::NotResourceList.into());
    }
    match list.get("items") {
        None | Some(Value::Null | Value::Array(_)) => Ok(list),
        Some(_) => Err(KrmError::ItemsNotList.into()),
    }
}

/// Adds the SealedSecret to the list, or on failure an error result.
fn process(list: &mut Value, root: &Path) -> Result<(), CliError> {
    let config = list.get("functionConfig").cloned().unwrap_or(Value::Null);
    let outcome = parse_generator(&config).and_then(|generator| generate(root, &generator));
    match outcome {
        Ok(sealed) => {
            if !list.get("items").is_some_and(Value::is_array) {
                list["items"] = json!([]);
            }
            if let Some(items) = list["items"].as_array_mut() {
                items.push(sealed);
            }
            Ok(())
        }
        Err(err) => {
            list["results"] = json!([{ "message": error::one_line(&err), "severity": "error" }]);
            Err(err)
        }
    }
}

/// Runs the function: stdin to stdout, relative paths against the current directory.
///
/// # Errors
/// Unreadable input, a bad functionConfig, a file it may not read, no certificate.
pub fn run() -> Result<(), CliError> {
    let bytes = input::read_stdin_limited(input::MANIFEST_LIMIT)?;
    let mut list = parse_resource_list(&bytes)?;
    let root = std::env::current_dir()
        .and_then(|dir| dir.canonicalize())
        .map_err(|e| KrmError::CurrentDir(e.to_string()))?;
    let outcome = process(&mut list, &root);
    let text = manifest::to_yaml(&list).map_err(CliError::Manifest)?;
    output::emit(None, text.as_bytes(), false)?;
    outcome
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // test code
mod tests {
    use super::*;

    fn config(extra: Value) -> Value {
        let mut base = json!({
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": "app"},
            "namespace": "demo",
            "literals": ["a=b"],
        });
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    }

    fn message(result: Result<impl std::fmt::Debug, CliError>) -> String {
        error::one_line(&result.unwrap_err())
    }

    #[test]
    fn generator_fields() {
        let g = parse_generator(&config(json!({"scope": "namespace-wide", "type": "x"}))).unwrap();
        assert_eq!(g.name, "app");
        assert_eq!(g.scope, Scope::NamespaceWide);
        assert_eq!(g.type_, "x");
        assert!(
            message(parse_generator(&config(json!({"file": ["x"]}))))
                .contains("unknown field file")
        );
        assert!(
            message(parse_generator(&config(json!({"namespace": ""}))))
                .contains("namespace is required")
        );
        parse_generator(&config(json!({"namespace": "", "scope": "cluster-wide"}))).unwrap();
        assert!(
            message(parse_generator(&config(json!({"scope": "wide"})))).contains("scope \"wide\"")
        );
        assert!(
            message(parse_generator(&config(
                json!({"cert": "a", "environment": "b"})
            )))
            .contains("not both")
        );
        assert!(message(parse_generator(&config(json!({"literals": []})))).contains("no files"));
        assert!(
            message(parse_generator(&config(json!({"kind": "SecretGenerator"}))))
                .contains("expected")
        );
    }

    #[test]
    fn paths_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/in.txt"), "x").unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
        std::os::unix::fs::symlink(root.join("sub/in.txt"), root.join("in-link")).unwrap();
        assert!(resolve_in(&root, "sub/in.txt").is_ok());
        assert!(resolve_in(&root, "./in-link").is_ok());
        assert!(message(resolve_in(&root, "../x")).contains("`..` is refused"));
        assert!(message(resolve_in(&root, "sub/../sub/in.txt")).contains("`..` is refused"));
        assert!(message(resolve_in(&root, "/etc/hostname")).contains("absolute"));
        assert!(message(resolve_in(&root, "out")).contains("symlink leads outside"));
        assert!(message(resolve_in(&root, "sub")).contains("not a regular file"));
        assert!(message(resolve_in(&root, "missing")).contains("cannot read it"));
    }

    #[test]
    fn data_from_files_envs_and_literals() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("tls.crt"), "CERT").unwrap();
        std::fs::write(
            root.join("app.env"),
            "\u{feff}# comment\n\n  USER=admin\nPASS=a=b \n",
        )
        .unwrap();
        let mut g = parse_generator(&config(json!({
            "files": ["tls.crt", "other=tls.crt"],
            "envs": ["app.env"],
            "literals": ["lit=v"],
        })))
        .unwrap();
        let data = collect_data(&root, &g).unwrap();
        let shown: Vec<(&str, &[u8])> =
            data.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
        assert_eq!(
            shown,
            [
                ("PASS", b"a=b ".as_slice()),
                ("USER", b"admin"),
                ("lit", b"v"),
                ("other", b"CERT"),
                ("tls.crt", b"CERT"),
            ]
        );
        std::fs::write(root.join("bad.env"), "OK=1\nFROM_ENV\n").unwrap();
        g.envs = vec!["bad.env".into()];
        let text = message(collect_data(&root, &g));
        assert!(text.contains("bad.env line 2: no '='"), "{text}");
        g.envs.clear();
        g.literals = vec!["tls.crt=again".into()];
        assert!(message(collect_data(&root, &g)).contains("defined twice"));
        std::fs::write(root.join("big"), vec![b'x'; 700 * 1024]).unwrap();
        g.literals.clear();
        g.files = vec!["big".into(), "again=big".into()];
        assert!(message(collect_data(&root, &g)).contains("exceed the 1048576-byte limit"));
        g.files.clear();
        g.literals = vec!["bad key=secret-value".into()];
        let text = message(collect_data(&root, &g));
        assert!(text.contains("not a valid Secret key") && !text.contains("secret-value"));
    }

    #[test]
    fn resource_list_shape() {
        let list = parse_resource_list(
            b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n",
        )
        .unwrap();
        assert_eq!(list["items"], json!([]));
        assert!(parse_resource_list(b"apiVersion: v1\nkind: List\nitems: []\n").is_err());
        assert!(
            parse_resource_list(
                b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: 3\n"
            )
            .is_err()
        );
        let mut list = parse_resource_list(
            b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nfunctionConfig: {kind: Nope}\n",
        )
        .unwrap();
        assert!(process(&mut list, Path::new("/")).is_err());
        assert_eq!(list["results"][0]["severity"], "error");
        assert!(list.get("items").is_none());
    }
}
