//! Sender keys (group messaging): per (group, sender device) a record of up to
//! [`MAX_SENDER_KEY_STATES`] states, each a key id, a symmetric chain, a signing key and the
//! keys of skipped iterations (protocol notes §12.6, §12.7).

use std::collections::VecDeque;

use rand_core::{CryptoRng, RngCore};

use super::SignalError;
use super::keys::PublicKey;
use super::message::{SenderKeyDistributionMessage, SenderKeyMessage};
use super::ratchet::{ChainKey, SenderMessageKeys};
use super::receiving_chain::ReceivingChain;
use super::record_format::{self, bytes32, public_key};
use super::session_record::skipped_from_wire;
use super::wire;
use crate::crypto::{KeyPair, aes256_cbc_decrypt, aes256_cbc_encrypt};

/// Most sender key states kept per (group, sender); older key ids are dropped.
pub const MAX_SENDER_KEY_STATES: usize = 5;

#[derive(Clone, PartialEq, Eq)]
struct SenderKeyState {
    key_id: u32,
    /// The chain (its `index` is the iteration of the next message key) and the keys of
    /// skipped iterations. Our own sending states never skip.
    keys: ReceivingChain,
    signing_public: PublicKey,
    /// Present only for our own sending states.
    signing_private: Option<[u8; 32]>,
}

/// The sender keys of one group sender. Store it with [`SenderKeyRecord::serialize`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SenderKeyRecord {
    /// Newest first.
    states: VecDeque<SenderKeyState>,
}

impl std::fmt::Debug for SenderKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderKeyRecord")
            .field(
                "key_ids",
                &self.states.iter().map(|s| s.key_id).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl SenderKeyRecord {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the record holds no state.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The key id of the newest state.
    pub fn current_key_id(&self) -> Option<u32> {
        self.states.front().map(|s| s.key_id)
    }

    fn push_state(&mut self, state: SenderKeyState) {
        self.states.retain(|s| s.key_id != state.key_id);
        self.states.push_front(state);
        self.states.truncate(MAX_SENDER_KEY_STATES);
    }

    /// Starts a new sending state: random 31-bit key id, random chain key at iteration 0,
    /// fresh signing key pair. Older states are kept (up to the bound). This is also how
    /// a sender rotates its key, e.g. after a member left.
    pub fn rotate<R: RngCore + CryptoRng>(&mut self, rng: &mut R) -> SenderKeyDistributionMessage {
        let mut chain_key = [0u8; 32];
        rng.fill_bytes(&mut chain_key);
        let signing = KeyPair::generate(rng);
        let state = SenderKeyState {
            key_id: rng.next_u32() & 0x7FFF_FFFF,
            keys: ReceivingChain::new(ChainKey {
                key: chain_key,
                index: 0,
            }),
            signing_public: PublicKey::from(&signing),
            signing_private: Some(signing.private),
        };
        let message = SenderKeyDistributionMessage {
            key_id: state.key_id,
            iteration: 0,
            chain_key,
            signing_key: state.signing_public,
        };
        self.push_state(state);
        message
    }

    /// The distribution message for the newest state we send with: key id, current
    /// iteration and chain key, signing public key.
    pub fn distribution_message(&self) -> Option<SenderKeyDistributionMessage> {
        let state = self.states.iter().find(|s| s.signing_private.is_some())?;
        Some(SenderKeyDistributionMessage {
            key_id: state.key_id,
            iteration: state.keys.chain.index,
            chain_key: state.keys.chain.key,
            signing_key: state.signing_public,
        })
    }

    /// Adds a state received in a distribution message. A key id we already hold with the
    /// same signing key is left alone (so a repeated SKDM cannot rewind the chain).
    pub fn process_distribution_message(&mut self, message: &SenderKeyDistributionMessage) {
        if self
            .states
            .iter()
            .any(|s| s.key_id == message.key_id && s.signing_public == message.signing_key)
        {
            return;
        }
        self.push_state(SenderKeyState {
            key_id: message.key_id,
            keys: ReceivingChain::new(ChainKey {
                key: message.chain_key,
                index: message.iteration,
            }),
            signing_public: message.signing_key,
            signing_private: None,
        });
    }

    /// Encrypts with the newest sending state: message key of the current iteration, then
    /// the chain moves on by one. Returns the serialized, signed `skmsg`.
    pub fn encrypt<R: RngCore + CryptoRng>(
        &mut self,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, SignalError> {
        let state = self
            .states
            .iter_mut()
            .find(|s| s.signing_private.is_some())
            .ok_or_else(|| SignalError::NoSenderKey(String::new()))?;
        let iteration = state.keys.chain.index;
        let (seed, next) = state.keys.chain.step();
        let keys = SenderMessageKeys::derive(&seed);
        state.keys.chain = next;
        let ciphertext = aes256_cbc_encrypt(&keys.cipher_key, &keys.iv, plaintext);
        let mut random = [0u8; 64];
        rng.fill_bytes(&mut random);
        let private = state.signing_private.unwrap_or([0; 32]);
        Ok(
            SenderKeyMessage::new(state.key_id, iteration, ciphertext, &private, &random)
                .serialized()
                .to_vec(),
        )
    }

    /// Decrypts an `skmsg`. Skipped iterations keep their keys (at most
    /// [`MAX_SKIPPED_KEYS`](super::MAX_SKIPPED_KEYS)), so out-of-order delivery and senders
    /// that skip iterations (Baileys) both work. On error the record is unchanged.
    pub fn decrypt(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, SignalError> {
        let message = SenderKeyMessage::decode(ciphertext)?;
        let state = self
            .states
            .iter_mut()
            .find(|s| s.key_id == message.key_id)
            .ok_or(SignalError::NoSenderKeyState(message.key_id))?;
        if !message.verify_signature(&state.signing_public) {
            return Err(SignalError::BadSignature);
        }
        let lookup = state.keys.lookup(message.iteration)?;
        let keys = SenderMessageKeys::derive(&lookup.seed);
        let plaintext = aes256_cbc_decrypt(&keys.cipher_key, &keys.iv, &message.ciphertext)
            .map_err(|_| SignalError::BadCiphertext)?;
        state.keys.consume(lookup);
        Ok(plaintext)
    }

    /// Versioned storage bytes.
    pub fn serialize(&self) -> Vec<u8> {
        record_format::encode(&wire::SenderKeyRecordData {
            states: self
                .states
                .iter()
                .map(|s| wire::SenderKeyStateRecord {
                    key_id: Some(s.key_id),
                    iteration: Some(s.keys.chain.index),
                    chain_key: Some(s.keys.chain.key.to_vec().into()),
                    signing_public: Some(s.signing_public.as_bytes().to_vec().into()),
                    signing_private: s.signing_private.map(|p| p.to_vec().into()),
                    skipped: s
                        .keys
                        .skipped
                        .iter()
                        .map(|(index, seed)| wire::SkippedKeyRecord {
                            index: Some(*index),
                            seed: Some(seed.to_vec().into()),
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    /// Parses [`SenderKeyRecord::serialize`] output.
    pub fn deserialize(bytes: &[u8]) -> Result<Self, SignalError> {
        let data: wire::SenderKeyRecordData = record_format::decode(bytes)?;
        if data.states.len() > MAX_SENDER_KEY_STATES {
            return Err(SignalError::CorruptRecord("too many sender key states"));
        }
        let states = data
            .states
            .iter()
            .map(|s| {
                Ok(SenderKeyState {
                    key_id: s.key_id.ok_or(SignalError::MissingField("key_id"))?,
                    keys: ReceivingChain {
                        chain: ChainKey {
                            key: bytes32(s.chain_key.as_deref(), "chain_key")?,
                            index: s.iteration.unwrap_or(0),
                        },
                        skipped: skipped_from_wire(&s.skipped)?,
                    },
                    signing_public: public_key(s.signing_public.as_deref(), "signing_public")?,
                    signing_private: s
                        .signing_private
                        .as_deref()
                        .map(|p| bytes32(Some(p), "signing_private"))
                        .transpose()?,
                })
            })
            .collect::<Result<_, SignalError>>()?;
        Ok(SenderKeyRecord { states })
    }
}
