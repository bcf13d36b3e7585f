//! Finding the controller when upstream's way does not work (addition): the pure part.
//!
//! Upstream reads one named Service and goes through the API server's service proxy. We add two
//! fall-backs: when the named Service does not exist, a Service labelled as the Helm charts label
//! the controller's (`public_cert::SERVICE_SELECTOR`) in `--controller-namespace`; and when the
//! proxy cannot reach the controller (private control planes, where the API server cannot dial
//! pods), the certificate the controller publishes in a labelled ConfigMap there. Other
//! namespaces only with `--discover-all-namespaces` or a pinned fingerprint (`cluster.rs`). Every step is recorded as an
//! [`Attempt`], so a failure says exactly what was tried and what each step answered.

use sealed_secrets_core::public_cert::{DATA_KEY, LABEL};

use super::client::Response;

/// One thing tried, and what came of it (`what: outcome` in the error line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub what: String,
    pub outcome: String,
}

impl Attempt {
    #[must_use]
    pub fn new(what: impl Into<String>, outcome: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            outcome: outcome.into(),
        }
    }
}

/// `a: x; b: y`.
#[must_use]
pub fn describe(attempts: &[Attempt]) -> String {
    attempts
        .iter()
        .map(|a| format!("{}: {}", a.what, a.outcome))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A Service that may front the controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRef {
    pub namespace: String,
    pub name: String,
    /// The name of its first port (empty when unnamed), as upstream takes it.
    pub port_name: String,
}

/// What a list of candidates comes down to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Choice<T> {
    None,
    One(T),
    /// More than one, none preferred: `ns/name` of each.
    Several(Vec<String>),
}

/// The Service's first port name, from a Service object. `None` when it has no ports.
#[must_use]
pub fn first_port_name(service: &serde_json::Value) -> Option<String> {
    let port = service.pointer("/spec/ports/0")?;
    Some(
        port.get("name")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    )
}

fn meta(object: &serde_json::Value, field: &str) -> String {
    object
        .pointer(&format!("/metadata/{field}"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The items of a `…List` answer; `None` when the body is not a list.
#[must_use]
pub fn list_items(body: &[u8]) -> Option<Vec<serde_json::Value>> {
    let list: serde_json::Value = serde_json::from_slice(body).ok()?;
    list.get("items")?.as_array().cloned()
}

/// The Services of a list that have a port (a Service without one cannot be proxied).
#[must_use]
pub fn services(items: &[serde_json::Value]) -> Vec<ServiceRef> {
    items
        .iter()
        .filter_map(|s| {
            Some(ServiceRef {
                namespace: meta(s, "namespace"),
                name: meta(s, "name"),
                port_name: first_port_name(s)?,
            })
        })
        .collect()
}

/// One of `items`: the only one, else the only one in `preferred_namespace`.
#[must_use]
pub fn choose<T: Clone>(
    items: &[T],
    preferred_namespace: &str,
    namespace_of: impl Fn(&T) -> String,
    describe: impl Fn(&T) -> String,
) -> Choice<T> {
    match items {
        [] => Choice::None,
        [one] => Choice::One(one.clone()),
        several => {
            let preferred: Vec<&T> = several
                .iter()
                .filter(|i| namespace_of(i) == preferred_namespace)
                .collect();
            match preferred.as_slice() {
                [one] => Choice::One((*one).clone()),
                _ => Choice::Several(several.iter().map(describe).collect()),
            }
        }
    }
}

/// The certificate a ConfigMap object holds, if it is the controller's.
///
/// # Errors
/// Why it cannot be used: not labelled as the controller's, or no certificate under `cert.pem`.
pub fn configmap_cert(object: &serde_json::Value) -> Result<Vec<u8>, String> {
    let label = object
        .pointer("/metadata/labels")
        .and_then(|l| l.get(LABEL))
        .and_then(serde_json::Value::as_str);
    if !sealed_secrets_core::public_cert::is_ours(label) {
        return Err(format!(
            "not labelled {}, not the controller's",
            sealed_secrets_core::public_cert::configmap_selector()
        ));
    }
    match object
        .pointer("/data")
        .and_then(|d| d.get(DATA_KEY))
        .and_then(serde_json::Value::as_str)
    {
        Some(pem) if pem.contains("-----BEGIN CERTIFICATE-----") => Ok(pem.as_bytes().to_vec()),
        _ => Err(format!("no certificate under {DATA_KEY}")),
    }
}

/// The ConfigMap object's `namespace/name`.
#[must_use]
pub fn object_ref(object: &serde_json::Value) -> String {
    format!("{}/{}", meta(object, "namespace"), meta(object, "name"))
}

/// Whether a non-200 answer to a proxied request came from the API server rather than the
/// controller: the proxy could not reach a backend (502–504), or the API server refused the
/// request itself (its answers are `Status` objects; the controller never sends one).
#[must_use]
pub fn proxy_failed(response: &Response) -> bool {
    if response.status == 200 {
        return false;
    }
    if (502..=504).contains(&response.status) {
        return true;
    }
    serde_json::from_slice::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|v| {
            v.get("kind")
                .and_then(serde_json::Value::as_str)
                .map(|k| k == "Status")
        })
        .unwrap_or(false)
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters).
#[must_use]
pub fn query_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn services_and_choice() {
        let body = json!({"kind": "ServiceList", "items": [
            {"metadata": {"namespace": "a", "name": "ss"}, "spec": {"ports": [{"name": "http", "port": 8080}]}},
            {"metadata": {"namespace": "b", "name": "ss"}, "spec": {"ports": [{"port": 8080}]}},
            {"metadata": {"namespace": "c", "name": "headless"}, "spec": {}},
        ]});
        let items = list_items(body.to_string().as_bytes()).unwrap();
        let found = services(&items);
        assert_eq!(found.len(), 2, "a Service without ports is skipped");
        assert_eq!(found[0].port_name, "http");
        assert_eq!(
            found[1].port_name, "",
            "an unnamed port, as upstream's controller.yaml"
        );
        let ns = |s: &ServiceRef| s.namespace.clone();
        let name = |s: &ServiceRef| format!("{}/{}", s.namespace, s.name);
        assert_eq!(choose(&found, "b", ns, name), Choice::One(found[1].clone()));
        assert_eq!(
            choose(&found, "kube-system", ns, name),
            Choice::Several(vec!["a/ss".into(), "b/ss".into()])
        );
        assert_eq!(
            choose(&found[..1], "x", ns, name),
            Choice::One(found[0].clone())
        );
        assert_eq!(choose(&found[..0], "x", ns, name), Choice::None);
        assert!(list_items(b"{\"kind\":\"Status\"}").is_none());
        assert!(list_items(b"not json").is_none());
    }

    #[test]
    fn configmaps_must_be_labelled_and_hold_a_certificate() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let good = json!({"metadata": {"namespace": "n", "name": "c",
            "labels": {"sealed-secrets-rs/public-cert": "true"}}, "data": {"cert.pem": pem}});
        assert_eq!(configmap_cert(&good).unwrap(), pem.as_bytes());
        assert_eq!(object_ref(&good), "n/c");
        let unlabelled = json!({"metadata": {"name": "c"}, "data": {"cert.pem": pem}});
        assert!(
            configmap_cert(&unlabelled)
                .unwrap_err()
                .contains("not labelled")
        );
        let empty = json!({"metadata": {"labels": {"sealed-secrets-rs/public-cert": "true"}}, "data": {"cert.pem": "hello"}});
        assert_eq!(
            configmap_cert(&empty).unwrap_err(),
            "no certificate under cert.pem"
        );
    }

    #[test]
    fn api_server_answers_are_proxy_failures_controller_answers_are_not() {
        let status = |code: u16, body: &str| Response {
            status: code,
            body: body.as_bytes().to_vec(),
        };
        assert!(proxy_failed(&status(503, "no endpoints")));
        assert!(proxy_failed(&status(
            403,
            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","code":403}"#
        )));
        assert!(!proxy_failed(&status(500, "cannot get certificate\n")));
        assert!(!proxy_failed(&status(404, "404 page not found\n")));
        assert!(!proxy_failed(&status(200, "{\"kind\":\"Status\"}")));
    }

    #[test]
    fn descriptions_and_queries() {
        let tried = [
            Attempt::new("service a/b", "404 Not Found"),
            Attempt::new("configmaps labelled x in any namespace", "none"),
        ];
        assert_eq!(
            describe(&tried),
            "service a/b: 404 Not Found; configmaps labelled x in any namespace: none"
        );
        assert_eq!(
            query_value("app.kubernetes.io/name in (a,b),c!=d"),
            "app.kubernetes.io%2Fname%20in%20%28a%2Cb%29%2Cc%21%3Dd"
        );
    }
}
