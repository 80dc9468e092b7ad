//! Media encryption as WhatsApp does it: one random 32-byte media key per file, expanded with
//! HKDF into an IV, an AES-256-CBC key and an HMAC key; the uploaded blob is
//! `AES-CBC(PKCS#7(plaintext)) || HMAC-SHA256(iv || ciphertext)[..10]`.
//!
//! Both directions stream: feed any chunk sizes and get output as it becomes available, so a
//! large video never has to sit in memory twice. [`MediaDecryptor`] hands out plaintext before
//! the MAC at the end of the blob is checked; callers must discard what they received when
//! [`MediaDecryptor::finish`] fails (the client writes to a temporary file and renames on success).

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, generic_array::GenericArray};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::hkdf_sha256;

/// Length of the truncated HMAC appended to every uploaded blob.
pub const MEDIA_MAC_LEN: usize = 10;
const BLOCK: usize = 16;

/// What kind of media a key is for; it selects the HKDF info string, so keys of one kind
/// never decrypt another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MediaKind {
    /// Images and stickers.
    Image,
    /// Videos, GIFs and round videos.
    Video,
    /// Audio files and voice notes.
    Audio,
    /// Documents.
    Document,
    /// History-sync blobs.
    History,
    /// App-state external blobs.
    AppState,
    /// Link-preview thumbnails.
    LinkThumbnail,
    /// Sticker packs.
    StickerPack,
}

impl MediaKind {
    /// The HKDF info string for this kind (`"WhatsApp Image Keys"`, …).
    pub fn hkdf_info(self) -> &'static str {
        match self {
            MediaKind::Image => "WhatsApp Image Keys",
            MediaKind::Video => "WhatsApp Video Keys",
            MediaKind::Audio => "WhatsApp Audio Keys",
            MediaKind::Document => "WhatsApp Document Keys",
            MediaKind::History => "WhatsApp History Keys",
            MediaKind::AppState => "WhatsApp App State Keys",
            MediaKind::LinkThumbnail => "WhatsApp Link Thumbnail Keys",
            MediaKind::StickerPack => "WhatsApp Sticker Pack Keys",
        }
    }

    /// The upload path segment (`/mms/<type>`) servers expect for this kind.
    pub fn mms_type(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
            MediaKind::History => "md-msg-hist",
            MediaKind::AppState => "md-app-state",
            MediaKind::LinkThumbnail => "thumbnail-link",
            MediaKind::StickerPack => "sticker-pack",
        }
    }
}

/// The keys expanded from one media key.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaKeys {
    /// CBC initialisation vector.
    pub iv: [u8; 16],
    /// AES-256 key.
    pub cipher_key: [u8; 32],
    /// HMAC-SHA256 key.
    pub mac_key: [u8; 32],
}

impl std::fmt::Debug for MediaKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaKeys(..)")
    }
}

impl MediaKeys {
    /// Expands `media_key` for `kind` (HKDF-SHA256, no salt, 112 bytes; the last 32 are unused).
    pub fn expand(media_key: &[u8; 32], kind: MediaKind) -> Self {
        let out: [u8; 112] = hkdf_sha256(&[], media_key, kind.hkdf_info().as_bytes());
        let mut keys = MediaKeys {
            iv: [0; 16],
            cipher_key: [0; 32],
            mac_key: [0; 32],
        };
        keys.iv.copy_from_slice(&out[..16]);
        keys.cipher_key.copy_from_slice(&out[16..48]);
        keys.mac_key.copy_from_slice(&out[48..80]);
        keys
    }
}

/// The hashes a media message carries, known once a whole file went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDigests {
    /// SHA-256 of the plaintext (`fileSha256`).
    pub file_sha256: [u8; 32],
    /// SHA-256 of the uploaded blob, ciphertext and MAC (`fileEncSha256`).
    pub file_enc_sha256: [u8; 32],
    /// Plaintext length in bytes (`fileLength`).
    pub file_length: u64,
}

/// Why a media blob was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The blob is shorter than one block plus the MAC, or its ciphertext is not whole blocks.
    #[error("media blob has an impossible length")]
    BadLength,
    /// SHA-256 of the blob differs from the `fileEncSha256` the message announced.
    #[error("encrypted file hash mismatch")]
    EncHashMismatch,
    /// The truncated HMAC does not verify: wrong key or tampered blob.
    #[error("media MAC mismatch")]
    MacMismatch,
    /// The CBC padding is invalid after a good MAC (should not happen with honest senders).
    #[error("bad padding in media plaintext")]
    BadPadding,
    /// SHA-256 of the plaintext differs from the announced `fileSha256`.
    #[error("file hash mismatch")]
    FileHashMismatch,
}

/// Streams plaintext in and the upload blob out.
///
/// ```
/// use wa_core::crypto::media::{MediaEncryptor, MediaKind, decrypt_media};
/// let key = [7u8; 32];
/// let mut enc = MediaEncryptor::new(&key, MediaKind::Image);
/// let mut blob = enc.update(b"hello ");
/// blob.extend(enc.update(b"world"));
/// let (tail, digests) = enc.finish();
/// blob.extend(tail);
/// let plain = decrypt_media(&key, MediaKind::Image, &blob, Some(&digests.file_enc_sha256), Some(&digests.file_sha256)).unwrap();
/// assert_eq!(plain, b"hello world");
/// ```
pub struct MediaEncryptor {
    cipher: cbc::Encryptor<aes::Aes256>,
    mac: Hmac<Sha256>,
    plain_hash: Sha256,
    enc_hash: Sha256,
    pending: Vec<u8>,
    length: u64,
}

impl MediaEncryptor {
    /// Starts encrypting a file of `kind` under `media_key`.
    pub fn new(media_key: &[u8; 32], kind: MediaKind) -> Self {
        let keys = MediaKeys::expand(media_key, kind);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&keys.mac_key).expect("any key length");
        mac.update(&keys.iv);
        MediaEncryptor {
            cipher: cbc::Encryptor::new(&keys.cipher_key.into(), &keys.iv.into()),
            mac,
            plain_hash: Sha256::new(),
            enc_hash: Sha256::new(),
            pending: Vec::with_capacity(BLOCK),
            length: 0,
        }
    }

    /// Encrypts the next chunk; returns the ciphertext of every block it completed.
    pub fn update(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.plain_hash.update(chunk);
        self.length += chunk.len() as u64;
        self.pending.extend_from_slice(chunk);
        let whole = self.pending.len() / BLOCK * BLOCK;
        let mut out: Vec<u8> = self.pending.drain(..whole).collect();
        self.encrypt_blocks(&mut out);
        out
    }

    /// Pads and encrypts the rest, appends the MAC, and returns the final bytes with the digests.
    pub fn finish(mut self) -> (Vec<u8>, MediaDigests) {
        let pad = BLOCK - self.pending.len() % BLOCK;
        let mut out = std::mem::take(&mut self.pending);
        out.resize(out.len() + pad, pad as u8);
        self.encrypt_blocks(&mut out);
        let tag = self.mac.finalize().into_bytes();
        out.extend_from_slice(&tag[..MEDIA_MAC_LEN]);
        self.enc_hash.update(&tag[..MEDIA_MAC_LEN]);
        let digests = MediaDigests {
            file_sha256: self.plain_hash.finalize().into(),
            file_enc_sha256: self.enc_hash.finalize().into(),
            file_length: self.length,
        };
        (out, digests)
    }

    fn encrypt_blocks(&mut self, data: &mut [u8]) {
        for block in data.chunks_exact_mut(BLOCK) {
            self.cipher
                .encrypt_block_mut(GenericArray::from_mut_slice(block));
        }
        self.mac.update(data);
        self.enc_hash.update(data);
    }
}

/// Encrypts a whole file at once; see [`MediaEncryptor`] for streaming.
pub fn encrypt_media(
    media_key: &[u8; 32],
    kind: MediaKind,
    plaintext: &[u8],
) -> (Vec<u8>, MediaDigests) {
    let mut enc = MediaEncryptor::new(media_key, kind);
    let mut blob = enc.update(plaintext);
    let (tail, digests) = enc.finish();
    blob.extend_from_slice(&tail);
    (blob, digests)
}

/// Streams an upload blob in and plaintext out, checking hashes and MAC at the end.
pub struct MediaDecryptor {
    cipher: cbc::Decryptor<aes::Aes256>,
    mac: Hmac<Sha256>,
    plain_hash: Sha256,
    enc_hash: Sha256,
    // Bytes not yet known to be ciphertext: the last block (padding) and the MAC stay here
    // until the stream ends.
    tail: Vec<u8>,
    total: u64,
}

impl MediaDecryptor {
    /// Starts decrypting a blob of `kind` under `media_key`.
    pub fn new(media_key: &[u8; 32], kind: MediaKind) -> Self {
        let keys = MediaKeys::expand(media_key, kind);
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&keys.mac_key).expect("any key length");
        mac.update(&keys.iv);
        MediaDecryptor {
            cipher: cbc::Decryptor::new(&keys.cipher_key.into(), &keys.iv.into()),
            mac,
            plain_hash: Sha256::new(),
            enc_hash: Sha256::new(),
            tail: Vec::with_capacity(2 * BLOCK + MEDIA_MAC_LEN),
            total: 0,
        }
    }

    /// Feeds the next chunk of the blob; returns plaintext that is certainly not padding.
    /// The plaintext is unauthenticated until [`finish`](Self::finish) succeeds.
    pub fn update(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.enc_hash.update(chunk);
        self.total += chunk.len() as u64;
        self.tail.extend_from_slice(chunk);
        // Keep one block plus the MAC back; everything before that is whole ciphertext blocks.
        let keep = BLOCK + MEDIA_MAC_LEN;
        if self.tail.len() <= keep {
            return Vec::new();
        }
        let ready = (self.tail.len() - keep) / BLOCK * BLOCK;
        let mut out: Vec<u8> = self.tail.drain(..ready).collect();
        self.mac.update(&out);
        for block in out.chunks_exact_mut(BLOCK) {
            self.cipher
                .decrypt_block_mut(GenericArray::from_mut_slice(block));
        }
        self.plain_hash.update(&out);
        out
    }

    /// Checks the blob hash (when given), the MAC, the padding and the plaintext hash (when
    /// given); returns the last plaintext bytes and the digests.
    pub fn finish(
        mut self,
        expected_enc_sha256: Option<&[u8; 32]>,
        expected_sha256: Option<&[u8; 32]>,
    ) -> Result<(Vec<u8>, MediaDigests), MediaError> {
        let ciphertext_len = self
            .tail
            .len()
            .checked_sub(MEDIA_MAC_LEN)
            .ok_or(MediaError::BadLength)?;
        if self.total < (BLOCK + MEDIA_MAC_LEN) as u64 || !ciphertext_len.is_multiple_of(BLOCK) {
            return Err(MediaError::BadLength);
        }
        let enc_sha256: [u8; 32] = self.enc_hash.finalize().into();
        if expected_enc_sha256.is_some_and(|e| *e != enc_sha256) {
            return Err(MediaError::EncHashMismatch);
        }
        let (ct, tag) = self.tail.split_at_mut(ciphertext_len);
        self.mac.update(ct);
        self.mac
            .verify_truncated_left(tag)
            .map_err(|_| MediaError::MacMismatch)?;
        for block in ct.chunks_exact_mut(BLOCK) {
            self.cipher
                .decrypt_block_mut(GenericArray::from_mut_slice(block));
        }
        let pad = *ct.last().ok_or(MediaError::BadLength)? as usize;
        if pad == 0 || pad > BLOCK || !ct[ct.len() - pad..].iter().all(|&b| b as usize == pad) {
            return Err(MediaError::BadPadding);
        }
        let last = ct[..ct.len() - pad].to_vec();
        self.plain_hash.update(&last);
        let file_sha256: [u8; 32] = self.plain_hash.finalize().into();
        if expected_sha256.is_some_and(|e| *e != file_sha256) {
            return Err(MediaError::FileHashMismatch);
        }
        let file_length = self.total - MEDIA_MAC_LEN as u64 - pad as u64;
        Ok((
            last,
            MediaDigests {
                file_sha256,
                file_enc_sha256: enc_sha256,
                file_length,
            },
        ))
    }
}

/// Verifies and decrypts a whole blob; see [`MediaDecryptor`] for streaming.
pub fn decrypt_media(
    media_key: &[u8; 32],
    kind: MediaKind,
    blob: &[u8],
    expected_enc_sha256: Option<&[u8; 32]>,
    expected_sha256: Option<&[u8; 32]>,
) -> Result<Vec<u8>, MediaError> {
    let mut dec = MediaDecryptor::new(media_key, kind);
    let mut plain = dec.update(blob);
    let (last, _) = dec.finish(expected_enc_sha256, expected_sha256)?;
    plain.extend_from_slice(&last);
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{aes256_cbc_encrypt, hmac_sha256};

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn blob_is_cbc_ciphertext_followed_by_a_truncated_hmac() {
        let key = [9u8; 32];
        let plain = sample(100);
        let (blob, digests) = encrypt_media(&key, MediaKind::Document, &plain);
        let keys = MediaKeys::expand(&key, MediaKind::Document);
        let ct = aes256_cbc_encrypt(&keys.cipher_key, &keys.iv, &plain);
        let mac = hmac_sha256(&keys.mac_key, &[&keys.iv[..], &ct].concat());
        assert_eq!(blob, [&ct[..], &mac[..10]].concat());
        assert_eq!(digests.file_sha256, crate::crypto::sha256(&plain));
        assert_eq!(digests.file_enc_sha256, crate::crypto::sha256(&blob));
        assert_eq!(digests.file_length, 100);
    }

    #[test]
    fn streaming_in_any_chunk_size_gives_the_same_blob_and_plaintext() {
        let key = [1u8; 32];
        for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 1000] {
            let plain = sample(len);
            let (whole, digests) = encrypt_media(&key, MediaKind::Video, &plain);
            for chunk in [1usize, 3, 16, 17, 64] {
                let mut enc = MediaEncryptor::new(&key, MediaKind::Video);
                let mut blob = Vec::new();
                for c in plain.chunks(chunk) {
                    blob.extend(enc.update(c));
                }
                let (tail, d) = enc.finish();
                blob.extend(tail);
                assert_eq!(blob, whole, "len {len} chunk {chunk}");
                assert_eq!(d, digests);
                let mut dec = MediaDecryptor::new(&key, MediaKind::Video);
                let mut out = Vec::new();
                for c in blob.chunks(chunk) {
                    out.extend(dec.update(c));
                }
                let (last, d2) = dec
                    .finish(Some(&digests.file_enc_sha256), Some(&digests.file_sha256))
                    .unwrap();
                out.extend(last);
                assert_eq!(out, plain, "len {len} chunk {chunk}");
                assert_eq!(d2, digests);
            }
        }
    }

    #[test]
    fn a_flipped_bit_anywhere_is_a_mac_mismatch() {
        let key = [2u8; 32];
        let (blob, _) = encrypt_media(&key, MediaKind::Image, &sample(50));
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x40;
            assert_eq!(
                decrypt_media(&key, MediaKind::Image, &bad, None, None),
                Err(MediaError::MacMismatch),
                "byte {i}"
            );
        }
    }

    #[test]
    fn another_kind_with_the_same_key_does_not_decrypt() {
        let key = [3u8; 32];
        let (blob, _) = encrypt_media(&key, MediaKind::Image, b"picture");
        assert_eq!(
            decrypt_media(&key, MediaKind::Audio, &blob, None, None),
            Err(MediaError::MacMismatch)
        );
    }

    #[test]
    fn announced_hashes_are_checked() {
        let key = [4u8; 32];
        let (blob, d) = encrypt_media(&key, MediaKind::Audio, b"voice");
        assert_eq!(
            decrypt_media(&key, MediaKind::Audio, &blob, Some(&[0; 32]), None),
            Err(MediaError::EncHashMismatch)
        );
        assert_eq!(
            decrypt_media(&key, MediaKind::Audio, &blob, None, Some(&[0; 32])),
            Err(MediaError::FileHashMismatch)
        );
        assert!(
            decrypt_media(
                &key,
                MediaKind::Audio,
                &blob,
                Some(&d.file_enc_sha256),
                Some(&d.file_sha256)
            )
            .is_ok()
        );
    }

    #[test]
    fn impossible_lengths_are_refused() {
        let key = [5u8; 32];
        for len in [0usize, 9, 10, 25, 27, 37] {
            assert_eq!(
                decrypt_media(&key, MediaKind::Image, &vec![0; len], None, None),
                Err(MediaError::BadLength),
                "len {len}"
            );
        }
    }
}
