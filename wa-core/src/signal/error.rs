//! The errors of the Signal layer.

/// Everything that can go wrong while decoding, setting up, encrypting or decrypting.
///
/// Every decoder and every decrypt path returns one of these instead of panicking; a
/// failed decrypt leaves the stored session or sender key exactly as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignalError {
    /// The input ended before the fixed parts (version byte, MAC, signature) it must hold.
    #[error("message too short: {0} bytes")]
    TooShort(usize),
    /// The version byte names a protocol version other than 3.
    #[error("unsupported message version byte {0:#04x}")]
    UnsupportedVersion(u8),
    /// The protobuf part does not parse.
    #[error("malformed protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A required protobuf field is absent.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// A public key that is neither 32 bytes nor `0x05` followed by 32 bytes.
    #[error("invalid public key")]
    InvalidKey,
    /// A field of fixed size (chain key, signature) has the wrong length.
    #[error("field `{0}` has the wrong length")]
    BadLength(&'static str),
    /// The 8-byte MAC does not match under any known session.
    #[error("message authentication failed")]
    InvalidMac,
    /// A signature (signed prekey, sender key message) does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// AES-CBC decryption failed (bad length or padding) after the MAC or signature verified.
    #[error("ciphertext does not decrypt")]
    BadCiphertext,
    /// There is no session with this address to encrypt or decrypt with.
    #[error("no session with {0}")]
    NoSession(String),
    /// A prekey message names a one-time prekey we do not have (used or never made).
    #[error("unknown prekey id {0}")]
    UnknownPreKey(u32),
    /// A prekey message names a signed prekey we do not have.
    #[error("unknown signed prekey id {0}")]
    UnknownSignedPreKey(u32),
    /// The message key for this counter was already used (a replay) or was discarded.
    #[error("message key for counter {0} already used or no longer kept")]
    DuplicateMessage(u32),
    /// The counter is further ahead of its chain than [`crate::signal::MAX_FORWARD_JUMP`].
    #[error("counter {counter} is {jump} steps ahead of its chain")]
    TooFarAhead {
        /// The message's counter (or iteration).
        counter: u32,
        /// How many message keys it would take to get there.
        jump: u32,
    },
    /// The peer's identity key differs from the one we trust for this address. Nothing was
    /// stored; accept the new key with [`crate::signal::IdentityKeyStore::save_identity`]
    /// and retry if the application decides to.
    #[error("untrusted identity key for {address}")]
    UntrustedIdentity {
        /// The peer's address (`name.device`).
        address: String,
        /// The identity key the peer presented.
        identity: crate::signal::PublicKey,
    },
    /// No sender key is stored for this group sender.
    #[error("no sender key for {0}")]
    NoSenderKey(String),
    /// The group message names a sender key id we do not have.
    #[error("no sender key state with id {0}")]
    NoSenderKeyState(u32),
    /// WhatsApp padding is absent or malformed.
    #[error("bad message padding")]
    BadPadding,
    /// A stored record has a format version this code does not know.
    #[error("unsupported record format version {0}")]
    UnsupportedRecordVersion(u8),
    /// A stored record is empty or inconsistent.
    #[error("corrupt record: {0}")]
    CorruptRecord(&'static str),
    /// The store failed.
    #[error("store error: {0}")]
    Store(#[from] StoreError),
}

/// An error reported by a store implementation (a database failure, say).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreError(pub Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// Wraps any error of a store implementation.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError(error.into())
    }
}
