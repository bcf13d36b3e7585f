//! Byte encodings with Go's exact behaviour: `base64.StdEncoding` and `base32.StdEncoding`
//! (including the offsets in their error texts, which Sprig's `b64dec`/`b32dec` *output*),
//! Adler-32 and lowercase hex.

use zeroize::Zeroizing;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

pub(super) fn base64_encode(input: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(input.len().div_ceil(3) * 4));
    for chunk in input.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 0x3F) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

fn b64_value(c: u8) -> Option<u32> {
    B64.iter()
        .position(|&x| x == c)
        .and_then(|p| u32::try_from(p).ok())
}

/// Go's `base64.StdEncoding.DecodeString`. `Err(offset)` is `illegal base64 data at input
/// byte <offset>`.
pub(super) fn base64_decode(src: &[u8]) -> Result<Zeroizing<Vec<u8>>, usize> {
    let mut out = Zeroizing::new(Vec::with_capacity(src.len() / 4 * 3));
    let mut si = 0;
    let is_newline = |c: u8| c == b'\n' || c == b'\r';
    while si < src.len() {
        let mut dbuf = [0u32; 4];
        let mut dlen = 4;
        let mut j = 0;
        let mut trailing_error = None;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                // Standard encoding requires padding.
                return Err(si - j);
            }
            let c = src[si];
            si += 1;
            if let Some(v) = b64_value(c) {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if is_newline(c) {
                continue;
            }
            if c != b'=' {
                return Err(si - 1);
            }
            // Padding: the end of the data.
            match j {
                0 | 1 => return Err(si - 1),
                2 => {
                    while si < src.len() && is_newline(src[si]) {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(src.len());
                    }
                    if src[si] != b'=' {
                        return Err(si - 1);
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && is_newline(src[si]) {
                si += 1;
            }
            if si < src.len() {
                trailing_error = Some(si);
            }
            dlen = j;
            break;
        }
        let val = (dbuf[0] << 18) | (dbuf[1] << 12) | (dbuf[2] << 6) | dbuf[3];
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if let Some(offset) = trailing_error {
            return Err(offset);
        }
    }
    Ok(out)
}

pub(super) fn base32_encode(input: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(input.len().div_ceil(5) * 8));
    for chunk in input.chunks(5) {
        let mut b = [0u8; 5];
        b[..chunk.len()].copy_from_slice(chunk);
        let n = b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                out.push(B32[((n >> (35 - 5 * i)) & 0x1F) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

/// Go's `base32.StdEncoding.DecodeString` (newlines are removed first, as Go does).
pub(super) fn base32_decode(input: &[u8]) -> Result<Zeroizing<Vec<u8>>, usize> {
    let src: Zeroizing<Vec<u8>> = Zeroizing::new(
        input
            .iter()
            .copied()
            .filter(|&c| c != b'\n' && c != b'\r')
            .collect(),
    );
    let olen = src.len();
    let mut out = Zeroizing::new(Vec::with_capacity(olen / 8 * 5));
    let mut rest: &[u8] = &src;
    let mut end = false;
    while !rest.is_empty() && !end {
        let mut dbuf = [0u8; 8];
        let mut dlen = 8;
        let mut j = 0;
        while j < 8 {
            if rest.is_empty() {
                return Err(olen - rest.len() - j);
            }
            let c = rest[0];
            rest = &rest[1..];
            if c == b'=' && j >= 2 && rest.len() < 8 {
                if rest.len() + j < 8 - 1 {
                    return Err(olen);
                }
                for k in 0..8 - 1 - j {
                    if rest.len() > k && rest[k] != b'=' {
                        return Err(olen - rest.len() + k - 1);
                    }
                }
                dlen = j;
                end = true;
                if dlen == 1 || dlen == 3 || dlen == 6 {
                    return Err(olen - rest.len() - 1);
                }
                break;
            }
            match B32.iter().position(|&x| x == c) {
                Some(v) => dbuf[j] = u8::try_from(v).unwrap_or(0),
                None => return Err(olen - rest.len() - 1),
            }
            j += 1;
        }
        let mut bytes = [0u8; 5];
        bytes[4] = (dbuf[6] << 5) | dbuf[7];
        bytes[3] = (dbuf[4] << 7) | (dbuf[5] << 2) | (dbuf[6] >> 3);
        bytes[2] = (dbuf[3] << 4) | (dbuf[4] >> 1);
        bytes[1] = (dbuf[1] << 6) | (dbuf[2] << 1) | (dbuf[3] >> 4);
        bytes[0] = (dbuf[0] << 3) | (dbuf[1] >> 2);
        let n = match dlen {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => 0,
        };
        out.extend_from_slice(&bytes[..n]);
    }
    Ok(out)
}

pub(super) fn adler32(input: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in input.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

pub(super) fn hex_lower(bytes: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xF)]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_like_go() {
        assert_eq!(base64_encode(b"hello").as_slice(), b"aGVsbG8=");
        assert_eq!(base64_decode(b"aGVsbG8=").unwrap().as_slice(), b"hello");
        assert_eq!(base64_decode(b"aGVs\nbG8=").unwrap().as_slice(), b"hello");
        assert_eq!(base64_decode(b"aGVsbG8").unwrap_err(), 4);
        assert_eq!(base64_decode(b"aGVsbG8=x").unwrap_err(), 8);
        assert_eq!(base64_decode(b"a!").unwrap_err(), 1);
        assert_eq!(base64_decode(b"aGVsbA==").unwrap().as_slice(), b"hell");
        assert_eq!(base64_decode(b"aGVsbA=").unwrap_err(), 7);
        assert_eq!(base64_decode(b"").unwrap().as_slice(), b"");
    }

    #[test]
    fn base32_like_go() {
        assert_eq!(base32_encode(b"hello").as_slice(), b"NBSWY3DP");
        assert_eq!(base32_encode(b"hi").as_slice(), b"NBUQ====");
        assert_eq!(base32_decode(b"NBUQ====").unwrap().as_slice(), b"hi");
        assert_eq!(base32_decode(b"NBSWY3DP").unwrap().as_slice(), b"hello");
        assert!(base32_decode(b"NBU").is_err());
    }

    #[test]
    fn adler32_known_answer() {
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }
}
