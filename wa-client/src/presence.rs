//! Presence (our availability, subscriptions) and chat states (typing, recording).

use wa_core::Jid;
use wa_core::binary::Node;

use crate::error::Result;
use crate::events::ChatState;

impl crate::Client {
    /// Announces us as available or unavailable (uses the configured push name).
    pub async fn send_presence(&self, available: bool) -> Result<()> {
        let mut node = Node::new("presence").with_attr(
            "type",
            if available {
                "available"
            } else {
                "unavailable"
            },
        );
        if let Some(name) = &self.inner.config.client.push_name {
            node = node.with_attr("name", name.replace('@', ""));
        }
        self.inner.send_node(&node)
    }

    /// Asks to be told when `jid` comes online or goes away.
    pub async fn subscribe_presence(&self, jid: &Jid) -> Result<()> {
        self.inner.send_node(
            &Node::new("presence")
                .with_attr("type", "subscribe")
                .with_attr("to", jid.to_non_ad().to_string()),
        )
    }

    /// Shows us typing, recording a voice note, or stopped, in `chat`.
    pub async fn send_chat_state(&self, chat: &Jid, state: ChatState) -> Result<()> {
        let child = match state {
            ChatState::Composing => Node::new("composing"),
            ChatState::Recording => Node::new("composing").with_attr("media", "audio"),
            ChatState::Paused => Node::new("paused"),
        };
        self.inner.send_node(
            &Node::new("chatstate")
                .with_attr("to", chat.to_non_ad().to_string())
                .with_children(vec![child]),
        )
    }
}
