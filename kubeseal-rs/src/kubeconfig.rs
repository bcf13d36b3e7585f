//! The little of kubeconfig that offline sealing needs: the current context's namespace
//! (SPEC §4.5: input namespace, else `-n`, else the context's, else `default`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct KubeConfig {
    #[serde(default)]
    current_context: Option<String>,
    #[serde(default)]
    contexts: Option<Vec<NamedContext>>,
}

#[derive(Debug, Deserialize)]
struct NamedContext {
    name: String,
    #[serde(default)]
    context: Option<Context>,
}

#[derive(Debug, Default, Deserialize)]
struct Context {
    #[serde(default)]
    namespace: Option<String>,
}

/// The kubeconfig files in precedence order: `--kubeconfig`, else `$KUBECONFIG` (a path
/// list), else `~/.kube/config`. Only existing files are returned.
#[must_use]
pub fn files(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(path) = explicit {
        return vec![path.to_path_buf()];
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        return std::env::split_paths(&list)
            .filter(|p| p.is_file())
            .collect();
    }
    std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".kube").join("config"))
        .filter(|p| p.is_file())
        .into_iter()
        .collect()
}

/// The namespace of the selected context: `Some("default")` when a kubeconfig exists but the
/// context sets none; `None` without any kubeconfig (then inputs must declare a namespace).
/// A kubeconfig that cannot be read or parsed counts as absent.
#[must_use]
pub fn context_namespace(
    explicit: Option<&Path>,
    context_override: Option<&str>,
) -> Option<String> {
    let configs: Vec<KubeConfig> = files(explicit)
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|text| serde_saphyr::from_str::<KubeConfig>(&text).ok())
        .collect();
    if configs.is_empty() {
        return None;
    }
    // Merge rule of client-go: the first file that sets a value wins.
    let current = context_override
        .map(str::to_owned)
        .or_else(|| configs.iter().find_map(|c| c.current_context.clone()))
        .filter(|c| !c.is_empty());
    let namespace = current.and_then(|name| {
        configs
            .iter()
            .flat_map(|c| c.contexts.iter().flatten())
            .find(|c| c.name == name)
            .and_then(|c| c.context.as_ref())
            .and_then(|c| c.namespace.clone())
    });
    Some(
        namespace
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".to_owned()),
    )
}
