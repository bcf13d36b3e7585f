//! Number text as Go prints it: `strconv.FormatFloat(f, 'g', -1, bits)` and `encoding/json`'s
//! float encoding. Upstream's output goes through both (JSON, then go-yaml re-reading that JSON),
//! so matching them is what keeps numbers byte-identical. The formatting itself is
//! [`go_template::gocompat`], shared with the templates; this adds go-yaml's spellings.

use go_template::gocompat::{Bits, format_float, format_json_float};

/// Go `strconv.FormatFloat(value, 'g', -1, 64 or 32)`, with go-yaml's spellings of the
/// non-finite values (`.inf`, `-.inf`, `.nan`).
pub(crate) fn format_g(value: f64, single: bool) -> String {
    if value.is_nan() {
        return ".nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { ".inf" } else { "-.inf" }.to_owned();
    }
    let bits = if single { Bits::B32 } else { Bits::B64 };
    ascii(format_float(value, b'g', None, bits))
}

/// Go `encoding/json`'s float64 text: `'f'` form unless the magnitude is below 1e-6 or at least
/// 1e21, then `'e'` form with a one-digit negative exponent left unpadded (`1e-7`, `1e+21`).
/// Non-finite values have no JSON form; callers never pass them (they print as `0`).
pub(crate) fn format_json(value: f64) -> String {
    if !value.is_finite() {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    ascii(format_json_float(value))
}

/// A scalar as `sigs.k8s.io/yaml` spells it where a string is wanted (a map key, a string
/// field): strings as they are, integers in decimal, floats as float32 `%g`, booleans as
/// `true`/`false`. `None` for null and collections, which have no such spelling.
pub(crate) fn scalar_text(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => Some(match (number.as_i64(), number.as_u64()) {
            (Some(int), _) => int.to_string(),
            (None, Some(uint)) => uint.to_string(),
            (None, None) => format_g(number.as_f64().unwrap_or_default(), true),
        }),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// Number text is ASCII digits, signs, `.` and `e`.
fn ascii(text: Vec<u8>) -> String {
    String::from_utf8(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_format_matches_go_shortest() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (1.5, "1.5"),
            (100_000.0, "100000"),
            (1_000_000.0, "1e+06"),
            (1_234_567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e20, "1e+20"),
            (1e100, "1e+100"),
            (-2.5e-7, "-2.5e-07"),
            (0.1, "0.1"),
            (123.456, "123.456"),
        ];
        for (value, want) in cases {
            assert_eq!(format_g(*value, false), *want, "{value}");
        }
        assert_eq!(format_g(f64::INFINITY, false), ".inf");
        assert_eq!(format_g(f64::NEG_INFINITY, true), "-.inf");
        assert_eq!(format_g(f64::NAN, false), ".nan");
    }

    #[test]
    fn g_format_single_precision_uses_float32_digits() {
        assert_eq!(format_g(0.1, true), "0.1");
        assert_eq!(format_g(std::f64::consts::PI, true), "3.1415927");
        assert_eq!(format_g(16_777_217.0, true), "1.6777216e+07");
    }

    #[test]
    fn json_format_matches_go_encoding_json() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (1.0, "1"),
            (1.5, "1.5"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-10, "1.5e-10"),
            (-3.25, "-3.25"),
        ];
        for (value, want) in cases {
            assert_eq!(format_json(*value), *want, "{value}");
        }
    }
}
