//! The failures of the commands, one enum per command (and one for the commands that share
//! theirs). Defined here, below both the commands and [`super::CliError`], so that the error
//! type depends on no command module; every message is one line.

use crate::repo_config;

/// The failures of the commands that have no enum of their own; every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("no secrets found. Ensure the input is valid and UTF-8 encoded")]
    NoSecrets,
    #[error("no sealed secrets found in the input")]
    NoSealedSecrets,
    /// `--recovery-unseal` without `--recovery-private-key`: upstream's unseal error, then the
    /// missing flag.
    #[error(
        "{0}; no --recovery-private-key was given (the controller's private keys, e.g. from kubeseal-rs keys backup)"
    )]
    NoRecoveryKeys(String),
    #[error("cannot encrypt the value: {0}")]
    EncryptValue(String),
    #[error("unable to decrypt sealed secret: {0}")]
    CannotDecrypt(String),
    #[error("cannot re-encrypt secret: unable to rotate secret {0}")]
    RotateRefused(String),
    #[error(
        "cannot re-encrypt secret {name}: the controller's answer is not a SealedSecret ({error})"
    )]
    RotateAnswer { name: String, error: String },
    #[error(
        "{0}: this is a certificate, not a private key; --recovery-private-key takes the controller's private keys (PEM keys, key Secret manifests or Lists of them, e.g. from kubeseal-rs keys backup)"
    )]
    CertificateNotKey(String),
    /// The `--merge-into` target does not parse: `FILE: reason`.
    #[error("{file}: {error}")]
    MergeTarget { file: String, error: String },
    #[error("{file}: expected exactly one SealedSecret, found {count} documents")]
    MergeTargetCount { file: String, count: usize },
    #[error("--merge-into expects exactly one input Secret, found {0}")]
    MergeInputs(usize),
    /// `check`: `N problems found in M files checked`.
    #[error("{problems} found in {files} checked")]
    CheckProblems { problems: String, files: String },
    /// The hidden `SSRS_NOW` (tests' clock) does not parse.
    #[error("invalid SSRS_NOW {0:?}: use RFC 3339")]
    BadNow(String),
    /// `--max-age` does not parse (the parser's message).
    #[error("--max-age: {0}")]
    MaxAge(String),
    /// A `sealed-at` record that `set`, `unset` or `--merge-into` must update cannot be read.
    #[error("{at}: {error}; fix or remove it first")]
    SealedAt { at: String, error: String },
    #[error(
        "{file}: {object}: refusing to {command}: the file is sealed for {existing}; {command} would seal for {would}{because}; nothing was written"
    )]
    Inconsistent {
        file: String,
        object: String,
        command: String,
        existing: String,
        would: String,
        because: String,
    },
    /// `unset -e NAME` on a file of another environment.
    #[error("{at}: not a file of environment {environment}: {reason}; nothing was written")]
    OtherEnvironment {
        at: String,
        environment: String,
        reason: String,
    },
    #[error("{count} problem{}; nothing was written", if *count == 1 { "" } else { "s" })]
    ResealProblems { count: usize },
    #[error("{at}: cannot encrypt item {item:?} for the new certificate")]
    ResealEncrypt { at: String, item: String },
}

/// What `set` and `unset` refuse; `at` is `FILE: SealedSecret NS/NAME`.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error(
        "{at}: was sealed with {recorded}, the certificate is {fingerprint}; use that certificate or reseal the file first"
    )]
    OtherKey {
        at: String,
        recorded: String,
        fingerprint: String,
    },
    #[error(
        "{at}: item {item:?} is sealed for a {sealed_bits}-bit key, the certificate has a {cert_bits}-bit key; reseal the file first"
    )]
    KeySize {
        at: String,
        item: String,
        sealed_bits: usize,
        cert_bits: usize,
    },
    #[error("cannot hide the terminal input (stty failed); pipe the value or use --from-file")]
    NoHiddenInput,
    #[error("the two values typed for {0:?} differ; nothing was written")]
    Mismatch(String),
    #[error(
        "{at}: refusing to set item {key:?} to an empty value (read from {from}); pass --allow-empty to store one"
    )]
    Empty {
        at: String,
        key: String,
        from: String,
    },
    #[error("{at}: cannot encrypt item {key:?}: {error}")]
    Encrypt {
        at: String,
        key: String,
        error: String,
    },
    #[error("{at} has no item {key:?}")]
    NoItem { at: String, key: String },
}

/// What `keygen` refuses or fails on.
#[derive(Debug, thiserror::Error)]
pub enum KeygenError {
    /// `--key-ttl` does not parse (the parser's message).
    #[error("{0}")]
    KeyTtl(String),
    #[error("unsupported --key-size {0}: use 2048, 3072, 4096 or 8192")]
    KeySize(usize),
    #[error("cannot generate key: {0}")]
    Generate(String),
    #[error("invalid --not-before {0:?}: use RFC 3339")]
    NotBefore(String),
    #[error("cannot create certificate: {0}")]
    Certificate(String),
}

/// What sealing for several clusters refuses or fails on.
#[derive(Debug, thiserror::Error)]
pub enum MultiSealError {
    #[error("--environment {0}: no {file} found (give --config)", file = repo_config::FILE_NAME)]
    NoConfig(String),
    #[error("{config}: environment {name} has no cert to seal with")]
    NoCert { config: String, name: String },
    #[error("environment {name}: {path}: {error}")]
    CertFile {
        name: String,
        path: String,
        error: String,
    },
    #[error("no secrets found. Ensure the input is valid and UTF-8 encoded")]
    NoSecrets,
    #[error("{position}: -w {pattern:?}: {reason}")]
    Pattern {
        position: String,
        pattern: String,
        reason: String,
    },
    #[error(
        "clusters {owner} and {cluster} would both write {path}; put {{cluster}} in the -w pattern"
    )]
    SamePath {
        owner: String,
        cluster: String,
        path: String,
    },
}

/// What `keys` refuses or fails on; every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// A failed or refused API call (its causes on one line).
    #[error("{0}")]
    Api(String),
    #[error("{0} exists; use --force to replace it")]
    Exists(String),
    #[error(
        "no key Secrets in namespace {0:?}: nothing to back up (is the controller namespace right? use --controller-namespace; keys in a PKCS#11 token have no Secret and are backed up with the token's own tools, docs/keys.md)"
    )]
    NothingToBackUp(String),
    /// A backup file that cannot be restored: `FILE: …` (or `FILE: DOCUMENT: …`).
    #[error("{0}")]
    Backup(String),
    #[error("{0} holds no key Secret")]
    EmptyBackup(String),
    #[error(
        "Secret {namespace}/{name} exists and holds {holds}, not key {fingerprint}; it is not overwritten: nothing was restored"
    )]
    OtherKeyExists {
        namespace: String,
        name: String,
        holds: String,
        fingerprint: String,
    },
    #[error("{error} (restored so far: {restored})")]
    RestoreStopped { error: String, restored: usize },
    #[error(
        "no key Secret in namespace {namespace:?} has fingerprint {fingerprint} (kubeseal-rs keys list shows them): nothing was deleted"
    )]
    UnknownFingerprint {
        namespace: String,
        fingerprint: String,
    },
    #[error("{0}: nothing was deleted")]
    PruneRefused(String),
}

/// What the Kustomize KRM function (`krm`) refuses or fails on; reported to Kustomize in the
/// ResourceList's `results` too.
#[derive(Debug, thiserror::Error)]
pub enum KrmError {
    /// The generator's functionConfig: `SealedSecretGenerator: reason`.
    #[error("SealedSecretGenerator: {0}")]
    Config(String),
    #[error("the ResourceList has no functionConfig object")]
    NoFunctionConfig,
    #[error("functionConfig is {api_version}/{kind}, expected {expected}")]
    OtherFunction {
        api_version: String,
        kind: String,
        expected: String,
    },
    #[error("cannot encode: {0}")]
    Encode(String),
    #[error("stdin is not UTF-8 text")]
    NotUtf8,
    /// `location` is ` (line L, column C)` or empty; never a snippet of the input.
    #[error("stdin is not one YAML or JSON ResourceList{location}")]
    NotYaml { location: String },
    #[error("stdin is not a config.kubernetes.io ResourceList")]
    NotResourceList,
    #[error("the ResourceList's items is not a list")]
    ItemsNotList,
    #[error("cannot read the current directory: {0}")]
    CurrentDir(String),
}
