//! Web-identity credentials for the AWS provider (IRSA, EKS Pod Identity's web-identity mode):
//! with `AWS_ROLE_ARN` and `AWS_WEB_IDENTITY_TOKEN_FILE` set, as EKS sets them, the provider
//! exchanges the projected service-account token for temporary credentials with STS
//! `AssumeRoleWithWebIdentity` (an unsigned call), caches them and exchanges again shortly
//! before they expire. No static key has to sit in a Secret.
//!
//! The token file is re-read at every exchange (the kubelet rotates it). The STS answer is
//! parsed for the four fields it needs; nothing else of it is kept or logged.

use std::path::PathBuf;

use time::OffsetDateTime;
use zeroize::Zeroizing;

use super::sigv4::Credentials;

/// Exchange again when the credentials have less than this left.
pub const REFRESH_BEFORE: time::Duration = time::Duration::minutes(5);
/// The largest token file read.
const MAX_TOKEN: u64 = 64 * 1024;

/// Where and as whom to assume the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    pub role_arn: String,
    pub token_file: PathBuf,
    pub session_name: String,
    /// The STS endpoint (`https://sts.<region>.amazonaws.com`, or `AWS_ENDPOINT_URL_STS`).
    pub sts: String,
}

impl WebIdentity {
    /// From the environment EKS sets: `None` unless both `AWS_ROLE_ARN` and
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` are set.
    #[must_use]
    pub fn from_env(region: &str, env: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let role_arn = env("AWS_ROLE_ARN")?;
        let token_file = PathBuf::from(env("AWS_WEB_IDENTITY_TOKEN_FILE")?);
        Some(Self {
            role_arn,
            token_file,
            session_name: env("AWS_ROLE_SESSION_NAME")
                .unwrap_or_else(|| "sealed-secrets-controller".to_owned()),
            sts: env("AWS_ENDPOINT_URL_STS")
                .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com")),
        })
    }

    /// The token, read now (bounded).
    ///
    /// # Errors
    /// The file cannot be read, is empty or too large; the text names the file only.
    pub fn token(&self) -> Result<Zeroizing<String>, String> {
        use std::io::Read as _;
        let shown = self.token_file.display();
        let file = std::fs::File::open(&self.token_file)
            .map_err(|e| format!("cannot read the web identity token {shown}: {e}"))?;
        let mut text = Zeroizing::new(String::new());
        file.take(MAX_TOKEN + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the web identity token {shown}: {e}"))?;
        if text.len() as u64 > MAX_TOKEN {
            return Err(format!(
                "the web identity token {shown} is larger than 64 KiB"
            ));
        }
        let trimmed = Zeroizing::new(text.trim().to_owned());
        if trimmed.is_empty() {
            return Err(format!("the web identity token {shown} is empty"));
        }
        Ok(trimmed)
    }

    /// The form body of the `AssumeRoleWithWebIdentity` call.
    #[must_use]
    pub fn request_body(&self, token: &str) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(
            format!(
                "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={}&RoleSessionName={}&WebIdentityToken={}",
                form_encode(&self.role_arn),
                form_encode(&self.session_name),
                form_encode(token)
            )
            .into_bytes(),
        )
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
#[must_use]
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Temporary credentials and when they expire.
#[derive(Debug, Clone)]
pub struct Expiring {
    pub credentials: Credentials,
    pub expires: OffsetDateTime,
}

impl Expiring {
    /// Still good for at least [`REFRESH_BEFORE`] at `now`.
    #[must_use]
    pub fn fresh(&self, now: OffsetDateTime) -> bool {
        self.expires - now > REFRESH_BEFORE
    }
}

/// The text of the first `<tag>…</tag>` in `xml`, with XML's five entities decoded.
fn element(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(
        xml[start..end]
            .trim()
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// Reads the credentials of an `AssumeRoleWithWebIdentityResponse`.
///
/// # Errors
/// A field is missing or the expiration is not a time.
pub fn parse_response(xml: &str) -> Result<Expiring, String> {
    let field = |tag: &str| element(xml, tag).ok_or_else(|| format!("the STS answer has no {tag}"));
    let expiration = field("Expiration")?;
    let expires =
        OffsetDateTime::parse(&expiration, &time::format_description::well_known::Rfc3339)
            .map_err(|_| "the STS answer's Expiration is not a time".to_owned())?;
    Ok(Expiring {
        credentials: Credentials {
            access_key_id: field("AccessKeyId")?,
            secret_access_key: Zeroizing::new(field("SecretAccessKey")?),
            session_token: Some(Zeroizing::new(field("SessionToken")?)),
        },
        expires,
    })
}

/// One line from an STS error answer: its `Code` and at most 200 characters of its `Message`.
#[must_use]
pub fn error_text(status: u16, xml: &str) -> String {
    let code = element(xml, "Code").unwrap_or_default();
    let message: String = element(xml, "Message")
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    match (code.is_empty(), message.is_empty()) {
        (true, _) => format!("HTTP {status}"),
        (false, true) => format!("{code} (HTTP {status})"),
        (false, false) => format!("{code}: {message} (HTTP {status})"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code
mod tests {
    use super::*;

    const ANSWER: &str = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>ASIAEXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalr/EXAMPLE+KEY</SecretAccessKey>
      <SessionToken>IQoJb3JpZ2luX2Vj&amp;EXAMPLE==</SessionToken>
      <Expiration>2026-12-04T03:00:00Z</Expiration>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"#;

    #[test]
    fn reads_the_credentials_of_an_sts_answer() {
        let got = parse_response(ANSWER).unwrap();
        assert_eq!(got.credentials.access_key_id, "ASIAEXAMPLE");
        assert_eq!(&*got.credentials.secret_access_key, "wJalr/EXAMPLE+KEY");
        assert_eq!(
            got.credentials.session_token.as_deref().map(String::as_str),
            Some("IQoJb3JpZ2luX2Vj&EXAMPLE==")
        );
        let at = time::macros::datetime!(2026-12-04 02:00 UTC);
        assert!(got.fresh(at));
        assert!(!got.fresh(time::macros::datetime!(2026-12-04 02:56 UTC)));
        assert_eq!(
            parse_response("<x/>").unwrap_err(),
            "the STS answer has no Expiration"
        );
    }

    #[test]
    fn sts_errors_are_one_line() {
        let xml = "<ErrorResponse><Error><Code>InvalidIdentityToken</Code><Message>bad\ntoken</Message></Error></ErrorResponse>";
        assert_eq!(
            error_text(400, xml),
            "InvalidIdentityToken: badtoken (HTTP 400)"
        );
        assert_eq!(error_text(503, "<html>"), "HTTP 503");
    }

    #[test]
    fn the_request_is_form_encoded_and_the_token_reread() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "eyJ.a+b/c=\n").unwrap();
        let env = |name: &str| match name {
            "AWS_ROLE_ARN" => Some("arn:aws:iam::1:role/r".to_owned()),
            "AWS_WEB_IDENTITY_TOKEN_FILE" => Some(file.display().to_string()),
            _ => None,
        };
        let wi = WebIdentity::from_env("eu-west-2", env).unwrap();
        assert_eq!(wi.sts, "https://sts.eu-west-2.amazonaws.com");
        assert_eq!(wi.session_name, "sealed-secrets-controller");
        let body = wi.request_body(&wi.token().unwrap());
        assert_eq!(
            String::from_utf8(body.to_vec()).unwrap(),
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&RoleSessionName=sealed-secrets-controller&WebIdentityToken=eyJ.a%2Bb%2Fc%3D"
        );
        std::fs::write(&file, "").unwrap();
        assert!(wi.token().unwrap_err().ends_with("is empty"));
        assert!(WebIdentity::from_env("r", |_| None).is_none());
    }
}
