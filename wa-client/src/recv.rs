//! Receiving: every node that is not a response goes through [`handle_node`], in order.
//! Messages are decrypted (pkmsg/msg/skmsg, sender-key distributions first), answered with
//! a delivery receipt or, on failure, a retry receipt; receipts, notifications and calls are
//! acked; retry receipts for our messages trigger a re-send.

use std::sync::Arc;

use prost::Message as _;
use tracing::{Instrument, debug, info_span, warn};
use wa_core::Jid;
use wa_core::binary::Node;
use wa_core::message::{MessageContent, unwrap_device_sent};
use wa_core::proto;
use wa_core::signal::{
    SenderKeyDistributionMessage, SenderKeyName, SignalError, group, session, unpad_message,
};

use crate::client::{Inner, now_secs};
use crate::events::{ChatState, Event, MessageEvent, MessageInfo, ReceiptEvent, ReceiptType};
use crate::send::address_of;

/// Retry receipts we send per message before giving up.
const MAX_RETRIES: u32 = 5;

pub(crate) async fn handle_node(inner: &Arc<Inner>, node: Node) {
    match node.tag.as_str() {
        "message" => {
            let span = info_span!("recv", id = node.attr("id").unwrap_or_default());
            handle_message(inner, &node).instrument(span).await
        }
        "receipt" => handle_receipt(inner, &node).await,
        "notification" => handle_notification(inner, &node).await,
        "iq" => handle_iq(inner, &node).await,
        "presence" => handle_presence(inner, &node),
        "chatstate" => handle_chatstate(inner, &node),
        "ib" => handle_ib(inner, &node),
        "call" => ack(inner, &node, None),
        "ack" => {}
        other => debug!(tag = other, "unhandled node"),
    }
}

/// `<ack class=<tag> id to [participant] [type]/>`.
fn ack(inner: &Inner, node: &Node, error: Option<&str>) {
    let mut a = Node::new("ack")
        .with_attr("class", node.tag.as_str().to_owned())
        .with_attr("id", node.attr("id").unwrap_or_default().to_owned())
        .with_attr("to", node.attr("from").unwrap_or_default().to_owned());
    if let Some(p) = node.attr("participant") {
        a = a.with_attr("participant", p.to_owned());
    }
    if node.tag != "message"
        && let Some(t) = node.attr("type")
    {
        a = a.with_attr("type", t.to_owned());
    }
    if let Some(e) = error {
        a = a.with_attr("error", e.to_owned());
    }
    let _ = inner.send_node(&a);
}

fn jid_attr(node: &Node, key: &str) -> Option<Jid> {
    node.attr_jid(key).and_then(|j| j.ok())
}

async fn handle_iq(inner: &Arc<Inner>, iq: &Node) {
    if iq.attr("xmlns") == Some("urn:xmpp:ping") && iq.attr("type") == Some("get") {
        let _ = inner.send_node(
            &Node::new("iq")
                .with_attr("to", iq.attr("from").unwrap_or("s.whatsapp.net").to_owned())
                .with_attr("id", iq.attr("id").unwrap_or_default().to_owned())
                .with_attr("type", "result"),
        );
        return;
    }
    if iq.child("pair-device").is_some() {
        crate::pairing::handle_pair_device(inner, iq).await;
    } else if iq.child("pair-success").is_some() {
        crate::pairing::handle_pair_success(inner, iq).await;
    } else {
        debug!(xmlns = iq.attr("xmlns").unwrap_or_default(), "unhandled iq");
    }
}

fn handle_ib(inner: &Inner, ib: &Node) {
    if let Some(offline) = ib.child("offline") {
        let count = offline
            .attr("count")
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        inner.events.emit(Event::OfflineSyncCompleted { count });
    }
}

fn handle_presence(inner: &Inner, node: &Node) {
    let Some(from) = jid_attr(node, "from") else {
        return;
    };
    inner.events.emit(Event::Presence {
        from,
        available: node.attr("type") != Some("unavailable"),
        last_seen: node.attr("last").and_then(|l| l.parse().ok()),
    });
}

fn handle_chatstate(inner: &Inner, node: &Node) {
    let Some(from) = jid_attr(node, "from") else {
        return;
    };
    let sender = jid_attr(node, "participant").unwrap_or_else(|| from.clone());
    let Some(child) = node.children().first() else {
        return;
    };
    let state = match (child.tag.as_str(), child.attr("media")) {
        ("composing", Some("audio")) => ChatState::Recording,
        ("composing", _) => ChatState::Composing,
        _ => ChatState::Paused,
    };
    inner.events.emit(Event::ChatState {
        chat: from.to_non_ad(),
        sender,
        state,
    });
}

async fn handle_notification(inner: &Arc<Inner>, node: &Node) {
    ack(inner, node, None);
    let kind = node.attr("type").unwrap_or_default();
    match kind {
        "encrypt" => {
            if let Some(count) = node
                .child("count")
                .and_then(|c| c.attr("value"))
                .and_then(|v| v.parse::<u32>().ok())
            {
                if count < crate::keys::MIN_PRE_KEYS {
                    let inner = inner.clone();
                    tokio::spawn(async move {
                        let n = inner.config.refill_pre_keys;
                        if let Err(e) = crate::keys::upload_pre_keys(&inner, n).await {
                            warn!(error = %e, "prekey refill failed");
                        }
                    });
                }
            } else if node.child("identity").is_some()
                && let Some(from) = jid_attr(node, "from")
            {
                let _ = inner
                    .store
                    .delete_device_list(&from.to_non_ad().to_string())
                    .await;
            }
        }
        "devices" => {
            if let Some(from) = jid_attr(node, "from") {
                let _ = inner
                    .store
                    .delete_device_list(&from.to_non_ad().to_string())
                    .await;
            }
        }
        "link_code_companion_reg" => {
            if let Err(e) = crate::pairing::handle_code_notification(inner, node).await {
                warn!(error = %e, "phone-code pairing failed");
                inner.events.emit(Event::PairError {
                    reason: e.to_string(),
                });
            }
        }
        "w:gp2" => {
            let Some(group) = jid_attr(node, "from") else {
                return;
            };
            let author = jid_attr(node, "participant");
            for change in node.children() {
                let participants: Vec<Jid> = change
                    .children()
                    .iter()
                    .filter(|p| p.tag == "participant")
                    .filter_map(|p| jid_attr(p, "jid"))
                    .collect();
                if matches!(change.tag.as_str(), "remove" | "add") {
                    // Members changed: new devices need our sender key, removed ones must not
                    // keep it.
                    if change.tag == "remove" {
                        let name_owner = inner.own_jid().await.ok();
                        if let Some(own) = name_owner {
                            let name = SenderKeyName::new(group.to_string(), address_of(&own));
                            let _guard = inner.crypto_lock.lock().await;
                            let _ =
                                group::rotate(inner.store.as_ref(), &name, &mut rand::rngs::OsRng)
                                    .await;
                            let _ = inner
                                .store
                                .forget_sender_key_devices(&group.to_string())
                                .await;
                        }
                    }
                    for p in &participants {
                        let _ = inner
                            .store
                            .delete_device_list(&p.to_non_ad().to_string())
                            .await;
                    }
                }
                inner.events.emit(Event::GroupUpdate {
                    group: group.clone(),
                    author: author.clone(),
                    action: change.tag.as_str().to_owned(),
                    participants,
                });
            }
        }
        other => debug!(kind = other, "notification"),
    }
}

async fn handle_receipt(inner: &Arc<Inner>, node: &Node) {
    ack(inner, node, None);
    let Some(from) = jid_attr(node, "from") else {
        return;
    };
    let kind = ReceiptType::from_attr(node.attr("type"));
    if kind == ReceiptType::Retry
        && let Err(e) = inner.resend_for_retry(node).await
    {
        warn!(error = %e, "re-send after retry receipt failed");
    }
    let (chat, sender) = if from.is_group() {
        let sender = jid_attr(node, "participant").unwrap_or_else(|| from.clone());
        (from.clone(), sender)
    } else {
        let chat = jid_attr(node, "recipient").unwrap_or_else(|| from.to_non_ad());
        (chat.to_non_ad(), from.clone())
    };
    let mut ids: Vec<String> = node.attr("id").map(str::to_owned).into_iter().collect();
    if let Some(list) = node.child("list") {
        ids.extend(
            list.children()
                .iter()
                .filter_map(|i| i.attr("id").map(str::to_owned)),
        );
    }
    inner.events.emit(Event::Receipt(ReceiptEvent {
        ids,
        chat,
        sender,
        kind,
        timestamp: node
            .attr("t")
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(now_secs),
    }));
}

/// Whether a decrypted message carries anything besides key distribution and context.
fn has_content(message: &proto::Message) -> bool {
    let mut rest = message.clone();
    rest.sender_key_distribution_message = None;
    rest.message_context_info = None;
    rest != proto::Message::default()
}

async fn handle_message(inner: &Arc<Inner>, node: &Node) {
    let Ok(device) = inner.paired_device().await else {
        return;
    };
    let Some(own) = device.jid.clone() else {
        return;
    };
    let Some(from) = jid_attr(node, "from") else {
        ack(inner, node, Some("487"));
        return;
    };
    let id = node.attr("id").unwrap_or_default().to_owned();
    let is_group = from.is_group() || from.is_broadcast();
    let sender = if is_group {
        match jid_attr(node, "participant") {
            Some(p) => p,
            None => {
                ack(inner, node, Some("487"));
                return;
            }
        }
    } else {
        from.clone()
    };
    let own_lid_user = device.lid.as_ref().map(|l| l.user.clone());
    let from_me = sender.user == own.user || Some(&sender.user) == own_lid_user.as_ref();
    let mut chat = if is_group {
        from.to_non_ad()
    } else if from_me {
        jid_attr(node, "recipient")
            .unwrap_or_else(|| from.to_non_ad())
            .to_non_ad()
    } else {
        from.to_non_ad()
    };
    let address = address_of(&sender);
    let mut result: Option<proto::Message> = None;
    let mut failure: Option<SignalError> = None;
    {
        let _guard = inner.crypto_lock.lock().await;
        let mut rng = rand::rngs::OsRng;
        for enc in node.children().iter().filter(|c| c.tag == "enc") {
            let Some(bytes) = enc.content_bytes() else {
                continue;
            };
            let decrypted = match enc.attr("type") {
                Some("pkmsg") => {
                    session::decrypt_prekey_message(inner.store.as_ref(), &address, bytes, &mut rng)
                        .await
                }
                Some("msg") => {
                    session::decrypt_message(inner.store.as_ref(), &address, bytes, &mut rng).await
                }
                Some("skmsg") => {
                    let name = SenderKeyName::new(chat.to_string(), address.clone());
                    group::decrypt(inner.store.as_ref(), &name, bytes).await
                }
                _ => continue,
            };
            let plaintext = match decrypted {
                Ok(p) => p,
                Err(e) => {
                    debug!(error = %e, "decrypt failed");
                    failure = Some(e);
                    continue;
                }
            };
            let unpadded = if enc.attr("v") == Some("3") {
                plaintext.as_slice()
            } else {
                match unpad_message(&plaintext) {
                    Ok(u) => u,
                    Err(e) => {
                        failure = Some(e);
                        continue;
                    }
                }
            };
            let Ok(mut message) = proto::Message::decode(unpadded) else {
                failure = Some(SignalError::MissingField("Message protobuf"));
                continue;
            };
            if let Some(sent) = unwrap_device_sent(&message) {
                if from_me
                    && !sent.destination_jid.is_empty()
                    && let Ok(dest) = sent.destination_jid.parse::<Jid>()
                {
                    chat = dest.to_non_ad();
                }
                message = sent.message;
            }
            if let Some(skdm) = &message.sender_key_distribution_message
                && let Some(raw) = &skdm.axolotl_sender_key_distribution_message
            {
                match SenderKeyDistributionMessage::decode(raw) {
                    Ok(dist) => {
                        let group_id = skdm.group_id.clone().unwrap_or_else(|| chat.to_string());
                        let name = SenderKeyName::new(group_id, address.clone());
                        if let Err(e) =
                            group::process_distribution_message(inner.store.as_ref(), &name, &dist)
                                .await
                        {
                            debug!(error = %e, "sender key distribution refused");
                        }
                    }
                    Err(e) => debug!(error = %e, "bad sender key distribution"),
                }
            }
            if has_content(&message) {
                result = Some(message);
            }
        }
    }
    let sender_lid = sender_alt(node, &sender, "lid");
    let sender_pn = sender_alt(node, &sender, "pn");
    let info = MessageInfo {
        id: id.clone(),
        chat,
        sender,
        from_me,
        timestamp: node
            .attr("t")
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(now_secs),
        push_name: node.attr("notify").map(str::to_owned),
        is_group,
        offline: node.attr("offline").is_some(),
        sender_lid,
        sender_pn,
    };
    match (result, failure) {
        (Some(message), _) => {
            send_delivery_receipt(inner, node, from_me);
            inner.events.emit(Event::Message(Box::new(MessageEvent {
                info,
                content: MessageContent::from_proto(&message),
                raw: message,
            })));
        }
        (None, Some(error)) => {
            send_retry_receipt(inner, node).await;
            ack(inner, node, None);
            inner.events.emit(Event::UndecryptableMessage {
                info,
                error: error.to_string(),
            });
        }
        (None, None) => {
            // Only a key distribution (or nothing we understand): still delivered.
            send_delivery_receipt(inner, node, from_me);
        }
    }
}

fn send_delivery_receipt(inner: &Inner, message: &Node, from_me: bool) {
    let mut receipt = Node::new("receipt")
        .with_attr("id", message.attr("id").unwrap_or_default().to_owned())
        .with_attr("to", message.attr("from").unwrap_or_default().to_owned());
    for key in ["participant", "recipient"] {
        if let Some(v) = message.attr(key) {
            receipt = receipt.with_attr(key, v.to_owned());
        }
    }
    if from_me {
        receipt = receipt.with_attr("type", "sender");
    } else if message.attr("category") == Some("peer") {
        receipt = receipt.with_attr("type", "peer_msg");
    }
    let _ = inner.send_node(&receipt);
}

async fn send_retry_receipt(inner: &Arc<Inner>, message: &Node) {
    let id = message.attr("id").unwrap_or_default().to_owned();
    let count = match inner.store.bump_retry_count(&format!("recv/{id}")).await {
        Ok(c) => c,
        Err(_) => return,
    };
    if count > MAX_RETRIES {
        return;
    }
    let Ok(device) = inner.paired_device().await else {
        return;
    };
    let pre_key = match crate::keys::new_pre_keys(inner, 1).await {
        Ok(mut keys) => keys.pop(),
        Err(_) => None,
    };
    let mut keys = vec![
        Node::new("type").with_bytes(vec![5u8]),
        Node::new("identity").with_bytes(device.keys.identity.public.to_vec()),
    ];
    if let Some(pre_key) = &pre_key {
        keys.push(crate::keys::pre_key_node(pre_key));
    }
    keys.push(crate::keys::signed_pre_key_node(&device));
    if let Some(account) = &device.account {
        keys.push(Node::new("device-identity").with_bytes(account.clone()));
    }
    let mut receipt = Node::new("receipt")
        .with_attr("id", id.clone())
        .with_attr("to", message.attr("from").unwrap_or_default().to_owned())
        .with_attr("type", "retry");
    for key in ["participant", "recipient"] {
        if let Some(v) = message.attr(key) {
            receipt = receipt.with_attr(key, v.to_owned());
        }
    }
    let receipt = receipt.with_children(vec![
        Node::new("retry")
            .with_attr("count", count.to_string())
            .with_attr("id", id)
            .with_attr("t", message.attr("t").unwrap_or_default().to_owned())
            .with_attr("v", "1"),
        Node::new("registration").with_bytes(device.keys.registration_id.to_be_bytes().to_vec()),
        Node::new("keys").with_children(keys),
    ]);
    let _ = inner.send_node(&receipt);
}

/// The sender's user JID on the other addressing side (`which` = "lid" or "pn"): the sender
/// itself when it is already on that side, otherwise the server's hint attribute
/// (`participant_*` in groups, `sender_*` in 1:1 chats). Malformed hints are ignored.
fn sender_alt(node: &Node, sender: &Jid, which: &str) -> Option<Jid> {
    let want_lid = which == "lid";
    if (sender.server == wa_core::binary::Server::Lid) == want_lid {
        return Some(sender.to_non_ad());
    }
    let hint = if node.attr("participant").is_some() {
        node.attr(if want_lid {
            "participant_lid"
        } else {
            "participant_pn"
        })
    } else {
        node.attr(if want_lid { "sender_lid" } else { "sender_pn" })
    };
    let jid: Jid = hint?.parse().ok()?;
    let right_side = if want_lid {
        jid.server == wa_core::binary::Server::Lid
    } else {
        jid.server == wa_core::binary::Server::Pn
    };
    right_side.then(|| jid.to_non_ad())
}
