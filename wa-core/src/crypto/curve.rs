//! Curve25519 key pairs (Montgomery form) and X25519 agreement.

use rand_core::{CryptoRng, RngCore};
use x25519_dalek::{PublicKey, StaticSecret};

/// A Curve25519 key pair: a clamped 32-byte private scalar and its 32-byte Montgomery public key.
///
/// The public key is the raw 32 bytes ("pub32"); the Signal wire form with the `0x05` type
/// prefix lives in [`crate::signal`].
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    /// The private scalar, clamped as X25519 requires.
    pub private: [u8; 32],
    /// The public key, `private × 9` on the Montgomery curve.
    pub public: [u8; 32],
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private half.
        f.debug_struct("KeyPair")
            .field("public", &HexBytes(&self.public))
            .finish_non_exhaustive()
    }
}

struct HexBytes<'a>(&'a [u8]);
impl std::fmt::Debug for HexBytes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl KeyPair {
    /// A fresh key pair from `rng`.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut private = [0u8; 32];
        rng.fill_bytes(&mut private);
        Self::from_private(private)
    }

    /// The key pair of a private key; the private key is clamped first.
    pub fn from_private(mut private: [u8; 32]) -> Self {
        private[0] &= 248;
        private[31] &= 127;
        private[31] |= 64;
        let public = PublicKey::from(&StaticSecret::from(private)).to_bytes();
        KeyPair { private, public }
    }

    /// X25519 shared secret between this private key and `their_public`.
    pub fn agree(&self, their_public: &[u8; 32]) -> [u8; 32] {
        StaticSecret::from(self.private)
            .diffie_hellman(&PublicKey::from(*their_public))
            .to_bytes()
    }

    /// XEdDSA signature over `message` with this key; `random` is 64 fresh random bytes.
    pub fn sign(&self, message: &[u8], random: &[u8; 64]) -> [u8; 64] {
        super::xeddsa_sign(&self.private, message, random)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_agree_on_the_shared_secret() {
        let a = KeyPair::from_private([1; 32]);
        let b = KeyPair::from_private([2; 32]);
        assert_eq!(a.agree(&b.public), b.agree(&a.public));
    }

    #[test]
    fn rfc7748_alice_public_key() {
        let sk: [u8; 32] =
            hex::decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
                .unwrap()
                .try_into()
                .unwrap();
        assert_eq!(
            hex::encode(KeyPair::from_private(sk).public),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
        );
    }

    #[test]
    fn debug_output_hides_the_private_key() {
        let k = KeyPair::from_private([0x11; 32]);
        let s = format!("{k:?}");
        assert!(!s.contains("1111111111"), "{s}");
    }
}
