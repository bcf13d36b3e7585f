//! Go/Helm template files (`{{ … }}`) in a checked tree.
//!
//! A chart's `templates/secret.yaml` is not a manifest: it does not parse until Helm renders
//! it, and `check` has no values to render it with. Such a file is skipped *with a note*, but
//! only after a conservative scan of its text shows no literal Secret data: in every document
//! that declares `kind: Secret`, each `data`/`stringData` value must come from a template action
//! (`{{ .Values.password | b64enc }}`); any literal value, block scalar or JSON-form Secret is a
//! problem. The scan errs towards reporting: `check` exists to keep plaintext out of git.

/// What the scan of one template file found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TemplateScan {
    /// Problems, one line each (`<file>: document N: …`); never a value.
    pub problems: Vec<String>,
}

/// Whether `text` is a Go/Helm template rather than a manifest: it holds a template action.
#[must_use]
pub fn looks_templated(text: &str) -> bool {
    text.find("{{")
        .is_some_and(|open| text[open..].contains("}}"))
}

/// Scans a template file for literal Secret data (see the module docs).
#[must_use]
pub fn scan(display: &str, text: &str) -> TemplateScan {
    let mut out = TemplateScan::default();
    for (index, document) in documents(text).enumerate() {
        let number = index + 1;
        if document
            .lines()
            .any(|line| line.contains("\"kind\"") && line.contains("\"Secret\""))
        {
            out.problems.push(format!(
                "{display}: document {number}: a JSON Secret in a Go/Helm template cannot be checked (write it as YAML, or keep it out of the checked paths)"
            ));
            continue;
        }
        if !document.lines().any(declares_secret) {
            continue;
        }
        for key in literal_data_keys(&document) {
            out.problems.push(format!(
                "{display}: document {number}: Secret in a Go/Helm template has a literal value for {key:?} (take it from the chart's values, or seal it)"
            ));
        }
    }
    out
}

/// The non-empty documents of a stream: split on `---` lines.
fn documents(text: &str) -> impl Iterator<Item = String> {
    let mut documents = vec![String::new()];
    for line in text.lines() {
        if line.trim_end().starts_with("---") {
            documents.push(String::new());
        } else if let Some(last) = documents.last_mut() {
            last.push_str(line);
            last.push('\n');
        }
    }
    documents
        .into_iter()
        .filter(|document| !document.trim().is_empty())
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// `kind: Secret` at the top level (quoted or not; `SealedSecret` is not a Secret).
fn declares_secret(line: &str) -> bool {
    if indentation(line) != 0 {
        return false;
    }
    let Some(value) = line.trim_end().strip_prefix("kind:") else {
        return false;
    };
    let value = value.split(" #").next().unwrap_or_default().trim();
    matches!(value, "Secret" | "\"Secret\"" | "'Secret'")
}

/// Whether a value (after `key:`) is safe: empty map, null, or from a template action.
fn templated_value(value: &str) -> bool {
    let value = value.split(" #").next().unwrap_or_default().trim();
    value.contains("{{") || matches!(value, "{}" | "null" | "~" | "\"\"" | "''")
}

/// The keys of top-level `data`/`stringData` blocks whose values are literal text.
fn literal_data_keys(document: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut in_data = false;
    for line in document.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if indentation(line) == 0 && !trimmed.starts_with("{{") {
            in_data = false;
            for block in ["data:", "stringData:"] {
                if let Some(inline) = trimmed.strip_prefix(block) {
                    let inline = inline.trim();
                    if inline.is_empty() || inline.starts_with('#') {
                        in_data = true;
                    } else if !templated_value(inline) {
                        keys.push(block.trim_end_matches(':').to_owned());
                    }
                }
            }
            continue;
        }
        if !in_data || trimmed.starts_with("{{") {
            continue;
        }
        match trimmed.split_once(':') {
            Some((key, value)) if !key.contains(' ') || key.starts_with(['"', '\'']) => {
                let value = value.trim();
                let key = key.trim_matches(['"', '\'']).to_owned();
                // `key: |` or `key: >` starts a literal block; `key:` alone, a nested value.
                if value.is_empty() || value.starts_with(['|', '>']) || !templated_value(value) {
                    keys.push(key);
                }
            }
            // A continuation line (of a block scalar or a multi-line value).
            _ if !trimmed.contains("{{") => keys.push("(continued value)".to_owned()),
            _ => {}
        }
    }
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_templated_secret_passes_and_literal_values_are_found() {
        let chart = "{{- if .Values.enabled }}\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  password: {{ .Values.password | b64enc | quote }}\n  {{- range $k, $v := .Values.extra }}\n  {{ $k }}: {{ $v | b64enc }}\n  {{- end }}\nstringData: {}\n{{- end }}\n";
        assert!(looks_templated(chart));
        assert_eq!(scan("s.yaml", chart), TemplateScan::default());

        let leaky = "apiVersion: v1\nkind: Secret\nmetadata: {name: {{ .Release.Name }}}\nstringData:\n  password: hunter2\n  token: {{ .Values.token }}\n  cert: |\n    -----BEGIN\n";
        let problems = scan("s.yaml", leaky).problems;
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("\"password\""));
        assert!(problems[1].contains("\"cert\""));
        assert!(problems.iter().all(|p| !p.contains("hunter2")));
    }

    #[test]
    fn only_secret_documents_count() {
        let text = "kind: ConfigMap\ndata:\n  a: {{ .Values.a }}\n  b: literal\n---\nkind: SealedSecret\nspec:\n  encryptedData:\n    a: AgB\n---\nkind: 'Secret'\ndata: {password: aHVudGVy}\n";
        let problems = scan("f.yaml", text).problems;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("f.yaml: document 3:"));
    }

    #[test]
    fn a_json_secret_in_a_template_is_reported() {
        let text = "{{ if .Values.x }}\n{\"kind\": \"Secret\", \"data\": {\"a\": \"{{ .Values.a }}\"}}\n{{ end }}\n";
        assert_eq!(scan("f.json", text).problems.len(), 1);
    }

    #[test]
    fn plain_text_is_not_a_template() {
        assert!(!looks_templated("kind: Secret\ndata: {}\n"));
        assert!(!looks_templated("a: '{{ unterminated'\n"));
    }
}
