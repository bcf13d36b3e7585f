//! What a run checks of what it leaves behind: no plaintext or private key in logs, events or
//! statuses; logs in upstream's JSON form.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Event;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::{Api, Client};

/// Every plaintext value of a run, so that the end of the run can prove none leaked.
#[derive(Default)]
pub struct Plaintexts(Mutex<Vec<String>>);

impl Plaintexts {
    /// A distinctive value (nothing else in a log could contain it by chance), remembered.
    pub fn value(&self, tag: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let value = format!("pt-{tag}-{nanos:08x}-Zq7");
        self.remember(&value);
        value
    }

    /// Remembers a value made elsewhere (template outputs).
    pub fn remember(&self, value: &str) {
        self.0.lock().expect("lock").push(value.to_owned());
    }

    /// The values and their standard base64 forms (how a Secret's data would appear in JSON).
    fn needles(&self) -> BTreeSet<String> {
        let b64 = base64::engine::general_purpose::STANDARD;
        self.0
            .lock()
            .expect("lock")
            .iter()
            .flat_map(|v| [v.clone(), b64.encode(v.as_bytes())])
            .collect()
    }
}

/// The `bitnami.com/v1alpha1` SealedSecrets, untyped: the check reads their status as the API
/// server stores it.
fn sealed_secrets(client: &Client, namespace: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("bitnami.com", "v1alpha1", "SealedSecret"),
        "sealedsecrets",
    );
    Api::namespaced_with(client.clone(), namespace, &resource)
}

/// Fails if a plaintext value (or its base64), or any private key, appears in the log files,
/// in an Event in `namespaces`, or in the status of a SealedSecret in `namespaces`.
pub async fn assert_no_leaks(
    client: &Client,
    namespaces: &[&str],
    logs: &[&Path],
    plaintexts: &Plaintexts,
) {
    let needles = plaintexts.needles();
    assert!(!needles.is_empty());
    let mut haystacks: Vec<(String, String)> = Vec::new();
    for log in logs {
        let text = std::fs::read_to_string(log).expect("controller log");
        assert!(!text.is_empty(), "{} is empty", log.display());
        haystacks.push((log.display().to_string(), text));
    }
    for ns in namespaces {
        let events: Api<Event> = Api::namespaced(client.clone(), ns);
        for e in events.list(&ListParams::default()).await.expect("events") {
            let text = serde_json::to_string(&e).expect("event json");
            haystacks.push((format!("event {ns}/{:?}", e.metadata.name), text));
        }
        let sealed = sealed_secrets(client, ns);
        for s in sealed.list(&ListParams::default()).await.expect("sealed") {
            let status = s.data.get("status").unwrap_or(&serde_json::Value::Null);
            let text = serde_json::to_string(status).expect("status json");
            haystacks.push((format!("status of {ns}/{:?}", s.metadata.name), text));
        }
    }
    for (place, text) in &haystacks {
        for needle in &needles {
            assert!(
                !text.contains(needle.as_str()),
                "plaintext {needle:?} leaked into {place}"
            );
        }
        assert!(
            !text.contains("PRIVATE KEY"),
            "a private key leaked into {place}"
        );
    }
    eprintln!(
        "leak check: {} values, {} places clean",
        needles.len() / 2,
        haystacks.len()
    );
}

/// Fails unless every line of `log` is a JSON object as upstream's slog `JSONHandler` writes
/// it (`--log-format json`): `time`, `level` (DEBUG, INFO, WARN or ERROR) and `msg` at the top.
/// Returns the number of lines.
pub fn assert_json_lines(log: &Path) -> usize {
    let text = std::fs::read_to_string(log).expect("json log");
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            v.get("time").is_some_and(serde_json::Value::is_string),
            "no time: {line}"
        );
        assert!(
            v.get("level")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|l| ["DEBUG", "INFO", "WARN", "ERROR"].contains(&l)),
            "no slog level: {line}"
        );
        assert!(
            v.get("msg").is_some_and(serde_json::Value::is_string),
            "no msg: {line}"
        );
        n += 1;
    }
    assert!(n > 0, "{} is empty", log.display());
    n
}
