//! The companion side of pairing as the server sees it: `pair-device-sign` after a QR
//! scan, the phone-code stages (`companion_hello`, `companion_finish`), and registering the
//! new device (device list, notifications, then stream error 515).

use std::collections::VecDeque;

use rand::rngs::OsRng;
use wa_core::binary::{Jid, Node};
use wa_core::pair::{RegistrationData, verify_pair_device_sign};

use crate::SandboxError;
use crate::conn::{Close, Conn, Reply};
use crate::server::{Shared, now};
use crate::stanza::{iq_error, iq_result};
use crate::world::{CodePairing, DeviceRecord, World};

/// Stanzas of a connection that registered and waits to be paired.
pub(crate) fn handle_registering(conn: &mut Conn, node: &Node) -> Result<Vec<Reply>, Close> {
    if node.tag.as_str() != "iq" {
        return Ok(Vec::new());
    }
    let shared = conn.shared.clone();
    if let Some(sign) = node.child("pair-device-sign") {
        return pair_device_sign(&shared, conn.id, node, sign);
    }
    if let Some(reg) = node.child("link_code_companion_reg") {
        return Ok(vec![Reply::Node(link_code(&shared, conn.id, node, reg))]);
    }
    match node.attr("type") {
        Some("get") | Some("set") => Ok(vec![Reply::Node(iq_result(node))]),
        _ => Ok(Vec::new()),
    }
}

fn pair_device_sign(
    shared: &Shared,
    conn_id: u64,
    iq: &Node,
    sign: &Node,
) -> Result<Vec<Reply>, Close> {
    let mut w = shared.world();
    let Some(reg) = w.registrations.get_mut(&conn_id) else {
        return Err(Close::Protocol(400));
    };
    let Some(mut granted) = reg.granted.take() else {
        return Err(Close::Protocol(400));
    };
    if iq.attr("id") != Some(granted.iq_id.as_str()) {
        reg.granted = Some(granted);
        return Ok(Vec::new());
    }
    let registration = reg.registration.clone();
    let noise_public = reg.noise_public;
    let done = granted.done.take();
    let phone_identity = match w.accounts.get(&granted.phone_number) {
        Some(a) => a.phone.identity_public(),
        None => return Err(Close::Protocol(500)),
    };
    let verified = sign
        .child("device-identity")
        .and_then(|d| d.content_bytes())
        .ok_or_else(|| "pair-device-sign without device-identity".to_string())
        .and_then(|bytes| {
            verify_pair_device_sign(bytes, &phone_identity, &registration.identity)
                .map_err(|e| e.to_string())
        });
    let (signed, _) = match verified {
        Ok(v) => v,
        Err(e) => {
            if let Some(done) = done {
                let _ = done.send(Err(e));
            }
            return Err(Close::Protocol(401));
        }
    };
    use prost::Message as _;
    let record = device_record(
        &registration,
        noise_public,
        granted.key_index,
        signed.encode_to_vec(),
    );
    let jid = add_device(
        &mut w,
        shared,
        &granted.phone_number,
        granted.device,
        record,
    );
    drop(w);
    shared.save_state();
    if let Some(done) = done {
        let _ = done.send(Ok(jid));
    }
    Ok(vec![Reply::Close(Close::Protocol(515))])
}

fn device_record(
    reg: &RegistrationData,
    noise_public: [u8; 32],
    key_index: u32,
    signed_identity: Vec<u8>,
) -> DeviceRecord {
    DeviceRecord {
        noise_public,
        registration_id: reg.registration_id,
        identity: reg.identity,
        signed_pre_key_id: reg.signed_pre_key_id,
        signed_pre_key: reg.signed_pre_key,
        signed_pre_key_signature: reg.signed_pre_key_signature,
        pre_keys: VecDeque::new(),
        key_index,
        signed_identity,
        platform: reg.device_props.os.clone().unwrap_or_default(),
        offline: VecDeque::new(),
    }
}

/// Adds a device to an account and tells the account's other devices (and group peers).
fn add_device(
    w: &mut World,
    shared: &Shared,
    number: &str,
    device: u16,
    record: DeviceRecord,
) -> Jid {
    let key_index = record.key_index;
    if let Some(a) = w.accounts.get_mut(number) {
        a.devices.insert(device, record);
    }
    let jid = Jid::pn_device(number, device);
    let note = |id: String| {
        Node::new("notification")
            .with_attr("from", Jid::pn(number).to_string())
            .with_attr("type", "devices")
            .with_attr("id", id)
            .with_attr("t", now().to_string())
            .with_children(vec![Node::new("add").with_children(vec![
                Node::new("device")
                    .with_attr("jid", jid.to_string())
                    .with_attr("key-index", key_index.to_string()),
            ])])
    };
    for (n, d) in crate::stanza::interested_devices(w, number) {
        if (n.as_str(), d) != (number, device) && d != 0 {
            w.deliver(&n, d, note(shared.stanza_id()));
        }
    }
    jid
}

/// Registers a companion without pairing over the wire (load tests, fixtures).
pub(crate) fn register_direct(
    shared: &Shared,
    number: &str,
    noise_public: [u8; 32],
    reg: &RegistrationData,
) -> Result<Jid, SandboxError> {
    let mut w = shared.world();
    let account = w
        .accounts
        .get_mut(number)
        .ok_or_else(|| SandboxError::NoSuchAccount(number.to_owned()))?;
    let device = account.next_device;
    let key_index = account.next_key_index;
    account.next_device = account.next_device.checked_add(1).unwrap_or(1);
    account.next_key_index += 1;
    let record = device_record(reg, noise_public, key_index, Vec::new());
    Ok(add_device(&mut w, shared, number, device, record))
}

fn link_code(shared: &Shared, conn_id: u64, iq: &Node, reg_node: &Node) -> Node {
    let bytes = |tag: &str| {
        reg_node
            .child(tag)
            .and_then(|c| c.content_bytes())
            .map(<[u8]>::to_vec)
    };
    let mut w = shared.world();
    match reg_node.attr("stage") {
        Some("companion_hello") => {
            let number = reg_node
                .attr_jid("jid")
                .and_then(Result::ok)
                .map(|j| j.user)
                .unwrap_or_default();
            let Some(wrapped) = bytes("link_code_pairing_wrapped_companion_ephemeral_pub") else {
                return iq_error(iq, 400, "bad-request");
            };
            if !w.accounts.contains_key(&number) {
                return iq_error(iq, 404, "item-not-found");
            }
            let pairing_ref = format!("{}", rand::Rng::r#gen::<u64>(&mut OsRng));
            let Some(reg) = w.registrations.get_mut(&conn_id) else {
                return iq_error(iq, 500, "internal-server-error");
            };
            reg.code = Some(CodePairing {
                phone_number: number,
                pairing_ref: pairing_ref.clone(),
                wrapped_companion_ephemeral: wrapped,
                primary: None,
                done: None,
            });
            iq_result(iq).with_children(vec![Node::new("link_code_companion_reg").with_children(
                vec![Node::new("link_code_pairing_ref").with_bytes(pairing_ref.into_bytes())],
            )])
        }
        Some("companion_finish") => {
            let Some(bundle) = bytes("link_code_pairing_wrapped_key_bundle") else {
                return iq_error(iq, 400, "bad-request");
            };
            let Some(reg) = w.registrations.get_mut(&conn_id) else {
                return iq_error(iq, 500, "internal-server-error");
            };
            let identity = reg.registration.identity;
            let Some(code) = reg.code.as_mut() else {
                return iq_error(iq, 400, "bad-request");
            };
            let number = code.phone_number.clone();
            let done = code.done.take();
            let Some(primary) = code.primary.take() else {
                return iq_error(iq, 400, "bad-request");
            };
            let Some(phone) = w.accounts.get(&number).map(|a| a.phone.clone()) else {
                return iq_error(iq, 404, "item-not-found");
            };
            let finished = match primary.finish(&phone.inner.identity, &bundle) {
                Ok(f) if f.companion_identity == identity => f,
                _ => {
                    if let Some(done) = done {
                        let _ = done.send(Err("companion_finish did not verify".into()));
                    }
                    return iq_error(iq, 401, "not-authorized");
                }
            };
            let (tx, rx) = tokio::sync::oneshot::channel();
            let result = iq_result(iq);
            if shared
                .grant(&mut w, &phone, conn_id, finished.adv_secret, tx)
                .is_err()
            {
                return iq_error(iq, 500, "internal-server-error");
            }
            if let Some(done) = done {
                tokio::spawn(async move {
                    let r = rx.await.unwrap_or(Err("companion disconnected".into()));
                    let _ = done.send(r);
                });
            }
            result
        }
        _ => iq_result(iq),
    }
}
