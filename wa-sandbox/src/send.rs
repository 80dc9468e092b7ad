//! A virtual phone sending like a client: device lists, sessions from prekey bundles,
//! per-device encryption (own companions get `deviceSentMessage`), sender keys for groups.

use prost::Message as _;
use rand::rngs::OsRng;
use wa_core::binary::{Jid, Node};
use wa_core::message::{new_message_id, wrap_device_sent};
use wa_core::proto;
use wa_core::signal::{
    CiphertextKind, ProtocolAddress, SenderKeyName, group, pad_message, session,
};

use crate::SandboxError;
use crate::phone::Phone;
use crate::server::{Shared, now};

fn enc(kind: &str, bytes: Vec<u8>) -> Node {
    Node::new("enc")
        .with_attr("v", "2")
        .with_attr("type", kind.to_owned())
        .with_bytes(bytes)
}

/// Encrypts `message` for `to` (user or group) from `phone` and routes it.
pub(crate) async fn phone_send(
    shared: &Shared,
    phone: &Phone,
    to: &Jid,
    message: &proto::Message,
) -> Result<String, SandboxError> {
    let number = phone.number().to_owned();
    let id = new_message_id(&mut OsRng, now(), Some(&number));
    let store = &phone.inner.store;
    let mut participants = Vec::new();
    let mut children = Vec::new();
    if to.is_group() {
        let members: Vec<String> = {
            let w = shared.world();
            let g = w
                .groups
                .get(&to.user)
                .ok_or_else(|| SandboxError::NoSuchGroup(to.to_string()))?;
            g.participants.iter().map(|(p, _)| p.clone()).collect()
        };
        let devices: Vec<Jid> = {
            let w = shared.world();
            members.iter().flat_map(|m| w.device_jids(m)).collect()
        };
        let name = SenderKeyName::new(to.to_string(), ProtocolAddress::new(number.clone(), 0));
        let skdm = group::create_distribution_message(store, &name, &mut OsRng).await?;
        let skdm_message = proto::Message {
            sender_key_distribution_message: Some(proto::message::SenderKeyDistributionMessage {
                group_id: Some(to.to_string()),
                axolotl_sender_key_distribution_message: Some(skdm.encode().into()),
            }),
            ..Default::default()
        };
        let plain = pad_message(&skdm_message.encode_to_vec(), &mut OsRng);
        for device in devices {
            if device.user == number && device.device() == 0 {
                continue;
            }
            let Ok(address) = phone.ensure_session(shared, &device).await else {
                continue;
            };
            let ct = session::encrypt(store, &address, &plain).await?;
            participants.push(
                Node::new("to")
                    .with_attr("jid", device.to_string())
                    .with_children(vec![enc(ct.kind.enc_type(), ct.bytes)]),
            );
        }
        let sk = group::encrypt(
            store,
            &name,
            &pad_message(&message.encode_to_vec(), &mut OsRng),
            &mut OsRng,
        )
        .await?;
        children.push(Node::new("participants").with_children(participants));
        children.push(enc("skmsg", sk));
    } else {
        let peer = to.to_non_ad();
        let (peer_devices, own_devices) = {
            let w = shared.world();
            let peer_number = w
                .resolve_user(&peer)
                .ok_or_else(|| SandboxError::NoSuchAccount(peer.to_string()))?;
            let own: Vec<Jid> = w
                .device_jids(&number)
                .into_iter()
                .filter(|j| j.device() != 0)
                .collect();
            (w.device_jids(&peer_number), own)
        };
        let plain_peer = pad_message(&message.encode_to_vec(), &mut OsRng);
        let plain_own = pad_message(
            &wrap_device_sent(message, &peer.to_string(), None).encode_to_vec(),
            &mut OsRng,
        );
        for (devices, plain) in [(peer_devices, &plain_peer), (own_devices, &plain_own)] {
            for device in devices {
                if device.user == number && device.device() == 0 {
                    continue;
                }
                let Ok(address) = phone.ensure_session(shared, &device).await else {
                    continue;
                };
                let ct = session::encrypt(store, &address, plain).await?;
                participants.push(
                    Node::new("to")
                        .with_attr("jid", device.to_string())
                        .with_children(vec![enc(ct.kind.enc_type(), ct.bytes)]),
                );
            }
        }
        let _ = CiphertextKind::Msg;
        children.push(Node::new("participants").with_children(participants));
    }
    let stanza = Node::new("message")
        .with_attr("to", to.to_non_ad().to_string())
        .with_attr("id", id.clone())
        .with_attr("type", "text")
        .with_children(children);
    crate::route::route_message(shared, &number, 0, &stanza)
        .map_err(|_| SandboxError::Pairing("routing failed".into()))?;
    Ok(id)
}
