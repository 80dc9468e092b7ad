//! Small cryptographic primitives shared by the Noise, Signal, pairing and media layers.
//!
//! Thin, typed wrappers over RustCrypto and dalek: each function does one thing with fixed
//! sizes, so callers cannot mix up keys, IVs and tags. Randomness is always a parameter.

mod aes_modes;
mod curve;
mod hashes;
pub mod media;
mod xeddsa;

pub use aes_modes::{
    aes256_cbc_decrypt, aes256_cbc_encrypt, aes256_ctr_apply, aes256_gcm_decrypt,
    aes256_gcm_encrypt,
};
pub use curve::KeyPair;
pub use hashes::{hkdf_sha256, hkdf_sha256_into, hmac_sha256, hmac_sha256_parts, sha256, sha512};
pub use xeddsa::{xeddsa_sign, xeddsa_verify};

/// Errors of the primitives in this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// An AEAD tag did not verify: the ciphertext, key, IV or associated data differ.
    #[error("authentication tag mismatch")]
    TagMismatch,
    /// CBC ciphertext whose length is not a positive multiple of 16, or whose padding is bad.
    #[error("bad CBC ciphertext or padding")]
    BadPadding,
    /// A ciphertext shorter than the authentication tag.
    #[error("ciphertext too short")]
    TooShort,
}
