//! Message and receipt routing: each per-device `<enc>` goes to its device; group `skmsg`
//! goes to every participant device; receipts go back to the sender's device.

use wa_core::binary::{Jid, Node};

use crate::conn::Close;
use crate::phone::Phone;
use crate::server::{Shared, now};

/// Most `<to>` entries accepted in one message.
const MAX_RECIPIENTS: usize = 4096;

/// Routes a `<message>` sent by device `device` of `number`; returns the server ack.
pub(crate) fn route_message(
    shared: &Shared,
    number: &str,
    device: u16,
    node: &Node,
) -> Result<Node, Close> {
    let id = node.attr("id").ok_or(Close::Protocol(400))?.to_owned();
    let to: Jid = node
        .attr("to")
        .and_then(|t| t.parse().ok())
        .ok_or(Close::Protocol(400))?;
    let t = now().to_string();
    let kind = node.attr("type").unwrap_or("text").to_owned();
    let sender = device_jid(number, device);
    let device_identity = node.child("device-identity").cloned();
    let skmsg = node
        .children_by_tag("enc")
        .find(|e| e.attr("type") == Some("skmsg"))
        .cloned();

    // Per-device encs from <participants>, keyed by (number, device).
    let mut per_device: Vec<((String, u16), Vec<Node>)> = Vec::new();
    let mut phones: Vec<(Phone, Node)> = Vec::new();
    let mut w = shared.world();
    if let Some(parts) = node.child("participants") {
        for to_node in parts.children_by_tag("to").take(MAX_RECIPIENTS) {
            let Some(Ok(jid)) = to_node.attr_jid("jid") else {
                continue;
            };
            let Some(n) = w.resolve_user(&jid) else {
                continue;
            };
            let encs: Vec<Node> = to_node.children_by_tag("enc").cloned().collect();
            per_device.push(((n, jid.device()), encs));
        }
    } else if to.device_id.is_some() && !to.is_group() {
        // A retry resend addressed to one device, with the enc directly inside.
        if let Some(n) = w.resolve_user(&to) {
            let encs: Vec<Node> = node
                .children_by_tag("enc")
                .filter(|e| e.attr("type") != Some("skmsg"))
                .cloned()
                .collect();
            per_device.push(((n, to.device()), encs));
        }
    }

    // Like WhatsApp's server, tell recipients the sender's LID next to its phone-number JID
    // (`participant_lid` in groups, `sender_lid` in 1:1 chats).
    let sender_lid = w
        .accounts
        .get(number)
        .map(|a| Jid::lid(a.lid.clone()).to_string());
    let build =
        |from: String, participant: Option<String>, recipient: Option<String>, encs: Vec<Node>| {
            let mut m = Node::new("message")
                .with_attr("from", from)
                .with_attr("id", id.clone())
                .with_attr("t", t.clone())
                .with_attr("type", kind.clone());
            let lid_attr = if participant.is_some() {
                "participant_lid"
            } else {
                "sender_lid"
            };
            if let Some(p) = participant {
                m = m.with_attr("participant", p);
            }
            if let Some(lid) = &sender_lid {
                m = m.with_attr(lid_attr, lid.clone());
            }
            if let Some(r) = recipient {
                m = m.with_attr("recipient", r);
            }
            let mut children = encs;
            if let Some(di) = &device_identity
                && children.iter().any(|e| e.attr("type") == Some("pkmsg"))
            {
                children.push(di.clone());
            }
            m.with_children(children)
        };

    if to.is_group() {
        let group = w.groups.get(&to.user).cloned();
        let Some(group) = group else {
            drop(w);
            return Ok(ack(&id, &to, &t).with_attr("error", "404"));
        };
        if !group.participants.iter().any(|(p, _)| p == number) {
            drop(w);
            return Ok(ack(&id, &to, &t).with_attr("error", "403"));
        }
        // Every device of every participant, except the sending one.
        let mut targets = Vec::new();
        for (p, _) in &group.participants {
            for d in w
                .accounts
                .get(p)
                .map(|a| a.devices.keys().copied().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                if (p.as_str(), d) != (number, device) {
                    targets.push((p.clone(), d));
                }
            }
        }
        for target in targets {
            let mut encs: Vec<Node> = per_device
                .iter()
                .filter(|(k, _)| *k == target)
                .flat_map(|(_, e)| e.iter().cloned())
                .collect();
            if let Some(sk) = &skmsg {
                encs.push(sk.clone());
            }
            if encs.is_empty() {
                continue;
            }
            let m = build(to.to_string(), Some(sender.to_string()), None, encs);
            if let Some(p) = w.deliver(&target.0, target.1, m) {
                phones.push(p);
            }
        }
    } else {
        let chat = to.to_non_ad();
        for ((n, d), encs) in per_device {
            if (n.as_str(), d) == (number, device) || encs.is_empty() {
                continue;
            }
            let recipient = (n == number).then(|| {
                w.resolve_user(&chat)
                    .map(|u| Jid::pn(u).to_string())
                    .unwrap_or_else(|| chat.to_string())
            });
            let m = build(sender.to_string(), None, recipient, encs);
            if let Some(p) = w.deliver(&n, d, m) {
                phones.push(p);
            }
        }
    }
    drop(w);
    for (phone, m) in phones {
        phone.deliver(m);
    }
    Ok(ack(&id, &to, &t))
}

/// A device's JID as deliveries name it: the primary device (0) without a device part,
/// as WhatsApp writes it.
pub(crate) fn device_jid(number: &str, device: u16) -> Jid {
    if device == 0 {
        Jid::pn(number)
    } else {
        Jid::pn_device(number, device)
    }
}

/// The device a receipt names, or every device of the user when it names none (read
/// receipts are addressed to the chat).
fn receipt_targets(w: &crate::world::World, number: String, jid: &Jid) -> Vec<(String, u16)> {
    if jid.device_id.is_some() {
        return vec![(number, jid.device())];
    }
    w.accounts
        .get(&number)
        .map(|a| a.devices.keys().map(|d| (number.clone(), *d)).collect())
        .unwrap_or_default()
}

fn ack(id: &str, to: &Jid, t: &str) -> Node {
    Node::new("ack")
        .with_attr("class", "message")
        .with_attr("id", id.to_owned())
        .with_attr("from", to.to_string())
        .with_attr("t", t.to_owned())
}

impl Shared {
    /// Relays a `<receipt>` from device `device` of `number` to the device it names.
    pub(crate) fn route_receipt(&self, number: &str, device: u16, node: &Node) {
        let Some(Ok(to)) = node.attr_jid("to") else {
            return;
        };
        let Some(id) = node.attr("id") else { return };
        let receiver = device_jid(number, device);
        let mut out = Node::new("receipt").with_attr("id", id.to_owned());
        let mut targets: Vec<(String, u16)> = Vec::new();
        let mut w = self.world();
        if to.is_group() {
            let Some(Ok(participant)) = node.attr_jid("participant") else {
                return;
            };
            out = out
                .with_attr("from", to.to_string())
                .with_attr("participant", receiver.to_string());
            if let Some(n) = w.resolve_user(&participant) {
                targets.extend(receipt_targets(&w, n, &participant));
            }
        } else {
            out = out.with_attr("from", receiver.to_string());
            if let Some(r) = node.attr("recipient") {
                out = out.with_attr("recipient", r.to_owned());
            }
            if let Some(n) = w.resolve_user(&to) {
                targets.extend(receipt_targets(&w, n, &to));
            }
        }
        if let Some(kind) = node.attr("type") {
            out = out.with_attr("type", kind.to_owned());
        }
        out = out.with_attr(
            "t",
            node.attr("t")
                .map(str::to_owned)
                .unwrap_or_else(|| now().to_string()),
        );
        if let wa_core::binary::Content::Nodes(children) = &node.content {
            out = out.with_children(children.iter().take(64).cloned().collect());
        }
        let mut phones = Vec::new();
        for (n, d) in targets {
            if (n.as_str(), d) == (number, device) {
                continue;
            }
            if let Some(p) = w.deliver(&n, d, out.clone()) {
                phones.push(p);
            }
        }
        drop(w);
        for (phone, m) in phones {
            phone.deliver(m);
        }
    }
}
