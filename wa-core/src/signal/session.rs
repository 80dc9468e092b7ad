//! One-to-one encryption over the store traits: start a session from a prekey bundle,
//! encrypt, and decrypt `pkmsg` and `msg` ciphertexts.
//!
//! Each function loads the peer's [`SessionRecord`], works on that copy and stores it back
//! only when everything succeeded: a failed decrypt (bad MAC, replay, unknown prekey,
//! untrusted identity, …) changes nothing in the store.
//!
//! See the [module example](super) for a full exchange.

use rand_core::{CryptoRng, RngCore};

use super::message::{CiphertextMessage, PreKeyWhisperMessage, WhisperMessage};
use super::session_state::SessionState;
use super::store::{Direction, IdentityKeyStore, PreKeyStore, SessionStore, SignedPreKeyStore};
use super::{PreKeyBundle, ProtocolAddress, PublicKey, SessionRecord, SignalError};

async fn check_trusted<S: IdentityKeyStore + ?Sized>(
    store: &S,
    address: &ProtocolAddress,
    identity: &PublicKey,
    direction: Direction,
) -> Result<(), SignalError> {
    if store
        .is_trusted_identity(address, identity, direction)
        .await?
    {
        Ok(())
    } else {
        Err(SignalError::UntrustedIdentity {
            address: address.to_string(),
            identity: *identity,
        })
    }
}

/// Starts a new session with `address` from its prekey bundle (X3DH as initiator).
///
/// Verifies the signed prekey's signature ([`SignalError::BadSignature`]) and that the
/// bundle's identity is trusted ([`SignalError::UntrustedIdentity`]). An existing session
/// is kept as a previous session. Until the peer answers, [`encrypt`] produces `pkmsg`s.
pub async fn process_prekey_bundle<S, R>(
    store: &S,
    address: &ProtocolAddress,
    bundle: &PreKeyBundle,
    rng: &mut R,
) -> Result<(), SignalError>
where
    S: IdentityKeyStore + SessionStore + ?Sized,
    R: RngCore + CryptoRng,
{
    check_trusted(store, address, &bundle.identity_key, Direction::Sending).await?;
    if !bundle.verify_signature() {
        return Err(SignalError::BadSignature);
    }
    let identity = store.identity_key_pair().await?;
    let registration_id = store.local_registration_id().await?;
    let state = SessionState::initiate(&identity, registration_id, bundle, rng);
    let mut record = store.load_session(address).await?.unwrap_or_default();
    record.promote(state);
    store.store_session(address, &record).await?;
    store.save_identity(address, &bundle.identity_key).await?;
    Ok(())
}

/// Encrypts `plaintext` (already WhatsApp-padded, see [`super::pad_message`]) for `address`.
///
/// No randomness is needed: new ratchet keys are drawn when a reply is decrypted.
pub async fn encrypt<S>(
    store: &S,
    address: &ProtocolAddress,
    plaintext: &[u8],
) -> Result<CiphertextMessage, SignalError>
where
    S: IdentityKeyStore + SessionStore + ?Sized,
{
    let no_session = || SignalError::NoSession(address.to_string());
    let mut record = store.load_session(address).await?.ok_or_else(no_session)?;
    let identity = record.remote_identity().ok_or_else(no_session)?;
    check_trusted(store, address, &identity, Direction::Sending).await?;
    let ciphertext = record.encrypt(plaintext)?;
    store.store_session(address, &record).await?;
    Ok(ciphertext)
}

/// Decrypts a `msg` ([`WhisperMessage`]) from `address`, trying the current session and
/// then the previous ones. `rng` draws our next ratchet key when the peer's ratchet moved.
pub async fn decrypt_message<S, R>(
    store: &S,
    address: &ProtocolAddress,
    ciphertext: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, SignalError>
where
    S: SessionStore + ?Sized,
    R: RngCore + CryptoRng,
{
    let message = WhisperMessage::decode(ciphertext)?;
    let mut record = store
        .load_session(address)
        .await?
        .ok_or_else(|| SignalError::NoSession(address.to_string()))?;
    let plaintext = record.decrypt(&message, rng).map_err(|e| match e {
        SignalError::NoSession(_) => SignalError::NoSession(address.to_string()),
        other => other,
    })?;
    store.store_session(address, &record).await?;
    Ok(plaintext)
}

/// Decrypts a `pkmsg` ([`PreKeyWhisperMessage`]) from `address`.
///
/// If the message belongs to a session we already have (same base key: the peer has not
/// seen our reply yet), that session decrypts it. Otherwise a new session is built as
/// responder from our signed prekey and the named one-time prekey; it becomes current, the
/// old one is kept as a previous session, and the one-time prekey is deleted.
///
/// A peer identity different from the stored one fails with
/// [`SignalError::UntrustedIdentity`] before anything is touched.
pub async fn decrypt_prekey_message<S, R>(
    store: &S,
    address: &ProtocolAddress,
    ciphertext: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, SignalError>
where
    S: IdentityKeyStore + SessionStore + PreKeyStore + SignedPreKeyStore + ?Sized,
    R: RngCore + CryptoRng,
{
    let message = PreKeyWhisperMessage::decode(ciphertext)?;
    check_trusted(store, address, &message.identity_key, Direction::Receiving).await?;
    let mut record: SessionRecord = store.load_session(address).await?.unwrap_or_default();

    if let Some(state) = record.state_with_base_key(&message.base_key) {
        // Changes the state only on success.
        let plaintext = state.decrypt(&message.message, rng)?;
        store.store_session(address, &record).await?;
        return Ok(plaintext);
    }

    let signed = store
        .load_signed_pre_key(message.signed_pre_key_id)
        .await?
        .ok_or(SignalError::UnknownSignedPreKey(message.signed_pre_key_id))?;
    let one_time = match message.pre_key_id {
        Some(id) => Some(
            store
                .load_pre_key(id)
                .await?
                .ok_or(SignalError::UnknownPreKey(id))?,
        ),
        None => None,
    };
    let identity = store.identity_key_pair().await?;
    let registration_id = store.local_registration_id().await?;
    let mut state = SessionState::respond(
        &identity,
        registration_id,
        &message,
        &signed,
        one_time.as_ref(),
    );
    let plaintext = state.decrypt(&message.message, rng)?;
    record.promote(state);
    store.store_session(address, &record).await?;
    store.save_identity(address, &message.identity_key).await?;
    if let Some(id) = message.pre_key_id {
        store.remove_pre_key(id).await?;
    }
    Ok(plaintext)
}
