//! The browser sealer page (docs/web.md): one HTML file and one script from `web/`, assembled
//! into a self-contained page whose Content-Security-Policy admits only that script and style
//! (by hash). The controller serves it with `connect-src 'self'` (the page fetches
//! `v1/cert.pem` once); `kubeseal-rs web` writes it with the certificate embedded and no
//! network access at all.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use crate::cert::Certificate;

const TEMPLATE: &str = include_str!("../../web/sealer.html");
const SCRIPT: &str = include_str!("../../web/sealer.js");

/// Where the page will live, which decides what it may connect to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CspMode {
    /// Served by the controller: may fetch from its own origin (`connect-src 'self'`).
    Served,
    /// A static file: no network access (`connect-src 'none'`).
    Offline,
}

/// An assembled page and the policy it carries.
#[derive(Clone, Debug)]
pub struct Page {
    /// The HTML document (the policy is also in a `<meta http-equiv>` tag).
    pub html: String,
    /// The policy for a `Content-Security-Policy` response header: the meta tag's one plus
    /// what only a header can say (`frame-ancestors`).
    pub csp_header: String,
}

fn sha256_source(text: &str) -> String {
    format!(
        "'sha256-{}'",
        STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

/// The text of the template's one `<style>` element.
fn style_text() -> &'static str {
    let start = TEMPLATE.find("<style>").map_or(0, |i| i + "<style>".len());
    let end = TEMPLATE[start..]
        .find("</style>")
        .map_or(start, |i| start + i);
    &TEMPLATE[start..end]
}

/// The policy of the page in `mode`, as the meta tag carries it.
#[must_use]
pub fn content_security_policy(mode: CspMode) -> String {
    let connect = match mode {
        CspMode::Served => "'self'",
        CspMode::Offline => "'none'",
    };
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src {connect}; \
         base-uri 'none'; form-action 'none'",
        sha256_source(SCRIPT),
        sha256_source(style_text()),
    )
}

/// Assembles the page. With `cert`, the certificate is embedded and the page seals with it;
/// without, the page fetches `v1/cert.pem` relative to its own address (only useful with
/// [`CspMode::Served`]).
#[must_use]
pub fn page(cert: Option<&Certificate>, mode: CspMode) -> Page {
    let csp = content_security_policy(mode);
    // The PEM is base64, dashes and newlines: nothing HTML would read as markup.
    let cert_block = cert.map_or_else(String::new, |cert| {
        format!("<pre id=\"embedded-cert\" hidden>\n{}</pre>", cert.to_pem())
    });
    let html = TEMPLATE
        .replacen(
            "<!--CSP-->",
            &format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">"),
            1,
        )
        .replacen("<!--CERT-->", &cert_block, 1)
        .replacen("<!--SCRIPT-->", &format!("<script>{SCRIPT}</script>"), 1);
    Page {
        html,
        csp_header: format!("{csp}; frame-ancestors 'none'"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::cert::CertParams;
    use crate::keys::PrivateKey;

    fn cert() -> Certificate {
        let key = PrivateKey::generate(2048).unwrap();
        Certificate::self_signed(
            &key,
            &CertParams::controller_default(time::OffsetDateTime::now_utc()),
        )
        .unwrap()
    }

    #[test]
    fn template_has_each_placeholder_once_and_the_script_cannot_end_early() {
        for marker in [
            "<!--CSP-->",
            "<!--CERT-->",
            "<!--SCRIPT-->",
            "<style>",
            "</style>",
        ] {
            assert_eq!(TEMPLATE.matches(marker).count(), 1, "{marker}");
        }
        assert!(!SCRIPT.to_ascii_lowercase().contains("</script"));
        assert!(!SCRIPT.contains("<!--"));
        // No storage, no other network API than the one fetch.
        for api in [
            "localStorage",
            "sessionStorage",
            "indexedDB",
            "XMLHttpRequest",
            "sendBeacon",
        ] {
            assert!(!SCRIPT.contains(api), "{api}");
        }
        assert_eq!(SCRIPT.matches("fetch(").count(), 1);
    }

    #[test]
    fn offline_page_embeds_the_certificate_and_allows_no_connection() {
        let cert = cert();
        let page = page(Some(&cert), CspMode::Offline);
        assert!(page.html.contains(&cert.to_pem()));
        assert!(page.html.contains("id=\"embedded-cert\""));
        assert!(!page.html.contains("<!--"));
        let csp = content_security_policy(CspMode::Offline);
        assert!(page.html.contains(&format!("content=\"{csp}\"")));
        assert!(csp.starts_with("default-src 'none'; "));
        assert!(csp.contains("connect-src 'none'"));
        assert!(!csp.contains("'unsafe-inline'"));
        assert!(!csp.contains("'self'"));
    }

    #[test]
    fn served_page_fetches_from_its_origin_only() {
        let page = page(None, CspMode::Served);
        assert!(!page.html.contains("embedded-cert\""));
        assert!(page.csp_header.contains("connect-src 'self'"));
        assert!(page.csp_header.ends_with("; frame-ancestors 'none'"));
    }

    #[test]
    fn hashes_are_of_the_exact_inline_texts() {
        let page = page(None, CspMode::Served);
        let script = format!("<script>{SCRIPT}</script>");
        assert!(page.html.contains(&script));
        let csp = content_security_policy(CspMode::Served);
        assert!(csp.contains(&sha256_source(SCRIPT)));
        let style = style_text();
        assert!(style.contains("font-family"));
        assert!(page.html.contains(&format!("<style>{style}</style>")));
        assert!(csp.contains(&sha256_source(style)));
        // The only script element is ours (a <template> or <pre> holds no code).
        assert_eq!(page.html.matches("<script").count(), 1);
    }
}
