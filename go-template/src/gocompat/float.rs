//! Go's `strconv.FormatFloat`, exactly: the float text of `fmt` (`%e %f %g`), of
//! `encoding/json` (see [`super::json`]) and of go-yaml (the manifests).

/// Decimal digits of `|v|` without trailing zeros, and the decimal point position:
/// `|v| = 0.d₁d₂… × 10^dp`. `significant`: `None` for the shortest round-trip digits.
/// `single`: the digits of `v` narrowed to `float32`.
fn float_digits(v: f64, significant: Option<usize>, single: bool) -> (Vec<u8>, i64) {
    let v = v.abs();
    if v == 0.0 {
        return (Vec::new(), 0);
    }
    // Rust's `{:e}` prints the shortest round-trip digits, as Go's shortest mode does. The
    // f64 → f32 narrowing is wanted: it is Go's `FormatFloat(v, fmt, prec, 32)`.
    #[allow(clippy::cast_possible_truncation)]
    let narrow = v as f32;
    let text = match (significant, single) {
        (None, false) => format!("{v:e}"),
        (None, true) => format!("{narrow:e}"),
        (Some(n), false) => format!("{v:.*e}", n.saturating_sub(1)),
        (Some(n), true) => format!("{narrow:.*e}", n.saturating_sub(1)),
    };
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text.as_str(), "0"));
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    let exp: i64 = exponent.parse().unwrap_or(0);
    (digits, exp + 1)
}

fn fmt_e(out: &mut Vec<u8>, digits: &[u8], dp: i64, prec: usize, letter: u8) {
    out.push(digits.first().copied().unwrap_or(b'0'));
    if prec > 0 {
        out.push(b'.');
        let end = digits.len().min(prec + 1);
        let mut i = 1;
        if i < end {
            out.extend_from_slice(&digits[1..end]);
            i = end;
        }
        while i <= prec {
            out.push(b'0');
            i += 1;
        }
    }
    out.push(letter);
    let mut exp = if digits.is_empty() { 0 } else { dp - 1 };
    if exp < 0 {
        out.push(b'-');
        exp = -exp;
    } else {
        out.push(b'+');
    }
    if exp < 10 {
        out.push(b'0');
    }
    out.extend_from_slice(exp.to_string().as_bytes());
}

fn fmt_f(out: &mut Vec<u8>, digits: &[u8], dp: i64, prec: usize) {
    if dp > 0 {
        let dp = usize::try_from(dp).unwrap_or(usize::MAX);
        let m = digits.len().min(dp);
        out.extend_from_slice(&digits[..m]);
        out.resize(out.len() + (dp - m), b'0');
    } else {
        out.push(b'0');
    }
    if prec > 0 {
        out.push(b'.');
        for i in 0..prec {
            let j = dp + i64::try_from(i).unwrap_or(i64::MAX);
            let c = usize::try_from(j)
                .ok()
                .and_then(|j| digits.get(j))
                .copied()
                .unwrap_or(b'0');
            out.push(c);
        }
    }
}

/// The size of the float Go formats: `bitSize` 64 or 32 (the value narrowed to `float32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bits {
    B64,
    B32,
}

/// Go's `strconv.FormatFloat(v, fmt, prec, bits)` for `fmt` in `e E f g G` (any other byte is
/// `g`); `prec: None` is Go's `-1`, the shortest digits that read back as the same value.
/// Non-finite values are `NaN`, `+Inf` and `-Inf`, as Go spells them.
#[must_use]
pub fn format_float(v: f64, fmt: u8, prec: Option<usize>, bits: Bits) -> Vec<u8> {
    let single = bits == Bits::B32;
    let mut out = Vec::new();
    if v.is_nan() {
        return b"NaN".to_vec();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            b"+Inf".to_vec()
        } else {
            b"-Inf".to_vec()
        };
    }
    if v.is_sign_negative() {
        out.push(b'-');
    }
    if fmt == b'f'
        && let Some(prec) = prec
        && !single
    {
        out.extend_from_slice(format!("{:.*}", prec, v.abs()).as_bytes());
        return out;
    }
    let shortest = prec.is_none();
    let (digits, dp) = match (fmt, prec) {
        (_, None) => float_digits(v, None, single),
        (b'e' | b'E', Some(p)) => float_digits(v, Some(p + 1), single),
        (_, Some(p)) => float_digits(v, Some(p.max(1)), single),
    };
    let nd = digits.len();
    let nd_i = i64::try_from(nd).unwrap_or(i64::MAX);
    match fmt {
        b'e' | b'E' => {
            let prec = prec.unwrap_or(nd.saturating_sub(1));
            fmt_e(&mut out, &digits, dp, prec, fmt);
        }
        b'f' => {
            let prec = usize::try_from((nd_i - dp).max(0)).unwrap_or(0);
            fmt_f(&mut out, &digits, dp, prec);
        }
        _ => {
            let mut prec = i64::try_from(prec.map_or(nd, |p| p.max(1))).unwrap_or(i64::MAX);
            let mut eprec = prec;
            if eprec > nd_i && nd_i >= dp {
                eprec = nd_i;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            let letter = if fmt == b'G' { b'E' } else { b'e' };
            if exp < -4 || exp >= eprec {
                if prec > nd_i {
                    prec = nd_i;
                }
                let p = usize::try_from(prec - 1).unwrap_or(0);
                fmt_e(&mut out, &digits, dp, p, letter);
            } else {
                if prec > dp {
                    prec = nd_i;
                }
                let p = usize::try_from((prec - dp).max(0)).unwrap_or(0);
                fmt_f(&mut out, &digits, dp, p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(v: f64, fmt: u8, prec: Option<usize>) -> String {
        String::from_utf8(format_float(v, fmt, prec, Bits::B64)).unwrap_or_default()
    }

    #[test]
    fn floats_like_strconv() {
        assert_eq!(float(1e6, b'g', None), "1e+06");
        assert_eq!(float(123456.0, b'g', None), "123456");
        assert_eq!(float(0.0001, b'g', None), "0.0001");
        assert_eq!(float(0.00001, b'g', None), "1e-05");
        assert_eq!(float(1.5, b'g', None), "1.5");
        assert_eq!(float(0.0, b'g', None), "0");
        assert_eq!(float(-2.5, b'e', Some(3)), "-2.500e+00");
        assert_eq!(float(2.71649, b'f', Some(2)), "2.72");
        assert_eq!(float(1e21, b'f', None), "1000000000000000000000");
        assert_eq!(float(100.0, b'g', Some(2)), "1e+02");
        assert_eq!(float(1e-7, b'e', None), "1e-07");
    }

    #[test]
    fn float32_digits() {
        assert_eq!(format_float(0.1, b'g', None, Bits::B32), b"0.1");
        assert_eq!(
            format_float(f64::from(0.1f32), b'g', None, Bits::B64),
            b"0.10000000149011612"
        );
    }
}
