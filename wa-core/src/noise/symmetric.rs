//! The Noise symmetric state (`h`, `ck`, `k`, nonce) shared by both handshake roles.

use crate::crypto::{CryptoError, aes256_gcm_decrypt, aes256_gcm_encrypt, hkdf_sha256, sha256};

/// The protocol name, exactly 32 bytes, so it is used as the initial hash without hashing.
pub const NOISE_PATTERN: &[u8; 32] = b"Noise_XX_25519_AESGCM_SHA256\0\0\0\0";

/// The 12-byte AES-GCM nonce for `counter`: eight zero bytes, then the counter big-endian.
pub(crate) fn nonce(counter: u32) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[8..].copy_from_slice(&counter.to_be_bytes());
    iv
}

/// `h`, `ck` and the current handshake key with its nonce counter.
#[derive(Clone)]
pub(crate) struct SymmetricState {
    hash: [u8; 32],
    chaining_key: [u8; 32],
    key: [u8; 32],
    counter: u32,
}

impl std::fmt::Debug for SymmetricState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SymmetricState").finish_non_exhaustive()
    }
}

impl SymmetricState {
    /// `h = ck = pattern`, then `MixHash(prologue)`.
    pub(crate) fn new(prologue: &[u8]) -> Self {
        let mut s = SymmetricState {
            hash: *NOISE_PATTERN,
            chaining_key: *NOISE_PATTERN,
            key: *NOISE_PATTERN,
            counter: 0,
        };
        s.mix_hash(prologue);
        s
    }

    /// `h = SHA-256(h || data)`.
    pub(crate) fn mix_hash(&mut self, data: &[u8]) {
        let mut buf = Vec::with_capacity(32 + data.len());
        buf.extend_from_slice(&self.hash);
        buf.extend_from_slice(data);
        self.hash = sha256(&buf);
    }

    /// `ck, k = HKDF(ck, ikm)`; the nonce restarts at zero.
    pub(crate) fn mix_key(&mut self, ikm: &[u8]) {
        let out: [u8; 64] = hkdf_sha256(&self.chaining_key, ikm, b"");
        self.chaining_key.copy_from_slice(&out[..32]);
        self.key.copy_from_slice(&out[32..]);
        self.counter = 0;
    }

    /// Encrypts with `aad = h`, then mixes the ciphertext into `h`.
    pub(crate) fn encrypt_and_hash(&mut self, plaintext: &[u8]) -> Vec<u8> {
        let ct = aes256_gcm_encrypt(&self.key, &nonce(self.counter), &self.hash, plaintext);
        // A handshake encrypts at most twice per key, so the counter cannot overflow.
        self.counter += 1;
        self.mix_hash(&ct);
        ct
    }

    /// Decrypts with `aad = h`, then mixes the ciphertext (not the plaintext) into `h`.
    pub(crate) fn decrypt_and_hash(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let pt = aes256_gcm_decrypt(&self.key, &nonce(self.counter), &self.hash, ciphertext)?;
        self.counter += 1;
        self.mix_hash(ciphertext);
        Ok(pt)
    }

    /// The two transport keys: (initiator -> responder, responder -> initiator).
    pub(crate) fn split(&self) -> ([u8; 32], [u8; 32]) {
        let out: [u8; 64] = hkdf_sha256(&self.chaining_key, b"", b"");
        let mut first = [0u8; 32];
        let mut second = [0u8; 32];
        first.copy_from_slice(&out[..32]);
        second.copy_from_slice(&out[32..]);
        (first, second)
    }

    /// The current handshake hash.
    #[cfg(test)]
    pub(crate) fn hash(&self) -> [u8; 32] {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_used_as_initial_hash_before_the_prologue() {
        let s = SymmetricState::new(b"");
        let mut expected = NOISE_PATTERN.to_vec();
        assert_eq!(s.hash(), sha256(&expected));
        expected.extend_from_slice(b"WA\x06\x03");
        assert_eq!(SymmetricState::new(b"WA\x06\x03").hash(), sha256(&expected));
    }

    #[test]
    fn nonce_puts_the_counter_big_endian_in_the_last_four_bytes() {
        assert_eq!(nonce(0x01020304), [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn decrypt_and_hash_mixes_the_ciphertext_like_the_sender() {
        let mut a = SymmetricState::new(b"p");
        a.mix_key(b"secret");
        let mut b = a.clone();
        let ct = a.encrypt_and_hash(b"hello");
        assert_eq!(b.decrypt_and_hash(&ct).unwrap(), b"hello");
        assert_eq!(a.hash(), b.hash());
    }

    #[test]
    fn decrypt_fails_when_the_hash_differs() {
        let mut a = SymmetricState::new(b"p");
        a.mix_key(b"secret");
        let mut b = a.clone();
        b.mix_hash(b"diverged");
        let ct = a.encrypt_and_hash(b"hello");
        assert_eq!(b.decrypt_and_hash(&ct), Err(CryptoError::TagMismatch));
    }
}
