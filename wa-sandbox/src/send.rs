//! A virtual phone sending like a client: device lists, sessions from prekey bundles,
//! per-device encryption (own companions get `deviceSentMessage`), sender keys for groups.

use prost::Message as _;
use rand::rngs::OsRng;
use wa_core::binary::{Jid, Node};
use wa_core::message::{new_message_id, wrap_device_sent};
use wa_core::proto;
use wa_core::signal::{ProtocolAddress, SenderKeyName, group, pad_message, session};

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
        children.push(Node::new("participants").with_children(participants));
    }
    let stanza = Node::new("message")
        .with_attr("to", to.to_non_ad().to_string())
        .with_attr("id", id.clone())
        .with_attr("type", "text")
        .with_children(children);
    crate::route::route_message(shared, &number, 0, &stanza)
        .map_err(|_| SandboxError::Rejected("the server refused the phone's message".into()))?;
    {
        let mut sent = crate::phone::lock(&phone.inner.sent);
        if sent.len() >= MAX_SENT_KEPT {
            sent.pop_front();
        }
        sent.push_back((id.clone(), to.to_non_ad(), message.clone()));
    }
    Ok(id)
}

/// Sent messages a phone keeps for answering retry receipts.
const MAX_SENT_KEPT: usize = 1000;

fn be(bytes: Option<&[u8]>) -> Option<u32> {
    let b = bytes?;
    (!b.is_empty() && b.len() <= 4).then(|| b.iter().fold(0u32, |a, x| (a << 8) | u32::from(*x)))
}

fn key32(node: Option<&Node>) -> Option<[u8; 32]> {
    node?.content_bytes()?.try_into().ok()
}

/// The bundle a retry receipt carries in `<keys>` (sent when its count is above 1).
fn bundle_from_retry(receipt: &Node, device: u32) -> Option<wa_core::signal::PreKeyBundle> {
    use wa_core::signal::{PreKeyBundle, PublicKey};
    let keys = receipt.child("keys")?;
    let registration = be(receipt
        .child("registration")
        .and_then(|n| n.content_bytes()))?;
    let identity = key32(keys.child("identity"))?;
    let skey = keys.child("skey")?;
    let signature: [u8; 64] = skey.child("signature")?.content_bytes()?.try_into().ok()?;
    let pre_key = keys.child("key").and_then(|k| {
        Some((
            be(k.child("id").and_then(|n| n.content_bytes()))?,
            PublicKey::from_bytes(key32(k.child("value"))?),
        ))
    });
    Some(PreKeyBundle {
        registration_id: registration,
        device_id: device,
        pre_key,
        signed_pre_key_id: be(skey.child("id").and_then(|n| n.content_bytes()))?,
        signed_pre_key: PublicKey::from_bytes(key32(skey.child("value"))?),
        signed_pre_key_signature: signature,
        identity_key: PublicKey::from_bytes(identity),
    })
}

/// A device could not decrypt one of the phone's messages: start a fresh session with it
/// (from the receipt's keys, or a new bundle) and send that message to it alone.
pub(crate) async fn resend_on_retry(shared: &Shared, phone: &Phone, receipt: &Node) {
    let Some(id) = receipt.attr("id") else { return };
    let device: Option<Jid> = match receipt.attr_jid("participant") {
        Some(Ok(p))
            if receipt
                .attr_jid("from")
                .and_then(Result::ok)
                .is_some_and(|f| f.is_group()) =>
        {
            Some(p)
        }
        _ => receipt.attr_jid("from").and_then(Result::ok),
    };
    let Some(device) = device else { return };
    let original = crate::phone::lock(&phone.inner.sent)
        .iter()
        .find(|(sent_id, _, _)| sent_id == id)
        .map(|(_, chat, m)| (chat.clone(), m.clone()));
    let Some((chat, message)) = original else {
        return;
    };
    let store = &phone.inner.store;
    let address = crate::phone::address_of(&device);
    let bundle = bundle_from_retry(receipt, u32::from(device.device()))
        .or_else(|| shared.take_bundle(&device));
    let Some(bundle) = bundle else { return };
    if session::process_prekey_bundle(store, &address, &bundle, &mut OsRng)
        .await
        .is_err()
    {
        return;
    }
    let mut message = if device.user == phone.number() {
        wrap_device_sent(&message, &chat.to_string(), None)
    } else {
        message
    };
    if chat.is_group() {
        let name = SenderKeyName::new(chat.to_string(), ProtocolAddress::new(phone.number(), 0));
        let Ok(skdm) = group::create_distribution_message(store, &name, &mut OsRng).await else {
            return;
        };
        message.sender_key_distribution_message =
            Some(proto::message::SenderKeyDistributionMessage {
                group_id: Some(chat.to_string()),
                axolotl_sender_key_distribution_message: Some(skdm.encode().into()),
            });
    }
    let plain = pad_message(&message.encode_to_vec(), &mut OsRng);
    let Ok(ct) = session::encrypt(store, &address, &plain).await else {
        return;
    };
    let count = receipt
        .child("retry")
        .and_then(|r| r.attr("count"))
        .unwrap_or("1")
        .to_owned();
    let enc = enc(ct.kind.enc_type(), ct.bytes).with_attr("count", count);
    let stanza = if chat.is_group() {
        Node::new("message")
            .with_attr("to", chat.to_string())
            .with_attr("id", id.to_owned())
            .with_attr("type", "text")
            .with_children(vec![Node::new("participants").with_children(vec![
                Node::new("to").with_attr("jid", device.to_string()).with_children(vec![enc]),
            ])])
    } else {
        Node::new("message")
            .with_attr("to", device.to_string())
            .with_attr("id", id.to_owned())
            .with_attr("type", "text")
            .with_attr("device_fanout", "false")
            .with_children(vec![enc])
    };
    let _ = crate::route::route_message(shared, phone.number(), 0, &stanza);
}
