//! Number text as Go prints it: `strconv.FormatFloat(f, 'g', -1, bits)` and `encoding/json`'s
//! float encoding. Upstream's output goes through both (JSON, then go-yaml re-reading that JSON),
//! so matching them is what keeps numbers byte-identical.

/// The shortest decimal digits that round-trip `value` at the given precision, with the
/// position of the decimal point (`0.123` has digits `123` and point 0; `12.3` has point 2).
/// `value` must be finite and positive.
struct Digits {
    digits: String,
    point: i32,
}

impl Digits {
    fn shortest(value: f64, single: bool) -> Self {
        // Rust's `{:e}` prints the shortest round-trip digits, as Go's shortest mode does.
        // The f64 → f32 narrowing is wanted: it is Go's `FormatFloat(v, 'g', -1, 32)`.
        #[allow(clippy::cast_possible_truncation)]
        let text = if single {
            format!("{:e}", value as f32)
        } else {
            format!("{value:e}")
        };
        let (mantissa, exponent) = text.split_once('e').unwrap_or((text.as_str(), "0"));
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let exponent: i32 = exponent.parse().unwrap_or(0);
        Self {
            digits,
            point: exponent + 1,
        }
    }

    fn len(&self) -> i32 {
        i32::try_from(self.digits.len()).unwrap_or(i32::MAX)
    }

    fn digit(&self, position: i32) -> char {
        usize::try_from(position)
            .ok()
            .and_then(|p| self.digits.as_bytes().get(p))
            .map_or('0', |b| char::from(*b))
    }

    /// `d.ddde±XX` with every digit kept (Go `fmtE` in shortest mode).
    fn write_exponent(&self, out: &mut String) {
        out.push(self.digit(0));
        if self.digits.len() > 1 {
            out.push('.');
            out.push_str(&self.digits[1..]);
        }
        let exponent = self.point - 1;
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        let magnitude = exponent.unsigned_abs();
        if magnitude < 10 {
            out.push('0');
        }
        out.push_str(&magnitude.to_string());
    }

    /// `ddd.ddd` with no exponent (Go `fmtF` in shortest mode).
    fn write_fixed(&self, out: &mut String) {
        if self.point > 0 {
            for position in 0..self.point {
                out.push(self.digit(position));
            }
        } else {
            out.push('0');
        }
        let decimals = (self.len() - self.point).max(0);
        if decimals > 0 {
            out.push('.');
            for offset in 0..decimals {
                out.push(self.digit(self.point + offset));
            }
        }
    }
}

/// Go `strconv.FormatFloat(value, 'g', -1, 64 or 32)`, with go-yaml's spellings of the
/// non-finite values (`.inf`, `-.inf`, `.nan`).
pub(crate) fn format_g(value: f64, single: bool) -> String {
    if value.is_nan() {
        return ".nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { ".inf" } else { "-.inf" }.to_owned();
    }
    let mut out = String::new();
    if value.is_sign_negative() {
        out.push('-');
    }
    if value == 0.0 {
        out.push('0');
        return out;
    }
    let digits = Digits::shortest(value.abs(), single);
    // Shortest %g switches to the exponent form outside [1e-4, 1e6) (eprec is 6).
    let exponent = digits.point - 1;
    if (-4..6).contains(&exponent) {
        digits.write_fixed(&mut out);
    } else {
        digits.write_exponent(&mut out);
    }
    out
}

/// Go `encoding/json`'s float64 text: `'f'` form unless the magnitude is below 1e-6 or at least
/// 1e21, then `'e'` form with a one-digit negative exponent left unpadded (`1e-7`, `1e+21`).
/// Non-finite values have no JSON form; callers never pass them.
pub(crate) fn format_json(value: f64) -> String {
    let mut out = String::new();
    if value.is_sign_negative() {
        out.push('-');
    }
    let magnitude = value.abs();
    if magnitude == 0.0 || !magnitude.is_finite() {
        out.push('0');
        return out;
    }
    let digits = Digits::shortest(magnitude, false);
    if (1e-6..1e21).contains(&magnitude) {
        digits.write_fixed(&mut out);
    } else {
        digits.write_exponent(&mut out);
        // Go trims `e-07` to `e-7` (but keeps `e+21`, which never needs it).
        let bytes = out.as_bytes();
        let n = bytes.len();
        if n >= 4 && bytes[n - 4] == b'e' && bytes[n - 3] == b'-' && bytes[n - 2] == b'0' {
            out.remove(n - 2);
        }
    }
    out
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
