//! The key schedule: X3DH's master secret (WhatsApp variant, no post-quantum part), the
//! root-key ratchet, symmetric chains and message keys, with the exact KDF labels
//! (protocol notes §12.3, §12.4, §12.7).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::crypto::{KeyPair, hkdf_sha256};

use super::keys::PublicKey;

const ZERO_SALT: [u8; 32] = [0; 32];

/// A symmetric chain key and the index of the next message key it yields.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ChainKey {
    pub key: [u8; 32],
    pub index: u32,
}

impl ChainKey {
    /// One chain step: the seed of message key `index`, HMAC(chain key, 0x01), and the next
    /// chain key, HMAC(chain key, 0x02). The keyed HMAC state is computed once for both
    /// (this is the per-message hot path).
    pub fn step(&self) -> ([u8; 32], ChainKey) {
        let mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        let seed = keyed(&mac, 0x01);
        let next = ChainKey {
            key: keyed(&mac, 0x02),
            index: self.index.wrapping_add(1),
        };
        (seed, next)
    }
}

fn keyed(mac: &Hmac<Sha256>, byte: u8) -> [u8; 32] {
    let mut mac = mac.clone();
    mac.update(&[byte]);
    mac.finalize().into_bytes().into()
}

/// The keys of one pairwise message: AES-256 key, HMAC key, CBC IV.
pub(crate) struct MessageKeys {
    pub cipher_key: [u8; 32],
    pub mac_key: [u8; 32],
    pub iv: [u8; 16],
}

impl MessageKeys {
    /// HKDF(seed, salt = 0^32, "WhisperMessageKeys") → 80 bytes: key ‖ mac key ‖ iv.
    pub fn derive(seed: &[u8; 32]) -> Self {
        let out: [u8; 80] = hkdf_sha256(&ZERO_SALT, seed, b"WhisperMessageKeys");
        let mut keys = MessageKeys {
            cipher_key: [0; 32],
            mac_key: [0; 32],
            iv: [0; 16],
        };
        keys.cipher_key.copy_from_slice(&out[..32]);
        keys.mac_key.copy_from_slice(&out[32..64]);
        keys.iv.copy_from_slice(&out[64..]);
        keys
    }
}

/// The keys of one group message: CBC IV and AES-256 key.
pub(crate) struct SenderMessageKeys {
    pub iv: [u8; 16],
    pub cipher_key: [u8; 32],
}

impl SenderMessageKeys {
    /// HKDF(seed, salt = 0^32, "WhisperGroup") → 48 bytes: iv ‖ key.
    pub fn derive(seed: &[u8; 32]) -> Self {
        let out: [u8; 48] = hkdf_sha256(&ZERO_SALT, seed, b"WhisperGroup");
        let mut keys = SenderMessageKeys {
            iv: [0; 16],
            cipher_key: [0; 32],
        };
        keys.iv.copy_from_slice(&out[..16]);
        keys.cipher_key.copy_from_slice(&out[16..]);
        keys
    }
}

/// One root-key ratchet step: HKDF(DH output, salt = root key, "WhisperRatchet") → the new
/// root key and a fresh chain key (index 0).
pub(crate) fn root_step(
    root_key: &[u8; 32],
    ours: &KeyPair,
    theirs: &PublicKey,
) -> ([u8; 32], ChainKey) {
    let out: [u8; 64] = hkdf_sha256(root_key, &ours.agree(theirs.as_bytes()), b"WhisperRatchet");
    split(&out)
}

fn split(out: &[u8; 64]) -> ([u8; 32], ChainKey) {
    let mut root = [0u8; 32];
    let mut chain = [0u8; 32];
    root.copy_from_slice(&out[..32]);
    chain.copy_from_slice(&out[32..]);
    (
        root,
        ChainKey {
            key: chain,
            index: 0,
        },
    )
}

/// The X3DH master secret as the initiator computes it, turned into a root key and chain
/// key by HKDF(secret, salt = 0^32, "WhisperText"). The secret is
/// `0xFF×32 ‖ DH(IK_A, SPK_B) ‖ DH(EK_A, IK_B) ‖ DH(EK_A, SPK_B) [‖ DH(EK_A, OPK_B)]`.
pub(crate) fn x3dh_initiator(
    our_identity: &KeyPair,
    our_base: &KeyPair,
    their_identity: &PublicKey,
    their_signed_pre_key: &PublicKey,
    their_one_time: Option<&PublicKey>,
) -> ([u8; 32], ChainKey) {
    let mut secret = Vec::with_capacity(160);
    secret.extend_from_slice(&[0xFF; 32]);
    secret.extend_from_slice(&our_identity.agree(their_signed_pre_key.as_bytes()));
    secret.extend_from_slice(&our_base.agree(their_identity.as_bytes()));
    secret.extend_from_slice(&our_base.agree(their_signed_pre_key.as_bytes()));
    if let Some(one_time) = their_one_time {
        secret.extend_from_slice(&our_base.agree(one_time.as_bytes()));
    }
    split(&hkdf_sha256(&ZERO_SALT, &secret, b"WhisperText"))
}

/// The same secret as the responder computes it from the initiator's identity and base key.
pub(crate) fn x3dh_responder(
    our_identity: &KeyPair,
    our_signed_pre_key: &KeyPair,
    our_one_time: Option<&KeyPair>,
    their_identity: &PublicKey,
    their_base: &PublicKey,
) -> ([u8; 32], ChainKey) {
    let mut secret = Vec::with_capacity(160);
    secret.extend_from_slice(&[0xFF; 32]);
    secret.extend_from_slice(&our_signed_pre_key.agree(their_identity.as_bytes()));
    secret.extend_from_slice(&our_identity.agree(their_base.as_bytes()));
    secret.extend_from_slice(&our_signed_pre_key.agree(their_base.as_bytes()));
    if let Some(one_time) = our_one_time {
        secret.extend_from_slice(&one_time.agree(their_base.as_bytes()));
    }
    split(&hkdf_sha256(&ZERO_SALT, &secret, b"WhisperText"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kp(b: u8) -> KeyPair {
        KeyPair::from_private([b; 32])
    }

    #[test]
    fn x3dh_both_sides_derive_the_same_keys_with_a_one_time_prekey() {
        let (ik_a, ek_a, ik_b, spk_b, opk_b) = (kp(1), kp(2), kp(3), kp(4), kp(5));
        let a = x3dh_initiator(
            &ik_a,
            &ek_a,
            &(&ik_b).into(),
            &(&spk_b).into(),
            Some(&(&opk_b).into()),
        );
        let b = x3dh_responder(
            &ik_b,
            &spk_b,
            Some(&opk_b),
            &(&ik_a).into(),
            &(&ek_a).into(),
        );
        assert!(a.0 == b.0 && a.1 == b.1);
    }

    #[test]
    fn x3dh_one_time_prekey_changes_the_result() {
        let (ik_a, ek_a, ik_b, spk_b, opk_b) = (kp(1), kp(2), kp(3), kp(4), kp(5));
        let with = x3dh_initiator(
            &ik_a,
            &ek_a,
            &(&ik_b).into(),
            &(&spk_b).into(),
            Some(&(&opk_b).into()),
        );
        let without = x3dh_initiator(&ik_a, &ek_a, &(&ik_b).into(), &(&spk_b).into(), None);
        let b = x3dh_responder(&ik_b, &spk_b, None, &(&ik_a).into(), &(&ek_a).into());
        assert!(with.0 != without.0);
        assert!(without.0 == b.0);
    }

    #[test]
    fn chain_step_derives_message_seed_with_0x01_and_next_key_with_0x02() {
        let c = ChainKey {
            key: [7; 32],
            index: 4,
        };
        let (seed, next) = c.step();
        assert_eq!(next.index, 5);
        assert_eq!(seed, crate::crypto::hmac_sha256(&[7; 32], &[1]));
        assert_eq!(next.key, crate::crypto::hmac_sha256(&[7; 32], &[2]));
    }
}
