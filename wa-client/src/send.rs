//! Sending: one-to-one (every device of the peer, plus our own other devices as
//! `deviceSentMessage`) and groups (sender keys, distributed only to devices that lack ours),
//! waiting for the server's ack; re-sending to one device on a retry receipt.

use std::collections::{BTreeSet, HashSet};

use base64::Engine as _;
use prost::Message as _;
use tracing::{Instrument, debug, info_span};
use wa_core::Jid;
use wa_core::binary::Node;
use wa_core::crypto::sha256;
use wa_core::message::{MessageContent, new_message_id, wrap_device_sent};
use wa_core::proto::{self, message::protocol_message::Type as ProtocolType};
use wa_core::signal::{
    CiphertextKind, ProtocolAddress, SenderKeyName, group, pad_message, session,
};

use crate::client::{Inner, now_secs};
use crate::error::{Error, Result};
use crate::keys;

/// What the server said when it accepted a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResponse {
    /// The message id.
    pub id: String,
    /// The server timestamp (unix seconds).
    pub timestamp: u64,
}

pub(crate) fn address_of(jid: &Jid) -> ProtocolAddress {
    ProtocolAddress::from_jid_parts(&jid.user, jid.domain_type(), jid.device() as u32)
}

/// The stanza `type` attribute for a message.
pub(crate) fn stanza_type(message: &proto::Message) -> &'static str {
    if message.reaction_message.is_some() {
        "reaction"
    } else if message.poll_creation_message.is_some()
        || message.poll_creation_message_v2.is_some()
        || message.poll_creation_message_v3.is_some()
    {
        "poll"
    } else if media_type(message).is_some() {
        "media"
    } else {
        "text"
    }
}

/// The `mediatype` attribute of the enc nodes.
pub(crate) fn media_type(message: &proto::Message) -> Option<&'static str> {
    if message.image_message.is_some() {
        Some("image")
    } else if let Some(v) = &message.video_message {
        Some(if v.gif_playback == Some(true) {
            "gif"
        } else {
            "video"
        })
    } else if let Some(a) = &message.audio_message {
        Some(if a.ptt == Some(true) { "ptt" } else { "audio" })
    } else if message.document_message.is_some() {
        Some("document")
    } else if message.sticker_message.is_some() {
        Some("sticker")
    } else if message.contact_message.is_some() {
        Some("vcard")
    } else if message
        .extended_text_message
        .as_ref()
        .is_some_and(|e| e.title.is_some())
    {
        Some("url")
    } else {
        None
    }
}

/// The `edit` attribute: 1 for an edit, 7 for a revoke.
fn edit_attr(message: &proto::Message) -> Option<&'static str> {
    let p = message.protocol_message.as_ref()?;
    match p.r#type() {
        ProtocolType::Revoke => Some("7"),
        ProtocolType::MessageEdit => Some("1"),
        _ => None,
    }
}

/// `2:` + base64 of the first 6 bytes of SHA-256 over the sorted `user.agent:device@server`
/// forms of the recipient devices (protocol notes §10.4).
pub(crate) fn participant_hash(devices: &[Jid]) -> String {
    let mut forms: Vec<String> = devices
        .iter()
        .map(|d| {
            format!(
                "{}.{}:{}@{}",
                d.user,
                d.agent,
                d.device(),
                d.server.as_str()
            )
        })
        .collect();
    forms.sort();
    let hash = sha256(forms.concat().as_bytes());
    format!(
        "2:{}",
        base64::engine::general_purpose::STANDARD.encode(&hash[..6])
    )
}

fn enc_node(enc_type: &'static str, bytes: Vec<u8>, mediatype: Option<&str>) -> Node {
    let mut enc = Node::new("enc")
        .with_attr("v", "2")
        .with_attr("type", enc_type);
    if let Some(m) = mediatype {
        enc = enc.with_attr("mediatype", m.to_owned());
    }
    enc.with_bytes(bytes)
}

/// Makes sure we have a session with each of `devices`, fetching bundles for the others.
async fn ensure_sessions(inner: &Inner, devices: &[Jid]) -> Result<()> {
    let mut missing = Vec::new();
    for d in devices {
        if inner.store.load_session(&address_of(d)).await?.is_none() {
            missing.push(d.clone());
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let bundles = keys::fetch_bundles(inner, &missing).await?;
    let _guard = inner.crypto_lock.lock().await;
    for (jid, bundle) in bundles {
        if let Err(e) = session::process_prekey_bundle(
            inner.store.as_ref(),
            &address_of(&jid),
            &bundle,
            &mut rand::rngs::OsRng,
        )
        .await
        {
            debug!(jid = %jid, error = %e, "bundle refused");
        }
    }
    Ok(())
}

/// Encrypts `padded` for each device that has a session; returns `<to>` nodes and whether a
/// `pkmsg` is among them.
async fn encrypt_for(
    inner: &Inner,
    devices: &[(Jid, Vec<u8>)],
    mediatype: Option<&str>,
) -> Result<(Vec<Node>, bool)> {
    let mut nodes = Vec::with_capacity(devices.len());
    let mut any_pkmsg = false;
    for (jid, padded) in devices {
        let address = address_of(jid);
        match session::encrypt(inner.store.as_ref(), &address, padded).await {
            Ok(ct) => {
                any_pkmsg |= ct.kind == CiphertextKind::Pkmsg;
                nodes.push(
                    Node::new("to")
                        .with_attr("jid", jid.to_string())
                        .with_children(vec![enc_node(ct.kind.enc_type(), ct.bytes, mediatype)]),
                );
            }
            Err(e) => debug!(jid = %jid, error = %e, "skipping device"),
        }
    }
    Ok((nodes, any_pkmsg))
}

impl Inner {
    /// Sends `message` to `to` (a user or a group) with id `id`.
    pub(crate) async fn send_proto(
        &self,
        to: &Jid,
        message: &proto::Message,
        id: Option<String>,
    ) -> Result<SendResponse> {
        let device = self.paired_device().await?;
        let own = device.jid.clone().ok_or(Error::NotLoggedIn)?;
        let id = id
            .unwrap_or_else(|| new_message_id(&mut rand::rngs::OsRng, now_secs(), Some(&own.user)));
        let span = info_span!("send", id = %id, group = to.is_group());
        async {
            let ack = if to.is_group() {
                self.send_group(to, message, &id, &own, &device).await?
            } else {
                self.send_dm(to, message, &id, &own, &device).await?
            };
            let timestamp = ack
                .attr("t")
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(now_secs);
            self.store
                .put_sent_message(
                    &id,
                    &crate::store::SentMessage {
                        chat: to.to_non_ad().to_string(),
                        message: message.encode_to_vec(),
                        timestamp,
                    },
                )
                .await?;
            Ok(SendResponse { id, timestamp })
        }
        .instrument(span)
        .await
    }

    fn message_node(&self, to: &Jid, id: &str, message: &proto::Message) -> Node {
        let mut node = Node::new("message")
            .with_attr("to", to.to_string())
            .with_attr("id", id.to_owned())
            .with_attr("type", stanza_type(message));
        if let Some(edit) = edit_attr(message) {
            node = node.with_attr("edit", edit);
        }
        node
    }

    async fn send_dm(
        &self,
        to: &Jid,
        message: &proto::Message,
        id: &str,
        own: &Jid,
        device: &crate::store::Device,
    ) -> Result<Node> {
        let to = to.to_non_ad();
        let devices: Vec<Jid> = keys::user_devices(self, &[to.clone(), own.to_non_ad()])
            .await?
            .into_iter()
            .filter(|d| {
                !(d.user == own.user && d.device() == own.device() && d.server == own.server)
            })
            .collect();
        ensure_sessions(self, &devices).await?;
        let mut rng = rand::rngs::OsRng;
        let plain = pad_message(&message.encode_to_vec(), &mut rng);
        let wrapped = pad_message(
            &wrap_device_sent(message, &to.to_string(), None).encode_to_vec(),
            &mut rng,
        );
        let targets: Vec<(Jid, Vec<u8>)> = devices
            .into_iter()
            .map(|d| {
                let p = if d.user == own.user && d.server == own.server {
                    wrapped.clone()
                } else {
                    plain.clone()
                };
                (d, p)
            })
            .collect();
        let mediatype = media_type(message);
        let (participants, any_pkmsg) = {
            let _guard = self.crypto_lock.lock().await;
            encrypt_for(self, &targets, mediatype).await?
        };
        let mut children = vec![Node::new("participants").with_children(participants)];
        if any_pkmsg && let Some(account) = &device.account {
            children.push(Node::new("device-identity").with_bytes(account.clone()));
        }
        let node = self.message_node(&to, id, message).with_children(children);
        self.send_message_node(&node, id).await
    }

    async fn send_group(
        &self,
        group_jid: &Jid,
        message: &proto::Message,
        id: &str,
        own: &Jid,
        device: &crate::store::Device,
    ) -> Result<Node> {
        let info = self.group_info(group_jid).await?;
        let mut users: Vec<Jid> = info
            .participants
            .iter()
            .map(|p| p.jid.to_non_ad())
            .collect();
        users.push(own.to_non_ad());
        let devices: Vec<Jid> = keys::user_devices(self, &users)
            .await?
            .into_iter()
            .filter(|d| {
                !(d.user == own.user && d.device() == own.device() && d.server == own.server)
            })
            .collect();
        let group_id = group_jid.to_string();
        let name = SenderKeyName::new(group_id.clone(), address_of(own));
        let have: HashSet<String> = self
            .store
            .sender_key_devices(&group_id)
            .await?
            .into_iter()
            .collect();
        let needing: Vec<Jid> = devices
            .iter()
            .filter(|d| !have.contains(&d.to_string()))
            .cloned()
            .collect();
        ensure_sessions(self, &needing).await?;
        let mut rng = rand::rngs::OsRng;
        let mediatype = media_type(message);
        let (participants, any_pkmsg, skmsg) = {
            let _guard = self.crypto_lock.lock().await;
            let skdm =
                group::create_distribution_message(self.store.as_ref(), &name, &mut rng).await?;
            let skdm_message = proto::Message {
                sender_key_distribution_message: Some(
                    proto::message::SenderKeyDistributionMessage {
                        group_id: Some(group_id.clone()),
                        axolotl_sender_key_distribution_message: Some(skdm.encode().into()),
                    },
                ),
                ..Default::default()
            };
            let padded = pad_message(&skdm_message.encode_to_vec(), &mut rng);
            let targets: Vec<(Jid, Vec<u8>)> = needing
                .iter()
                .map(|d| (d.clone(), padded.clone()))
                .collect();
            let (participants, any_pkmsg) = encrypt_for(self, &targets, None).await?;
            let skmsg = group::encrypt(
                self.store.as_ref(),
                &name,
                &pad_message(&message.encode_to_vec(), &mut rng),
                &mut rng,
            )
            .await?;
            (participants, any_pkmsg, skmsg)
        };
        let distributed: Vec<String> = participants
            .iter()
            .filter_map(|p| p.attr("jid").map(str::to_owned))
            .collect();
        let mut children = Vec::new();
        if !participants.is_empty() {
            children.push(Node::new("participants").with_children(participants));
        }
        if any_pkmsg && let Some(account) = &device.account {
            children.push(Node::new("device-identity").with_bytes(account.clone()));
        }
        children.push(enc_node("skmsg", skmsg, mediatype));
        let node = self
            .message_node(group_jid, id, message)
            .with_attr("phash", participant_hash(&devices))
            .with_children(children);
        let ack = self.send_message_node(&node, id).await?;
        self.store
            .mark_sender_key_devices(&group_id, &distributed)
            .await?;
        Ok(ack)
    }

    /// Answers a retry receipt from `device` for message `id`: re-encrypts it for that device
    /// alone (with a new session when the receipt carries keys).
    pub(crate) async fn resend_for_retry(&self, receipt: &Node) -> Result<()> {
        let id = receipt.attr("id").unwrap_or_default().to_owned();
        let Some(sent) = self.store.sent_message(&id).await? else {
            debug!(id, "retry for a message we do not have");
            return Ok(());
        };
        let from: Jid = receipt
            .attr_jid("from")
            .and_then(|j| j.ok())
            .ok_or_else(|| Error::protocol("retry receipt without from"))?;
        let participant = receipt.attr_jid("participant").and_then(|j| j.ok());
        let is_group = from.is_group();
        let target = if is_group {
            participant
                .clone()
                .ok_or_else(|| Error::protocol("group retry without participant"))?
        } else {
            from.clone()
        };
        let count: u32 = receipt
            .child("retry")
            .and_then(|r| r.attr("count"))
            .and_then(|c| c.parse().ok())
            .unwrap_or(1);
        if self
            .store
            .bump_retry_count(&format!("{id}/{target}"))
            .await?
            > 10
        {
            return Ok(());
        }
        let device = self.paired_device().await?;
        let own = device.jid.clone().ok_or(Error::NotLoggedIn)?;
        let address = address_of(&target);
        if receipt.child("keys").is_some() {
            let registration = receipt
                .child("registration")
                .and_then(|r| r.content_bytes())
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_be_bytes);
            let bundle = keys::parse_bundle(receipt, registration, target.device() as u32)?;
            let _guard = self.crypto_lock.lock().await;
            session::process_prekey_bundle(
                self.store.as_ref(),
                &address,
                &bundle,
                &mut rand::rngs::OsRng,
            )
            .await?;
        } else {
            ensure_sessions(self, std::slice::from_ref(&target)).await?;
        }
        let mut message = proto::Message::decode(sent.message.as_slice())
            .map_err(|e| Error::protocol(e.to_string()))?;
        let mut rng = rand::rngs::OsRng;
        let _guard = self.crypto_lock.lock().await;
        if is_group {
            let name = SenderKeyName::new(sent.chat.clone(), address_of(&own));
            let skdm =
                group::create_distribution_message(self.store.as_ref(), &name, &mut rng).await?;
            message.sender_key_distribution_message =
                Some(proto::message::SenderKeyDistributionMessage {
                    group_id: Some(sent.chat.clone()),
                    axolotl_sender_key_distribution_message: Some(skdm.encode().into()),
                });
        } else if target.user == own.user && target.server == own.server {
            message = wrap_device_sent(&message, &sent.chat, None);
        }
        let ct = session::encrypt(
            self.store.as_ref(),
            &address,
            &pad_message(&message.encode_to_vec(), &mut rng),
        )
        .await?;
        drop(_guard);
        let mut enc = enc_node(ct.kind.enc_type(), ct.bytes, media_type(&message));
        enc = enc.with_attr("count", count.to_string());
        let mut node = Node::new("message")
            .with_attr(
                "to",
                if is_group {
                    from.to_string()
                } else {
                    target.to_string()
                },
            )
            .with_attr("id", id.clone())
            .with_attr("type", stanza_type(&message))
            .with_attr("t", sent.timestamp.to_string());
        if is_group {
            node = node.with_attr("participant", target.to_string());
        } else {
            node = node.with_attr("device_fanout", "false");
        }
        let mut children = vec![enc];
        if ct.kind == CiphertextKind::Pkmsg
            && let Some(account) = &device.account
        {
            children.push(Node::new("device-identity").with_bytes(account.clone()));
        }
        self.send_node(&node.with_children(children))?;
        Ok(())
    }
}

/// Distinct user JIDs of devices.
#[allow(dead_code)]
pub(crate) fn users_of(devices: &[Jid]) -> BTreeSet<String> {
    devices.iter().map(|d| d.to_non_ad().to_string()).collect()
}

impl crate::Client {
    /// Sends a text message.
    pub async fn send_text(&self, to: &Jid, text: &str) -> Result<SendResponse> {
        self.send(to, MessageContent::from(text)).await
    }

    /// Sends any content (text, media with its upload fields filled, location, contact,
    /// reaction, edit, revoke, poll, …) to a user or a group; returns once the server acked.
    pub async fn send(&self, to: &Jid, content: MessageContent) -> Result<SendResponse> {
        self.inner.send_proto(to, &content.to_proto(), None).await
    }

    /// Sends a raw `Message` protobuf.
    pub async fn send_message(&self, to: &Jid, message: proto::Message) -> Result<SendResponse> {
        self.inner.send_proto(to, &message, None).await
    }

    /// Sends with a caller-chosen message id (e.g. for idempotent retries).
    pub async fn send_with_id(
        &self,
        to: &Jid,
        content: MessageContent,
        id: String,
    ) -> Result<SendResponse> {
        self.inner
            .send_proto(to, &content.to_proto(), Some(id))
            .await
    }

    /// Marks messages of `chat` as read (`sender`: the author, for groups).
    pub async fn mark_read(&self, chat: &Jid, sender: Option<&Jid>, ids: &[String]) -> Result<()> {
        let Some((first, rest)) = ids.split_first() else {
            return Ok(());
        };
        let mut node = Node::new("receipt")
            .with_attr("id", first.clone())
            .with_attr("to", chat.to_non_ad().to_string())
            .with_attr("type", "read")
            .with_attr("t", now_secs().to_string());
        if let Some(sender) = sender {
            node = node.with_attr("participant", sender.to_string());
        }
        if !rest.is_empty() {
            node = node.with_children(vec![
                Node::new("list").with_children(
                    rest.iter()
                        .map(|id| Node::new("item").with_attr("id", id.clone()))
                        .collect(),
                ),
            ]);
        }
        self.inner.send_node(&node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participant_hash_matches_the_reference_vectors() {
        let one: Jid = "5511999999999:3@s.whatsapp.net".parse().unwrap();
        assert_eq!(participant_hash(&[one]), "2:5s+YxCff");
        let a: Jid = "5511988887777:14@s.whatsapp.net".parse().unwrap();
        let b: Jid = "7469250125917:21@s.whatsapp.net".parse().unwrap();
        assert_eq!(participant_hash(&[b, a]), "2:AAv/hwhn");
    }

    #[test]
    fn stanza_types_follow_the_content() {
        let text = MessageContent::from("hi").to_proto();
        assert_eq!(stanza_type(&text), "text");
        assert_eq!(media_type(&text), None);
        let voice = proto::Message {
            audio_message: Some(Box::new(proto::message::AudioMessage {
                ptt: Some(true),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(stanza_type(&voice), "media");
        assert_eq!(media_type(&voice), Some("ptt"));
    }
}
