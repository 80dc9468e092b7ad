//! Everything we hold for one peer device: the current session and up to
//! [`MAX_PREVIOUS_SESSIONS`] older ones (newest first), which are still tried on decrypt so
//! that messages sent before a session was replaced still open (Sesame).

use std::collections::VecDeque;

use rand_core::{CryptoRng, RngCore};

use super::SignalError;
use super::keys::PublicKey;
use super::message::{CiphertextMessage, WhisperMessage};
use super::ratchet::ChainKey;
use super::receiving_chain::{MAX_SKIPPED_KEYS, ReceivingChain};
use super::record_format::{self, bytes32, key_pair, public_key};
use super::session_state::{
    MAX_RECEIVER_CHAINS, PendingPreKey, ReceiverChain, SenderChain, SessionState,
};
use super::wire;

/// Most previous sessions kept per peer device (libsignal-node keeps 40 too).
pub const MAX_PREVIOUS_SESSIONS: usize = 40;

/// The sessions with one peer device. Store it with [`SessionRecord::serialize`].
///
/// Most applications never touch its contents: the [`session`](super::session) functions
/// load, update and store it. Its methods also work without a store, for callers that keep
/// records themselves.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SessionRecord {
    pub(crate) current: Option<SessionState>,
    /// Newest first.
    previous: VecDeque<SessionState>,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("has_current_session", &self.has_current_session())
            .field("previous_sessions", &self.previous.len())
            .finish_non_exhaustive()
    }
}

impl SessionRecord {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether there is a session to encrypt with.
    pub fn has_current_session(&self) -> bool {
        self.current.is_some()
    }

    /// How many previous sessions are kept.
    pub fn previous_session_count(&self) -> usize {
        self.previous.len()
    }

    /// The peer identity key of the current session.
    pub fn remote_identity(&self) -> Option<PublicKey> {
        self.current.as_ref().map(|s| s.remote_identity)
    }

    /// The peer registration id of the current session.
    pub fn remote_registration_id(&self) -> Option<u32> {
        self.current.as_ref().map(|s| s.remote_registration_id)
    }

    /// Whether the next [`SessionRecord::encrypt`] produces a `pkmsg` (the peer has not
    /// answered on the current session yet).
    pub fn is_pending_pre_key(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|s| s.pending_pre_key.is_some())
    }

    /// Makes `state` current, keeping the old current one as the newest previous session.
    pub(crate) fn promote(&mut self, state: SessionState) {
        self.archive_current_session();
        self.current = Some(state);
    }

    /// Moves the current session (if any) to the previous sessions; the next encrypt then
    /// needs a new session.
    pub fn archive_current_session(&mut self) {
        if let Some(old) = self.current.take() {
            if self.previous.len() >= MAX_PREVIOUS_SESSIONS {
                self.previous.pop_back();
            }
            self.previous.push_front(old);
        }
    }

    /// The session (current or previous) started with this X3DH base key.
    pub(crate) fn state_with_base_key(
        &mut self,
        base_key: &PublicKey,
    ) -> Option<&mut SessionState> {
        self.current
            .iter_mut()
            .chain(self.previous.iter_mut())
            .find(|s| s.base_key == *base_key)
    }

    /// Encrypts with the current session. Without one: [`SignalError::NoSession`] with an
    /// empty address (the record does not know it; [`super::session::encrypt`] fills it in).
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<CiphertextMessage, SignalError> {
        let state = self
            .current
            .as_mut()
            .ok_or_else(|| SignalError::NoSession(String::new()))?;
        Ok(state.encrypt(plaintext))
    }

    /// Decrypts a [`WhisperMessage`] with the current session, then the previous ones,
    /// newest first. Only the session that decrypts is updated; on error nothing changes.
    pub fn decrypt<R: RngCore + CryptoRng>(
        &mut self,
        message: &WhisperMessage,
        rng: &mut R,
    ) -> Result<Vec<u8>, SignalError> {
        let mut first_error = None;
        let candidates = self.current.iter_mut().chain(self.previous.iter_mut());
        for state in candidates {
            // `SessionState::decrypt` changes the state only when it succeeds.
            match state.decrypt(message, rng) {
                Ok(plaintext) => return Ok(plaintext),
                // A MAC failure usually only means "not this session"; any other error
                // (a replay, say) is more telling, so report the first of those.
                Err(SignalError::InvalidMac) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if self.current.is_none() && self.previous.is_empty() {
            return Err(SignalError::NoSession(String::new()));
        }
        Err(first_error.unwrap_or(SignalError::InvalidMac))
    }

    /// Versioned storage bytes.
    pub fn serialize(&self) -> Vec<u8> {
        record_format::encode(&wire::SessionRecordData {
            current: self.current.as_ref().map(state_to_wire),
            previous: self.previous.iter().map(state_to_wire).collect(),
        })
    }

    /// Parses [`SessionRecord::serialize`] output. Bounds are enforced: extra previous
    /// sessions, receiving chains and skipped keys are refused as corrupt.
    pub fn deserialize(bytes: &[u8]) -> Result<Self, SignalError> {
        let data: wire::SessionRecordData = record_format::decode(bytes)?;
        if data.previous.len() > MAX_PREVIOUS_SESSIONS {
            return Err(SignalError::CorruptRecord("too many previous sessions"));
        }
        Ok(SessionRecord {
            current: data.current.as_ref().map(state_from_wire).transpose()?,
            previous: data
                .previous
                .iter()
                .map(state_from_wire)
                .collect::<Result<_, _>>()?,
        })
    }
}

fn chain_to_wire(
    ratchet_key: &PublicKey,
    ratchet_private: Option<&[u8; 32]>,
    chain: &ChainKey,
    skipped: &VecDeque<(u32, [u8; 32])>,
) -> wire::ChainRecord {
    wire::ChainRecord {
        ratchet_key: Some(ratchet_key.as_bytes().to_vec().into()),
        ratchet_private: ratchet_private.map(|p| p.to_vec().into()),
        chain_key: Some(chain.key.to_vec().into()),
        index: Some(chain.index),
        skipped: skipped
            .iter()
            .map(|(index, seed)| wire::SkippedKeyRecord {
                index: Some(*index),
                seed: Some(seed.to_vec().into()),
            })
            .collect(),
    }
}

fn state_to_wire(state: &SessionState) -> wire::SessionStateRecord {
    wire::SessionStateRecord {
        local_identity: Some(state.local_identity.as_bytes().to_vec().into()),
        remote_identity: Some(state.remote_identity.as_bytes().to_vec().into()),
        root_key: Some(state.root_key.to_vec().into()),
        sender_chain: Some(chain_to_wire(
            &PublicKey::from(&state.sender.ratchet),
            Some(&state.sender.ratchet.private),
            &state.sender.chain,
            &VecDeque::new(),
        )),
        receiver_chains: state
            .receivers
            .iter()
            .map(|c| chain_to_wire(&c.ratchet_key, None, &c.keys.chain, &c.keys.skipped))
            .collect(),
        previous_counter: Some(state.previous_counter),
        pending_pre_key: state
            .pending_pre_key
            .as_ref()
            .map(|p| wire::PendingPreKeyRecord {
                pre_key_id: p.pre_key_id,
                signed_pre_key_id: Some(p.signed_pre_key_id),
                base_key: Some(p.base_key.as_bytes().to_vec().into()),
            }),
        local_registration_id: Some(state.local_registration_id),
        remote_registration_id: Some(state.remote_registration_id),
        base_key: Some(state.base_key.as_bytes().to_vec().into()),
    }
}

pub(crate) fn skipped_from_wire(
    skipped: &[wire::SkippedKeyRecord],
) -> Result<VecDeque<(u32, [u8; 32])>, SignalError> {
    if skipped.len() > MAX_SKIPPED_KEYS {
        return Err(SignalError::CorruptRecord("too many skipped message keys"));
    }
    skipped
        .iter()
        .map(|k| {
            Ok((
                k.index.ok_or(SignalError::MissingField("index"))?,
                bytes32(k.seed.as_deref(), "seed")?,
            ))
        })
        .collect()
}

fn chain_key_from_wire(chain: &wire::ChainRecord) -> Result<ChainKey, SignalError> {
    Ok(ChainKey {
        key: bytes32(chain.chain_key.as_deref(), "chain_key")?,
        index: chain.index.unwrap_or(0),
    })
}

fn state_from_wire(data: &wire::SessionStateRecord) -> Result<SessionState, SignalError> {
    let sender = data
        .sender_chain
        .as_ref()
        .ok_or(SignalError::MissingField("sender_chain"))?;
    if data.receiver_chains.len() > MAX_RECEIVER_CHAINS {
        return Err(SignalError::CorruptRecord("too many receiving chains"));
    }
    Ok(SessionState {
        local_identity: public_key(data.local_identity.as_deref(), "local_identity")?,
        remote_identity: public_key(data.remote_identity.as_deref(), "remote_identity")?,
        root_key: bytes32(data.root_key.as_deref(), "root_key")?,
        sender: SenderChain {
            ratchet: key_pair(
                sender.ratchet_private.as_deref(),
                sender.ratchet_key.as_deref(),
            )?,
            chain: chain_key_from_wire(sender)?,
        },
        receivers: data
            .receiver_chains
            .iter()
            .map(|c| {
                Ok(ReceiverChain {
                    ratchet_key: public_key(c.ratchet_key.as_deref(), "ratchet_key")?,
                    keys: ReceivingChain {
                        chain: chain_key_from_wire(c)?,
                        skipped: skipped_from_wire(&c.skipped)?,
                    },
                })
            })
            .collect::<Result<_, SignalError>>()?,
        previous_counter: data.previous_counter.unwrap_or(0),
        pending_pre_key: data
            .pending_pre_key
            .as_ref()
            .map(|p| {
                Ok::<_, SignalError>(PendingPreKey {
                    pre_key_id: p.pre_key_id,
                    signed_pre_key_id: p
                        .signed_pre_key_id
                        .ok_or(SignalError::MissingField("signed_pre_key_id"))?,
                    base_key: public_key(p.base_key.as_deref(), "base_key")?,
                })
            })
            .transpose()?,
        local_registration_id: data.local_registration_id.unwrap_or(0),
        remote_registration_id: data.remote_registration_id.unwrap_or(0),
        base_key: public_key(data.base_key.as_deref(), "base_key")?,
    })
}
