//! Group encryption with sender keys over the store traits.
//!
//! The sender makes a key once per group ([`create_distribution_message`]), sends the
//! returned SenderKeyDistributionMessage to every member device inside a pairwise
//! [`session::encrypt`](super::session::encrypt)ed message, then [`encrypt`]s each group
//! message once. Receivers [`process_distribution_message`] and [`decrypt`].
//!
//! ```
//! use wa_core::signal::{group, InMemorySignalStore, ProtocolAddress, SenderKeyName};
//! # fn block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     let mut f = std::pin::pin!(f);
//! #     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! #     loop { if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; } }
//! # }
//! # block_on(async {
//! let mut rng = rand::rngs::OsRng;
//! let (alice, bob) = (InMemorySignalStore::generate(&mut rng), InMemorySignalStore::generate(&mut rng));
//! let name = SenderKeyName::new("120363021033254949@g.us", ProtocolAddress::new("15550001", 0));
//!
//! let skdm = group::create_distribution_message(&alice, &name, &mut rng).await?;
//! group::process_distribution_message(&bob, &name, &skdm).await?;
//! let skmsg = group::encrypt(&alice, &name, b"hello group", &mut rng).await?;
//! assert_eq!(group::decrypt(&bob, &name, &skmsg).await?, b"hello group");
//! # Ok::<(), wa_core::signal::SignalError>(())
//! # }).unwrap();
//! ```

use rand_core::{CryptoRng, RngCore};

use super::store::SenderKeyStore;
use super::{SenderKeyDistributionMessage, SenderKeyName, SignalError};

/// Our distribution message for `name` (we are `name.sender`), creating a sender key first
/// if there is none. Send it to every member device that has not had it.
pub async fn create_distribution_message<S, R>(
    store: &S,
    name: &SenderKeyName,
    rng: &mut R,
) -> Result<SenderKeyDistributionMessage, SignalError>
where
    S: SenderKeyStore + ?Sized,
    R: RngCore + CryptoRng,
{
    let mut record = store.load_sender_key(name).await?.unwrap_or_default();
    if let Some(message) = record.distribution_message() {
        return Ok(message);
    }
    let message = record.rotate(rng);
    store.store_sender_key(name, &record).await?;
    Ok(message)
}

/// Replaces our sender key for `name` with a new one (new key id), e.g. after a member
/// left. Returns the distribution message to send to the remaining members.
pub async fn rotate<S, R>(
    store: &S,
    name: &SenderKeyName,
    rng: &mut R,
) -> Result<SenderKeyDistributionMessage, SignalError>
where
    S: SenderKeyStore + ?Sized,
    R: RngCore + CryptoRng,
{
    let mut record = store.load_sender_key(name).await?.unwrap_or_default();
    let message = record.rotate(rng);
    store.store_sender_key(name, &record).await?;
    Ok(message)
}

/// Stores a sender key received from `name.sender`.
pub async fn process_distribution_message<S>(
    store: &S,
    name: &SenderKeyName,
    message: &SenderKeyDistributionMessage,
) -> Result<(), SignalError>
where
    S: SenderKeyStore + ?Sized,
{
    let mut record = store.load_sender_key(name).await?.unwrap_or_default();
    record.process_distribution_message(message);
    store.store_sender_key(name, &record).await?;
    Ok(())
}

/// Encrypts `plaintext` (already WhatsApp-padded) for the group: the `skmsg` bytes.
pub async fn encrypt<S, R>(
    store: &S,
    name: &SenderKeyName,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, SignalError>
where
    S: SenderKeyStore + ?Sized,
    R: RngCore + CryptoRng,
{
    let no_key = || SignalError::NoSenderKey(name.to_string());
    let mut record = store.load_sender_key(name).await?.ok_or_else(no_key)?;
    let ciphertext = record.encrypt(plaintext, rng).map_err(|e| match e {
        SignalError::NoSenderKey(_) => no_key(),
        other => other,
    })?;
    store.store_sender_key(name, &record).await?;
    Ok(ciphertext)
}

/// Decrypts an `skmsg` from `name.sender`. On error the stored record is unchanged.
pub async fn decrypt<S>(
    store: &S,
    name: &SenderKeyName,
    ciphertext: &[u8],
) -> Result<Vec<u8>, SignalError>
where
    S: SenderKeyStore + ?Sized,
{
    let mut record = store
        .load_sender_key(name)
        .await?
        .ok_or_else(|| SignalError::NoSenderKey(name.to_string()))?;
    let plaintext = record.decrypt(ciphertext)?;
    store.store_sender_key(name, &record).await?;
    Ok(plaintext)
}
