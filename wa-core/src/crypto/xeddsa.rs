//! XEdDSA (Signal's specification): Ed25519-style signatures made and checked with
//! Curve25519 (Montgomery) keys.
//!
//! Signing follows the specification exactly: the Edwards public key is forced to sign
//! bit 0 by negating the scalar, so `s` keeps its top bit clear. Verification also accepts
//! the older Curve25519 signature convention still produced by libsignal-node (through
//! `curve25519-js`): there the signer does not negate and instead stores the Edwards
//! sign bit in the top bit of the signature's last byte. A signature of ours has that bit
//! clear, so both verifiers accept it.

use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;

use super::sha512;

/// The XEdDSA `hash_1` prefix: 2^256 - 1 - 1 in little-endian, i.e. `FE FF … FF`.
const HASH1_PREFIX: [u8; 32] = {
    let mut p = [0xFFu8; 32];
    p[0] = 0xFE;
    p
};

/// Signs `message` with the Montgomery private key `private` (clamped here if it is not).
pub fn xeddsa_sign(private: &[u8; 32], message: &[u8], random: &[u8; 64]) -> [u8; 64] {
    let mut k = *private;
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;
    let mut a = Scalar::from_bytes_mod_order(k);
    let mut big_a = EdwardsPoint::mul_base(&a).compress();
    if big_a.as_bytes()[31] & 0x80 != 0 {
        a = -a;
        big_a = EdwardsPoint::mul_base(&a).compress();
    }
    let r =
        Scalar::from_bytes_mod_order_wide(&sha512(&[&HASH1_PREFIX, a.as_bytes(), message, random]));
    let big_r = EdwardsPoint::mul_base(&r).compress();
    let h =
        Scalar::from_bytes_mod_order_wide(&sha512(&[big_r.as_bytes(), big_a.as_bytes(), message]));
    let s = r + h * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(big_r.as_bytes());
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

/// Checks an XEdDSA signature by the Montgomery public key `public` over `message`.
pub fn xeddsa_verify(public: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    let sign_bit = signature[63] >> 7;
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&signature[32..]);
    s_bytes[31] &= 0x7F;
    // Reject a non-canonical s, as RFC 8032 does.
    let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
        return false;
    };
    // The Montgomery u = -1 has no Edwards image; `to_edwards` reports it.
    let Some(big_a) = MontgomeryPoint(*public).to_edwards(sign_bit) else {
        return false;
    };
    let big_a_bytes = big_a.compress();
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&signature[..32]);
    let big_r = CompressedEdwardsY(r_bytes);
    let h =
        Scalar::from_bytes_mod_order_wide(&sha512(&[&r_bytes, big_a_bytes.as_bytes(), message]));
    // R' = sB - hA must equal R, compared in encoded form (cofactorless, like ref10).
    let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(&(-h), &big_a, &s).compress();
    check == big_r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::KeyPair;

    fn pair(seed: u8) -> KeyPair {
        KeyPair::from_private([seed; 32])
    }

    #[test]
    fn a_signature_verifies_with_the_signers_public_key() {
        for seed in 1..40u8 {
            let k = pair(seed);
            let sig = k.sign(b"message", &[seed; 64]);
            assert!(xeddsa_verify(&k.public, b"message", &sig), "seed {seed}");
            assert_eq!(sig[63] & 0x80, 0, "our signatures keep the top bit clear");
        }
    }

    #[test]
    fn a_signature_fails_for_another_message_or_key() {
        let k = pair(3);
        let sig = k.sign(b"message", &[0; 64]);
        assert!(!xeddsa_verify(&k.public, b"messagf", &sig));
        assert!(!xeddsa_verify(&pair(4).public, b"message", &sig));
    }

    #[test]
    fn every_flipped_bit_breaks_the_signature() {
        let k = pair(5);
        let sig = k.sign(b"m", &[1; 64]);
        for i in 0..64 * 8 {
            let mut bad = sig;
            bad[i / 8] ^= 1 << (i % 8);
            assert!(!xeddsa_verify(&k.public, b"m", &bad), "bit {i}");
        }
    }

    /// The legacy convention (no negation, Edwards sign bit stored in s's top bit) must
    /// verify too, because libsignal-node signs that way.
    #[test]
    fn legacy_sign_bit_convention_verifies() {
        let mut checked_negative = false;
        for seed in 1..64u8 {
            let k = pair(seed);
            let a = Scalar::from_bytes_mod_order(k.private);
            let big_a = EdwardsPoint::mul_base(&a).compress();
            let sign = big_a.as_bytes()[31] & 0x80;
            let r = Scalar::from_bytes_mod_order_wide(&[seed; 64]);
            let big_r = EdwardsPoint::mul_base(&r).compress();
            let h = Scalar::from_bytes_mod_order_wide(&sha512(&[
                big_r.as_bytes(),
                big_a.as_bytes(),
                b"m",
            ]));
            let s = r + h * a;
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(big_r.as_bytes());
            sig[32..].copy_from_slice(s.as_bytes());
            sig[63] |= sign;
            checked_negative |= sign != 0;
            assert!(xeddsa_verify(&k.public, b"m", &sig), "seed {seed}");
        }
        assert!(
            checked_negative,
            "the test covered a key with Edwards sign bit 1"
        );
    }
}
