//! Groups: create, metadata, participating list, participants add/remove/promote/demote,
//! subject, leave; `w:gp2` notifications to the members' devices.

use wa_core::binary::{Jid, Node};

use crate::SandboxError;
use crate::server::{Shared, now};
use crate::stanza::{iq_error, iq_result};
use crate::world::{Group, World};

/// Most participants per group.
const MAX_PARTICIPANTS: usize = 1024;

fn group_node(g: &Group) -> Node {
    let participants = g
        .participants
        .iter()
        .map(|(p, admin)| {
            let n = Node::new("participant").with_attr("jid", Jid::pn(p.clone()).to_string());
            if *admin {
                n.with_attr(
                    "type",
                    if *p == g.creator {
                        "superadmin"
                    } else {
                        "admin"
                    },
                )
            } else {
                n
            }
        })
        .collect();
    Node::new("group")
        .with_attr("id", g.id.clone())
        .with_attr("subject", g.subject.clone())
        .with_attr("s_t", g.creation.to_string())
        .with_attr("s_o", Jid::pn(g.creator.clone()).to_string())
        .with_attr("creation", g.creation.to_string())
        .with_attr("creator", Jid::pn(g.creator.clone()).to_string())
        .with_attr("size", g.participants.len().to_string())
        .with_attr("addressing_mode", "pn")
        .with_children(participants)
}

/// Sends a `w:gp2` notification to every companion of the group's members (phones keep
/// no group state of their own beyond the server's).
fn notify(shared: &Shared, w: &mut World, g: &Group, actor: &str, child: Node) {
    for (p, _) in &g.participants {
        let devices: Vec<u16> = w
            .accounts
            .get(p)
            .map(|a| a.devices.keys().copied().filter(|d| *d != 0).collect())
            .unwrap_or_default();
        for d in devices {
            let n = Node::new("notification")
                .with_attr("from", Jid::group(g.id.clone()).to_string())
                .with_attr("type", "w:gp2")
                .with_attr("id", shared.stanza_id())
                .with_attr("participant", Jid::pn(actor).to_string())
                .with_attr("t", now().to_string())
                .with_children(vec![child.clone()]);
            // Device 0 is excluded above, so nothing comes back for a phone.
            let _ = w.deliver(p, d, n);
        }
    }
}

/// Creates a group; `creator` is an admin and a member.
pub(crate) fn create(
    shared: &Shared,
    creator: &str,
    subject: &str,
    participants: &[String],
) -> Result<Jid, SandboxError> {
    let mut w = shared.world();
    if !w.accounts.contains_key(creator) {
        return Err(SandboxError::NoSuchAccount(creator.to_owned()));
    }
    w.next_group += 1;
    let id = format!("120363{:012}", w.next_group);
    let mut members = vec![(creator.to_owned(), true)];
    for p in participants.iter().take(MAX_PARTICIPANTS) {
        if w.accounts.contains_key(p) && !members.iter().any(|(m, _)| m == p) {
            members.push((p.clone(), false));
        }
    }
    let g = Group {
        id: id.clone(),
        subject: subject.chars().take(100).collect(),
        creator: creator.to_owned(),
        creation: now(),
        participants: members,
    };
    w.groups.insert(id.clone(), g.clone());
    notify(
        shared,
        &mut w,
        &g,
        creator,
        Node::new("create").with_children(vec![group_node(&g)]),
    );
    drop(w);
    shared.save_state();
    Ok(Jid::group(id))
}

fn numbers(w: &World, node: &Node) -> Vec<String> {
    node.children_by_tag("participant")
        .take(MAX_PARTICIPANTS)
        .filter_map(|p| p.attr_jid("jid").and_then(Result::ok))
        .filter_map(|j| w.resolve_user(&j))
        .collect()
}

/// Removes `number` from `g`, tells every member's companions (the leaver's too) and stores it.
fn leave(shared: &Shared, w: &mut World, mut g: Group, number: &str) {
    let mut all = g.clone();
    g.participants.retain(|(p, _)| p != number);
    let child = Node::new("leave").with_children(vec![
        Node::new("participant").with_attr("jid", Jid::pn(number).to_string()),
    ]);
    if !all.participants.iter().any(|(p, _)| p == number) {
        all.participants.push((number.to_owned(), false));
    }
    notify(shared, w, &all, number, child);
    w.groups.insert(g.id.clone(), g);
}

/// `xmlns="w:g2"` IQs.
pub(crate) fn iq(shared: &Shared, number: &str, _device: u16, iq: &Node) -> Node {
    let to: Option<Jid> = iq.attr("to").and_then(|t| t.parse().ok());
    if let Some(c) = iq.child("create") {
        let subject = c.attr("subject").unwrap_or("").to_owned();
        let members = numbers(&shared.world(), c);
        return match create(shared, number, &subject, &members) {
            Ok(jid) => {
                let g = shared.world().groups.get(&jid.user).cloned();
                match g {
                    Some(g) => iq_result(iq).with_children(vec![group_node(&g)]),
                    None => iq_error(iq, 500, "internal-server-error"),
                }
            }
            Err(_) => iq_error(iq, 400, "bad-request"),
        };
    }
    if iq.child("participating").is_some() {
        let w = shared.world();
        let mut groups: Vec<&Group> = w
            .groups
            .values()
            .filter(|g| g.participants.iter().any(|(p, _)| p == number))
            .collect();
        groups.sort_by(|a, b| a.id.cmp(&b.id));
        let nodes = groups.into_iter().map(group_node).collect();
        return iq_result(iq).with_children(vec![Node::new("groups").with_children(nodes)]);
    }
    // WhatsApp clients leave groups with `<leave><group id/>…</leave>` sent to `@g.us`.
    if let (Some(l), Some(true)) = (iq.child("leave"), to.as_ref().map(|t| t.user.is_empty())) {
        let mut w = shared.world();
        for id in l.children_by_tag("group").filter_map(|g| g.attr("id")) {
            let gid = id.split('@').next().unwrap_or(id);
            let Some(g) = w.groups.get(gid).cloned() else {
                return iq_error(iq, 404, "item-not-found");
            };
            if !g.participants.iter().any(|(p, _)| p == number) {
                return iq_error(iq, 403, "forbidden");
            }
            leave(shared, &mut w, g, number);
        }
        drop(w);
        shared.save_state();
        return iq_result(iq);
    }
    let Some(gid) = to.filter(|t| t.is_group()).map(|t| t.user) else {
        return iq_result(iq);
    };
    let mut w = shared.world();
    let Some(mut g) = w.groups.get(&gid).cloned() else {
        return iq_error(iq, 404, "item-not-found");
    };
    let is_member = g.participants.iter().any(|(p, _)| p == number);
    let is_admin = g.participants.iter().any(|(p, a)| p == number && *a);
    if iq.child("query").is_some() {
        if !is_member {
            return iq_error(iq, 403, "forbidden");
        }
        return iq_result(iq).with_children(vec![group_node(&g)]);
    }
    if iq.child("leave").is_some() || iq.child("remove").is_some() && !is_admin {
        if let Some(r) = iq.child("remove") {
            let targets = numbers(&w, r);
            if targets != [number.to_owned()] {
                return iq_error(iq, 403, "forbidden");
            }
        }
        leave(shared, &mut w, g, number);
        drop(w);
        shared.save_state();
        return iq_result(iq);
    }
    for action in ["add", "remove", "promote", "demote"] {
        let Some(node) = iq.child(action) else {
            continue;
        };
        if !is_admin {
            return iq_error(iq, 403, "forbidden");
        }
        let targets = numbers(&w, node);
        let mut results = Vec::new();
        let before = g.clone();
        for t in &targets {
            match action {
                "add"
                    if !g.participants.iter().any(|(p, _)| p == t)
                        && g.participants.len() < MAX_PARTICIPANTS =>
                {
                    g.participants.push((t.clone(), false));
                }
                "remove" => g.participants.retain(|(p, _)| p != t),
                "promote" | "demote" => {
                    for (p, a) in g.participants.iter_mut() {
                        if p == t {
                            *a = action == "promote";
                        }
                    }
                }
                _ => {}
            }
            results.push(
                Node::new("participant")
                    .with_attr("jid", Jid::pn(t.clone()).to_string())
                    .with_attr("type", "200"),
            );
        }
        let child = Node::new(action).with_children(
            targets
                .iter()
                .map(|t| Node::new("participant").with_attr("jid", Jid::pn(t.clone()).to_string()))
                .collect(),
        );
        // Everyone before and after hears about it.
        let mut audience = g.clone();
        for m in before.participants {
            if !audience.participants.iter().any(|(p, _)| *p == m.0) {
                audience.participants.push(m);
            }
        }
        notify(shared, &mut w, &audience, number, child);
        w.groups.insert(gid, g);
        drop(w);
        shared.save_state();
        return iq_result(iq).with_children(vec![Node::new(action).with_children(results)]);
    }
    if let Some(s) = iq.child("subject") {
        if !is_member {
            return iq_error(iq, 403, "forbidden");
        }
        g.subject = s
            .content_bytes()
            .map(|b| String::from_utf8_lossy(b).chars().take(100).collect())
            .unwrap_or_default();
        w.groups.insert(gid, g);
        return iq_result(iq);
    }
    iq_result(iq)
}
