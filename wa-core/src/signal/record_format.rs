//! The storage format shared by every record: one format-version byte, then a protobuf
//! message of ours from `signal.proto`. Helpers here turn optional protobuf fields into
//! fixed-size values with typed errors.

use prost::Message;

use super::SignalError;
use super::keys::PublicKey;
use crate::crypto::KeyPair;

/// The format version written in front of every record.
pub(crate) const RECORD_FORMAT_VERSION: u8 = 1;

pub(crate) fn encode<M: Message>(message: &M) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + message.encoded_len());
    out.push(RECORD_FORMAT_VERSION);
    // Encoding into a Vec cannot run out of space.
    let _ = message.encode(&mut out);
    out
}

pub(crate) fn decode<M: Message + Default>(bytes: &[u8]) -> Result<M, SignalError> {
    match bytes.split_first() {
        None => Err(SignalError::CorruptRecord("empty record")),
        Some((&RECORD_FORMAT_VERSION, body)) => Ok(M::decode(body)?),
        Some((&other, _)) => Err(SignalError::UnsupportedRecordVersion(other)),
    }
}

pub(crate) fn bytes32(field: Option<&[u8]>, name: &'static str) -> Result<[u8; 32], SignalError> {
    field
        .ok_or(SignalError::MissingField(name))?
        .try_into()
        .map_err(|_| SignalError::BadLength(name))
}

pub(crate) fn sig64(field: Option<&[u8]>, name: &'static str) -> Result<[u8; 64], SignalError> {
    field
        .ok_or(SignalError::MissingField(name))?
        .try_into()
        .map_err(|_| SignalError::BadLength(name))
}

pub(crate) fn public_key(
    field: Option<&[u8]>,
    name: &'static str,
) -> Result<PublicKey, SignalError> {
    PublicKey::decode(field.ok_or(SignalError::MissingField(name))?)
}

/// A key pair from stored halves. The stored public half is trusted as written (recomputing
/// it costs a scalar multiplication per key on every load); it is derived only when absent.
pub(crate) fn key_pair(
    private: Option<&[u8]>,
    public: Option<&[u8]>,
) -> Result<KeyPair, SignalError> {
    let private = bytes32(private, "private_key")?;
    match public {
        Some(public) => Ok(KeyPair {
            private,
            public: public
                .try_into()
                .map_err(|_| SignalError::BadLength("public_key"))?,
        }),
        None => Ok(KeyPair::from_private(private)),
    }
}
