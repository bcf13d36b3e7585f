//! The order go-yaml v2 writes map keys in (SPEC §4.6), which is not byte order.
//!
//! Keys are compared character by character. At the first difference: two letters compare by
//! code point; a letter sorts after a non-letter; otherwise runs of digits starting there compare
//! as numbers (so `key9` < `key10`), then by run length, then by code point. A prefix sorts
//! first. go-yaml's zero handling is kept: when either differing character is `0` and a non-zero
//! digit precedes it in the same run, both runs count as continuing a larger number.

/// go-yaml v2's `keyList.Less` for two string keys, as an ordering.
#[cfg(test)]
pub(crate) fn compare(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    if less(a, b) {
        Ordering::Less
    } else if less(b, a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// Sorts `items` in go-yaml's key order (stable).
///
/// go-yaml's `Less` is not a strict weak order for some inputs (digit runs next to zeros), and
/// Rust's `sort_by` may panic when it notices that (found by `fuzz/`: target `manifest`). This
/// merge sort never panics, and whenever the keys are consistently ordered it gives the order
/// every correct sort gives, so output matches go-yaml's for all but such pathological keys.
pub(crate) fn sort_by_key_order<T, K: Fn(&T) -> &str>(mut items: Vec<T>, key: &K) -> Vec<T> {
    if items.len() <= 1 {
        return items;
    }
    let right = items.split_off(items.len() / 2);
    let mut left = sort_by_key_order(items, key).into_iter().peekable();
    let mut right = sort_by_key_order(right, key).into_iter().peekable();
    let mut out = Vec::with_capacity(left.len() + right.len());
    loop {
        let take_right = match (left.peek(), right.peek()) {
            (Some(a), Some(b)) => less(key(b), key(a)),
            (None, Some(_)) => true,
            (_, None) => false,
        };
        let next = if take_right {
            right.next()
        } else {
            left.next()
        };
        match next {
            Some(item) => out.push(item),
            None => return out,
        }
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
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        sort_by_key_order(keys, &|k: &String| k.as_str())
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
        assert_eq!(compare("a10", "a19"), std::cmp::Ordering::Less);
        assert_eq!(compare("a100", "a20"), std::cmp::Ordering::Greater);
    }
}
