//! SHA-2 hashes, HMAC-SHA256 and HKDF-SHA256.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// SHA-512 of the concatenation of `parts`.
pub fn sha512(parts: &[&[u8]]) -> [u8; 64] {
    let mut h = Sha512::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    hmac_sha256_parts(key, &[data])
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`, without building the concatenation.
pub fn hmac_sha256_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// HKDF-SHA256 (RFC 5869): extract with `salt` (empty means 32 zero bytes), expand with `info`
/// into `out`. `out` may be at most 8,160 bytes long.
///
/// # Panics
/// If `out` is longer than 255 × 32 bytes; callers pass fixed small sizes.
pub fn hkdf_sha256_into(salt: &[u8], ikm: &[u8], info: &[u8], out: &mut [u8]) {
    let salt = if salt.is_empty() { None } else { Some(salt) };
    hkdf::Hkdf::<Sha256>::new(salt, ikm)
        .expand(info, out)
        .expect("HKDF output length within 255 blocks");
}

/// HKDF-SHA256 returning `N` bytes; see [`hkdf_sha256_into`].
pub fn hkdf_sha256<const N: usize>(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    hkdf_sha256_into(salt, ikm, info, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hkdf_matches_rfc5869_case_1() {
        let ikm = [0x0b; 22];
        let salt = hex::decode("000102030405060708090a0b0c").unwrap();
        let info = hex::decode("f0f1f2f3f4f5f6f7f8f9").unwrap();
        let okm: [u8; 42] = hkdf_sha256(&salt, &ikm, &info);
        assert_eq!(
            hex::encode(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }

    #[test]
    fn hmac_parts_equal_hmac_of_concatenation() {
        assert_eq!(
            hmac_sha256_parts(b"key", &[b"ab", b"cd"]),
            hmac_sha256(b"key", b"abcd")
        );
    }

    #[test]
    fn sha256_of_abc_is_the_standard_digest() {
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
