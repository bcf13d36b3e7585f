//! API paths (escaped) and the one-line text of an API server's answer.

use super::MAX_QUOTED;
use super::client::Response;

/// Percent-encodes one path segment (RFC 3986 `pchar`s stay as they are).
pub(super) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte);
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `/api/v1/namespaces/<ns>/services/<name>`.
pub(super) fn service_path(namespace: &str, name: &str) -> String {
    format!(
        "/api/v1/namespaces/{}/services/{}",
        segment(namespace),
        segment(name)
    )
}

/// The proxy prefix, with the Service named as `net.JoinSchemeNamePort("http", name, port)`
/// does: `http:<name>:<port>`, keeping the trailing colon when the port is unnamed.
pub(super) fn proxy_base(namespace: &str, name: &str, port_name: &str) -> String {
    format!(
        "/api/v1/namespaces/{}/services/{}/proxy",
        segment(namespace),
        segment(&format!("http:{name}:{port_name}"))
    )
}

/// `503 Service Unavailable: no endpoints available for service "x"`: the status, then the
/// `message` of a Kubernetes `Status` body or else the first line of the body, shortened.
pub(crate) fn answer_text(response: &Response) -> String {
    let status = response.status;
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let head = format!("{status} {reason}").trim_end().to_owned();
    let message = serde_json::from_slice::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&response.body)
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or_default()
                .to_owned()
        });
    let message = message.lines().next().unwrap_or_default().trim();
    if message.is_empty() {
        return head;
    }
    let mut quoted: String = message.chars().take(MAX_QUOTED).collect();
    if quoted.len() < message.len() {
        quoted.push('…');
    }
    format!("{head}: {quoted}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod tests {
    use super::*;

    #[test]
    fn proxy_paths_match_upstream() {
        assert_eq!(
            service_path("kube-system", "sealed-secrets-controller"),
            "/api/v1/namespaces/kube-system/services/sealed-secrets-controller"
        );
        // controller.yaml has an unnamed port: the trailing colon stays.
        assert_eq!(
            proxy_base("kube-system", "sealed-secrets-controller", ""),
            "/api/v1/namespaces/kube-system/services/http:sealed-secrets-controller:/proxy"
        );
        // The Helm chart names it "http".
        assert_eq!(
            proxy_base("sealed", "ss", "http"),
            "/api/v1/namespaces/sealed/services/http:ss:http/proxy"
        );
        // Nothing a user types can leave its segment.
        assert_eq!(
            service_path("a/b", "c?d#e f%"),
            "/api/v1/namespaces/a%2Fb/services/c%3Fd%23e%20f%25"
        );
    }

    #[test]
    fn answers_quote_the_status_message_or_first_line() {
        let status = Response {
            status: 503,
            body: br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"no endpoints available for service \"x\"","reason":"ServiceUnavailable","code":503}"#.to_vec(),
        };
        assert_eq!(
            answer_text(&status),
            "503 Service Unavailable: no endpoints available for service \"x\""
        );
        let plain = Response {
            status: 500,
            body: b"\ncannot get certificate\nmore\n".to_vec(),
        };
        assert_eq!(
            answer_text(&plain),
            "500 Internal Server Error: cannot get certificate"
        );
        let empty = Response {
            status: 409,
            body: Vec::new(),
        };
        assert_eq!(answer_text(&empty), "409 Conflict");
        let long = Response {
            status: 404,
            body: "x".repeat(1000).into_bytes(),
        };
        assert!(answer_text(&long).chars().count() < 220);
    }
}
