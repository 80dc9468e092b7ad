//! Linking a companion device to a phone: both sides of every step.
//!
//! | step | companion (us as a linked device) | phone (the sandbox's virtual phones) |
//! |---|---|---|
//! | keys | [`CompanionKeys::generate`] | — |
//! | handshake payload | [`registration_payload`], [`login_payload`] | [`read_client_payload`] |
//! | QR code | [`QrData::to_qr_string`] | [`QrData::parse`] |
//! | phone code | [`code::CompanionCodePairing`] | [`code::PrimaryCodePairing`] |
//! | pair-success | [`complete_pair_success`] | [`sign_companion_identity`] |
//! | pair-device-sign | [`CompanionPairing::reply_identity`] | [`verify_pair_device_sign`] |
//! | device lists | [`verify_key_index_list`] | [`sign_key_index_list`] |
//!
//! Everything is pure: randomness and time come in as parameters.

mod adv;
pub mod code;
mod creds;
mod payload;
mod qr;

pub use adv::{
    ACCOUNT_SIGNATURE_PREFIX, AdvError, CompanionGrant, CompanionPairing, DEVICE_SIGNATURE_PREFIX,
    HOSTED_ACCOUNT_SIGNATURE_PREFIX, HOSTED_DEVICE_SIGNATURE_PREFIX, KEY_INDEX_LIST_PREFIX,
    KeyIndexList, PairSuccessError, complete_pair_success, sign_companion_identity,
    sign_key_index_list, verify_key_index_list, verify_pair_device_sign,
    verify_signed_device_identity,
};
pub use creds::{CompanionKeys, SignedPreKey};
pub use payload::{
    ClientConfig, ClientHello, PayloadError, RegistrationData, login_payload, read_client_payload,
    registration_payload,
};
pub use qr::{CompanionPlatform, QR_LINK_PREFIX, QrData, QrError, QrField};
