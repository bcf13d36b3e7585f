//! DER for the token's public key: the token gives the modulus and the public exponent as
//! big-endian integers; the core takes an X.509 `SubjectPublicKeyInfo`.

fn der_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        // Fits one byte by the test above.
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = &bytes[skip..];
        out.push(0x80 | u8::try_from(significant.len()).unwrap_or(0));
        out.extend_from_slice(significant);
    }
}

fn der_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    der_len(out, content.len());
    out.extend_from_slice(content);
}

/// A positive DER INTEGER from unsigned big-endian bytes.
fn der_uint(out: &mut Vec<u8>, value: &[u8]) {
    let skip = value.iter().take_while(|b| **b == 0).count();
    let value = &value[skip..];
    let mut content = Vec::with_capacity(value.len() + 1);
    if value.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(value);
    der_tlv(out, 0x02, &content);
}

/// PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
#[must_use]
pub fn rsa_public_key_der(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(modulus.len() + exponent.len() + 8);
    der_uint(&mut body, modulus);
    der_uint(&mut body, exponent);
    let mut out = Vec::with_capacity(body.len() + 4);
    der_tlv(&mut out, 0x30, &body);
    out
}

/// X.509 `SubjectPublicKeyInfo` with the rsaEncryption algorithm (NULL parameters).
#[must_use]
pub fn spki_der(rsa_public_key: &[u8]) -> Vec<u8> {
    // SEQUENCE { OID 1.2.840.113549.1.1.1, NULL }
    const ALGORITHM: [u8; 15] = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = Vec::with_capacity(rsa_public_key.len() + 1);
    bits.push(0); // no unused bits
    bits.extend_from_slice(rsa_public_key);
    let mut body = ALGORITHM.to_vec();
    der_tlv(&mut body, 0x03, &bits);
    let mut out = Vec::with_capacity(body.len() + 4);
    der_tlv(&mut out, 0x30, &body);
    out
}

#[cfg(test)]
mod tests {
    use sealed_secrets_core::keys::{PrivateKey, PublicKey};

    use super::*;

    #[test]
    fn spki_from_components_matches_aws_lc() {
        let key = PrivateKey::generate(2048).unwrap();
        let spki = key.public_key().spki_der();
        let parsed = PublicKey::from_spki_der(spki).unwrap();
        // Re-encode from the components x509-parser sees and compare byte for byte.
        let (_, info) =
            <x509_parser::x509::SubjectPublicKeyInfo as x509_parser::prelude::FromDer<_>>::from_der(
                spki,
            )
            .unwrap();
        let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) = info.parsed() else {
            panic!("not RSA");
        };
        let ours = spki_der(&rsa_public_key_der(rsa.modulus, rsa.exponent));
        assert_eq!(ours, spki);
        assert_eq!(PublicKey::from_spki_der(&ours).unwrap(), parsed);
    }

    #[test]
    fn der_integers_are_minimal_and_positive() {
        let mut out = Vec::new();
        der_uint(&mut out, &[0, 0, 0x01, 0x00, 0x01]);
        assert_eq!(out, [0x02, 0x03, 0x01, 0x00, 0x01]);
        out.clear();
        der_uint(&mut out, &[0x80]);
        assert_eq!(out, [0x02, 0x02, 0x00, 0x80]);
        out.clear();
        der_len(&mut out, 0x1234);
        assert_eq!(out, [0x82, 0x12, 0x34]);
    }
}
