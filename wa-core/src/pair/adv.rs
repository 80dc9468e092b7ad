//! ADV ("account device verification"): the signed device identity exchanged at pairing,
//! both as the companion that verifies and countersigns it and as the phone that issues it,
//! and the signed key-index list that tells contacts which companion devices are current.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use prost::Message as _;
use sha2::Sha256;

use crate::crypto::{KeyPair, hmac_sha256_parts, xeddsa_verify};
use crate::proto::{
    AdvDeviceIdentity, AdvEncryptionType, AdvKeyIndexList, AdvSignedDeviceIdentity,
    AdvSignedDeviceIdentityHmac, AdvSignedKeyIndexList,
};

/// Prefix of the account (phone) signature over a device identity.
pub const ACCOUNT_SIGNATURE_PREFIX: [u8; 2] = [6, 0];
/// Prefix of the device (companion) signature over a device identity.
pub const DEVICE_SIGNATURE_PREFIX: [u8; 2] = [6, 1];
/// Prefix of the account signature (and of the HMAC input) for hosted accounts.
pub const HOSTED_ACCOUNT_SIGNATURE_PREFIX: [u8; 2] = [6, 5];
/// Prefix of the device signature for hosted devices (accepted when verifying; companions
/// sign with [`DEVICE_SIGNATURE_PREFIX`] like whatsmeow and Baileys).
pub const HOSTED_DEVICE_SIGNATURE_PREFIX: [u8; 2] = [6, 6];
/// Prefix of the account signature over a key-index list. No reference client verifies
/// these lists; this value is our choice (and WhatsApp Web's as far as we know), used
/// consistently by both of our sides.
pub const KEY_INDEX_LIST_PREFIX: [u8; 2] = [6, 2];

const HOSTED: i32 = AdvEncryptionType::Hosted as i32;

/// Why the companion rejected a `pair-success`; each maps to the pair error reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PairSuccessError {
    /// The `device-identity` bytes or a nested message did not decode, or a field is missing.
    #[error("malformed device identity: {0}")]
    Malformed(&'static str),
    /// The HMAC does not match our ADV secret (wrong QR, or tampered).
    #[error("device identity HMAC mismatch")]
    HmacMismatch,
    /// The phone's account signature over our identity does not verify.
    #[error("account signature mismatch")]
    SignatureMismatch,
}

impl PairSuccessError {
    /// The `code` of the `<error>` in the pair error reply (401, or 500 for malformed input).
    pub fn error_code(&self) -> u16 {
        match self {
            PairSuccessError::Malformed(_) => 500,
            PairSuccessError::HmacMismatch | PairSuccessError::SignatureMismatch => 401,
        }
    }

    /// The `text` of the `<error>` in the pair error reply.
    pub fn error_text(&self) -> &'static str {
        match self {
            PairSuccessError::Malformed(_) => "internal-error",
            PairSuccessError::HmacMismatch => "hmac-mismatch",
            PairSuccessError::SignatureMismatch => "signature-mismatch",
        }
    }
}

/// Why a signed device identity or key-index list was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdvError {
    /// The bytes or a nested message did not decode, or a required field is missing.
    #[error("malformed ADV message: {0}")]
    Malformed(&'static str),
    /// The account (phone) signature does not verify.
    #[error("account signature does not verify")]
    AccountSignature,
    /// The device (companion) signature does not verify.
    #[error("device signature does not verify")]
    DeviceSignature,
}

/// The result of a verified `pair-success`: what to send back and what to persist.
#[derive(Debug, Clone, PartialEq)]
pub struct CompanionPairing {
    /// The key index the phone assigned to this companion (`key-index` attribute of the reply).
    pub key_index: u32,
    /// The decoded device identity (raw id, timestamp, key index, account/device type).
    pub device_identity: AdvDeviceIdentity,
    /// The phone's identity public key; trust it for the account's primary device.
    pub account_signature_key: [u8; 32],
    /// The full signed identity, including the account key and our device signature.
    /// Persist it: its encoding ([`CompanionPairing::signed_identity_bytes`]) goes into the
    /// `<device-identity>` of every `pkmsg` we send.
    pub signed_identity: AdvSignedDeviceIdentity,
}

impl CompanionPairing {
    /// The `<device-identity>` content of `pair-device-sign`: the signed identity WITHOUT
    /// `accountSignatureKey`.
    pub fn reply_identity(&self) -> Vec<u8> {
        let mut reply = self.signed_identity.clone();
        reply.account_signature_key = None;
        reply.encode_to_vec()
    }

    /// The signed identity WITH `accountSignatureKey`, as attached to outgoing `pkmsg` stanzas.
    pub fn signed_identity_bytes(&self) -> Vec<u8> {
        self.signed_identity.encode_to_vec()
    }
}

/// Companion side of `pair-success`: checks the HMAC of `device_identity` (the content of
/// `<device-identity>`) with our `adv_secret`, verifies the phone's account signature over our
/// `identity`, and countersigns with `identity` (`random` = 64 fresh random bytes).
pub fn complete_pair_success(
    device_identity: &[u8],
    adv_secret: &[u8; 32],
    identity: &KeyPair,
    random: &[u8; 64],
) -> Result<CompanionPairing, PairSuccessError> {
    let container = AdvSignedDeviceIdentityHmac::decode(device_identity)
        .map_err(|_| PairSuccessError::Malformed("ADVSignedDeviceIdentityHMAC"))?;
    let details = container
        .details
        .as_ref()
        .ok_or(PairSuccessError::Malformed("container details missing"))?;
    let tag = container
        .hmac
        .as_ref()
        .ok_or(PairSuccessError::Malformed("container HMAC missing"))?;
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(adv_secret).expect("HMAC takes any key");
    if container.account_type == Some(HOSTED) {
        mac.update(&HOSTED_ACCOUNT_SIGNATURE_PREFIX);
    }
    mac.update(details);
    mac.verify_slice(tag)
        .map_err(|_| PairSuccessError::HmacMismatch)?;

    let mut signed = AdvSignedDeviceIdentity::decode(details.as_ref())
        .map_err(|_| PairSuccessError::Malformed("ADVSignedDeviceIdentity"))?;
    let identity_details = signed
        .details
        .clone()
        .ok_or(PairSuccessError::Malformed("identity details missing"))?;
    let device_identity = AdvDeviceIdentity::decode(identity_details.as_ref())
        .map_err(|_| PairSuccessError::Malformed("ADVDeviceIdentity"))?;
    let account_key = signed
        .account_signature_key
        .as_deref()
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .ok_or(PairSuccessError::SignatureMismatch)?;
    let account_signature = signed
        .account_signature
        .as_deref()
        .and_then(|s| <[u8; 64]>::try_from(s).ok())
        .ok_or(PairSuccessError::SignatureMismatch)?;
    let prefix = account_prefix(device_identity.device_type);
    let message = [&prefix[..], &identity_details, &identity.public].concat();
    if !xeddsa_verify(&account_key, &message, &account_signature) {
        return Err(PairSuccessError::SignatureMismatch);
    }

    let device_message = [
        &DEVICE_SIGNATURE_PREFIX[..],
        &identity_details,
        &identity.public,
        &account_key,
    ]
    .concat();
    signed.device_signature = Some(Bytes::copy_from_slice(
        &identity.sign(&device_message, random),
    ));
    Ok(CompanionPairing {
        key_index: device_identity.key_index.unwrap_or(0),
        device_identity,
        account_signature_key: account_key,
        signed_identity: signed,
    })
}

/// What the phone grants a companion it links (the fields of `ADVDeviceIdentity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompanionGrant {
    /// The account's raw id (any stable number per account).
    pub raw_id: u32,
    /// When the companion was linked (unix seconds).
    pub timestamp: u64,
    /// The companion's key index: one more than the last one the account issued.
    pub key_index: u32,
    /// Hosted (business-hosted) account and device: switches the prefixes to `06 05`.
    pub hosted: bool,
}

/// Phone side of pairing: the `<device-identity>` content of `pair-success` for the companion
/// whose identity key is `companion_identity` and whose ADV secret is `adv_secret` (from its
/// QR code, or derived by phone-code pairing). `random` = 64 fresh random bytes.
pub fn sign_companion_identity(
    phone_identity: &KeyPair,
    companion_identity: &[u8; 32],
    adv_secret: &[u8; 32],
    grant: &CompanionGrant,
    random: &[u8; 64],
) -> Vec<u8> {
    let kind = if grant.hosted {
        AdvEncryptionType::Hosted
    } else {
        AdvEncryptionType::E2ee
    } as i32;
    let details = AdvDeviceIdentity {
        raw_id: Some(grant.raw_id),
        timestamp: Some(grant.timestamp),
        key_index: Some(grant.key_index),
        account_type: Some(kind),
        device_type: Some(kind),
    }
    .encode_to_vec();
    let prefix = account_prefix(Some(kind));
    let account_signature = phone_identity.sign(
        &[&prefix[..], &details, companion_identity].concat(),
        random,
    );
    let signed = AdvSignedDeviceIdentity {
        details: Some(details.into()),
        account_signature_key: Some(Bytes::copy_from_slice(&phone_identity.public)),
        account_signature: Some(Bytes::copy_from_slice(&account_signature)),
        device_signature: None,
    }
    .encode_to_vec();
    let hmac_prefix: &[u8] = if grant.hosted {
        &HOSTED_ACCOUNT_SIGNATURE_PREFIX
    } else {
        &[]
    };
    let hmac = hmac_sha256_parts(adv_secret, &[hmac_prefix, &signed]);
    AdvSignedDeviceIdentityHmac {
        details: Some(signed.into()),
        hmac: Some(Bytes::copy_from_slice(&hmac)),
        account_type: Some(kind),
    }
    .encode_to_vec()
}

/// Verifies a signed device identity: the account signature (by `account_key`, or by the
/// embedded `accountSignatureKey` when `None`) and the device signature by
/// `device_identity_key`. Returns the identity with `accountSignatureKey` filled in.
///
/// The phone uses it on `pair-device-sign` (with its own key as `account_key`); a client can
/// use it on the `<device-identity>` of a fetched prekey bundle or a received `pkmsg`.
pub fn verify_signed_device_identity(
    signed: &[u8],
    device_identity_key: &[u8; 32],
    account_key: Option<&[u8; 32]>,
) -> Result<(AdvSignedDeviceIdentity, AdvDeviceIdentity), AdvError> {
    let mut signed = AdvSignedDeviceIdentity::decode(signed)
        .map_err(|_| AdvError::Malformed("ADVSignedDeviceIdentity"))?;
    let details = signed
        .details
        .clone()
        .ok_or(AdvError::Malformed("identity details missing"))?;
    let identity = AdvDeviceIdentity::decode(details.as_ref())
        .map_err(|_| AdvError::Malformed("ADVDeviceIdentity"))?;
    let account_key = match account_key {
        Some(key) => *key,
        None => signed
            .account_signature_key
            .as_deref()
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .ok_or(AdvError::Malformed("account signature key missing"))?,
    };
    let account_signature =
        signature(signed.account_signature.as_deref()).ok_or(AdvError::AccountSignature)?;
    let prefix = account_prefix(identity.device_type);
    let account_message = [&prefix[..], &details, device_identity_key].concat();
    if !xeddsa_verify(&account_key, &account_message, &account_signature) {
        return Err(AdvError::AccountSignature);
    }
    let device_signature =
        signature(signed.device_signature.as_deref()).ok_or(AdvError::DeviceSignature)?;
    let device_ok = |prefix: &[u8; 2]| {
        let message = [&prefix[..], &details, device_identity_key, &account_key].concat();
        xeddsa_verify(device_identity_key, &message, &device_signature)
    };
    let hosted = identity.device_type == Some(HOSTED);
    if !(device_ok(&DEVICE_SIGNATURE_PREFIX)
        || hosted && device_ok(&HOSTED_DEVICE_SIGNATURE_PREFIX))
    {
        return Err(AdvError::DeviceSignature);
    }
    signed.account_signature_key = Some(Bytes::copy_from_slice(&account_key));
    Ok((signed, identity))
}

/// Phone side of `pair-device-sign`: verifies the companion's reply (the `<device-identity>`
/// content) against the phone's and the companion's identity keys, and returns the complete
/// signed identity (with `accountSignatureKey`) and its details for the device list.
pub fn verify_pair_device_sign(
    reply: &[u8],
    phone_identity: &[u8; 32],
    companion_identity: &[u8; 32],
) -> Result<(AdvSignedDeviceIdentity, AdvDeviceIdentity), AdvError> {
    verify_signed_device_identity(reply, companion_identity, Some(phone_identity))
}

/// An account's list of valid companion key indexes (`ADVKeyIndexList`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyIndexList {
    /// The account's raw id.
    pub raw_id: u32,
    /// When the list was issued (unix seconds).
    pub timestamp: u64,
    /// The highest key index issued so far.
    pub current_index: u32,
    /// The key indexes of the companions still linked.
    pub valid_indexes: Vec<u32>,
    /// Hosted account.
    pub hosted: bool,
}

impl KeyIndexList {
    /// Whether a device with this `key_index` may be used: device 0 (the phone) always; a
    /// companion when its index is listed or newer than `current_index` (WhatsApp Web's rule).
    pub fn allows(&self, device: u32, key_index: Option<u32>) -> bool {
        if device == 0 {
            return true;
        }
        match key_index {
            Some(index) => self.valid_indexes.contains(&index) || index > self.current_index,
            None => false,
        }
    }
}

/// Phone side: the signed key-index list (`ADVSignedKeyIndexList` bytes) for `list`.
pub fn sign_key_index_list(
    list: &KeyIndexList,
    phone_identity: &KeyPair,
    random: &[u8; 64],
) -> Vec<u8> {
    let details = AdvKeyIndexList {
        raw_id: Some(list.raw_id),
        timestamp: Some(list.timestamp),
        current_index: Some(list.current_index),
        valid_indexes: list.valid_indexes.clone(),
        account_type: Some(if list.hosted { HOSTED } else { 0 }),
    }
    .encode_to_vec();
    let signature = phone_identity.sign(&[&KEY_INDEX_LIST_PREFIX[..], &details].concat(), random);
    AdvSignedKeyIndexList {
        details: Some(details.into()),
        account_signature: Some(Bytes::copy_from_slice(&signature)),
        account_signature_key: Some(Bytes::copy_from_slice(&phone_identity.public)),
    }
    .encode_to_vec()
}

/// Verifies a signed key-index list with `account_key` (or, when `None`, the key it carries)
/// and returns its content.
pub fn verify_key_index_list(
    signed: &[u8],
    account_key: Option<&[u8; 32]>,
) -> Result<KeyIndexList, AdvError> {
    let signed = AdvSignedKeyIndexList::decode(signed)
        .map_err(|_| AdvError::Malformed("ADVSignedKeyIndexList"))?;
    let details = signed
        .details
        .as_ref()
        .ok_or(AdvError::Malformed("key index list details missing"))?;
    let key = match account_key {
        Some(key) => *key,
        None => signed
            .account_signature_key
            .as_deref()
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .ok_or(AdvError::Malformed("account signature key missing"))?,
    };
    let sig = signature(signed.account_signature.as_deref()).ok_or(AdvError::AccountSignature)?;
    if !xeddsa_verify(&key, &[&KEY_INDEX_LIST_PREFIX[..], details].concat(), &sig) {
        return Err(AdvError::AccountSignature);
    }
    let list = AdvKeyIndexList::decode(details.as_ref())
        .map_err(|_| AdvError::Malformed("ADVKeyIndexList"))?;
    Ok(KeyIndexList {
        raw_id: list.raw_id.unwrap_or(0),
        timestamp: list.timestamp.unwrap_or(0),
        current_index: list.current_index.unwrap_or(0),
        valid_indexes: list.valid_indexes,
        hosted: list.account_type == Some(HOSTED),
    })
}

fn account_prefix(device_type: Option<i32>) -> [u8; 2] {
    if device_type == Some(HOSTED) {
        HOSTED_ACCOUNT_SIGNATURE_PREFIX
    } else {
        ACCOUNT_SIGNATURE_PREFIX
    }
}

fn signature(bytes: Option<&[u8]>) -> Option<[u8; 64]> {
    bytes.and_then(|s| <[u8; 64]>::try_from(s).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: [u8; 64] = [7; 64];

    struct Fixture {
        phone: KeyPair,
        companion: KeyPair,
        adv_secret: [u8; 32],
        grant: CompanionGrant,
    }

    fn fixture(hosted: bool) -> Fixture {
        Fixture {
            phone: KeyPair::from_private([1; 32]),
            companion: KeyPair::from_private([2; 32]),
            adv_secret: [3; 32],
            grant: CompanionGrant {
                raw_id: 4242,
                timestamp: 1_700_000_000,
                key_index: 5,
                hosted,
            },
        }
    }

    fn pair_success(f: &Fixture) -> Vec<u8> {
        sign_companion_identity(
            &f.phone,
            &f.companion.public,
            &f.adv_secret,
            &f.grant,
            &RANDOM,
        )
    }

    #[test]
    fn companion_accepts_what_the_phone_signs() {
        let f = fixture(false);
        let paired =
            complete_pair_success(&pair_success(&f), &f.adv_secret, &f.companion, &RANDOM).unwrap();
        assert_eq!(paired.key_index, 5);
        assert_eq!(paired.account_signature_key, f.phone.public);
        assert_eq!(paired.device_identity.raw_id, Some(4242));
        assert_eq!(paired.device_identity.timestamp, Some(1_700_000_000));
    }

    #[test]
    fn phone_accepts_the_companions_reply() {
        let f = fixture(false);
        let paired =
            complete_pair_success(&pair_success(&f), &f.adv_secret, &f.companion, &RANDOM).unwrap();
        let (full, identity) = verify_pair_device_sign(
            &paired.reply_identity(),
            &f.phone.public,
            &f.companion.public,
        )
        .unwrap();
        assert_eq!(identity.key_index, Some(5));
        assert_eq!(full, paired.signed_identity);
    }

    #[test]
    fn hosted_pairing_works_both_ways() {
        let f = fixture(true);
        let paired =
            complete_pair_success(&pair_success(&f), &f.adv_secret, &f.companion, &RANDOM).unwrap();
        assert_eq!(paired.device_identity.device_type, Some(HOSTED));
        verify_pair_device_sign(
            &paired.reply_identity(),
            &f.phone.public,
            &f.companion.public,
        )
        .unwrap();
    }

    #[test]
    fn hosted_hmac_covers_the_prefix() {
        let f = fixture(true);
        let container = AdvSignedDeviceIdentityHmac::decode(&pair_success(&f)[..]).unwrap();
        let details = container.details.unwrap();
        let plain = hmac_sha256_parts(&f.adv_secret, &[&details]);
        let prefixed = hmac_sha256_parts(&f.adv_secret, &[&[6, 5], &details]);
        assert_eq!(container.hmac.unwrap().as_ref(), prefixed);
        assert_ne!(plain, prefixed);
    }

    #[test]
    fn reply_omits_the_account_key_and_the_persisted_form_keeps_it() {
        let f = fixture(false);
        let paired =
            complete_pair_success(&pair_success(&f), &f.adv_secret, &f.companion, &RANDOM).unwrap();
        let reply = AdvSignedDeviceIdentity::decode(&paired.reply_identity()[..]).unwrap();
        assert_eq!(reply.account_signature_key, None);
        assert!(reply.device_signature.is_some());
        let kept = AdvSignedDeviceIdentity::decode(&paired.signed_identity_bytes()[..]).unwrap();
        assert_eq!(kept.account_signature_key.unwrap().as_ref(), f.phone.public);
    }

    #[test]
    fn device_signature_covers_details_identity_and_account_key() {
        let f = fixture(false);
        let paired =
            complete_pair_success(&pair_success(&f), &f.adv_secret, &f.companion, &RANDOM).unwrap();
        let details = paired.signed_identity.details.clone().unwrap();
        let sig: [u8; 64] = paired
            .signed_identity
            .device_signature
            .as_deref()
            .unwrap()
            .try_into()
            .unwrap();
        let msg = [
            &[6u8, 1][..],
            &details,
            &f.companion.public,
            &f.phone.public,
        ]
        .concat();
        assert!(xeddsa_verify(&f.companion.public, &msg, &sig));
    }

    #[test]
    fn wrong_adv_secret_is_an_hmac_mismatch() {
        let f = fixture(false);
        let err =
            complete_pair_success(&pair_success(&f), &[9; 32], &f.companion, &RANDOM).unwrap_err();
        assert_eq!(err, PairSuccessError::HmacMismatch);
        assert_eq!((err.error_code(), err.error_text()), (401, "hmac-mismatch"));
    }

    #[test]
    fn identity_signed_for_another_companion_is_a_signature_mismatch() {
        let f = fixture(false);
        let other = KeyPair::from_private([8; 32]);
        let err =
            complete_pair_success(&pair_success(&f), &f.adv_secret, &other, &RANDOM).unwrap_err();
        assert_eq!(err, PairSuccessError::SignatureMismatch);
        assert_eq!(
            (err.error_code(), err.error_text()),
            (401, "signature-mismatch")
        );
    }

    #[test]
    fn garbage_is_malformed_and_maps_to_internal_error() {
        let f = fixture(false);
        let err = complete_pair_success(&[0xff, 0xff, 0xff], &f.adv_secret, &f.companion, &RANDOM)
            .unwrap_err();
        assert!(matches!(err, PairSuccessError::Malformed(_)));
        assert_eq!(
            (err.error_code(), err.error_text()),
            (500, "internal-error")
        );
    }

    #[test]
    fn container_without_hmac_is_malformed() {
        let f = fixture(false);
        let mut container = AdvSignedDeviceIdentityHmac::decode(&pair_success(&f)[..]).unwrap();
        container.hmac = None;
        let err = complete_pair_success(
            &container.encode_to_vec(),
            &f.adv_secret,
            &f.companion,
            &RANDOM,
        )
        .unwrap_err();
        assert!(matches!(err, PairSuccessError::Malformed(_)));
    }

    #[test]
    fn phone_rejects_a_reply_signed_by_another_device() {
        let f = fixture(false);
        let paired =
            complete_pair_success(&pair_success(&f), &f.adv_secret, &f.companion, &RANDOM).unwrap();
        let other = KeyPair::from_private([8; 32]);
        assert_eq!(
            verify_pair_device_sign(&paired.reply_identity(), &f.phone.public, &other.public),
            Err(AdvError::AccountSignature)
        );
    }

    #[test]
    fn phone_rejects_a_reply_with_a_tampered_device_signature() {
        let f = fixture(false);
        let mut paired =
            complete_pair_success(&pair_success(&f), &f.adv_secret, &f.companion, &RANDOM).unwrap();
        let mut sig = paired
            .signed_identity
            .device_signature
            .clone()
            .unwrap()
            .to_vec();
        sig[3] ^= 1;
        paired.signed_identity.device_signature = Some(sig.into());
        assert_eq!(
            verify_pair_device_sign(
                &paired.reply_identity(),
                &f.phone.public,
                &f.companion.public
            ),
            Err(AdvError::DeviceSignature)
        );
    }

    #[test]
    fn key_index_list_round_trips_with_the_embedded_or_a_given_key() {
        let phone = KeyPair::from_private([1; 32]);
        let list = KeyIndexList {
            raw_id: 1,
            timestamp: 1_700_000_000,
            current_index: 4,
            valid_indexes: vec![0, 2, 4],
            hosted: false,
        };
        let signed = sign_key_index_list(&list, &phone, &RANDOM);
        assert_eq!(verify_key_index_list(&signed, None).unwrap(), list);
        assert_eq!(
            verify_key_index_list(&signed, Some(&phone.public)).unwrap(),
            list
        );
    }

    #[test]
    fn key_index_list_fails_under_another_account_key() {
        let phone = KeyPair::from_private([1; 32]);
        let signed = sign_key_index_list(&KeyIndexList::default(), &phone, &RANDOM);
        let other = KeyPair::from_private([2; 32]);
        assert_eq!(
            verify_key_index_list(&signed, Some(&other.public)),
            Err(AdvError::AccountSignature)
        );
    }

    #[test]
    fn key_index_filter_keeps_the_phone_listed_and_newer_devices() {
        let list = KeyIndexList {
            current_index: 4,
            valid_indexes: vec![2, 4],
            ..Default::default()
        };
        assert!(list.allows(0, None));
        assert!(list.allows(3, Some(2)));
        assert!(list.allows(7, Some(5)));
        assert!(!list.allows(5, Some(3)));
        assert!(!list.allows(5, None));
    }
}
