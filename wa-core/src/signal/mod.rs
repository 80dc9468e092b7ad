//! The Signal protocol as WhatsApp uses it: keys, X3DH session setup, the double ratchet,
//! sender keys for groups, the wire formats, storable records, and async store traits.
//!
//! Written from Signal's public specifications (XEdDSA, X3DH, the Double Ratchet, Sesame)
//! and the WhatsApp specifics in the protocol notes (§12): version byte `0x33`, 33-byte
//! `0x05`-prefixed keys, the 32 `0xFF` bytes in front of the X3DH secret, the KDF labels
//! `WhisperText`, `WhisperRatchet`, `WhisperMessageKeys` and `WhisperGroup`, AES-256-CBC
//! payloads, 8-byte MACs over both identity keys, and "every message is a `pkmsg` until
//! the peer answers".
//!
//! Two layers:
//!
//! * **Records** do the cryptography on values: [`SessionRecord`] (one peer device, the
//!   current session and up to [`MAX_PREVIOUS_SESSIONS`] older ones) and
//!   [`SenderKeyRecord`] (one group sender). They serialize to versioned bytes so any
//!   store can keep them.
//! * **Ciphers** run the protocol over the async [store traits](store): [`session`]
//!   (`process_prekey_bundle`, `encrypt`, `decrypt_prekey_message`, `decrypt_message`) and
//!   [`group`] (sender-key distribution, `encrypt`, `decrypt`). Decryption works on a copy
//!   of the stored record and writes it back only on success, so bad input never changes
//!   what is stored.
//!
//! ```
//! use wa_core::signal::{group, session, InMemorySignalStore, ProtocolAddress};
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let mut f = std::pin::pin!(f);
//! #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//! # block_on(async {
//! let mut rng = rand::rngs::OsRng;
//! let alice = InMemorySignalStore::generate(&mut rng);
//! let bob = InMemorySignalStore::generate(&mut rng);
//! let bob_bundle = bob.new_prekey_bundle(1, &mut rng); // what the server would hand out
//!
//! let to_bob = ProtocolAddress::new("15550002", 1);
//! let to_alice = ProtocolAddress::new("15550001", 1);
//! session::process_prekey_bundle(&alice, &to_bob, &bob_bundle, &mut rng).await?;
//! let first = session::encrypt(&alice, &to_bob, b"hi bob").await?;
//! assert_eq!(first.kind.enc_type(), "pkmsg");
//!
//! let plain = session::decrypt_prekey_message(&bob, &to_alice, &first.bytes, &mut rng).await?;
//! assert_eq!(plain, b"hi bob");
//! let reply = session::encrypt(&bob, &to_alice, b"hi alice").await?;
//! assert_eq!(reply.kind.enc_type(), "msg");
//! let plain = session::decrypt_message(&alice, &to_bob, &reply.bytes, &mut rng).await?;
//! assert_eq!(plain, b"hi alice");
//! # Ok::<(), wa_core::signal::SignalError>(())
//! # }).unwrap();
//! ```

mod address;
mod error;
pub mod group;
mod keys;
mod memory_store;
mod message;
mod padding;
mod ratchet;
mod receiving_chain;
mod record_format;
mod sender_key;
pub mod session;
mod session_record;
mod session_state;
pub mod store;

#[allow(missing_docs, clippy::all)]
pub mod wire {
    //! Protobuf types of `wa-core/proto/signal.proto` (package `signal`): the wire messages
    //! with WhatsApp's field numbers, and Wasap's storage records. Use the typed wrappers in
    //! [`crate::signal`] rather than these directly.
    include!(concat!(env!("OUT_DIR"), "/signal.rs"));
}

pub use address::{ProtocolAddress, SenderKeyName};
pub use error::{SignalError, StoreError};
pub use keys::{
    DJB_TYPE, IdentityKeyPair, MAX_PRE_KEY_ID, PreKeyBundle, PreKeyRecord, PublicKey,
    SignedPreKeyRecord, generate_pre_keys, generate_registration_id,
};
pub use memory_store::InMemorySignalStore;
pub use message::{
    CIPHERTEXT_VERSION, CiphertextKind, CiphertextMessage, PreKeyWhisperMessage,
    SenderKeyDistributionMessage, SenderKeyMessage, WhisperMessage,
};
pub use padding::{pad_message, unpad_message};
pub use receiving_chain::{MAX_FORWARD_JUMP, MAX_SKIPPED_KEYS};
pub use sender_key::{MAX_SENDER_KEY_STATES, SenderKeyRecord};
pub use session_record::{MAX_PREVIOUS_SESSIONS, SessionRecord};
pub use session_state::MAX_RECEIVER_CHAINS;
pub use store::{
    Direction, IdentityChange, IdentityKeyStore, PreKeyStore, SenderKeyStore, SessionStore,
    SignalStore, SignedPreKeyStore,
};

#[cfg(test)]
mod tests;
