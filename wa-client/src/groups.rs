//! Groups (`w:g2`): metadata, the groups we are in, create, add/remove participants, leave.

use wa_core::Jid;
use wa_core::binary::{Node, Server};

use crate::client::Inner;
use crate::error::{Error, Result};

/// A group member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupParticipant {
    /// The member.
    pub jid: Jid,
    /// Admin.
    pub is_admin: bool,
    /// The creator/super admin.
    pub is_super_admin: bool,
}

/// A group's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group JID (`…@g.us`).
    pub jid: Jid,
    /// The name.
    pub subject: String,
    /// Who created it.
    pub creator: Option<Jid>,
    /// When (unix seconds).
    pub creation: Option<u64>,
    /// The members.
    pub participants: Vec<GroupParticipant>,
}

/// What happened to one participant of an add/remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantChange {
    /// The participant.
    pub jid: Jid,
    /// The server's error code for this participant, if it refused.
    pub error: Option<u16>,
}

fn parse_group(node: &Node) -> Result<GroupInfo> {
    let id = node
        .attr("id")
        .ok_or_else(|| Error::protocol("group without id"))?;
    let jid = if id.contains('@') {
        id.parse().map_err(|_| Error::protocol("bad group id"))?
    } else {
        Jid::group(id)
    };
    let participants = node
        .children()
        .iter()
        .filter(|p| p.tag == "participant")
        .filter_map(|p| {
            let jid = p.attr_jid("jid")?.ok()?;
            let kind = p.attr("type");
            Some(GroupParticipant {
                jid,
                is_admin: matches!(kind, Some("admin" | "superadmin")),
                is_super_admin: kind == Some("superadmin"),
            })
        })
        .collect();
    Ok(GroupInfo {
        jid,
        subject: node.attr("subject").unwrap_or_default().to_owned(),
        creator: node.attr_jid("creator").and_then(|j| j.ok()),
        creation: node.attr("creation").and_then(|c| c.parse().ok()),
        participants,
    })
}

fn g2(to: Jid, kind: &'static str, children: Vec<Node>) -> Node {
    Node::new("iq")
        .with_attr("to", to.to_string())
        .with_attr("type", kind)
        .with_attr("xmlns", "w:g2")
        .with_children(children)
}

fn participants(jids: &[Jid]) -> Vec<Node> {
    jids.iter()
        .map(|j| Node::new("participant").with_attr("jid", j.to_non_ad().to_string()))
        .collect()
}

impl Inner {
    pub(crate) async fn group_info(&self, group: &Jid) -> Result<GroupInfo> {
        let answer = self
            .iq(g2(
                group.to_non_ad(),
                "get",
                vec![Node::new("query").with_attr("request", "interactive")],
            ))
            .await?;
        parse_group(
            answer
                .child("group")
                .ok_or_else(|| Error::protocol("metadata answer without group"))?,
        )
    }

    async fn change_participants(
        &self,
        group: &Jid,
        action: &'static str,
        jids: &[Jid],
    ) -> Result<Vec<ParticipantChange>> {
        let answer = self
            .iq(g2(
                group.to_non_ad(),
                "set",
                vec![Node::new(action).with_children(participants(jids))],
            ))
            .await?;
        let list = answer
            .child(action)
            .map(|a| a.children())
            .unwrap_or_default();
        Ok(list
            .iter()
            .filter(|p| p.tag == "participant")
            .filter_map(|p| {
                Some(ParticipantChange {
                    jid: p.attr_jid("jid")?.ok()?,
                    error: p.attr("error").and_then(|e| e.parse().ok()),
                })
            })
            .collect())
    }
}

impl crate::Client {
    /// A group's metadata.
    pub async fn group_info(&self, group: &Jid) -> Result<GroupInfo> {
        self.inner.group_info(group).await
    }

    /// The groups we are in.
    pub async fn groups(&self) -> Result<Vec<GroupInfo>> {
        let answer = self
            .inner
            .iq(g2(
                Jid::server(Server::Group),
                "get",
                vec![
                    Node::new("participating")
                        .with_children(vec![Node::new("participants"), Node::new("description")]),
                ],
            ))
            .await?;
        let groups = answer
            .child("groups")
            .map(|g| g.children())
            .unwrap_or_default();
        groups
            .iter()
            .filter(|g| g.tag == "group")
            .map(parse_group)
            .collect()
    }

    /// Creates a group with `subject` and `participants`.
    pub async fn create_group(&self, subject: &str, participants: &[Jid]) -> Result<GroupInfo> {
        let answer = self
            .inner
            .iq(g2(
                Jid::server(Server::Group),
                "set",
                vec![
                    Node::new("create")
                        .with_attr("subject", subject.to_owned())
                        .with_children(self::participants(participants)),
                ],
            ))
            .await?;
        parse_group(
            answer
                .child("group")
                .ok_or_else(|| Error::protocol("create answer without group"))?,
        )
    }

    /// Adds participants.
    pub async fn add_participants(
        &self,
        group: &Jid,
        jids: &[Jid],
    ) -> Result<Vec<ParticipantChange>> {
        self.inner.change_participants(group, "add", jids).await
    }

    /// Removes participants.
    pub async fn remove_participants(
        &self,
        group: &Jid,
        jids: &[Jid],
    ) -> Result<Vec<ParticipantChange>> {
        self.inner.change_participants(group, "remove", jids).await
    }

    /// Leaves a group.
    pub async fn leave_group(&self, group: &Jid) -> Result<()> {
        self.inner
            .iq(g2(
                Jid::server(Server::Group),
                "set",
                vec![Node::new("leave").with_children(vec![
                    Node::new("group").with_attr("id", group.to_non_ad().to_string()),
                ])],
            ))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_metadata_parses_ids_without_server_and_admin_roles() {
        let node = Node::new("group")
            .with_attr("id", "120363000000000001")
            .with_attr("subject", "Team")
            .with_attr("creation", "1700000000")
            .with_children(vec![
                Node::new("participant")
                    .with_attr("jid", "6281@s.whatsapp.net")
                    .with_attr("type", "superadmin"),
                Node::new("participant").with_attr("jid", "6282@s.whatsapp.net"),
            ]);
        let info = parse_group(&node).unwrap();
        assert_eq!(info.jid, Jid::group("120363000000000001"));
        assert_eq!(info.subject, "Team");
        assert!(info.participants[0].is_super_admin && info.participants[0].is_admin);
        assert!(!info.participants[1].is_admin);
    }
}
