//! The order go-yaml v2 writes map keys in (SPEC §4.6), which is not byte order.
//!
//! Keys are compared character by character. At the first difference: two letters compare by
//! code point; a letter sorts after a non-letter; otherwise runs of digits starting there compare
//! as numbers (so `key9` < `key10`), then by run length, then by code point. A prefix sorts
//! first. go-yaml's zero handling is kept: when either differing character is `0` and a non-zero
//! digit precedes it in the same run, both runs count as continuing a larger number.

use std::cmp::Ordering;

/// go-yaml v2's `keyList.Less` for two string keys, as an ordering.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    if less(a, b) {
        Ordering::Less
    } else if less(b, a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// go-yaml's `unicode.IsLetter`. Rust's `is_alphabetic` is slightly wider outside ASCII
/// (it includes letter-like numbers and marks); Kubernetes keys are ASCII.
fn is_letter(c: char) -> bool {
    c.is_alphabetic()
}

/// go-yaml's `unicode.IsDigit`, restricted to ASCII digits (see [`is_letter`]).
fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}

fn digit_value(c: char) -> i64 {
    i64::from(c.to_digit(10).unwrap_or(0))
}

fn less(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    for i in 0..a.len().min(b.len()) {
        let (ca, cb) = (a[i], b[i]);
        if ca == cb {
            continue;
        }
        let (a_letter, b_letter) = (is_letter(ca), is_letter(cb));
        if a_letter && b_letter {
            return ca < cb;
        }
        if a_letter || b_letter {
            return b_letter;
        }
        let (mut a_number, mut b_number) = (0_i64, 0_i64);
        if ca == '0' || cb == '0' {
            let continues_larger_number = a[..i]
                .iter()
                .rev()
                .take_while(|c| is_digit(**c))
                .any(|c| *c != '0');
            if continues_larger_number {
                a_number = 1;
                b_number = 1;
            }
        }
        // Go's int64 arithmetic wraps on very long digit runs; so does this.
        let mut a_end = i;
        while a_end < a.len() && is_digit(a[a_end]) {
            a_number = a_number
                .wrapping_mul(10)
                .wrapping_add(digit_value(a[a_end]));
            a_end += 1;
        }
        let mut b_end = i;
        while b_end < b.len() && is_digit(b[b_end]) {
            b_number = b_number
                .wrapping_mul(10)
                .wrapping_add(digit_value(b[b_end]));
            b_end += 1;
        }
        if a_number != b_number {
            return a_number < b_number;
        }
        if a_end != b_end {
            return a_end < b_end;
        }
        return ca < cb;
    }
    a.len() < b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(keys: &[&str]) -> Vec<String> {
        let mut keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        keys.sort_by(|a, b| compare(a, b));
        keys
    }

    #[test]
    fn letters_numbers_and_symbols() {
        assert_eq!(
            sorted(&[
                "key10", "aB", "a_b", "B", "key9", "a", "ab", "a1", "_x", "A"
            ]),
            [
                "_x", "A", "B", "a", "a_b", "a1", "aB", "ab", "key9", "key10"
            ]
        );
        assert_eq!(sorted(&["b", "a", "a-b", "a.b"]), ["a", "a-b", "a.b", "b"]);
        assert_eq!(sorted(&["x01", "x1", "x001"]), ["x1", "x01", "x001"]);
        assert_eq!(
            sorted(&["v10", "v1.9", "v1.10", "v2"]),
            ["v1.9", "v1.10", "v2", "v10"]
        );
    }

    #[test]
    fn zero_inside_a_number() {
        // `10` vs `19`: runs from the differing digit are 0 vs 9, but with the non-zero digit
        // before, go-yaml compares them as 10 vs 19.
        assert_eq!(compare("a10", "a19"), Ordering::Less);
        assert_eq!(compare("a100", "a20"), Ordering::Greater);
    }
}
