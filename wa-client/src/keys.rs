//! Keys on the server: our prekey uploads (initial and refill), other devices' prekey
//! bundles, and device lists (usync) with their cache.

use std::collections::BTreeSet;

use tracing::{debug, info};
use wa_core::Jid;
use wa_core::binary::Node;
use wa_core::signal::{PreKeyBundle, PreKeyRecord, PublicKey, generate_pre_keys};

use crate::client::Inner;
use crate::error::{Error, Result};

/// Fewer prekeys than this on the server triggers an upload.
pub(crate) const MIN_PRE_KEYS: u32 = 5;

fn bytes_node(tag: &'static str, bytes: impl Into<Vec<u8>>) -> Node {
    Node::new(tag).with_bytes(bytes.into())
}

fn id3(id: u32) -> Vec<u8> {
    id.to_be_bytes()[1..].to_vec()
}

/// `<key><id/><value/></key>` for one prekey.
pub(crate) fn pre_key_node(record: &PreKeyRecord) -> Node {
    Node::new("key").with_children(vec![
        bytes_node("id", id3(record.id)),
        bytes_node("value", record.key_pair.public.to_vec()),
    ])
}

/// `<skey><id/><value/><signature/></skey>` for our signed prekey.
pub(crate) fn signed_pre_key_node(device: &crate::store::Device) -> Node {
    let spk = &device.keys.signed_pre_key;
    Node::new("skey").with_children(vec![
        bytes_node("id", id3(spk.id)),
        bytes_node("value", spk.key_pair.public.to_vec()),
        bytes_node("signature", spk.signature.to_vec()),
    ])
}

/// Generates `count` new prekeys, stores them, advances the device's counter.
pub(crate) async fn new_pre_keys(inner: &Inner, count: u32) -> Result<Vec<PreKeyRecord>> {
    let mut device = inner.paired_device().await?;
    let keys = generate_pre_keys(device.next_pre_key_id, count, &mut rand::rngs::OsRng);
    inner.store.store_pre_keys(&keys).await?;
    if let Some(last) = keys.last() {
        device.next_pre_key_id = last.id % wa_core::signal::MAX_PRE_KEY_ID + 1;
    }
    inner.store.save_device(&device).await?;
    Ok(keys)
}

/// How many of our prekeys the server still has.
pub(crate) async fn server_pre_key_count(inner: &Inner) -> Result<u32> {
    let answer = inner
        .iq(Node::new("iq")
            .with_attr("to", "s.whatsapp.net")
            .with_attr("type", "get")
            .with_attr("xmlns", "encrypt")
            .with_children(vec![Node::new("count")]))
        .await?;
    Ok(answer
        .child("count")
        .and_then(|c| c.attr("value"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// Uploads `count` fresh prekeys.
pub(crate) async fn upload_pre_keys(inner: &Inner, count: u32) -> Result<()> {
    let keys = new_pre_keys(inner, count).await?;
    let device = inner.paired_device().await?;
    let iq = Node::new("iq")
        .with_attr("to", "s.whatsapp.net")
        .with_attr("type", "set")
        .with_attr("xmlns", "encrypt")
        .with_children(vec![
            bytes_node(
                "registration",
                device.keys.registration_id.to_be_bytes().to_vec(),
            ),
            bytes_node("type", vec![5u8]),
            bytes_node("identity", device.keys.identity.public.to_vec()),
            Node::new("list").with_children(keys.iter().map(pre_key_node).collect()),
            signed_pre_key_node(&device),
        ]);
    inner.iq(iq).await?;
    info!(count, "uploaded prekeys");
    Ok(())
}

/// Uploads prekeys when the server holds fewer than [`MIN_PRE_KEYS`].
pub(crate) async fn ensure_pre_keys(inner: &Inner) -> Result<()> {
    let count = server_pre_key_count(inner).await?;
    debug!(count, "server prekey count");
    if count < MIN_PRE_KEYS {
        let n = if count == 0 {
            inner.config.initial_pre_keys
        } else {
            inner.config.refill_pre_keys
        };
        upload_pre_keys(inner, n.max(MIN_PRE_KEYS)).await?;
    }
    Ok(())
}

fn fixed<const N: usize>(node: &Node, tag: &str) -> Result<[u8; N]> {
    node.child(tag)
        .and_then(|c| c.content_bytes())
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(|| Error::protocol(format!("bundle field {tag} missing or malformed")))
}

fn id_from(node: &Node) -> Result<u32> {
    let b: [u8; 3] = fixed(node, "id")?;
    Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
}

/// Parses one `<user>` (or `<keys>`) of a prekey bundle answer or retry receipt.
pub(crate) fn parse_bundle(
    node: &Node,
    registration: Option<u32>,
    device: u32,
) -> Result<PreKeyBundle> {
    // The retry-receipt shape wraps the fields in <keys>.
    let fields = node.child("keys").unwrap_or(node);
    let registration_id = match registration {
        Some(r) => r,
        None => u32::from_be_bytes(fixed(node, "registration")?),
    };
    let identity: [u8; 32] = fixed(fields, "identity")?;
    let skey = fields
        .child("skey")
        .ok_or_else(|| Error::protocol("bundle without skey"))?;
    let pre_key = match fields.child("key") {
        Some(key) => Some((id_from(key)?, PublicKey::from_bytes(fixed(key, "value")?))),
        None => None,
    };
    Ok(PreKeyBundle {
        registration_id,
        device_id: device,
        pre_key,
        signed_pre_key_id: id_from(skey)?,
        signed_pre_key: PublicKey::from_bytes(fixed(skey, "value")?),
        signed_pre_key_signature: fixed(skey, "signature")?,
        identity_key: PublicKey::from_bytes(identity),
    })
}

/// Fetches prekey bundles for `devices`; devices the server has no bundle for are left out.
pub(crate) async fn fetch_bundles(
    inner: &Inner,
    devices: &[Jid],
) -> Result<Vec<(Jid, PreKeyBundle)>> {
    if devices.is_empty() {
        return Ok(Vec::new());
    }
    let users = devices
        .iter()
        .map(|d| {
            Node::new("user")
                .with_attr("jid", d.to_string())
                .with_attr("reason", "identity")
        })
        .collect();
    let answer = inner
        .iq(Node::new("iq")
            .with_attr("to", "s.whatsapp.net")
            .with_attr("type", "get")
            .with_attr("xmlns", "encrypt")
            .with_children(vec![Node::new("key").with_children(users)]))
        .await?;
    let mut out = Vec::new();
    let list = answer
        .child("list")
        .map(|l| l.children())
        .unwrap_or_default();
    for user in list.iter().filter(|u| u.tag == "user") {
        let Some(Ok(jid)) = user.attr_jid("jid") else {
            continue;
        };
        if user.child("error").is_some() {
            debug!(jid = %jid, "no bundle");
            continue;
        }
        match parse_bundle(user, None, jid.device() as u32) {
            Ok(bundle) => out.push((jid, bundle)),
            Err(e) => debug!(jid = %jid, error = %e, "bad bundle"),
        }
    }
    Ok(out)
}

/// The JID of device `id` of `user` (device 0 is the bare user JID, as on the wire).
pub(crate) fn device_jid(user: &Jid, id: u16) -> Jid {
    if id == 0 {
        user.to_non_ad()
    } else {
        user.to_non_ad().with_device(id)
    }
}

/// All devices of `users` (cached, else by usync).
pub(crate) async fn user_devices(inner: &Inner, users: &[Jid]) -> Result<Vec<Jid>> {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    let unique: BTreeSet<String> = users.iter().map(|u| u.to_non_ad().to_string()).collect();
    for user in unique {
        match inner.store.device_list(&user).await? {
            Some(ids) => {
                let jid: Jid = user
                    .parse()
                    .map_err(|_| Error::protocol("bad cached jid"))?;
                out.extend(ids.iter().map(|&id| device_jid(&jid, id)));
            }
            None => missing.push(user),
        }
    }
    if missing.is_empty() {
        return Ok(out);
    }
    let sid = inner.next_id();
    let list = missing
        .iter()
        .map(|u| Node::new("user").with_attr("jid", u.clone()))
        .collect();
    let answer = inner
        .iq(Node::new("iq")
            .with_attr("to", "s.whatsapp.net")
            .with_attr("type", "get")
            .with_attr("xmlns", "usync")
            .with_children(vec![
                Node::new("usync")
                    .with_attr("sid", sid)
                    .with_attr("mode", "query")
                    .with_attr("last", "true")
                    .with_attr("index", "0")
                    .with_attr("context", "message")
                    .with_children(vec![
                        Node::new("query")
                            .with_children(vec![Node::new("devices").with_attr("version", "2")]),
                        Node::new("list").with_children(list),
                    ]),
            ]))
        .await?;
    let users = answer
        .child("usync")
        .and_then(|u| u.child("list"))
        .map(|l| l.children())
        .unwrap_or_default();
    for user in users.iter().filter(|u| u.tag == "user") {
        let Some(Ok(jid)) = user.attr_jid("jid") else {
            continue;
        };
        let Some(device_list) = user.child("devices").and_then(|d| d.child("device-list")) else {
            continue;
        };
        let ids: Vec<u16> = device_list
            .children()
            .iter()
            .filter(|d| d.tag == "device")
            .filter_map(|d| d.attr("id")?.parse().ok())
            .collect();
        inner
            .store
            .put_device_list(&jid.to_non_ad().to_string(), &ids)
            .await?;
        out.extend(ids.iter().map(|&id| device_jid(&jid, id)));
    }
    Ok(out)
}
