//! Value parsers that accept what upstream's Go flags accept: `time.ParseDuration` durations,
//! `strconv.ParseBool` booleans, RFC 1123 cut-off times and `k=v,k=v` maps.

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

/// Parses a Go `time.Duration` string such as `720h`, `2m`, `1h30m`, `1.5s`, `300ms` or `0`.
///
/// # Errors
/// The text is not a Go duration, or it is negative (no flag here takes a negative duration).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let mut rest = text;
    if let Some(stripped) = rest.strip_prefix('+') {
        rest = stripped;
    }
    if let Some(magnitude) = rest.strip_prefix('-') {
        if !magnitude.is_empty() && magnitude.chars().all(|c| c == '0' || c == '.') {
            return Ok(Duration::ZERO);
        }
        return Err(format!("negative duration {text:?} is not allowed"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {text:?}"))?;
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            _ => return Err(format!("time: unknown unit {unit:?} in duration {text:?}")),
        };
        total_nanos += value * scale;
        rest = next;
    }
    if !total_nanos.is_finite() || total_nanos > 9.2e18 {
        return Err(invalid());
    }
    // Durations are whole nanoseconds in Go; the cast truncates the fraction like Go does.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let nanos = total_nanos as u64;
    Ok(Duration::from_nanos(nanos))
}

/// Formats a duration the way Go's `Duration.String` does for whole seconds and above
/// (`720h0m0s`, `2m0s`, `0s`); used in help text and logs.
#[must_use]
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let nanos = duration.subsec_nanos();
    if secs == 0 && nanos == 0 {
        return "0s".to_owned();
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let seconds = if nanos == 0 {
        format!("{s}s")
    } else {
        let frac = format!("{nanos:09}");
        format!("{s}.{}s", frac.trim_end_matches('0'))
    };
    if h > 0 {
        format!("{h}h{m}m{seconds}")
    } else if m > 0 {
        format!("{m}m{seconds}")
    } else {
        seconds
    }
}

/// Parses a boolean as Go's `strconv.ParseBool` does.
///
/// # Errors
/// Any other spelling.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {text:?}: invalid syntax"
        )),
    }
}

const RFC1123Z: &[FormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] [offset_hour sign:mandatory][offset_minute]"
);

/// Parses `--key-cutoff-time`: RFC 1123 with a numeric zone, as `date -R` prints it
/// (`Mon, 02 Jan 2006 15:04:05 -0700`).
///
/// # Errors
/// Any other format.
pub fn parse_rfc1123z(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text.trim(), RFC1123Z).map_err(|e| {
        format!("cannot parse {text:?} as RFC1123 with numeric zone (Mon, 02 Jan 2006 15:04:05 -0700): {e}")
    })
}

/// Parses a `k=v,k=v` list as upstream's `--privatekey-labels`/`--privatekey-annotations`:
/// empty entries are skipped and a value containing `=` is cut at the second `=`.
///
/// # Errors
/// An entry has no `=` (upstream panics there; we refuse to start with a clear message).
pub fn parse_key_value_list(flag: &str, text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    if text.is_empty() {
        return Ok(out);
    }
    for entry in text.split(',') {
        if entry.is_empty() {
            continue;
        }
        let mut parts = entry.split('=');
        let key = parts.next().unwrap_or_default();
        let Some(value) = parts.next() else {
            return Err(format!(
                "--{flag}: entry {entry:?} is not of the form key=value"
            ));
        };
        out.insert(key.to_owned(), value.to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(
            parse_duration("720h").unwrap(),
            Duration::from_secs(720 * 3600)
        );
        assert_eq!(
            parse_duration("87600h").unwrap(),
            Duration::from_secs(87600 * 3600)
        );
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            parse_duration("720h0m0s").unwrap(),
            Duration::from_secs(720 * 3600)
        );
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("10d").is_err());
        assert!(parse_duration("-1h").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn go_duration_strings() {
        assert_eq!(format_duration(Duration::from_secs(720 * 3600)), "720h0m0s");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m0s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn go_bools() {
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            assert!(parse_bool(t).unwrap());
        }
        for f in ["0", "f", "F", "false", "FALSE", "False"] {
            assert!(!parse_bool(f).unwrap());
        }
        assert!(parse_bool("yes").is_err());
        assert!(parse_bool("tRUE").is_err());
    }

    #[test]
    fn rfc1123z() {
        let t = parse_rfc1123z("Mon, 02 Jan 2006 15:04:05 -0700").unwrap();
        assert_eq!(t.unix_timestamp(), 1_136_239_445);
        assert!(parse_rfc1123z("2006-01-02T15:04:05Z").is_err());
        assert!(parse_rfc1123z("Mon, 02 Jan 2006 15:04:05 MST").is_err());
    }

    #[test]
    fn key_value_lists() {
        let m = parse_key_value_list("x", "a=b,c=d=e,,f=").unwrap();
        assert_eq!(m["a"], "b");
        assert_eq!(m["c"], "d");
        assert_eq!(m["f"], "");
        assert!(parse_key_value_list("x", "").unwrap().is_empty());
        let err = parse_key_value_list("privatekey-labels", "novalue").unwrap_err();
        assert!(err.contains("privatekey-labels"), "{err}");
    }
}
