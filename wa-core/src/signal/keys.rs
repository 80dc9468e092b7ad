//! Keys and key records: Curve25519 public keys in Signal's `0x05`-prefixed form, the
//! identity key pair, registration ids, signed and one-time prekeys, prekey bundles.

use std::fmt;

use rand_core::{CryptoRng, RngCore};

use super::SignalError;
use super::record_format::{self, bytes32, sig64};
use super::wire;
use crate::crypto::{KeyPair, xeddsa_sign, xeddsa_verify};

/// The key-type byte in front of a Curve25519 ("DJB") public key in Signal messages.
pub const DJB_TYPE: u8 = 0x05;

/// Prekey ids travel as 3 bytes: the largest one.
pub const MAX_PRE_KEY_ID: u32 = 0x00FF_FFFF;

/// A Curve25519 public key (the raw Montgomery `u` coordinate).
///
/// In Signal protobufs it travels as 33 bytes, `0x05 || key` ([`PublicKey::serialize`]);
/// in WhatsApp stanzas as the raw 32 bytes ([`PublicKey::as_bytes`]).
///
/// ```
/// use wa_core::signal::PublicKey;
/// let k = PublicKey::from_bytes([9; 32]);
/// assert_eq!(k.serialize()[0], 0x05);
/// assert_eq!(PublicKey::decode(&k.serialize()).unwrap(), k);
/// assert_eq!(PublicKey::decode(&[9; 32]).unwrap(), k); // 32-byte form accepted too
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Wraps raw 32 key bytes.
    pub const fn from_bytes(raw: [u8; 32]) -> Self {
        PublicKey(raw)
    }

    /// Parses `0x05 || key` (33 bytes) or, as some peers send, the bare 32 bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, SignalError> {
        match bytes {
            [DJB_TYPE, rest @ ..] if rest.len() == 32 => {
                Ok(PublicKey(rest.try_into().unwrap_or([0; 32])))
            }
            raw if raw.len() == 32 => Ok(PublicKey(raw.try_into().unwrap_or([0; 32]))),
            _ => Err(SignalError::InvalidKey),
        }
    }

    /// The 33-byte wire form `0x05 || key`.
    pub fn serialize(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = DJB_TYPE;
        out[1..].copy_from_slice(&self.0);
        out
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Checks an XEdDSA signature by this key.
    pub fn verify_signature(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        xeddsa_verify(&self.0, message, signature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

impl From<&KeyPair> for PublicKey {
    fn from(pair: &KeyPair) -> Self {
        PublicKey(pair.public)
    }
}

/// The long-term identity key pair of this device.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct IdentityKeyPair(KeyPair);

impl IdentityKeyPair {
    /// A fresh identity.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        IdentityKeyPair(KeyPair::generate(rng))
    }

    /// Wraps an existing key pair (e.g. the one made at pairing).
    pub fn from_key_pair(pair: KeyPair) -> Self {
        IdentityKeyPair(pair)
    }

    /// The public identity key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.public)
    }

    /// The underlying key pair.
    pub fn key_pair(&self) -> &KeyPair {
        &self.0
    }

    /// XEdDSA-signs `message`; `rng` supplies the 64 random bytes.
    pub fn sign<R: RngCore + CryptoRng>(&self, message: &[u8], rng: &mut R) -> [u8; 64] {
        let mut random = [0u8; 64];
        rng.fill_bytes(&mut random);
        xeddsa_sign(&self.0.private, message, &random)
    }

    /// Versioned storage bytes.
    pub fn serialize(&self) -> Vec<u8> {
        record_format::encode(&wire::IdentityKeyPairData {
            public_key: Some(self.0.public.to_vec().into()),
            private_key: Some(self.0.private.to_vec().into()),
        })
    }

    /// Parses [`IdentityKeyPair::serialize`] output; the public key is recomputed and checked.
    pub fn deserialize(bytes: &[u8]) -> Result<Self, SignalError> {
        let data: wire::IdentityKeyPairData = record_format::decode(bytes)?;
        let pair = KeyPair::from_private(bytes32(data.private_key.as_deref(), "private_key")?);
        if pair.public != bytes32(data.public_key.as_deref(), "public_key")? {
            return Err(SignalError::CorruptRecord(
                "identity public key does not match",
            ));
        }
        Ok(IdentityKeyPair(pair))
    }
}

/// A fresh registration id, 1..=16380 (14 bits, as libsignal's key helper and Baileys make).
pub fn generate_registration_id<R: RngCore>(rng: &mut R) -> u32 {
    (rng.next_u32() % 16380) + 1
}

/// A one-time prekey: a 24-bit id and a key pair.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PreKeyRecord {
    /// The id, at most [`MAX_PRE_KEY_ID`].
    pub id: u32,
    /// The key pair.
    pub key_pair: KeyPair,
}

impl PreKeyRecord {
    /// Versioned storage bytes.
    pub fn serialize(&self) -> Vec<u8> {
        record_format::encode(&wire::PreKeyRecordData {
            id: Some(self.id),
            public_key: Some(self.key_pair.public.to_vec().into()),
            private_key: Some(self.key_pair.private.to_vec().into()),
        })
    }

    /// Parses [`PreKeyRecord::serialize`] output.
    pub fn deserialize(bytes: &[u8]) -> Result<Self, SignalError> {
        let data: wire::PreKeyRecordData = record_format::decode(bytes)?;
        Ok(PreKeyRecord {
            id: data.id.ok_or(SignalError::MissingField("id"))?,
            key_pair: record_format::key_pair(
                data.private_key.as_deref(),
                data.public_key.as_deref(),
            )?,
        })
    }
}

/// `count` fresh one-time prekeys with ids `start, start+1, …`, wrapping from
/// [`MAX_PRE_KEY_ID`] back to 1.
pub fn generate_pre_keys<R: RngCore + CryptoRng>(
    start: u32,
    count: u32,
    rng: &mut R,
) -> Vec<PreKeyRecord> {
    let mut id = start.clamp(1, MAX_PRE_KEY_ID);
    (0..count)
        .map(|_| {
            let record = PreKeyRecord {
                id,
                key_pair: KeyPair::generate(rng),
            };
            id = if id >= MAX_PRE_KEY_ID { 1 } else { id + 1 };
            record
        })
        .collect()
}

/// A signed prekey: id, key pair, the identity's XEdDSA signature over `0x05 || public`,
/// and when it was made.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SignedPreKeyRecord {
    /// The id (24 bits on the wire).
    pub id: u32,
    /// The key pair.
    pub key_pair: KeyPair,
    /// The identity key's signature over the 33-byte public key.
    pub signature: [u8; 64],
    /// Creation time, unix seconds (caller-supplied).
    pub timestamp: u64,
}

impl SignedPreKeyRecord {
    /// A fresh signed prekey signed by `identity`.
    pub fn generate<R: RngCore + CryptoRng>(
        identity: &IdentityKeyPair,
        id: u32,
        timestamp: u64,
        rng: &mut R,
    ) -> Self {
        let key_pair = KeyPair::generate(rng);
        let signature = identity.sign(&PublicKey::from(&key_pair).serialize(), rng);
        SignedPreKeyRecord {
            id,
            key_pair,
            signature,
            timestamp,
        }
    }

    /// Versioned storage bytes.
    pub fn serialize(&self) -> Vec<u8> {
        record_format::encode(&wire::SignedPreKeyRecordData {
            id: Some(self.id),
            public_key: Some(self.key_pair.public.to_vec().into()),
            private_key: Some(self.key_pair.private.to_vec().into()),
            signature: Some(self.signature.to_vec().into()),
            timestamp: Some(self.timestamp),
        })
    }

    /// Parses [`SignedPreKeyRecord::serialize`] output.
    pub fn deserialize(bytes: &[u8]) -> Result<Self, SignalError> {
        let data: wire::SignedPreKeyRecordData = record_format::decode(bytes)?;
        Ok(SignedPreKeyRecord {
            id: data.id.ok_or(SignalError::MissingField("id"))?,
            key_pair: record_format::key_pair(
                data.private_key.as_deref(),
                data.public_key.as_deref(),
            )?,
            signature: sig64(data.signature.as_deref(), "signature")?,
            timestamp: data.timestamp.unwrap_or(0),
        })
    }
}

/// What the server hands out for one device of a peer: everything needed to start a
/// session with it (protocol notes §8.4).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PreKeyBundle {
    /// The device's registration id.
    pub registration_id: u32,
    /// The device id.
    pub device_id: u32,
    /// A one-time prekey (id, key), when the server still had one.
    pub pre_key: Option<(u32, PublicKey)>,
    /// The signed prekey's id.
    pub signed_pre_key_id: u32,
    /// The signed prekey.
    pub signed_pre_key: PublicKey,
    /// The identity's signature over `0x05 || signed_pre_key`.
    pub signed_pre_key_signature: [u8; 64],
    /// The device's identity key.
    pub identity_key: PublicKey,
}

impl PreKeyBundle {
    /// Whether the signed prekey's signature verifies under the bundle's identity key.
    pub fn verify_signature(&self) -> bool {
        self.identity_key.verify_signature(
            &self.signed_pre_key.serialize(),
            &self.signed_pre_key_signature,
        )
    }
}
