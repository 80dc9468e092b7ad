//! Pairing by phone-number code ("link code"): the companion shows an 8-character code, the
//! user types it on the phone, and both sides exchange ephemeral keys wrapped under a key
//! derived from the code, then a key bundle from which both derive the new ADV secret.
//!
//! Companion: [`CompanionCodePairing`]. Phone: [`PrimaryCodePairing`].
//!
//! ```
//! use rand::rngs::OsRng;
//! use wa_core::crypto::KeyPair;
//! use wa_core::pair::code::{CompanionCodePairing, PrimaryCodePairing};
//!
//! let (companion_id, phone_id) = (KeyPair::generate(&mut OsRng), KeyPair::generate(&mut OsRng));
//! let companion = CompanionCodePairing::new(&mut OsRng, None).unwrap();
//! let hello = companion.wrapped_ephemeral(&mut OsRng);           // companion_hello
//! let phone = PrimaryCodePairing::new(&mut OsRng, companion.code(), &hello).unwrap();
//! let notification = phone.wrapped_ephemeral(&mut OsRng);        // server notification
//! let finish = companion.finish(&mut OsRng, &companion_id, &notification, &phone_id.public).unwrap();
//! let got = phone.finish(&phone_id, &finish.wrapped_bundle).unwrap();
//! assert_eq!(got.adv_secret, finish.adv_secret);
//! assert_eq!(got.companion_identity, companion_id.public);
//! ```

use hmac::{Hmac, Mac};
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;

use crate::crypto::{
    KeyPair, aes256_ctr_apply, aes256_gcm_decrypt, aes256_gcm_encrypt, hkdf_sha256,
};

/// The 32 code characters (no 0, I, O, U), five bits each, most significant first.
pub const CODE_ALPHABET: &[u8; 32] = b"123456789ABCDEFGHJKLMNPQRSTVWXYZ";
/// PBKDF2-HMAC-SHA256 iterations for the code key (`2 << 16`).
pub const CODE_KEY_ITERATIONS: u32 = 131_072;
/// Length of a wrapped ephemeral key: salt 32 || iv 16 || AES-CTR(pub32).
pub const WRAPPED_EPHEMERAL_LEN: usize = 80;
/// Length of the wrapped key bundle: salt 32 || nonce 12 || AES-GCM(96-byte bundle) with tag.
pub const WRAPPED_BUNDLE_LEN: usize = 156;

const BUNDLE_INFO: &[u8] = b"link_code_pairing_key_bundle_encryption_key";
const ADV_SECRET_INFO: &[u8] = b"adv_secret";

/// Why a phone-code pairing step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// A code is 8 ASCII letters or digits (a hyphen after the fourth is ignored).
    #[error("pairing code must be 8 ASCII letters or digits")]
    BadCode,
    /// A wrapped ephemeral key shorter than 80 bytes.
    #[error("wrapped ephemeral key is {0} bytes, expected at least 80")]
    WrappedTooShort(usize),
    /// A wrapped key bundle that is not 156 bytes.
    #[error("wrapped key bundle is {0} bytes, expected 156")]
    BundleLength(usize),
    /// The key bundle did not decrypt: wrong code or tampered.
    #[error("key bundle does not decrypt")]
    BundleDecrypt,
    /// The key bundle names a different primary identity than ours.
    #[error("key bundle is for another primary identity")]
    IdentityMismatch,
}

/// The code for 5 random bytes: 40 bits as 8 characters of [`CODE_ALPHABET`].
///
/// ```
/// assert_eq!(wa_core::pair::code::code_from_bytes(&[1, 2, 3, 4, 5]), "15217216");
/// ```
pub fn code_from_bytes(bytes: &[u8; 5]) -> String {
    let value = bytes.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
    (0..8)
        .rev()
        .map(|i| CODE_ALPHABET[(value >> (5 * i) & 31) as usize] as char)
        .collect()
}

/// A fresh random code.
pub fn generate_code<R: RngCore + CryptoRng>(rng: &mut R) -> String {
    let mut bytes = [0u8; 5];
    rng.fill_bytes(&mut bytes);
    code_from_bytes(&bytes)
}

/// Checks a code and strips the display hyphen (`"ABCD-1234"` → `"ABCD1234"`).
pub fn normalize_code(code: &str) -> Result<String, CodeError> {
    let code = match code.split_once('-') {
        Some((a, b)) if a.len() == 4 => format!("{a}{b}"),
        Some(_) => return Err(CodeError::BadCode),
        None => code.to_owned(),
    };
    if code.len() == 8 && code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(code)
    } else {
        Err(CodeError::BadCode)
    }
}

/// PBKDF2-HMAC-SHA256 (RFC 8018) of `password` and `salt` into `out`.
///
/// Each iteration is one HMAC over a 32-byte message, i.e. two SHA-256 compressions from the
/// precomputed inner and outer key states; working on the compression function directly keeps
/// the 131072 iterations of a code key fast even in unoptimised builds.
pub fn pbkdf2_hmac_sha256(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    let keyed = <Hmac<Sha256> as Mac>::new_from_slice(password).expect("HMAC takes any key");
    let (inner, outer) = hmac_key_states(password);
    for (index, block) in out.chunks_mut(32).enumerate() {
        let mut mac = keyed.clone();
        mac.update(salt);
        mac.update(&(index as u32 + 1).to_be_bytes());
        let mut u: [u8; 32] = mac.finalize().into_bytes().into();
        let mut t = u;
        for _ in 1..iterations {
            u = finish_after_key(&outer, &finish_after_key(&inner, &u));
            t.iter_mut().zip(u).for_each(|(t, u)| *t ^= u);
        }
        block.copy_from_slice(&t[..block.len()]);
    }
}

const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// SHA-256 states after absorbing the HMAC inner (`key ^ 0x36`) and outer (`key ^ 0x5c`) blocks.
fn hmac_key_states(password: &[u8]) -> ([u32; 8], [u32; 8]) {
    let mut key = [0u8; 64];
    if password.len() > 64 {
        key[..32].copy_from_slice(&crate::crypto::sha256(password));
    } else {
        key[..password.len()].copy_from_slice(password);
    }
    let state_after = |pad: u8| {
        let block: [u8; 64] = key.map(|k| k ^ pad);
        let mut state = SHA256_IV;
        sha2::compress256(&mut state, &[block.into()]);
        state
    };
    (state_after(0x36), state_after(0x5c))
}

/// SHA-256 of `<one key block> || message` (96 bytes in all), from the state after the key block.
fn finish_after_key(state: &[u32; 8], message: &[u8; 32]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(message);
    block[32] = 0x80;
    block[56..].copy_from_slice(&(96u64 * 8).to_be_bytes());
    let mut state = *state;
    sha2::compress256(&mut state, &[block.into()]);
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// The AES key that wraps ephemeral keys: PBKDF2-HMAC-SHA256(code, salt, 131072, 32).
pub fn derive_code_key(code: &str, salt: &[u8; 32]) -> [u8; 32] {
    let mut key = [0u8; 32];
    pbkdf2_hmac_sha256(code.as_bytes(), salt, CODE_KEY_ITERATIONS, &mut key);
    key
}

/// `salt || iv || AES-256-CTR(code key, iv, public)` (80 bytes).
pub fn wrap_ephemeral(code: &str, public: &[u8; 32], salt: &[u8; 32], iv: &[u8; 16]) -> [u8; 80] {
    let mut out = [0u8; WRAPPED_EPHEMERAL_LEN];
    out[..32].copy_from_slice(salt);
    out[32..48].copy_from_slice(iv);
    out[48..].copy_from_slice(public);
    aes256_ctr_apply(&derive_code_key(code, salt), iv, &mut out[48..]);
    out
}

/// The public key inside a wrapped ephemeral (the first 80 bytes are used). A wrong code
/// yields a different key, which the later bundle step detects.
pub fn unwrap_ephemeral(code: &str, wrapped: &[u8]) -> Result<[u8; 32], CodeError> {
    if wrapped.len() < WRAPPED_EPHEMERAL_LEN {
        return Err(CodeError::WrappedTooShort(wrapped.len()));
    }
    let salt: [u8; 32] = wrapped[..32].try_into().expect("length checked");
    let iv: [u8; 16] = wrapped[32..48].try_into().expect("length checked");
    let mut public: [u8; 32] = wrapped[48..80].try_into().expect("length checked");
    aes256_ctr_apply(&derive_code_key(code, &salt), &iv, &mut public);
    Ok(public)
}

fn adv_secret(
    ephemeral_shared: &[u8; 32],
    identity_shared: &[u8; 32],
    adv_random: &[u8],
) -> [u8; 32] {
    let ikm = [&ephemeral_shared[..], identity_shared, adv_random].concat();
    hkdf_sha256::<32>(&[], &ikm, ADV_SECRET_INFO)
}

fn random_array<const N: usize, R: RngCore + CryptoRng>(rng: &mut R) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill_bytes(&mut out);
    out
}

/// The companion's state between `companion_hello` and `companion_finish`.
#[derive(Clone)]
pub struct CompanionCodePairing {
    code: String,
    ephemeral: KeyPair,
}

/// What the companion sends in `companion_finish`, and the ADV secret it now uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanionFinish {
    /// `link_code_pairing_wrapped_key_bundle` (156 bytes).
    pub wrapped_bundle: Vec<u8>,
    /// The new ADV secret; it replaces the QR-era one for the `pair-success` HMAC.
    pub adv_secret: [u8; 32],
}

impl std::fmt::Debug for CompanionCodePairing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The code and the private keys stay out of logs.
        f.debug_struct("CompanionCodePairing")
            .finish_non_exhaustive()
    }
}

impl CompanionCodePairing {
    /// Starts with `code` (normalized) or a fresh random one, and a fresh ephemeral key.
    pub fn new<R: RngCore + CryptoRng>(rng: &mut R, code: Option<&str>) -> Result<Self, CodeError> {
        let code = match code {
            Some(code) => normalize_code(code)?,
            None => generate_code(rng),
        };
        Ok(CompanionCodePairing {
            code,
            ephemeral: KeyPair::generate(rng),
        })
    }

    /// Resumes with a stored code and ephemeral key pair.
    pub fn from_parts(code: &str, ephemeral: KeyPair) -> Result<Self, CodeError> {
        Ok(CompanionCodePairing {
            code: normalize_code(code)?,
            ephemeral,
        })
    }

    /// The code to show the user (8 characters, no hyphen).
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The companion ephemeral key pair (persist it with the code to resume).
    pub fn ephemeral(&self) -> &KeyPair {
        &self.ephemeral
    }

    /// `link_code_pairing_wrapped_companion_ephemeral_pub` for `companion_hello`.
    pub fn wrapped_ephemeral<R: RngCore + CryptoRng>(&self, rng: &mut R) -> [u8; 80] {
        let salt = random_array::<32, _>(rng);
        let iv = random_array::<16, _>(rng);
        wrap_ephemeral(&self.code, &self.ephemeral.public, &salt, &iv)
    }

    /// Handles the server's notification (`wrapped_primary_ephemeral`, `primary_identity`) and
    /// builds `companion_finish` for our `identity`.
    pub fn finish<R: RngCore + CryptoRng>(
        &self,
        rng: &mut R,
        identity: &KeyPair,
        wrapped_primary_ephemeral: &[u8],
        primary_identity: &[u8; 32],
    ) -> Result<CompanionFinish, CodeError> {
        let primary_ephemeral = unwrap_ephemeral(&self.code, wrapped_primary_ephemeral)?;
        let ephemeral_shared = self.ephemeral.agree(&primary_ephemeral);
        let bundle_salt = random_array::<32, _>(rng);
        let nonce = random_array::<12, _>(rng);
        let adv_random = random_array::<32, _>(rng);
        let bundle_key = hkdf_sha256::<32>(&bundle_salt, &ephemeral_shared, BUNDLE_INFO);
        let plaintext = [&identity.public[..], primary_identity, &adv_random].concat();
        let sealed = aes256_gcm_encrypt(&bundle_key, &nonce, &[], &plaintext);
        let wrapped_bundle = [&bundle_salt[..], &nonce, &sealed].concat();
        let identity_shared = identity.agree(primary_identity);
        Ok(CompanionFinish {
            wrapped_bundle,
            adv_secret: adv_secret(&ephemeral_shared, &identity_shared, &adv_random),
        })
    }
}

/// The phone's state after the user typed the code.
#[derive(Clone)]
pub struct PrimaryCodePairing {
    code: String,
    ephemeral: KeyPair,
    companion_ephemeral: [u8; 32],
}

/// What the phone learns from `companion_finish`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryFinish {
    /// The companion's identity key, from inside the authenticated bundle.
    pub companion_identity: [u8; 32],
    /// The ADV secret to key the `pair-success` HMAC with.
    pub adv_secret: [u8; 32],
}

impl std::fmt::Debug for PrimaryCodePairing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The code and the private keys stay out of logs.
        f.debug_struct("PrimaryCodePairing").finish_non_exhaustive()
    }
}

impl PrimaryCodePairing {
    /// The user typed `code`; `companion_wrapped_ephemeral` is from the companion's hello.
    pub fn new<R: RngCore + CryptoRng>(
        rng: &mut R,
        code: &str,
        companion_wrapped_ephemeral: &[u8],
    ) -> Result<Self, CodeError> {
        let code = normalize_code(code)?;
        let companion_ephemeral = unwrap_ephemeral(&code, companion_wrapped_ephemeral)?;
        Ok(PrimaryCodePairing {
            code,
            ephemeral: KeyPair::generate(rng),
            companion_ephemeral,
        })
    }

    /// `link_code_pairing_wrapped_primary_ephemeral_pub` for the server's notification.
    pub fn wrapped_ephemeral<R: RngCore + CryptoRng>(&self, rng: &mut R) -> [u8; 80] {
        let salt = random_array::<32, _>(rng);
        let iv = random_array::<16, _>(rng);
        wrap_ephemeral(&self.code, &self.ephemeral.public, &salt, &iv)
    }

    /// Opens the companion's `link_code_pairing_wrapped_key_bundle` with the phone's
    /// `identity` and derives the ADV secret.
    pub fn finish(
        &self,
        identity: &KeyPair,
        wrapped_bundle: &[u8],
    ) -> Result<PrimaryFinish, CodeError> {
        if wrapped_bundle.len() != WRAPPED_BUNDLE_LEN {
            return Err(CodeError::BundleLength(wrapped_bundle.len()));
        }
        let bundle_salt = &wrapped_bundle[..32];
        let nonce: [u8; 12] = wrapped_bundle[32..44].try_into().expect("length checked");
        let ephemeral_shared = self.ephemeral.agree(&self.companion_ephemeral);
        let bundle_key = hkdf_sha256::<32>(bundle_salt, &ephemeral_shared, BUNDLE_INFO);
        let plaintext = aes256_gcm_decrypt(&bundle_key, &nonce, &[], &wrapped_bundle[44..])
            .map_err(|_| CodeError::BundleDecrypt)?;
        let companion_identity: [u8; 32] = plaintext[..32].try_into().expect("96-byte bundle");
        if plaintext[32..64] != identity.public {
            return Err(CodeError::IdentityMismatch);
        }
        let identity_shared = identity.agree(&companion_identity);
        Ok(PrimaryFinish {
            companion_identity,
            adv_secret: adv_secret(&ephemeral_shared, &identity_shared, &plaintext[64..]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn code_alphabet_vectors_from_the_notes() {
        assert_eq!(code_from_bytes(&[1, 2, 3, 4, 5]), "15217216");
        assert_eq!(code_from_bytes(&[0xff; 5]), "ZZZZZZZZ");
        assert_eq!(code_from_bytes(&[0; 5]), "11111111");
    }

    #[test]
    fn generated_codes_use_only_the_alphabet() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..100 {
            let code = generate_code(&mut rng);
            assert_eq!(code.len(), 8);
            assert!(code.bytes().all(|c| CODE_ALPHABET.contains(&c)), "{code}");
        }
    }

    #[test]
    fn normalize_strips_the_display_hyphen_and_rejects_bad_codes() {
        assert_eq!(normalize_code("ABCD-1234").unwrap(), "ABCD1234");
        assert_eq!(normalize_code("ABCD1234").unwrap(), "ABCD1234");
        assert_eq!(normalize_code("ABC-D1234"), Err(CodeError::BadCode));
        assert_eq!(normalize_code("ABCD123"), Err(CodeError::BadCode));
        assert_eq!(normalize_code("ABCD123!"), Err(CodeError::BadCode));
    }

    #[test]
    fn pbkdf2_rfc7914_vector_one_iteration() {
        let mut out = [0u8; 64];
        pbkdf2_hmac_sha256(b"passwd", b"salt", 1, &mut out);
        assert_eq!(
            hex::encode(out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
             49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
        );
    }

    #[test]
    fn pbkdf2_rfc7914_vector_many_iterations() {
        let mut out = [0u8; 64];
        pbkdf2_hmac_sha256(b"Password", b"NaCl", 80000, &mut out);
        assert_eq!(
            hex::encode(out),
            "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56\
             a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d"
        );
    }

    #[test]
    fn pbkdf2_with_a_password_longer_than_a_block_matches_python() {
        // hashlib.pbkdf2_hmac("sha256", b"p" * 100, b"salt", 3, 32).hex()
        let mut out = [0u8; 32];
        pbkdf2_hmac_sha256(&[b'p'; 100], b"salt", 3, &mut out);
        assert_eq!(
            hex::encode(out),
            "f598272d35e2ca276ac07694cf01636c4d643ad3075956477cfdd83eda46d9f6"
        );
    }

    #[test]
    fn code_key_vector_from_the_notes() {
        assert_eq!(
            hex::encode(derive_code_key("ABCD1234", &[1; 32])),
            "81ea77b9286e9570dbe03aceb563e60e2957bcf8126d6dfd727694cea80b5baa"
        );
    }

    #[test]
    fn wrapped_ephemeral_is_salt_iv_and_ciphertext() {
        let wrapped = wrap_ephemeral("ABCD1234", &[9; 32], &[1; 32], &[2; 16]);
        assert_eq!(&wrapped[..32], &[1; 32]);
        assert_eq!(&wrapped[32..48], &[2; 16]);
        assert_ne!(&wrapped[48..], &[9; 32]);
        assert_eq!(unwrap_ephemeral("ABCD1234", &wrapped).unwrap(), [9; 32]);
    }

    #[test]
    fn unwrap_rejects_short_input() {
        assert_eq!(
            unwrap_ephemeral("ABCD1234", &[0; 79]),
            Err(CodeError::WrappedTooShort(79))
        );
    }

    fn run(phone_code: &str) -> (Result<PrimaryFinish, CodeError>, CompanionFinish, KeyPair) {
        let mut rng = StdRng::seed_from_u64(7);
        let companion_identity = KeyPair::generate(&mut rng);
        let phone_identity = KeyPair::generate(&mut rng);
        let companion = CompanionCodePairing::new(&mut rng, Some("WASA-P123")).unwrap();
        let hello = companion.wrapped_ephemeral(&mut rng);
        let phone = PrimaryCodePairing::new(&mut rng, phone_code, &hello).unwrap();
        let notification = phone.wrapped_ephemeral(&mut rng);
        let finish = companion
            .finish(
                &mut rng,
                &companion_identity,
                &notification,
                &phone_identity.public,
            )
            .unwrap();
        (
            phone.finish(&phone_identity, &finish.wrapped_bundle),
            finish,
            companion_identity,
        )
    }

    #[test]
    fn both_sides_derive_the_same_adv_secret() {
        let (phone, companion, companion_identity) = run("WASAP123");
        let phone = phone.unwrap();
        assert_eq!(companion.wrapped_bundle.len(), WRAPPED_BUNDLE_LEN);
        assert_eq!(phone.adv_secret, companion.adv_secret);
        assert_eq!(phone.companion_identity, companion_identity.public);
    }

    #[test]
    fn a_mistyped_code_fails_at_the_bundle() {
        let (phone, _, _) = run("WASAP124");
        assert_eq!(phone, Err(CodeError::BundleDecrypt));
    }

    #[test]
    fn phone_rejects_a_bundle_of_the_wrong_length() {
        let mut rng = StdRng::seed_from_u64(8);
        let companion = CompanionCodePairing::new(&mut rng, None).unwrap();
        let hello = companion.wrapped_ephemeral(&mut rng);
        let phone = PrimaryCodePairing::new(&mut rng, companion.code(), &hello).unwrap();
        let identity = KeyPair::generate(&mut rng);
        assert_eq!(
            phone.finish(&identity, &[0; 155]),
            Err(CodeError::BundleLength(155))
        );
    }

    #[test]
    fn phone_rejects_a_bundle_for_another_primary() {
        let mut rng = StdRng::seed_from_u64(9);
        let companion_identity = KeyPair::generate(&mut rng);
        let phone_identity = KeyPair::generate(&mut rng);
        let companion = CompanionCodePairing::new(&mut rng, None).unwrap();
        let hello = companion.wrapped_ephemeral(&mut rng);
        let phone = PrimaryCodePairing::new(&mut rng, companion.code(), &hello).unwrap();
        let stranger = KeyPair::generate(&mut rng);
        let notification = phone.wrapped_ephemeral(&mut rng);
        let finish = companion
            .finish(
                &mut rng,
                &companion_identity,
                &notification,
                &stranger.public,
            )
            .unwrap();
        assert_eq!(
            phone.finish(&phone_identity, &finish.wrapped_bundle),
            Err(CodeError::IdentityMismatch)
        );
    }
}
