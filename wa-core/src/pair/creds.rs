//! The keys a companion device creates once, before its first connection, and keeps for life.

use rand_core::{CryptoRng, RngCore};

use crate::crypto::{KeyPair, xeddsa_verify};

/// The Signal key type byte that prefixes a public key in signed material (`0x05`).
const DJB_TYPE: u8 = 0x05;

/// A signed prekey: an X25519 key pair with the identity key's XEdDSA signature over
/// `0x05 || public`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPreKey {
    /// The prekey id (3 bytes on the wire; the first signed prekey is 1).
    pub id: u32,
    /// The prekey pair.
    pub key_pair: KeyPair,
    /// XEdDSA signature by the identity key over `0x05 || key_pair.public`.
    pub signature: [u8; 64],
}

impl SignedPreKey {
    /// Creates the signed prekey `id` from `key_pair`, signed by `identity`.
    pub fn sign(id: u32, key_pair: KeyPair, identity: &KeyPair, random: &[u8; 64]) -> Self {
        let signature = identity.sign(&Self::signed_bytes(&key_pair.public), random);
        SignedPreKey {
            id,
            key_pair,
            signature,
        }
    }

    /// Whether the signature verifies under `identity_public`.
    pub fn verify(&self, identity_public: &[u8; 32]) -> bool {
        xeddsa_verify(
            identity_public,
            &Self::signed_bytes(&self.key_pair.public),
            &self.signature,
        )
    }

    fn signed_bytes(public: &[u8; 32]) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = DJB_TYPE;
        out[1..].copy_from_slice(public);
        out
    }
}

/// Everything a companion generates before it is linked: shown in the QR code, sent in the
/// registration payload, and used to verify `pair-success`. `Debug` shows public keys only.
#[derive(Clone, PartialEq, Eq)]
pub struct CompanionKeys {
    /// The Noise static key (its public half is shown in the QR code).
    pub noise: KeyPair,
    /// The Signal identity key (also signs the device identity at pairing).
    pub identity: KeyPair,
    /// Signed prekey number 1.
    pub signed_pre_key: SignedPreKey,
    /// The Signal registration id, 14-bit (1..=16380) like Baileys.
    pub registration_id: u32,
    /// The ADV secret that keys the `pair-success` HMAC (shown in the QR code).
    pub adv_secret: [u8; 32],
}

impl std::fmt::Debug for CompanionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompanionKeys")
            .field("noise", &self.noise)
            .field("identity", &self.identity)
            .field("signed_pre_key", &self.signed_pre_key)
            .field("registration_id", &self.registration_id)
            .finish_non_exhaustive()
    }
}

impl CompanionKeys {
    /// Draws a fresh set of companion keys from `rng`.
    ///
    /// ```
    /// let keys = wa_core::pair::CompanionKeys::generate(&mut rand::rngs::OsRng);
    /// assert!(keys.signed_pre_key.verify(&keys.identity.public));
    /// assert!((1..=16380).contains(&keys.registration_id));
    /// ```
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let noise = KeyPair::generate(rng);
        let identity = KeyPair::generate(rng);
        let pre_key = KeyPair::generate(rng);
        let mut random = [0u8; 64];
        rng.fill_bytes(&mut random);
        let signed_pre_key = SignedPreKey::sign(1, pre_key, &identity, &random);
        // Classic Signal registration ids fit in 14 bits and are never 0.
        let registration_id = 1 + rng.next_u32() % 16380;
        let mut adv_secret = [0u8; 32];
        rng.fill_bytes(&mut adv_secret);
        CompanionKeys {
            noise,
            identity,
            signed_pre_key,
            registration_id,
            adv_secret,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn generated_signed_prekey_has_id_one_and_verifies() {
        let keys = CompanionKeys::generate(&mut StdRng::seed_from_u64(1));
        assert_eq!(keys.signed_pre_key.id, 1);
        assert!(keys.signed_pre_key.verify(&keys.identity.public));
    }

    #[test]
    fn signed_prekey_does_not_verify_under_another_identity() {
        let keys = CompanionKeys::generate(&mut StdRng::seed_from_u64(2));
        assert!(!keys.signed_pre_key.verify(&keys.noise.public));
    }

    #[test]
    fn registration_ids_stay_in_fourteen_bits_and_nonzero() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..200 {
            let id = CompanionKeys::generate(&mut rng).registration_id;
            assert!((1..=16380).contains(&id), "{id}");
        }
    }

    #[test]
    fn debug_output_hides_the_adv_secret() {
        let mut keys = CompanionKeys::generate(&mut StdRng::seed_from_u64(5));
        keys.adv_secret = [0xEE; 32];
        let shown = format!("{keys:?}");
        assert!(
            !shown.contains("238, 238") && !shown.to_lowercase().contains("eeee"),
            "{shown}"
        );
    }

    #[test]
    fn generated_keys_are_distinct() {
        let keys = CompanionKeys::generate(&mut StdRng::seed_from_u64(4));
        assert_ne!(keys.noise.public, keys.identity.public);
        assert_ne!(keys.identity.public, keys.signed_pre_key.key_pair.public);
    }
}
