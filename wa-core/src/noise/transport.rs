//! The post-handshake transport cipher: AES-256-GCM, empty associated data, one key and one
//! 32-bit nonce counter per direction.

use super::symmetric::nonce;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

/// Errors of the transport cipher.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// All 2^32 nonces of this direction are used; the connection must be re-established.
    #[error("transport nonce counter exhausted")]
    CounterExhausted,
    /// A ciphertext shorter than the 16-byte tag.
    #[error("transport frame shorter than the authentication tag")]
    TooShort,
    /// The tag did not verify: the frame was altered, reordered or not meant for this key.
    #[error("transport frame failed authentication (counter {counter})")]
    TagMismatch {
        /// The counter the frame was opened with.
        counter: u32,
    },
}

/// One direction of the transport: a key and the counter of the next frame.
///
/// Counters start at 0 and never wrap: after the frame with counter `u32::MAX` every further
/// call returns [`TransportError::CounterExhausted`].
#[derive(Clone)]
pub struct CipherState {
    cipher: Aes256Gcm,
    /// The next counter; `u32::MAX + 1` once exhausted.
    next: u64,
}

impl std::fmt::Debug for CipherState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CipherState")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl CipherState {
    /// A direction keyed with `key`, starting at counter 0.
    pub fn new(key: &[u8; 32]) -> Self {
        Self::with_counter(key, 0)
    }

    /// A direction keyed with `key` whose next frame uses `counter` (resumption and tests).
    pub fn with_counter(key: &[u8; 32], counter: u32) -> Self {
        CipherState {
            cipher: Aes256Gcm::new(key.into()),
            next: u64::from(counter),
        }
    }

    /// The counter the next frame will use, or `None` when exhausted.
    pub fn counter(&self) -> Option<u32> {
        u32::try_from(self.next).ok()
    }

    fn take_counter(&mut self) -> Result<u32, TransportError> {
        let counter = self.counter().ok_or(TransportError::CounterExhausted)?;
        self.next += 1;
        Ok(counter)
    }

    /// Encrypts one frame payload; returns ciphertext with the 16-byte tag appended.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, TransportError> {
        let counter = self.take_counter()?;
        Ok(self
            .cipher
            .encrypt(Nonce::from_slice(&nonce(counter)), plaintext)
            .expect("AES-GCM encryption of in-memory data cannot fail"))
    }

    /// Decrypts one frame payload.
    ///
    /// The counter advances even when authentication fails, as the sender's did; callers
    /// should still treat a failure as fatal for the connection.
    pub fn open(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, TransportError> {
        let counter = self.take_counter()?;
        if ciphertext.len() < 16 {
            return Err(TransportError::TooShort);
        }
        self.cipher
            .decrypt(Nonce::from_slice(&nonce(counter)), ciphertext)
            .map_err(|_| TransportError::TagMismatch { counter })
    }
}

/// Both directions of an established Noise session, from one side's point of view.
#[derive(Debug, Clone)]
pub struct TransportCipher {
    send: CipherState,
    recv: CipherState,
}

impl TransportCipher {
    /// A cipher that seals with `send_key` and opens with `recv_key`, both counters at 0.
    pub fn new(send_key: &[u8; 32], recv_key: &[u8; 32]) -> Self {
        Self::from_states(CipherState::new(send_key), CipherState::new(recv_key))
    }

    /// A cipher from two directions already set up.
    pub fn from_states(send: CipherState, recv: CipherState) -> Self {
        TransportCipher { send, recv }
    }

    /// Encrypts an outgoing frame payload.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.send.seal(plaintext)
    }

    /// Decrypts an incoming frame payload.
    pub fn open(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.recv.open(ciphertext)
    }

    /// The sending direction.
    pub fn sender(&self) -> &CipherState {
        &self.send
    }

    /// The receiving direction.
    pub fn receiver(&self) -> &CipherState {
        &self.recv
    }

    /// Separates the directions, e.g. for a reader task and a writer task: `(send, recv)`.
    pub fn split(self) -> (CipherState, CipherState) {
        (self.send, self.recv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::aes256_gcm_encrypt;

    fn pair() -> (TransportCipher, TransportCipher) {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        (TransportCipher::new(&a, &b), TransportCipher::new(&b, &a))
    }

    #[test]
    fn seal_matches_aes_gcm_with_counter_nonce_and_empty_aad() {
        let mut c = CipherState::new(&[7; 32]);
        c.seal(b"first").unwrap();
        let second = c.seal(b"second").unwrap();
        assert_eq!(
            second,
            aes256_gcm_encrypt(&[7; 32], &nonce(1), b"", b"second")
        );
    }

    #[test]
    fn frames_open_in_order_in_both_directions() {
        let (mut client, mut server) = pair();
        for i in 0..5u8 {
            let up = client.seal(&[i; 10]).unwrap();
            assert_eq!(server.open(&up).unwrap(), [i; 10]);
            let down = server.seal(&[i; 3]).unwrap();
            assert_eq!(client.open(&down).unwrap(), [i; 3]);
        }
        assert_eq!(client.sender().counter(), Some(5));
        assert_eq!(server.receiver().counter(), Some(5));
    }

    #[test]
    fn counters_are_independent_per_direction() {
        let (mut client, mut server) = pair();
        for _ in 0..3 {
            server.open(&client.seal(b"x").unwrap()).unwrap();
        }
        assert_eq!(client.receiver().counter(), Some(0));
        assert_eq!(client.open(&server.seal(b"y").unwrap()).unwrap(), b"y");
    }

    #[test]
    fn reordered_frame_fails_authentication() {
        let (mut client, mut server) = pair();
        let _first = client.seal(b"one").unwrap();
        let second = client.seal(b"two").unwrap();
        assert_eq!(
            server.open(&second),
            Err(TransportError::TagMismatch { counter: 0 })
        );
    }

    #[test]
    fn flipped_bit_fails_authentication() {
        let (mut client, mut server) = pair();
        let mut frame = client.seal(b"payload").unwrap();
        frame[2] ^= 0x40;
        assert_eq!(
            server.open(&frame),
            Err(TransportError::TagMismatch { counter: 0 })
        );
    }

    #[test]
    fn short_ciphertext_is_rejected() {
        let (_, mut server) = pair();
        assert_eq!(server.open(&[0; 15]), Err(TransportError::TooShort));
    }

    #[test]
    fn counter_exhaustion_is_an_error_not_a_wrap() {
        let mut send = CipherState::with_counter(&[3; 32], u32::MAX);
        let mut recv = CipherState::with_counter(&[3; 32], u32::MAX);
        let last = send.seal(b"last").unwrap();
        assert_eq!(recv.open(&last).unwrap(), b"last");
        assert_eq!(send.counter(), None);
        assert_eq!(send.seal(b"more"), Err(TransportError::CounterExhausted));
        assert_eq!(recv.open(&last), Err(TransportError::CounterExhausted));
    }
}
