//! Stanzas from logged-in devices: IQs (prekeys, usync, media_conn, groups, pings, and a
//! well-formed empty result for everything else), messages, receipts, presence, chat state.

use wa_core::binary::{Jid, Node};

use crate::conn::{Close, Reply};
use crate::server::{Shared, now};
use crate::world::{MAX_PREKEYS, World};

/// `<iq type="result" id=… from="s.whatsapp.net"/>` answering `iq`.
pub(crate) fn iq_result(iq: &Node) -> Node {
    let mut n = Node::new("iq")
        .with_attr("from", iq.attr("to").unwrap_or("s.whatsapp.net").to_owned())
        .with_attr("type", "result");
    if let Some(id) = iq.attr("id") {
        n = n.with_attr("id", id.to_owned());
    }
    n
}

/// `<iq type="error"><error code text/></iq>` answering `iq`.
pub(crate) fn iq_error(iq: &Node, code: u16, text: &str) -> Node {
    let mut n = Node::new("iq")
        .with_attr("from", iq.attr("to").unwrap_or("s.whatsapp.net").to_owned())
        .with_attr("type", "error");
    if let Some(id) = iq.attr("id") {
        n = n.with_attr("id", id.to_owned());
    }
    n.with_children(vec![
        Node::new("error")
            .with_attr("code", code.to_string())
            .with_attr("text", text.to_owned()),
    ])
}

/// Every device (of any account) that should hear about changes to `number`'s devices:
/// the account's own devices and those of everyone sharing a group with it.
pub(crate) fn interested_devices(w: &World, number: &str) -> Vec<(String, u16)> {
    let mut users = vec![number.to_owned()];
    for g in w.groups.values() {
        if g.participants.iter().any(|(p, _)| p == number) {
            for (p, _) in &g.participants {
                if !users.contains(p) {
                    users.push(p.clone());
                }
            }
        }
    }
    users
        .iter()
        .flat_map(|u| {
            w.accounts
                .get(u)
                .map(|a| {
                    a.devices
                        .keys()
                        .map(|d| (u.clone(), *d))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
        .collect()
}

/// Handles one stanza from device `device` of account `number`.
pub(crate) fn handle(
    shared: &Shared,
    number: &str,
    device: u16,
    node: Node,
) -> Result<Vec<Reply>, Close> {
    match node.tag.as_str() {
        "iq" => Ok(handle_iq(shared, number, device, &node)
            .into_iter()
            .map(Reply::Node)
            .collect()),
        "message" => {
            let ack = crate::route::route_message(shared, number, device, &node)?;
            Ok(vec![Reply::Node(ack)])
        }
        "receipt" => {
            shared.route_receipt(number, device, &node);
            let mut ack = Node::new("ack").with_attr("class", "receipt");
            for key in ["id", "to", "type", "participant"] {
                if let Some(v) = node.attr(key) {
                    let k = if key == "to" { "from" } else { key };
                    ack = ack.with_attr(k, v.to_owned());
                }
            }
            Ok(vec![Reply::Node(ack)])
        }
        "presence" => Ok(crate::presence::presence(shared, number, device, &node)
            .into_iter()
            .map(Reply::Node)
            .collect()),
        "chatstate" => {
            crate::presence::chatstate(shared, number, &node);
            Ok(Vec::new())
        }
        // Acks of what we sent, telemetry, offline batches: nothing to do.
        _ => Ok(Vec::new()),
    }
}

fn handle_iq(shared: &Shared, number: &str, device: u16, iq: &Node) -> Option<Node> {
    match iq.attr("type") {
        Some("get") | Some("set") => {}
        // Results/errors answering our own IQs (e.g. server pings).
        _ => return None,
    }
    let reply = match iq.attr("xmlns") {
        Some("encrypt") => encrypt(shared, number, device, iq),
        Some("usync") => usync(shared, iq),
        Some("w:m") => media_conn(shared, iq),
        Some("w:g2") => crate::groups::iq(shared, number, device, iq),
        Some("md") => md(shared, number, device, iq),
        _ => iq_result(iq),
    };
    Some(reply)
}

fn be(bytes: Option<&[u8]>) -> Option<u32> {
    let b = bytes?;
    if b.is_empty() || b.len() > 4 {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, x| (acc << 8) | u32::from(*x)))
}

fn key32(node: Option<&Node>) -> Option<[u8; 32]> {
    node?.content_bytes()?.try_into().ok()
}

fn encrypt(shared: &Shared, number: &str, device: u16, iq: &Node) -> Node {
    if iq.child("count").is_some() {
        let w = shared.world();
        let n = w
            .accounts
            .get(number)
            .and_then(|a| a.devices.get(&device))
            .map(|r| r.pre_keys.len())
            .unwrap_or(0);
        return iq_result(iq)
            .with_children(vec![Node::new("count").with_attr("value", n.to_string())]);
    }
    if let Some(key) = iq.child("key") {
        return fetch_bundles(shared, iq, key);
    }
    if iq.child("digest").is_some() {
        let w = shared.world();
        let Some(r) = w.accounts.get(number).and_then(|a| a.devices.get(&device)) else {
            return iq_error(iq, 404, "item-not-found");
        };
        let ids = r
            .pre_keys
            .iter()
            .map(|(id, _)| Node::new("id").with_bytes(id.to_be_bytes()[1..].to_vec()))
            .collect();
        return iq_result(iq).with_children(vec![Node::new("digest").with_children(vec![
            Node::new("registration").with_bytes(r.registration_id.to_be_bytes().to_vec()),
            Node::new("type").with_bytes(vec![5u8]),
            Node::new("identity").with_bytes(r.identity.to_vec()),
            skey_node(
                r.signed_pre_key_id,
                &r.signed_pre_key,
                &r.signed_pre_key_signature,
            ),
            Node::new("list").with_children(ids),
            Node::new("hash").with_bytes(wa_core::crypto::sha256(&r.identity)[..20].to_vec()),
        ])]);
    }
    // Upload (`<registration>… <list>… <skey>…`) or signed prekey rotation (`<rotate><skey>`).
    let skey_parent = iq.child("rotate").unwrap_or(iq);
    let mut w = shared.world();
    let Some(record) = w
        .accounts
        .get_mut(number)
        .and_then(|a| a.devices.get_mut(&device))
    else {
        return iq_error(iq, 404, "item-not-found");
    };
    if let Some(skey) = skey_parent.child("skey") {
        let id = be(skey.child("id").and_then(|n| n.content_bytes()));
        let value = key32(skey.child("value"));
        let sig: Option<[u8; 64]> = skey
            .child("signature")
            .and_then(|n| n.content_bytes())
            .and_then(|b| b.try_into().ok());
        match (id, value, sig) {
            (Some(id), Some(v), Some(s)) => {
                record.signed_pre_key_id = id;
                record.signed_pre_key = v;
                record.signed_pre_key_signature = s;
            }
            _ => return iq_error(iq, 400, "bad-request"),
        }
    }
    if let Some(identity) = key32(iq.child("identity"))
        && identity != record.identity
    {
        return iq_error(iq, 406, "not-acceptable");
    }
    if let Some(reg) = be(iq.child("registration").and_then(|n| n.content_bytes())) {
        record.registration_id = reg;
    }
    if let Some(list) = iq.child("list") {
        for key in list.children_by_tag("key") {
            let id = be(key.child("id").and_then(|n| n.content_bytes()));
            let value = key32(key.child("value"));
            if let (Some(id), Some(v)) = (id, value) {
                if record.pre_keys.len() >= MAX_PREKEYS {
                    record.pre_keys.pop_front();
                }
                record.pre_keys.retain(|(i, _)| *i != id);
                record.pre_keys.push_back((id, v));
            }
        }
    }
    drop(w);
    iq_result(iq)
}

fn skey_node(id: u32, value: &[u8; 32], sig: &[u8; 64]) -> Node {
    Node::new("skey").with_children(vec![
        Node::new("id").with_bytes(id.to_be_bytes()[1..].to_vec()),
        Node::new("value").with_bytes(value.to_vec()),
        Node::new("signature").with_bytes(sig.to_vec()),
    ])
}

fn fetch_bundles(shared: &Shared, iq: &Node, key: &Node) -> Node {
    let mut users = Vec::new();
    for user in key.children_by_tag("user").take(1024) {
        let Some(jid_text) = user.attr("jid") else {
            continue;
        };
        let jid: Option<Jid> = jid_text.parse().ok();
        let bundle = jid.as_ref().and_then(|j| shared.take_bundle(j));
        let mut out = Node::new("user").with_attr("jid", jid_text.to_owned());
        match bundle {
            Some(b) => {
                let mut children = vec![
                    Node::new("registration").with_bytes(b.registration_id.to_be_bytes().to_vec()),
                    Node::new("type").with_bytes(vec![5u8]),
                    Node::new("identity").with_bytes(b.identity_key.as_bytes().to_vec()),
                    skey_node(
                        b.signed_pre_key_id,
                        b.signed_pre_key.as_bytes(),
                        &b.signed_pre_key_signature,
                    ),
                ];
                if let Some((id, k)) = b.pre_key {
                    children.push(Node::new("key").with_children(vec![
                        Node::new("id").with_bytes(id.to_be_bytes()[1..].to_vec()),
                        Node::new("value").with_bytes(k.as_bytes().to_vec()),
                    ]));
                }
                out = out.with_children(children);
            }
            None => {
                out = out.with_children(vec![
                    Node::new("error")
                        .with_attr("code", "404")
                        .with_attr("text", "item-not-found"),
                ]);
            }
        }
        users.push(out);
    }
    iq_result(iq).with_children(vec![Node::new("list").with_children(users)])
}

fn usync(shared: &Shared, iq: &Node) -> Node {
    let Some(usync) = iq.child("usync") else {
        return iq_error(iq, 400, "bad-request");
    };
    let query = usync.child("query");
    let wants = |tag: &str| query.is_some_and(|q| q.child(tag).is_some());
    let w = shared.world();
    let mut users = Vec::new();
    if let Some(list) = usync.child("list") {
        for user in list.children_by_tag("user").take(4096) {
            let jid_attr = user.attr("jid").map(str::to_owned);
            // `<user><contact>+62…</contact></user>` asks "is this number on WhatsApp".
            let contact = user
                .child("contact")
                .and_then(|c| c.content_bytes())
                .map(|b| {
                    String::from_utf8_lossy(b)
                        .trim_start_matches('+')
                        .to_owned()
                });
            let jid: Option<Jid> = jid_attr
                .as_deref()
                .and_then(|j| j.parse().ok())
                .or_else(|| contact.as_ref().map(|c| Jid::pn(c.clone())));
            let Some(jid) = jid else { continue };
            let account = w.resolve_user(&jid);
            let mut children = Vec::new();
            if wants("devices") {
                let devices = account
                    .as_ref()
                    .and_then(|n| w.accounts.get(n))
                    .map(|a| {
                        a.devices
                            .iter()
                            .map(|(d, r)| {
                                let n = Node::new("device").with_attr("id", d.to_string());
                                if *d == 0 {
                                    n
                                } else {
                                    n.with_attr("key-index", r.key_index.to_string())
                                }
                            })
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default();
                let mut devices_children = vec![Node::new("device-list").with_children(devices)];
                if let Some(a) = account.as_ref().and_then(|n| w.accounts.get(n)) {
                    devices_children.push(key_index_list(a));
                }
                children.push(Node::new("devices").with_children(devices_children));
            }
            if wants("contact") {
                let kind = if account.is_some() { "in" } else { "out" };
                let mut c = Node::new("contact").with_attr("type", kind);
                if let Some(text) = &contact {
                    c = c.with_text(text.clone());
                }
                children.push(c);
            }
            if wants("lid")
                && let Some(a) = account.as_ref().and_then(|n| w.accounts.get(n))
            {
                children
                    .push(Node::new("lid").with_attr("val", Jid::lid(a.lid.clone()).to_string()));
            }
            if wants("status") {
                children.push(Node::new("status").with_attr("t", now().to_string()));
            }
            let out_jid = match (&jid_attr, &account) {
                (Some(j), _) => j.clone(),
                (None, Some(n)) => Jid::pn(n.clone()).to_string(),
                (None, None) => jid.to_string(),
            };
            users.push(
                Node::new("user")
                    .with_attr("jid", out_jid)
                    .with_children(children),
            );
        }
    }
    let mut out = Node::new("usync");
    for key in ["sid", "mode", "context", "index", "last"] {
        if let Some(v) = usync.attr(key) {
            out = out.with_attr(key, v.to_owned());
        }
    }
    iq_result(iq).with_children(vec![out.with_children(vec![
        Node::new("result"),
        Node::new("list").with_children(users),
    ])])
}

/// `<key-index-list ts>`: the phone-signed `ADVSignedKeyIndexList` of the account's linked
/// companions.
fn key_index_list(account: &crate::world::Account) -> Node {
    let valid: Vec<u32> = account
        .devices
        .iter()
        .filter(|(d, _)| **d != 0)
        .map(|(_, r)| r.key_index)
        .collect();
    let ts = now();
    let list = wa_core::pair::KeyIndexList {
        raw_id: account.raw_id,
        timestamp: ts,
        current_index: account.next_key_index.saturating_sub(1),
        valid_indexes: valid,
        hosted: false,
    };
    let signed = wa_core::pair::sign_key_index_list(
        &list,
        &account.phone.inner.identity,
        &crate::server::random64(),
    );
    Node::new("key-index-list")
        .with_attr("ts", ts.to_string())
        .with_bytes(signed)
}

fn media_conn(shared: &Shared, iq: &Node) -> Node {
    let token = crate::http::media_auth(shared);
    iq_result(iq).with_children(vec![
        Node::new("media_conn")
            .with_attr("auth", token)
            .with_attr("ttl", "3600")
            .with_attr("auth_ttl", "3600")
            .with_attr("max_buckets", "1")
            .with_children(vec![
                Node::new("host").with_attr("hostname", shared.addr.to_string()),
            ]),
    ])
}

fn md(shared: &Shared, number: &str, device: u16, iq: &Node) -> Node {
    if let Some(remove) = iq.child("remove-companion-device") {
        let target = remove
            .attr_jid("jid")
            .and_then(Result::ok)
            .map(|j| j.device())
            .unwrap_or(device);
        if target != 0 {
            let mut w = shared.world();
            let removed = w
                .accounts
                .get_mut(number)
                .and_then(|a| a.devices.remove(&target));
            if let Some(c) = w.conns.remove(&(number.to_owned(), target)) {
                let _ = c.tx.try_send(crate::world::Outbound::StreamError(401));
            }
            if removed.is_some() {
                let jid = Jid::pn_device(number, target).to_string();
                for (n, d) in interested_devices(&w, number) {
                    if d == 0 {
                        continue;
                    }
                    let note = Node::new("notification")
                        .with_attr("from", Jid::pn(number).to_string())
                        .with_attr("type", "devices")
                        .with_attr("id", shared.stanza_id())
                        .with_attr("t", now().to_string())
                        .with_children(vec![Node::new("remove").with_children(vec![
                            Node::new("device").with_attr("jid", jid.clone()),
                        ])]);
                    w.deliver(&n, d, note);
                }
            }
            drop(w);
            shared.save_state();
        }
    }
    iq_result(iq)
}
