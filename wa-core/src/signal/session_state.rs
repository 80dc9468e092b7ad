//! One double-ratchet session with one peer device: set up by X3DH (either side), then
//! encrypting and decrypting with skipped-message keys kept within fixed bounds.

use rand_core::{CryptoRng, RngCore};

use super::SignalError;
use super::keys::{IdentityKeyPair, PreKeyBundle, PreKeyRecord, PublicKey, SignedPreKeyRecord};
use super::message::{CiphertextKind, CiphertextMessage, PreKeyWhisperMessage, WhisperMessage};
use super::ratchet::{ChainKey, MessageKeys, root_step, x3dh_initiator, x3dh_responder};
use super::receiving_chain::ReceivingChain;
use crate::crypto::{KeyPair, aes256_cbc_decrypt, aes256_cbc_encrypt};

/// Most receiving chains kept per session; older ones (and their skipped keys) are dropped.
pub const MAX_RECEIVER_CHAINS: usize = 5;

/// The prekeys an initiator used, repeated in every `pkmsg` until the peer answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PendingPreKey {
    pub pre_key_id: Option<u32>,
    pub signed_pre_key_id: u32,
    pub base_key: PublicKey,
}

/// Our sending chain and the ratchet key pair it belongs to.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SenderChain {
    pub ratchet: KeyPair,
    pub chain: ChainKey,
}

/// A receiving chain for one of the peer's ratchet keys, with keys of messages skipped on it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ReceiverChain {
    pub ratchet_key: PublicKey,
    pub keys: ReceivingChain,
}

/// The state of one session.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SessionState {
    pub local_identity: PublicKey,
    pub remote_identity: PublicKey,
    pub root_key: [u8; 32],
    pub sender: SenderChain,
    /// Oldest first, at most [`MAX_RECEIVER_CHAINS`].
    pub receivers: Vec<ReceiverChain>,
    pub previous_counter: u32,
    pub pending_pre_key: Option<PendingPreKey>,
    pub local_registration_id: u32,
    pub remote_registration_id: u32,
    /// The initiator's X3DH base key: names the session in `pkmsg`s.
    pub base_key: PublicKey,
}

impl SessionState {
    /// Alice's side: a session from a verified bundle. The caller checks the signature.
    pub fn initiate<R: RngCore + CryptoRng>(
        our_identity: &IdentityKeyPair,
        our_registration_id: u32,
        bundle: &PreKeyBundle,
        rng: &mut R,
    ) -> Self {
        let base = KeyPair::generate(rng);
        let (root, _) = x3dh_initiator(
            our_identity.key_pair(),
            &base,
            &bundle.identity_key,
            &bundle.signed_pre_key,
            bundle.pre_key.as_ref().map(|(_, key)| key),
        );
        let ratchet = KeyPair::generate(rng);
        let (root_key, chain) = root_step(&root, &ratchet, &bundle.signed_pre_key);
        SessionState {
            local_identity: our_identity.public_key(),
            remote_identity: bundle.identity_key,
            root_key,
            sender: SenderChain { ratchet, chain },
            receivers: Vec::new(),
            previous_counter: 0,
            pending_pre_key: Some(PendingPreKey {
                pre_key_id: bundle.pre_key.as_ref().map(|(id, _)| *id),
                signed_pre_key_id: bundle.signed_pre_key_id,
                base_key: PublicKey::from(&base),
            }),
            local_registration_id: our_registration_id,
            remote_registration_id: bundle.registration_id,
            base_key: PublicKey::from(&base),
        }
    }

    /// Bob's side: a session from a `pkmsg` and our prekeys. Our first ratchet key is the
    /// signed prekey; the first message's ratchet key then steps the ratchet.
    pub fn respond(
        our_identity: &IdentityKeyPair,
        our_registration_id: u32,
        message: &PreKeyWhisperMessage,
        signed_pre_key: &SignedPreKeyRecord,
        one_time: Option<&PreKeyRecord>,
    ) -> Self {
        let (root_key, chain) = x3dh_responder(
            our_identity.key_pair(),
            &signed_pre_key.key_pair,
            one_time.map(|p| &p.key_pair),
            &message.identity_key,
            &message.base_key,
        );
        SessionState {
            local_identity: our_identity.public_key(),
            remote_identity: message.identity_key,
            root_key,
            sender: SenderChain {
                ratchet: signed_pre_key.key_pair.clone(),
                chain,
            },
            receivers: Vec::new(),
            previous_counter: 0,
            pending_pre_key: None,
            local_registration_id: our_registration_id,
            remote_registration_id: message.registration_id,
            base_key: message.base_key,
        }
    }

    /// Encrypts with the next sending message key. While the peer has not answered, the
    /// result is a `pkmsg`.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> CiphertextMessage {
        let counter = self.sender.chain.index;
        let (seed, next) = self.sender.chain.step();
        let keys = MessageKeys::derive(&seed);
        self.sender.chain = next;
        let ciphertext = aes256_cbc_encrypt(&keys.cipher_key, &keys.iv, plaintext);
        let message = WhisperMessage::new(
            &keys.mac_key,
            PublicKey::from(&self.sender.ratchet),
            counter,
            self.previous_counter,
            ciphertext,
            &self.local_identity,
            &self.remote_identity,
        );
        match &self.pending_pre_key {
            Some(pending) => CiphertextMessage {
                kind: CiphertextKind::Pkmsg,
                bytes: PreKeyWhisperMessage {
                    registration_id: self.local_registration_id,
                    pre_key_id: pending.pre_key_id,
                    signed_pre_key_id: pending.signed_pre_key_id,
                    base_key: pending.base_key,
                    identity_key: self.local_identity,
                    message,
                }
                .encode(),
            },
            None => CiphertextMessage {
                kind: CiphertextKind::Msg,
                bytes: message.serialized().to_vec(),
            },
        }
    }

    /// Decrypts, updating the state only on success: on any error `self` is unchanged.
    pub fn decrypt<R: RngCore + CryptoRng>(
        &mut self,
        message: &WhisperMessage,
        rng: &mut R,
    ) -> Result<Vec<u8>, SignalError> {
        if let Some(position) = self
            .receivers
            .iter()
            .position(|c| c.ratchet_key == message.ratchet_key)
        {
            return self.decrypt_on_chain(position, message);
        }
        // A new peer ratchet key: step a copy of the ratchet and keep it only if the
        // message then verifies.
        let mut stepped = self.clone();
        let position = stepped.step_ratchet(&message.ratchet_key, message.previous_counter, rng)?;
        let plaintext = stepped.decrypt_on_chain(position, message)?;
        *self = stepped;
        Ok(plaintext)
    }

    /// Decrypts with receiving chain `position`; consumes the message key only on success.
    fn decrypt_on_chain(
        &mut self,
        position: usize,
        message: &WhisperMessage,
    ) -> Result<Vec<u8>, SignalError> {
        let chain = &mut self.receivers[position].keys;
        let lookup = chain.lookup(message.counter)?;
        let keys = MessageKeys::derive(&lookup.seed);
        if !message.verify_mac(&keys.mac_key, &self.remote_identity, &self.local_identity) {
            return Err(SignalError::InvalidMac);
        }
        let plaintext = aes256_cbc_decrypt(&keys.cipher_key, &keys.iv, &message.ciphertext)
            .map_err(|_| SignalError::BadCiphertext)?;
        chain.consume(lookup);
        // The peer has our session: stop sending prekey messages.
        self.pending_pre_key = None;
        Ok(plaintext)
    }

    /// A DH ratchet step for a new peer ratchet key; returns the new receiving chain's index.
    fn step_ratchet<R: RngCore + CryptoRng>(
        &mut self,
        their_ratchet: &PublicKey,
        previous_counter: u32,
        rng: &mut R,
    ) -> Result<usize, SignalError> {
        // Keep the keys of messages still in flight on the peer's previous chain.
        if let Some(last) = self.receivers.last_mut() {
            last.keys.fill_through(previous_counter)?;
        }
        let (root_key, receiving) = root_step(&self.root_key, &self.sender.ratchet, their_ratchet);
        let ratchet = KeyPair::generate(rng);
        let (root_key, sending) = root_step(&root_key, &ratchet, their_ratchet);
        self.root_key = root_key;
        self.previous_counter = self.sender.chain.index;
        self.sender = SenderChain {
            ratchet,
            chain: sending,
        };
        if self.receivers.len() >= MAX_RECEIVER_CHAINS {
            self.receivers.remove(0);
        }
        self.receivers.push(ReceiverChain {
            ratchet_key: *their_ratchet,
            keys: ReceivingChain::new(receiving),
        });
        Ok(self.receivers.len() - 1)
    }
}
