//! The node model: [`NodeRef`] borrows from the decoded input, [`Node`] owns everything.
//!
//! Content keeps the wire's distinction between bytes (`BINARY_*` content) and strings
//! (token, packed or JID content), as Baileys does (Buffer vs string).

use std::borrow::Cow;

use super::jid::{Jid, JidError};
use super::text::Text;

/// A node that may borrow strings and bytes from the buffer it was decoded from.
///
/// ```
/// use wa_core::binary::{Node, Content};
/// let iq = Node::new("iq")
///     .with_attr("id", "1")
///     .with_attr("type", "get")
///     .with_children(vec![Node::new("ping")]);
/// assert_eq!(iq.attr("type"), Some("get"));
/// assert_eq!(iq.child("ping").map(|c| c.tag.as_str()), Some("ping"));
/// assert!(matches!(iq.content, Content::Nodes(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeRef<'a> {
    /// The tag (`iq`, `message`, …); never empty on the wire.
    pub tag: Text<'a>,
    /// Attributes in wire (insertion) order; duplicates are kept as they came.
    pub attrs: Vec<(Text<'a>, Text<'a>)>,
    /// The content.
    pub content: Content<'a>,
}

/// A node that owns all its data.
pub type Node = NodeRef<'static>;

/// What a node holds after its attributes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Content<'a> {
    /// No content.
    #[default]
    None,
    /// Raw bytes (`BINARY_8/20/32` content).
    Bytes(Cow<'a, [u8]>),
    /// A string (token, packed, JID or — when encoding — any string).
    Text(Text<'a>),
    /// Child nodes (possibly zero: an explicit empty list).
    Nodes(Vec<NodeRef<'a>>),
}

impl<'a> NodeRef<'a> {
    /// A node with a tag, no attributes and no content.
    pub fn new(tag: impl Into<Text<'a>>) -> Self {
        NodeRef {
            tag: tag.into(),
            attrs: Vec::new(),
            content: Content::None,
        }
    }

    /// Appends an attribute.
    pub fn with_attr(mut self, key: impl Into<Text<'a>>, value: impl Into<Text<'a>>) -> Self {
        self.attrs.push((key.into(), value.into()));
        self
    }

    /// Sets child nodes as the content.
    pub fn with_children(mut self, children: Vec<NodeRef<'a>>) -> Self {
        self.content = Content::Nodes(children);
        self
    }

    /// Sets raw bytes as the content.
    pub fn with_bytes(mut self, bytes: impl Into<Cow<'a, [u8]>>) -> Self {
        self.content = Content::Bytes(bytes.into());
        self
    }

    /// Sets a string as the content.
    pub fn with_text(mut self, text: impl Into<Text<'a>>) -> Self {
        self.content = Content::Text(text.into());
        self
    }

    /// The value of the first attribute named `key`.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v.as_str())
    }

    /// The attribute `key` parsed as a [`Jid`]; `None` when absent.
    pub fn attr_jid(&self, key: &str) -> Option<Result<Jid, JidError>> {
        self.attr(key).map(str::parse)
    }

    /// The child nodes (empty unless the content is a list).
    pub fn children(&self) -> &[NodeRef<'a>] {
        match &self.content {
            Content::Nodes(n) => n,
            _ => &[],
        }
    }

    /// The first child with this tag.
    pub fn child(&self, tag: &str) -> Option<&NodeRef<'a>> {
        self.children().iter().find(|c| c.tag.as_str() == tag)
    }

    /// Every child with this tag.
    pub fn children_by_tag<'s>(
        &'s self,
        tag: &'s str,
    ) -> impl Iterator<Item = &'s NodeRef<'a>> + 's {
        self.children()
            .iter()
            .filter(move |c| c.tag.as_str() == tag)
    }

    /// The content as bytes: raw bytes, or a string's UTF-8.
    pub fn content_bytes(&self) -> Option<&[u8]> {
        match &self.content {
            Content::Bytes(b) => Some(b),
            Content::Text(t) => Some(t.as_bytes()),
            _ => None,
        }
    }

    /// The content as a string, when it is one.
    pub fn content_text(&self) -> Option<&str> {
        match &self.content {
            Content::Text(t) => Some(t),
            _ => None,
        }
    }

    /// Detaches the node (and its children) from the input buffer.
    pub fn into_owned(self) -> Node {
        NodeRef {
            tag: self.tag.into_owned(),
            attrs: self
                .attrs
                .into_iter()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            content: match self.content {
                Content::None => Content::None,
                Content::Bytes(b) => Content::Bytes(Cow::Owned(b.into_owned())),
                Content::Text(t) => Content::Text(t.into_owned()),
                Content::Nodes(n) => {
                    Content::Nodes(n.into_iter().map(|c| c.into_owned()).collect())
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attr_returns_the_first_of_duplicates() {
        let n = Node::new("x").with_attr("a", "1").with_attr("a", "2");
        assert_eq!(n.attr("a"), Some("1"));
        assert_eq!(n.attr("b"), None);
    }

    #[test]
    fn content_bytes_reads_strings_as_utf8() {
        assert_eq!(
            Node::new("x").with_text("0").content_bytes(),
            Some(&b"0"[..])
        );
        assert_eq!(
            Node::new("x").with_bytes(vec![0u8]).content_bytes(),
            Some(&[0u8][..])
        );
        assert_eq!(Node::new("x").content_bytes(), None);
    }

    #[test]
    fn attr_jid_parses_the_value() {
        let n = Node::new("message").with_attr("from", "123:4@s.whatsapp.net");
        let jid = n.attr_jid("from").unwrap().unwrap();
        assert_eq!(jid.device(), 4);
        assert!(n.attr_jid("to").is_none());
    }

    #[test]
    fn into_owned_keeps_everything() {
        let input = String::from("borrowed");
        let n = NodeRef::new(input.as_str())
            .with_attr("k", input.as_str())
            .with_children(vec![NodeRef::new("c").with_bytes(input.as_bytes())]);
        let owned: Node = n.clone().into_owned();
        drop(input);
        assert_eq!(owned.tag, "borrowed");
        assert_eq!(owned.children()[0].content_bytes(), Some(&b"borrowed"[..]));
    }
}
