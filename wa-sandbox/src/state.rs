//! The optional state file: accounts, devices with their registered keys and prekeys,
//! phone identities, groups and the root key, as JSON written atomically (temp file +
//! rename), including the phones' Signal state. Offline queues are not kept.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};
use wa_core::crypto::KeyPair;

use crate::SandboxError;
use crate::phone::Phone;
use crate::server::Shared;
use crate::world::{Account, DeviceRecord, Group};

#[derive(Serialize, Deserialize)]
pub(crate) struct Snapshot {
    #[serde(with = "hex32")]
    pub root_private: [u8; 32],
    pub accounts: Vec<AccountSnapshot>,
    pub groups: Vec<Group>,
    pub next_lid: u64,
    pub next_group: u64,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct AccountSnapshot {
    pub number: String,
    pub lid: String,
    pub raw_id: u32,
    pub next_device: u16,
    pub next_key_index: u32,
    #[serde(with = "hex32")]
    pub phone_identity_private: [u8; 32],
    pub phone_registration_id: u32,
    #[serde(default)]
    pub phone_signal: crate::phone_store::PhoneStoreSnapshot,
    pub devices: BTreeMap<u16, DeviceRecord>,
}

pub(crate) fn save(shared: &Shared, path: &Path) -> Result<(), SandboxError> {
    let snapshot = {
        let w = shared.world();
        let mut accounts: Vec<AccountSnapshot> = w
            .accounts
            .iter()
            .map(|(number, a)| AccountSnapshot {
                number: number.clone(),
                lid: a.lid.clone(),
                raw_id: a.raw_id,
                next_device: a.next_device,
                next_key_index: a.next_key_index,
                phone_identity_private: a.phone.inner.identity.private,
                phone_registration_id: a.phone.inner.registration_id,
                phone_signal: a.phone.inner.store.snapshot(),
                devices: a.devices.clone(),
            })
            .collect();
        accounts.sort_by(|a, b| a.number.cmp(&b.number));
        let mut groups: Vec<Group> = w.groups.values().cloned().collect();
        groups.sort_by(|a, b| a.id.cmp(&b.id));
        Snapshot {
            root_private: shared.root.private,
            accounts,
            groups,
            next_lid: w.next_lid,
            next_group: w.next_group,
        }
    };
    let bytes = serde_json::to_vec(&snapshot).map_err(|e| SandboxError::State(e.to_string()))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

pub(crate) fn load(path: &Path) -> Result<Snapshot, SandboxError> {
    let bytes = std::fs::read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| SandboxError::State(e.to_string()))
}

pub(crate) fn restore(shared: &Shared, snapshot: Snapshot) -> Result<(), SandboxError> {
    let mut w = shared.world();
    w.next_lid = snapshot.next_lid;
    w.next_group = snapshot.next_group;
    let mut lids = HashMap::new();
    for a in snapshot.accounts {
        let phone = Phone::spawn_with(
            &a.number,
            KeyPair::from_private(a.phone_identity_private),
            a.phone_registration_id,
            shared.weak_self.clone(),
        );
        phone.inner.store.restore(a.phone_signal);
        lids.insert(a.lid.clone(), a.number.clone());
        let mut devices = a.devices;
        devices.insert(0, crate::server::phone_record(&phone));
        w.accounts.insert(
            a.number,
            Account {
                lid: a.lid,
                phone,
                devices,
                next_device: a.next_device,
                next_key_index: a.next_key_index,
                raw_id: a.raw_id,
            },
        );
    }
    w.lid_to_pn = lids;
    for g in snapshot.groups {
        w.groups.insert(g.id.clone(), g);
    }
    Ok(())
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let v = hex::decode(s).map_err(serde::de::Error::custom)?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("expected 32 bytes"))
    }
}
