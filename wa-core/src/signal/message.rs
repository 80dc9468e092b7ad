//! The four Signal wire messages WhatsApp carries, as typed values with their exact
//! serialized forms (protocol notes §12.2, §12.4, §12.6, §12.7):
//!
//! | message | bytes |
//! |---|---|
//! | [`WhisperMessage`] (`msg`) | `0x33 ‖ proto ‖ mac8` |
//! | [`PreKeyWhisperMessage`] (`pkmsg`) | `0x33 ‖ proto` (the inner WhisperMessage carries the MAC) |
//! | [`SenderKeyMessage`] (`skmsg`) | `0x33 ‖ proto ‖ signature64` |
//! | [`SenderKeyDistributionMessage`] | `0x33 ‖ proto` |
//!
//! Decoders take untrusted bytes and return [`SignalError`]s; they never panic.

use bytes::Bytes;
use prost::Message;

use super::SignalError;
use super::keys::PublicKey;
use super::record_format::{bytes32, public_key};
use super::wire;
use crate::crypto::hmac_sha256_parts;

/// The version byte of every message: protocol version 3 in both nibbles.
pub const CIPHERTEXT_VERSION: u8 = 0x33;

const MAC_LEN: usize = 8;
const SIGNATURE_LEN: usize = 64;

/// Checks the version byte: the high nibble is the message's protocol version.
fn check_version(byte: u8) -> Result<(), SignalError> {
    if byte >> 4 == 3 {
        Ok(())
    } else {
        Err(SignalError::UnsupportedVersion(byte))
    }
}

fn with_version<M: Message>(message: &M, extra: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + message.encoded_len() + extra);
    out.push(CIPHERTEXT_VERSION);
    let _ = message.encode(&mut out);
    out
}

/// Which `<enc type>` a ciphertext goes out as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CiphertextKind {
    /// A [`PreKeyWhisperMessage`]: sent until the peer's first reply decrypts.
    Pkmsg,
    /// A [`WhisperMessage`].
    Msg,
}

impl CiphertextKind {
    /// The `type` attribute of the `<enc>` node: `"pkmsg"` or `"msg"`.
    pub fn enc_type(self) -> &'static str {
        match self {
            CiphertextKind::Pkmsg => "pkmsg",
            CiphertextKind::Msg => "msg",
        }
    }
}

/// A one-to-one ciphertext ready for an `<enc>` node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiphertextMessage {
    /// `pkmsg` or `msg`.
    pub kind: CiphertextKind,
    /// The serialized message.
    pub bytes: Vec<u8>,
}

/// A double-ratchet message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhisperMessage {
    /// The sender's current ratchet public key.
    pub ratchet_key: PublicKey,
    /// The message's index in its sending chain.
    pub counter: u32,
    /// The length of the sender's previous sending chain.
    pub previous_counter: u32,
    /// AES-256-CBC ciphertext.
    pub ciphertext: Bytes,
    serialized: Bytes,
}

impl WhisperMessage {
    /// Builds and MACs a message. `sender_identity` and `receiver_identity` go into the MAC.
    pub(crate) fn new(
        mac_key: &[u8; 32],
        ratchet_key: PublicKey,
        counter: u32,
        previous_counter: u32,
        ciphertext: Vec<u8>,
        sender_identity: &PublicKey,
        receiver_identity: &PublicKey,
    ) -> Self {
        let proto = wire::WhisperMessage {
            ephemeral_key: Some(ratchet_key.serialize().to_vec().into()),
            counter: Some(counter),
            previous_counter: Some(previous_counter),
            ciphertext: Some(ciphertext.into()),
        };
        let mut serialized = with_version(&proto, MAC_LEN);
        let mac = compute_mac(mac_key, sender_identity, receiver_identity, &serialized);
        serialized.extend_from_slice(&mac);
        WhisperMessage {
            ratchet_key,
            counter,
            previous_counter,
            ciphertext: proto.ciphertext.unwrap_or_default(),
            serialized: serialized.into(),
        }
    }

    /// Parses `0x33 ‖ proto ‖ mac8`. The MAC is checked later, by the session.
    pub fn decode(bytes: &[u8]) -> Result<Self, SignalError> {
        if bytes.len() < 1 + MAC_LEN {
            return Err(SignalError::TooShort(bytes.len()));
        }
        check_version(bytes[0])?;
        let proto = wire::WhisperMessage::decode(&bytes[1..bytes.len() - MAC_LEN])?;
        Ok(WhisperMessage {
            ratchet_key: public_key(proto.ephemeral_key.as_deref(), "ephemeral_key")?,
            counter: proto.counter.ok_or(SignalError::MissingField("counter"))?,
            previous_counter: proto.previous_counter.unwrap_or(0),
            ciphertext: proto
                .ciphertext
                .ok_or(SignalError::MissingField("ciphertext"))?,
            serialized: Bytes::copy_from_slice(bytes),
        })
    }

    /// The serialized form.
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }

    /// Checks the MAC with the keys of a candidate session.
    pub(crate) fn verify_mac(
        &self,
        mac_key: &[u8; 32],
        sender_identity: &PublicKey,
        receiver_identity: &PublicKey,
    ) -> bool {
        let (body, mac) = self.serialized.split_at(self.serialized.len() - MAC_LEN);
        let expected = compute_mac(mac_key, sender_identity, receiver_identity, body);
        // Compare without an early exit.
        expected
            .iter()
            .zip(mac)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

fn compute_mac(
    mac_key: &[u8; 32],
    sender_identity: &PublicKey,
    receiver_identity: &PublicKey,
    body: &[u8],
) -> [u8; MAC_LEN] {
    let full = hmac_sha256_parts(
        mac_key,
        &[
            &sender_identity.serialize(),
            &receiver_identity.serialize(),
            body,
        ],
    );
    let mut mac = [0u8; MAC_LEN];
    mac.copy_from_slice(&full[..MAC_LEN]);
    mac
}

/// A session-establishing message: X3DH parameters plus the first [`WhisperMessage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreKeyWhisperMessage {
    /// The sender's registration id.
    pub registration_id: u32,
    /// The one-time prekey used, if any.
    pub pre_key_id: Option<u32>,
    /// The signed prekey used.
    pub signed_pre_key_id: u32,
    /// The sender's X3DH base (ephemeral) key.
    pub base_key: PublicKey,
    /// The sender's identity key.
    pub identity_key: PublicKey,
    /// The wrapped message.
    pub message: WhisperMessage,
}

impl PreKeyWhisperMessage {
    /// Parses `0x33 ‖ proto`, including the inner [`WhisperMessage`].
    pub fn decode(bytes: &[u8]) -> Result<Self, SignalError> {
        let (&version, body) = bytes.split_first().ok_or(SignalError::TooShort(0))?;
        check_version(version)?;
        let proto = wire::PreKeyWhisperMessage::decode(body)?;
        Ok(PreKeyWhisperMessage {
            registration_id: proto.registration_id.unwrap_or(0),
            pre_key_id: proto.pre_key_id,
            signed_pre_key_id: proto
                .signed_pre_key_id
                .ok_or(SignalError::MissingField("signed_pre_key_id"))?,
            base_key: public_key(proto.base_key.as_deref(), "base_key")?,
            identity_key: public_key(proto.identity_key.as_deref(), "identity_key")?,
            message: WhisperMessage::decode(
                proto
                    .message
                    .as_deref()
                    .ok_or(SignalError::MissingField("message"))?,
            )?,
        })
    }

    /// The serialized form `0x33 ‖ proto`.
    pub fn encode(&self) -> Vec<u8> {
        with_version(
            &wire::PreKeyWhisperMessage {
                registration_id: Some(self.registration_id),
                pre_key_id: self.pre_key_id,
                signed_pre_key_id: Some(self.signed_pre_key_id),
                base_key: Some(self.base_key.serialize().to_vec().into()),
                identity_key: Some(self.identity_key.serialize().to_vec().into()),
                message: Some(self.message.serialized.clone()),
            },
            0,
        )
    }
}

/// A group message encrypted with a sender key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderKeyMessage {
    /// The sender key id.
    pub key_id: u32,
    /// The message's iteration in the sender's chain.
    pub iteration: u32,
    /// AES-256-CBC ciphertext.
    pub ciphertext: Bytes,
    serialized: Bytes,
}

impl SenderKeyMessage {
    /// Builds and signs a message; `random` feeds the XEdDSA nonce.
    pub(crate) fn new(
        key_id: u32,
        iteration: u32,
        ciphertext: Vec<u8>,
        signing_private: &[u8; 32],
        random: &[u8; 64],
    ) -> Self {
        let proto = wire::SenderKeyMessage {
            id: Some(key_id),
            iteration: Some(iteration),
            ciphertext: Some(ciphertext.into()),
        };
        let mut serialized = with_version(&proto, SIGNATURE_LEN);
        let signature = crate::crypto::xeddsa_sign(signing_private, &serialized, random);
        serialized.extend_from_slice(&signature);
        SenderKeyMessage {
            key_id,
            iteration,
            ciphertext: proto.ciphertext.unwrap_or_default(),
            serialized: serialized.into(),
        }
    }

    /// Parses `0x33 ‖ proto ‖ signature64`. The signature is checked by the receiver, who
    /// knows the signing key.
    pub fn decode(bytes: &[u8]) -> Result<Self, SignalError> {
        if bytes.len() < 1 + SIGNATURE_LEN {
            return Err(SignalError::TooShort(bytes.len()));
        }
        check_version(bytes[0])?;
        let proto = wire::SenderKeyMessage::decode(&bytes[1..bytes.len() - SIGNATURE_LEN])?;
        Ok(SenderKeyMessage {
            key_id: proto.id.ok_or(SignalError::MissingField("id"))?,
            iteration: proto
                .iteration
                .ok_or(SignalError::MissingField("iteration"))?,
            ciphertext: proto
                .ciphertext
                .ok_or(SignalError::MissingField("ciphertext"))?,
            serialized: Bytes::copy_from_slice(bytes),
        })
    }

    /// The serialized form.
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }

    /// Whether the trailing signature verifies under `signing_key`.
    pub fn verify_signature(&self, signing_key: &PublicKey) -> bool {
        let (body, signature) = self
            .serialized
            .split_at(self.serialized.len() - SIGNATURE_LEN);
        let signature: &[u8; 64] = signature.try_into().unwrap_or(&[0; 64]);
        signing_key.verify_signature(body, signature)
    }
}

/// A sender key as handed to group members (inside a pairwise-encrypted `Message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderKeyDistributionMessage {
    /// The sender key id.
    pub key_id: u32,
    /// The iteration `chain_key` belongs to.
    pub iteration: u32,
    /// The chain key at `iteration`.
    pub chain_key: [u8; 32],
    /// The sender's signing public key.
    pub signing_key: PublicKey,
}

impl SenderKeyDistributionMessage {
    /// Parses `0x33 ‖ proto`. A 32-byte signing key (as some peers send) is accepted.
    pub fn decode(bytes: &[u8]) -> Result<Self, SignalError> {
        let (&version, body) = bytes.split_first().ok_or(SignalError::TooShort(0))?;
        check_version(version)?;
        let proto = wire::SenderKeyDistributionMessage::decode(body)?;
        Ok(SenderKeyDistributionMessage {
            key_id: proto.id.ok_or(SignalError::MissingField("id"))?,
            iteration: proto
                .iteration
                .ok_or(SignalError::MissingField("iteration"))?,
            chain_key: bytes32(proto.chain_key.as_deref(), "chain_key")?,
            signing_key: public_key(proto.signing_key.as_deref(), "signing_key")?,
        })
    }

    /// The serialized form `0x33 ‖ proto`, with the 33-byte signing key.
    pub fn encode(&self) -> Vec<u8> {
        with_version(
            &wire::SenderKeyDistributionMessage {
                id: Some(self.key_id),
                iteration: Some(self.iteration),
                chain_key: Some(self.chain_key.to_vec().into()),
                signing_key: Some(self.signing_key.serialize().to_vec().into()),
            },
            0,
        )
    }
}
