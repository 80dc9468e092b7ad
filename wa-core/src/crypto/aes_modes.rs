//! AES-256 in the three modes the protocol uses: GCM (Noise, pairing), CBC with PKCS#7
//! (Signal messages, media) and CTR (pairing-code key wrapping).

use super::CryptoError;
use aes::cipher::{
    BlockDecryptMut, BlockEncryptMut, KeyIvInit, StreamCipher, block_padding::Pkcs7,
};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

/// AES-256-GCM seal: returns ciphertext with the 16-byte tag appended.
pub fn aes256_gcm_encrypt(key: &[u8; 32], iv: &[u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .encrypt(
            Nonce::from_slice(iv),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .expect("AES-GCM encryption of in-memory data cannot fail")
}

/// AES-256-GCM open of `ciphertext || tag`.
pub fn aes256_gcm_decrypt(
    key: &[u8; 32],
    iv: &[u8; 12],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if ciphertext.len() < 16 {
        return Err(CryptoError::TooShort);
    }
    let cipher = Aes256Gcm::new(key.into());
    cipher
        .decrypt(
            Nonce::from_slice(iv),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| CryptoError::TagMismatch)
}

/// AES-256-CBC encryption with PKCS#7 padding.
pub fn aes256_cbc_encrypt(key: &[u8; 32], iv: &[u8; 16], plaintext: &[u8]) -> Vec<u8> {
    cbc::Encryptor::<aes::Aes256>::new(key.into(), iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plaintext)
}

/// AES-256-CBC decryption with PKCS#7 padding removal.
pub fn aes256_cbc_decrypt(
    key: &[u8; 32],
    iv: &[u8; 16],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
        return Err(CryptoError::BadPadding);
    }
    cbc::Decryptor::<aes::Aes256>::new(key.into(), iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .map_err(|_| CryptoError::BadPadding)
}

/// AES-256-CTR (128-bit big-endian counter starting at `iv`), in place; encryption and
/// decryption are the same operation.
pub fn aes256_ctr_apply(key: &[u8; 32], iv: &[u8; 16], data: &mut [u8]) {
    ctr::Ctr128BE::<aes::Aes256>::new(key.into(), iv.into()).apply_keystream(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcm_round_trips_and_rejects_a_flipped_bit() {
        let key = [7u8; 32];
        let iv = [1u8; 12];
        let mut sealed = aes256_gcm_encrypt(&key, &iv, b"aad", b"hello");
        assert_eq!(sealed.len(), 5 + 16);
        assert_eq!(
            aes256_gcm_decrypt(&key, &iv, b"aad", &sealed).unwrap(),
            b"hello"
        );
        sealed[0] ^= 1;
        assert_eq!(
            aes256_gcm_decrypt(&key, &iv, b"aad", &sealed),
            Err(CryptoError::TagMismatch)
        );
    }

    #[test]
    fn gcm_rejects_input_shorter_than_a_tag() {
        assert_eq!(
            aes256_gcm_decrypt(&[0; 32], &[0; 12], b"", &[0; 15]),
            Err(CryptoError::TooShort)
        );
    }

    #[test]
    fn cbc_round_trips_and_pads_to_blocks() {
        let key = [3u8; 32];
        let iv = [9u8; 16];
        for len in [0usize, 1, 15, 16, 17, 100] {
            let pt = vec![0xAB; len];
            let ct = aes256_cbc_encrypt(&key, &iv, &pt);
            assert_eq!(ct.len(), (len / 16 + 1) * 16);
            assert_eq!(aes256_cbc_decrypt(&key, &iv, &ct).unwrap(), pt);
        }
    }

    #[test]
    fn cbc_rejects_lengths_that_are_not_whole_blocks() {
        assert_eq!(
            aes256_cbc_decrypt(&[0; 32], &[0; 16], &[0; 15]),
            Err(CryptoError::BadPadding)
        );
        assert_eq!(
            aes256_cbc_decrypt(&[0; 32], &[0; 16], &[]),
            Err(CryptoError::BadPadding)
        );
    }

    #[test]
    fn ctr_is_its_own_inverse() {
        let mut data = b"some bytes to hide".to_vec();
        aes256_ctr_apply(&[5; 32], &[6; 16], &mut data);
        assert_ne!(&data[..], b"some bytes to hide");
        aes256_ctr_apply(&[5; 32], &[6; 16], &mut data);
        assert_eq!(&data[..], b"some bytes to hide");
    }
}
