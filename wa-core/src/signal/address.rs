//! Signal addresses: which device a session belongs to, and which group sender a sender
//! key belongs to.

use std::fmt;

/// A peer device as Signal knows it: a name and a device id.
///
/// WhatsApp derives the name from a JID (protocol notes §5): the user part for ordinary
/// `s.whatsapp.net` accounts, `user_<domain>` for other domains (`_1` LID, `_128` hosted,
/// `_129` hosted LID). The device id is the JID's device (0 = the phone).
///
/// ```
/// use wa_core::signal::ProtocolAddress;
/// assert_eq!(ProtocolAddress::from_jid_parts("15550001", 0, 2).to_string(), "15550001.2");
/// assert_eq!(ProtocolAddress::from_jid_parts("8812345", 1, 0).name, "8812345_1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolAddress {
    /// `user` or `user_<domain>`.
    pub name: String,
    /// The device number.
    pub device_id: u32,
}

impl ProtocolAddress {
    /// An address from its parts.
    pub fn new(name: impl Into<String>, device_id: u32) -> Self {
        ProtocolAddress {
            name: name.into(),
            device_id,
        }
    }

    /// The address of a JID's `user`, wire domain type (0 = WhatsApp, 1 = LID, 128 hosted,
    /// 129 hosted LID) and device.
    pub fn from_jid_parts(user: &str, domain_type: u8, device: u32) -> Self {
        let name = if domain_type == 0 {
            user.to_owned()
        } else {
            format!("{user}_{domain_type}")
        };
        ProtocolAddress::new(name, device)
    }
}

impl fmt::Display for ProtocolAddress {
    /// `name.device`, libsignal-node's textual key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.name, self.device_id)
    }
}

/// Which sender key: a group and the sending device.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SenderKeyName {
    /// The group JID as a string, e.g. `120363021033254949@g.us`.
    pub group_id: String,
    /// The sending device.
    pub sender: ProtocolAddress,
}

impl SenderKeyName {
    /// A sender key name from its parts.
    pub fn new(group_id: impl Into<String>, sender: ProtocolAddress) -> Self {
        SenderKeyName {
            group_id: group_id.into(),
            sender,
        }
    }
}

impl fmt::Display for SenderKeyName {
    /// `group::name::device`, the form Baileys stores sender keys under.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}::{}::{}",
            self.group_id, self.sender.name, self.sender.device_id
        )
    }
}
