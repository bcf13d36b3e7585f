//! Exec credential plugins (`users[].user.exec`, `client.authentication.k8s.io/v1` and
//! `v1beta1`): run the command with its args and env plus `KUBERNETES_EXEC_INFO`, read an
//! `ExecCredential` from its stdout and take `status.token` and/or
//! `status.clientCertificateData`/`clientKeyData`.
//!
//! The plugin's stderr is passed through (plugins print prompts and hints there). Its stdin is
//! only handed over when it may interact and stdin is a terminal: kubeseal-rs reads manifests
//! from stdin, which a plugin must never consume.

use std::io::IsTerminal as _;
use std::process::{Command, Stdio};

use serde::Deserialize;
use zeroize::Zeroizing;

use super::connection::{ClientIdentity, ExecPlugin};
use super::kubeconfig::SecretString;

const API_V1: &str = "client.authentication.k8s.io/v1";
const API_V1BETA1: &str = "client.authentication.k8s.io/v1beta1";

/// `users[].user.exec` as written in a kubeconfig.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecConfig {
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub args: Option<Vec<String>>,
    #[serde(default)]
    pub env: Option<Vec<EnvVar>>,
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub install_hint: Option<String>,
    #[serde(default)]
    pub provide_cluster_info: Option<bool>,
    #[serde(default)]
    pub interactive_mode: Option<String>,
}

/// One `env` entry of an exec plugin.
#[derive(Clone, Default, Deserialize)]
pub struct EnvVar {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: SecretString,
}

impl std::fmt::Debug for EnvVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EnvVar({}=[redacted])", self.name)
    }
}

/// A plugin that did not give credentials. Never includes the plugin's output.
#[derive(Debug, thiserror::Error)]
#[error("exec credential plugin {command:?} of user {user:?}: {problem}")]
pub struct ExecError {
    pub command: String,
    pub user: String,
    pub problem: String,
}

/// What a plugin returned.
#[derive(Debug, Default)]
pub struct Credentials {
    pub token: Option<SecretString>,
    pub client_identity: Option<ClientIdentity>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredential {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: Option<ExecCredentialStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredentialStatus {
    #[serde(default)]
    token: SecretString,
    #[serde(default)]
    client_certificate_data: String,
    #[serde(default)]
    client_key_data: SecretString,
}

/// Runs the plugin once and returns its credentials.
///
/// # Errors
/// Unsupported API version, the command cannot run or fails, or its output is not an
/// `ExecCredential` with a token or a certificate/key pair.
pub fn run(plugin: &ExecPlugin) -> Result<Credentials, ExecError> {
    let config = &plugin.config;
    let fail = |problem: String| ExecError {
        command: config.command.clone(),
        user: plugin.user_name.clone(),
        problem,
    };
    if config.command.is_empty() {
        return Err(fail("command must be specified".to_owned()));
    }
    if config.api_version != API_V1 && config.api_version != API_V1BETA1 {
        return Err(fail(format!(
            "unsupported apiVersion {:?} (use {API_V1} or {API_V1BETA1})",
            config.api_version
        )));
    }
    let terminal = std::io::stdin().is_terminal();
    // v1beta1 defaults to IfAvailable; we accept an empty mode for v1 too.
    let interactive = match config.interactive_mode.as_deref().unwrap_or("IfAvailable") {
        "Never" => false,
        "IfAvailable" | "" => terminal,
        "Always" if terminal => true,
        "Always" => {
            return Err(fail(
                "interactiveMode is Always but stdin is not a terminal".to_owned(),
            ));
        }
        other => return Err(fail(format!("invalid interactiveMode {other:?}"))),
    };

    let mut spec = serde_json::json!({ "interactive": interactive });
    if config.provide_cluster_info == Some(true) {
        spec["cluster"] = plugin.cluster_info.clone();
    }
    let exec_info = Zeroizing::new(
        serde_json::json!({
            "kind": "ExecCredential",
            "apiVersion": config.api_version,
            "spec": spec,
        })
        .to_string(),
    );

    let mut command = Command::new(&config.command);
    command
        .args(config.args.iter().flatten())
        .env("KUBERNETES_EXEC_INFO", exec_info.as_str())
        .stdin(if interactive {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for var in config.env.iter().flatten() {
        if var.name.is_empty() {
            return Err(fail("env variable name must be specified".to_owned()));
        }
        command.env(&var.name, var.value.expose());
    }
    let output = command.output().map_err(|e| {
        let mut problem = if e.kind() == std::io::ErrorKind::NotFound {
            "executable not found".to_owned()
        } else {
            format!("cannot run: {e}")
        };
        if let Some(hint) = config.install_hint.as_deref().filter(|h| !h.is_empty()) {
            problem.push_str("; ");
            problem.push_str(hint.trim());
        }
        fail(problem)
    })?;
    let stdout = Zeroizing::new(output.stdout);
    if !output.status.success() {
        return Err(fail(format!("failed with {}", output.status)));
    }
    let credential: ExecCredential = serde_json::from_slice(&stdout).map_err(|e| {
        fail(format!(
            "output is not an ExecCredential (JSON line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if credential.kind != "ExecCredential" {
        return Err(fail("output is not an ExecCredential".to_owned()));
    }
    if credential.api_version != config.api_version {
        return Err(fail(format!(
            "plugin returned apiVersion {:?}, the kubeconfig asks for {:?}",
            credential.api_version, config.api_version
        )));
    }
    let Some(status) = credential.status else {
        return Err(fail("plugin returned no status".to_owned()));
    };
    let has_cert = !status.client_certificate_data.is_empty();
    let has_key = !status.client_key_data.expose().is_empty();
    if status.token.expose().is_empty() && !has_cert && !has_key {
        return Err(fail(
            "plugin returned neither a token nor a certificate/key pair".to_owned(),
        ));
    }
    if has_cert != has_key {
        return Err(fail(
            "plugin returned only a certificate or a key, not both".to_owned(),
        ));
    }
    Ok(Credentials {
        token: (!status.token.expose().is_empty()).then(|| status.token.clone()),
        client_identity: has_cert.then(|| ClientIdentity {
            cert_pem: status.client_certificate_data.clone().into_bytes(),
            key_pem: Zeroizing::new(status.client_key_data.expose().as_bytes().to_vec()),
        }),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod tests {
    use std::path::Path;

    use super::*;

    fn script(dir: &Path, body: &str) -> String {
        use std::os::unix::fs::PermissionsExt as _;
        let path = dir.join("plugin.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A child forked by another test while the file was open for writing holds that
        // descriptor until it execs, and exec then fails with ETXTBSY: wait until the script
        // runs once (the bodies only print), so the test's own run never meets that race.
        for _ in 0..100 {
            match std::process::Command::new(&path)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
            {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                _ => break,
            }
        }
        path.display().to_string()
    }

    fn plugin(command: String, api_version: &str) -> ExecPlugin {
        ExecPlugin {
            config: ExecConfig {
                command,
                args: Some(vec!["--flag".to_owned(), "two words".to_owned()]),
                env: Some(vec![EnvVar {
                    name: "PLUGIN_ENV".to_owned(),
                    value: SecretString::new("from-kubeconfig".to_owned()),
                }]),
                api_version: api_version.to_owned(),
                install_hint: Some("install it with: apt install plugin".to_owned()),
                provide_cluster_info: Some(true),
                interactive_mode: Some("Never".to_owned()),
            },
            user_name: "u".to_owned(),
            cluster_info: serde_json::json!({"server": "https://x.example"}),
        }
    }

    #[test]
    fn token_from_a_v1_plugin_gets_args_env_and_exec_info() {
        let dir = tempfile::tempdir().unwrap();
        // The token encodes what the plugin saw, so the test checks args, env and spec.
        let command = script(
            dir.path(),
            r#"info=$(printf %s "$KUBERNETES_EXEC_INFO" | tr -d ' "{}:,' )
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s|%s|%s|%s"}}' "$1" "$2" "$PLUGIN_ENV" "$info""#,
        );
        let creds = run(&plugin(command, API_V1)).unwrap();
        let token = creds.token.unwrap();
        let parts: Vec<&str> = token.expose().split('|').collect();
        assert_eq!(parts[0], "--flag");
        assert_eq!(parts[1], "two words");
        assert_eq!(parts[2], "from-kubeconfig");
        assert!(parts[3].contains("kindExecCredential"), "{}", parts[3]);
        assert!(parts[3].contains("interactivefalse"), "{}", parts[3]);
        assert!(parts[3].contains("serverhttps//x.example"), "{}", parts[3]);
        assert!(creds.client_identity.is_none());
    }

    #[test]
    fn certificate_from_a_v1beta1_plugin() {
        let dir = tempfile::tempdir().unwrap();
        let command = script(
            dir.path(),
            r#"echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"clientCertificateData":"CERT","clientKeyData":"KEY"}}'"#,
        );
        let creds = run(&plugin(command, API_V1BETA1)).unwrap();
        let id = creds.client_identity.unwrap();
        assert_eq!(id.cert_pem, b"CERT");
        assert_eq!(&id.key_pem[..], b"KEY");
        assert!(creds.token.is_none());
    }

    #[test]
    fn failures_are_one_clear_line_without_output() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "echo secret-output; exit 3",
                API_V1,
                "failed with exit status: 3",
            ),
            (
                "echo not-json-secret",
                API_V1,
                "output is not an ExecCredential",
            ),
            (
                r#"echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"secret-x"}}'"#,
                API_V1,
                "plugin returned apiVersion",
            ),
            (
                r#"echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientKeyData":"secret-k"}}'"#,
                API_V1,
                "only a certificate or a key",
            ),
            (
                "true",
                "client.authentication.k8s.io/v2",
                "unsupported apiVersion",
            ),
        ];
        for (body, api, expected) in cases {
            let err = run(&plugin(script(dir.path(), body), api)).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(expected), "{text}");
            assert!(!text.contains("secret"), "{text}");
            assert!(text.contains("user \"u\""), "{text}");
        }
        let err = run(&plugin("/nonexistent/plugin".to_owned(), API_V1)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("executable not found"), "{text}");
        assert!(text.contains("apt install plugin"), "{text}");
    }
}
