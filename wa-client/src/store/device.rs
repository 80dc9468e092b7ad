//! [`Device`]: the credentials of one companion device, and their storage form.

use serde::{Deserialize, Serialize};
use wa_core::Jid;
use wa_core::crypto::KeyPair;
use wa_core::pair::{CompanionKeys, SignedPreKey};
use wa_core::signal::{SignedPreKeyRecord, StoreError};

/// A companion device's credentials: the keys made before pairing and what pairing added.
#[derive(Clone, PartialEq, Eq)]
pub struct Device {
    /// Keys generated before the first connection.
    pub keys: CompanionKeys,
    /// Our device JID (`phone:device@s.whatsapp.net`) once paired.
    pub jid: Option<Jid>,
    /// Our LID device JID once known.
    pub lid: Option<Jid>,
    /// The signed device identity (with the account key), attached to `pkmsg` stanzas.
    pub account: Option<Vec<u8>>,
    /// The phone's platform name from pair-success.
    pub platform: Option<String>,
    /// Our push name.
    pub push_name: Option<String>,
    /// The next one-time prekey id to generate.
    pub next_pre_key_id: u32,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("jid", &self.jid)
            .field("lid", &self.lid)
            .field("registration_id", &self.keys.registration_id)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// A fresh, unpaired device.
    pub fn new(keys: CompanionKeys) -> Device {
        Device {
            keys,
            jid: None,
            lid: None,
            account: None,
            platform: None,
            push_name: None,
            next_pre_key_id: 1,
        }
    }

    /// Whether pairing completed.
    pub fn is_paired(&self) -> bool {
        self.jid.is_some() && self.account.is_some()
    }

    /// The signed prekey as a Signal record.
    pub fn signed_pre_key_record(&self) -> SignedPreKeyRecord {
        let spk = &self.keys.signed_pre_key;
        SignedPreKeyRecord {
            id: spk.id,
            key_pair: spk.key_pair.clone(),
            signature: spk.signature,
            timestamp: 0,
        }
    }

    /// The storage form (JSON with hex keys).
    pub fn to_bytes(&self) -> Vec<u8> {
        let k = &self.keys;
        let stored = Stored {
            noise_private: hex::encode(k.noise.private),
            identity_private: hex::encode(k.identity.private),
            signed_pre_key_id: k.signed_pre_key.id,
            signed_pre_key_private: hex::encode(k.signed_pre_key.key_pair.private),
            signed_pre_key_signature: hex::encode(k.signed_pre_key.signature),
            registration_id: k.registration_id,
            adv_secret: hex::encode(k.adv_secret),
            jid: self.jid.as_ref().map(ToString::to_string),
            lid: self.lid.as_ref().map(ToString::to_string),
            account: self.account.as_ref().map(hex::encode),
            platform: self.platform.clone(),
            push_name: self.push_name.clone(),
            next_pre_key_id: self.next_pre_key_id,
        };
        serde_json::to_vec(&stored).expect("plain struct serializes")
    }

    /// Parses [`Device::to_bytes`] output.
    pub fn from_bytes(bytes: &[u8]) -> Result<Device, StoreError> {
        let s: Stored = serde_json::from_slice(bytes).map_err(StoreError::new)?;
        let key = |h: &str| -> Result<[u8; 32], StoreError> {
            hex::decode(h)
                .map_err(StoreError::new)?
                .try_into()
                .map_err(|_| StoreError::new("key is not 32 bytes"))
        };
        let signature: [u8; 64] = hex::decode(&s.signed_pre_key_signature)
            .map_err(StoreError::new)?
            .try_into()
            .map_err(|_| StoreError::new("signature is not 64 bytes"))?;
        let jid = |j: Option<String>| -> Result<Option<Jid>, StoreError> {
            j.map(|j| j.parse::<Jid>().map_err(StoreError::new))
                .transpose()
        };
        Ok(Device {
            keys: CompanionKeys {
                noise: KeyPair::from_private(key(&s.noise_private)?),
                identity: KeyPair::from_private(key(&s.identity_private)?),
                signed_pre_key: SignedPreKey {
                    id: s.signed_pre_key_id,
                    key_pair: KeyPair::from_private(key(&s.signed_pre_key_private)?),
                    signature,
                },
                registration_id: s.registration_id,
                adv_secret: key(&s.adv_secret)?,
            },
            jid: jid(s.jid)?,
            lid: jid(s.lid)?,
            account: s
                .account
                .map(|a| hex::decode(a).map_err(StoreError::new))
                .transpose()?,
            platform: s.platform,
            push_name: s.push_name,
            next_pre_key_id: s.next_pre_key_id,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    noise_private: String,
    identity_private: String,
    signed_pre_key_id: u32,
    signed_pre_key_private: String,
    signed_pre_key_signature: String,
    registration_id: u32,
    adv_secret: String,
    jid: Option<String>,
    lid: Option<String>,
    account: Option<String>,
    platform: Option<String>,
    push_name: Option<String>,
    next_pre_key_id: u32,
}
