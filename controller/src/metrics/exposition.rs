//! What `/metrics` answers, negotiated as upstream's handler (`promhttp.Handler()` of
//! client_golang v1.24 with prometheus/common v0.70) negotiates it:
//! - the content type is the text format, `text/plain; version=0.0.4; charset=utf-8;
//!   escaping=underscores`, the `escaping` echoing a known one the scraper's `Accept` names.
//!   Upstream's handler does not offer OpenMetrics; it would answer protobuf to a scraper that
//!   asks for it first, we always answer text, which every Prometheus accepts;
//! - the body is gzipped when `Accept-Encoding` prefers gzip (`identity` and `gzip` offered, in
//!   that order, best q wins, `*` matches the first; q=0 everywhere means identity, as promhttp
//!   falls back to it);
//! - `promhttp_metric_handler_requests_total{code}` and `…_requests_in_flight` count scrapes.

use std::io::Write as _;

use super::Metrics;

/// The text format's content type without its `escaping` parameter.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One scrape's answer.
#[derive(Debug)]
pub struct Exposition {
    pub content_type: String,
    /// `Content-Encoding`, when not identity.
    pub content_encoding: Option<&'static str>,
    pub body: Vec<u8>,
}

/// Gathers `metrics` and encodes them for a scraper that sent these headers.
#[must_use]
pub fn expose(
    metrics: &Metrics,
    accept: Option<&str>,
    accept_encoding: Option<&str>,
) -> Exposition {
    let _in_flight = metrics.scrape_started();
    let (_, text) = metrics.encode();
    let content_type = content_type(accept.unwrap_or(""));
    let exposition = match negotiate_encoding(accept_encoding.unwrap_or("")) {
        Encoding::Gzip => match gzip(&text) {
            Ok(body) => Exposition {
                content_type,
                content_encoding: Some("gzip"),
                body,
            },
            // Writing into memory does not fail; if it did, promhttp's fallback: identity.
            Err(_) => Exposition {
                content_type,
                content_encoding: None,
                body: text,
            },
        },
        Encoding::Identity => Exposition {
            content_type,
            content_encoding: None,
            body: text,
        },
    };
    // Counted once answered, as promhttp's counter wrapper does (this scrape shows the
    // previous ones).
    metrics.scrape_answered(200);
    exposition
}

/// An `Accept` (or `Accept-Encoding`) entry: value, parameters, q.
struct Entry<'a> {
    value: &'a str,
    params: Vec<(&'a str, &'a str)>,
    q: f64,
}

/// Parses a comma-separated header into entries sorted by q, best first (stable, as Go's
/// `goautoneg`).
fn entries(header: &str) -> Vec<Entry<'_>> {
    let mut out: Vec<Entry<'_>> = header
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';').map(str::trim);
            let value = pieces.next().filter(|v| !v.is_empty())?;
            let mut q = 1.0;
            let mut params = Vec::new();
            for piece in pieces {
                let Some((key, val)) = piece.split_once('=') else {
                    continue;
                };
                let (key, val) = (key.trim(), val.trim().trim_matches('"'));
                if key == "q" {
                    q = val.parse().unwrap_or(0.0);
                } else {
                    params.push((key, val));
                }
            }
            Some(Entry { value, params, q })
        })
        .collect();
    out.sort_by(|a, b| b.q.total_cmp(&a.q));
    out
}

/// The content type promhttp's `expfmt.Negotiate` gives for `accept`, restricted to the text
/// format we encode.
#[must_use]
pub fn content_type(accept: &str) -> String {
    let mut escaping = "underscores";
    for entry in entries(accept) {
        let param = |name: &str| {
            entry
                .params
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| *v)
        };
        if let Some(scheme) = param("escaping")
            && ["allow-utf-8", "underscores", "dots", "values"].contains(&scheme)
        {
            escaping = scheme;
        }
        let version = param("version").unwrap_or("");
        if entry.value.eq_ignore_ascii_case("text/plain")
            && (version == "0.0.4" || version.is_empty())
        {
            break;
        }
    }
    format!("{TEXT_FORMAT}; escaping={escaping}")
}

/// `Content-Encoding` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
}

/// promhttp's choice between its offers `identity` and `gzip` (gddo's
/// `NegotiateContentEncoding`): the offer with the strictly best q, `*` matching any.
#[must_use]
pub fn negotiate_encoding(accept_encoding: &str) -> Encoding {
    let specs = entries(accept_encoding);
    let mut best = Encoding::Identity;
    let mut best_q = -1.0;
    for (offer, name) in [(Encoding::Identity, "identity"), (Encoding::Gzip, "gzip")] {
        for spec in &specs {
            if spec.q > best_q && (spec.value == "*" || spec.value.eq_ignore_ascii_case(name)) {
                best_q = spec.q;
                best = offer;
            }
        }
    }
    // q=0 everywhere: promhttp finds no acceptable encoding and writes identity.
    if best_q == 0.0 {
        return Encoding::Identity;
    }
    best
}

/// Gzip at the default level, as Go's `gzip.NewWriter`.
///
/// # Errors
/// Compression failed (it does not, into memory).
pub fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::default(),
    );
    encoder.write_all(body)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn content_type_is_promhttp_text() {
        let default = "text/plain; version=0.0.4; charset=utf-8; escaping=underscores";
        assert_eq!(content_type(""), default);
        assert_eq!(content_type("*/*"), default);
        assert_eq!(
            content_type("text/plain;version=0.0.4;q=0.3,*/*;q=0.2"),
            default
        );
        // Prometheus 3's default scrape protocols: OpenMetrics first, which promhttp's default
        // handler does not offer; the text format's escaping follows the first entry naming one.
        assert_eq!(
            content_type(
                "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
                 application/openmetrics-text;version=0.0.1;q=0.5,\
                 text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
                 text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
            ),
            "text/plain; version=0.0.4; charset=utf-8; escaping=allow-utf-8"
        );
        assert_eq!(content_type("text/plain;escaping=bogus"), default);
    }

    #[test]
    fn encoding_is_negotiated_as_promhttp() {
        for (header, want) in [
            ("", Encoding::Identity),
            ("gzip", Encoding::Gzip),
            ("gzip, deflate, br", Encoding::Gzip),
            ("deflate", Encoding::Identity),
            ("*", Encoding::Identity),
            ("identity;q=0.5, gzip", Encoding::Gzip),
            ("gzip;q=0.5, identity", Encoding::Identity),
            ("gzip;q=0", Encoding::Identity),
            ("GZIP", Encoding::Gzip),
        ] {
            assert_eq!(negotiate_encoding(header), want, "{header:?}");
        }
    }

    #[test]
    fn gzip_round_trip() {
        let m = Metrics::new("t").unwrap();
        let plain = expose(&m, None, None);
        assert_eq!(plain.content_encoding, None);
        let zipped = expose(&m, Some("text/plain"), Some("gzip"));
        assert_eq!(zipped.content_encoding, Some("gzip"));
        assert!(zipped.body.starts_with(&[0x1f, 0x8b]), "not gzip");
        let mut text = String::new();
        flate2::read::GzDecoder::new(zipped.body.as_slice())
            .read_to_string(&mut text)
            .unwrap();
        assert!(
            text.contains("sealed_secrets_controller_build_info"),
            "{text}"
        );
        assert!(zipped.body.len() < text.len());
    }

    #[test]
    fn scrapes_are_counted_as_promhttp_counts_them() {
        let m = Metrics::new("t").unwrap();
        let first = String::from_utf8(expose(&m, None, None).body).unwrap();
        for line in [
            "promhttp_metric_handler_requests_total{code=\"200\"} 0",
            "promhttp_metric_handler_requests_total{code=\"500\"} 0",
            "promhttp_metric_handler_requests_total{code=\"503\"} 0",
            "promhttp_metric_handler_requests_in_flight 1",
        ] {
            assert!(first.lines().any(|l| l == line), "no {line} in\n{first}");
        }
        let second = String::from_utf8(expose(&m, None, None).body).unwrap();
        assert!(
            second
                .lines()
                .any(|l| l == "promhttp_metric_handler_requests_total{code=\"200\"} 1"),
            "{second}"
        );
    }
}
