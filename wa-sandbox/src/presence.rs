//! Presence (available/unavailable, subscriptions) and chat state fan-out.

use wa_core::binary::{Jid, Node};

use crate::server::{Shared, now};
use crate::world::World;

/// Handles `<presence>` from a device; returns nodes to send back to it.
pub(crate) fn presence(shared: &Shared, number: &str, device: u16, node: &Node) -> Vec<Node> {
    let mut w = shared.world();
    match node.attr("type") {
        Some("subscribe") => {
            let Some(Ok(target)) = node.attr_jid("to") else {
                return Vec::new();
            };
            let Some(t) = w.resolve_user(&target) else {
                return Vec::new();
            };
            let subs = w.presence_subs.entry(t.clone()).or_default();
            if subs.len() < 10_000 {
                subs.insert((number.to_owned(), device));
            }
            let online = w.available.contains_key(&t);
            let mut p = Node::new("presence").with_attr("from", Jid::pn(t).to_string());
            if !online {
                p = p
                    .with_attr("type", "unavailable")
                    .with_attr("last", now().to_string());
            }
            vec![p]
        }
        Some("available") => {
            w.available.insert(number.to_owned(), device);
            broadcast(&mut w, number, None);
            Vec::new()
        }
        Some("unavailable") => {
            w.available.remove(number);
            broadcast(&mut w, number, Some(now()));
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn broadcast(w: &mut World, number: &str, last: Option<u64>) {
    let subs: Vec<(String, u16)> = w
        .presence_subs
        .get(number)
        .map(|s| s.iter().cloned().collect())
        .unwrap_or_default();
    for (n, d) in subs {
        if !w.conns.contains_key(&(n.clone(), d)) {
            continue;
        }
        let mut p = Node::new("presence").with_attr("from", Jid::pn(number).to_string());
        if let Some(last) = last {
            p = p
                .with_attr("type", "unavailable")
                .with_attr("last", last.to_string());
        }
        w.deliver(&n, d, p);
    }
}

/// A device disconnected: when it was the one that announced availability, the user goes
/// unavailable.
pub(crate) fn went_offline(w: &mut World, number: &str, device: u16) {
    if w.available.get(number) == Some(&device) {
        w.available.remove(number);
        broadcast(w, number, Some(now()));
    }
}

/// Relays `<chatstate to=…><composing/></chatstate>` to the chat's online devices.
pub(crate) fn chatstate(shared: &Shared, number: &str, node: &Node) {
    let Some(Ok(to)) = node.attr_jid("to") else {
        return;
    };
    let Some(state) = node.children().first().cloned() else {
        return;
    };
    let mut w = shared.world();
    let (targets, from, participant): (Vec<String>, String, Option<String>) = if to.is_group() {
        let Some(g) = w.groups.get(&to.user) else {
            return;
        };
        (
            g.participants
                .iter()
                .map(|(p, _)| p.clone())
                .filter(|p| p != number)
                .collect(),
            to.to_string(),
            Some(Jid::pn(number).to_string()),
        )
    } else {
        match w.resolve_user(&to) {
            Some(n) => (vec![n], Jid::pn(number).to_string(), None),
            None => return,
        }
    };
    let online: Vec<(String, u16)> = w
        .conns
        .keys()
        .filter(|(n, _)| targets.contains(n))
        .cloned()
        .collect();
    for (n, d) in online {
        let mut c = Node::new("chatstate").with_attr("from", from.clone());
        if let Some(p) = &participant {
            c = c.with_attr("participant", p.clone());
        }
        w.deliver(&n, d, c.with_children(vec![state.clone()]));
    }
}
