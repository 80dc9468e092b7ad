//! The JSON form of nodes (feature `json`), shared by the CLI and the interop tests:
//!
//! ```json
//! {"tag": "iq", "attrs": {"id": "1", "type": "get"}, "content": null}
//! ```
//!
//! `content` is `null` (none), `{"bytes": "<lowercase hex>"}` (bytes), a string, or an array of
//! nodes. Attributes keep wire order on output and document order on input; an attribute
//! whose value is `null` is skipped on input (Baileys skips `undefined`/`null` attributes).
//! This is how Baileys' nodes print with `JSON.stringify` once Buffers become `{"bytes"}`.

use std::fmt::{self, Write as _};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::node::{Content, Node, NodeRef};
use super::text::Text;

/// Writes `node` as one line of JSON.
///
/// ```
/// use wa_core::binary::{Node, json};
/// let n = Node::new("enc").with_attr("v", "2").with_bytes(vec![1u8, 2, 255]);
/// assert_eq!(
///     json::to_json(&n),
///     r#"{"tag":"enc","attrs":{"v":"2"},"content":{"bytes":"0102ff"}}"#
/// );
/// assert_eq!(json::from_json(&json::to_json(&n)).unwrap(), n);
/// ```
pub fn to_json(node: &NodeRef<'_>) -> String {
    let mut out = String::with_capacity(128);
    write_json(node, &mut out);
    out
}

/// Appends the JSON form of `node` to `out`.
pub fn write_json(node: &NodeRef<'_>, out: &mut String) {
    out.push_str("{\"tag\":");
    write_str(&node.tag, out);
    out.push_str(",\"attrs\":{");
    for (i, (k, v)) in node.attrs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(k, out);
        out.push(':');
        write_str(v, out);
    }
    out.push_str("},\"content\":");
    match &node.content {
        Content::None => out.push_str("null"),
        Content::Text(t) => write_str(t, out),
        Content::Bytes(b) => {
            out.push_str("{\"bytes\":\"");
            for byte in b.iter() {
                let _ = write!(out, "{byte:02x}");
            }
            out.push_str("\"}");
        }
        Content::Nodes(children) => {
            out.push('[');
            for (i, c) in children.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(c, out);
            }
            out.push(']');
        }
    }
    out.push('}');
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses one node from its JSON form.
pub fn from_json(s: &str) -> Result<Node, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(s);
    let node = NodeSeed.deserialize(&mut de)?;
    de.end()?;
    Ok(node)
}

struct NodeSeed;

impl<'de> DeserializeSeed<'de> for NodeSeed {
    type Value = Node;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_map(NodeSeed)
    }
}

impl<'de> Visitor<'de> for NodeSeed {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a node object {tag, attrs, content}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut node = Node::default();
        let mut has_tag = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "tag" => {
                    node.tag = Text::from(map.next_value::<String>()?);
                    has_tag = true;
                }
                "attrs" => node.attrs = map.next_value_seed(AttrsSeed)?,
                "content" => node.content = map.next_value_seed(ContentSeed)?,
                other => {
                    return Err(de::Error::unknown_field(
                        other,
                        &["tag", "attrs", "content"],
                    ));
                }
            }
        }
        if !has_tag {
            return Err(de::Error::missing_field("tag"));
        }
        Ok(node)
    }
}

struct AttrsSeed;

impl<'de> DeserializeSeed<'de> for AttrsSeed {
    type Value = Vec<(Text<'static>, Text<'static>)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(AttrsSeed)
    }
}

impl<'de> Visitor<'de> for AttrsSeed {
    type Value = Vec<(Text<'static>, Text<'static>)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of string attributes")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut attrs = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            if let Some(v) = map.next_value::<Option<String>>()? {
                attrs.push((Text::from(k), Text::from(v)));
            }
        }
        Ok(attrs)
    }
}

struct ContentSeed;

impl<'de> DeserializeSeed<'de> for ContentSeed {
    type Value = Content<'static>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ContentSeed)
    }
}

impl<'de> Visitor<'de> for ContentSeed {
    type Value = Content<'static>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null, a string, {\"bytes\": hex} or an array of nodes")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Content::None)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Content::Text(Text::copied(v)))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Content::Text(Text::from(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut children = Vec::new();
        while let Some(c) = seq.next_element_seed(NodeSeed)? {
            children.push(c);
        }
        Ok(Content::Nodes(children))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut bytes = None;
        while let Some(k) = map.next_key::<String>()? {
            if k != "bytes" {
                return Err(de::Error::unknown_field(&k, &["bytes"]));
            }
            let h: String = map.next_value()?;
            bytes = Some(decode_hex(&h).ok_or_else(|| de::Error::custom("invalid hex in bytes"))?);
        }
        bytes
            .map(|b| Content::Bytes(b.into()))
            .ok_or_else(|| de::Error::missing_field("bytes"))
    }
}

fn decode_hex(h: &str) -> Option<Vec<u8>> {
    let h = h.as_bytes();
    if !h.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    h.chunks_exact(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_order_is_kept_both_ways() {
        let s = r#"{"tag":"x","attrs":{"z":"1","a":"2","m":"3"},"content":null}"#;
        let n = from_json(s).unwrap();
        let keys: Vec<&str> = n.attrs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["z", "a", "m"]);
        assert_eq!(to_json(&n), s);
    }

    #[test]
    fn null_attributes_are_skipped() {
        let n = from_json(r#"{"tag":"x","attrs":{"a":null,"b":"1"}}"#).unwrap();
        assert_eq!(n.attrs.len(), 1);
        assert_eq!(n.attr("b"), Some("1"));
    }

    #[test]
    fn strings_and_bytes_stay_distinct() {
        let text = from_json(r#"{"tag":"x","attrs":{},"content":"00"}"#).unwrap();
        let bytes = from_json(r#"{"tag":"x","attrs":{},"content":{"bytes":"00"}}"#).unwrap();
        assert_eq!(text.content, Content::Text(Text::from("00")));
        assert_eq!(bytes.content, Content::Bytes(vec![0u8].into()));
    }

    #[test]
    fn control_characters_are_escaped() {
        let n = Node::new("x").with_text("a\"b\\c\n\u{1}");
        let s = to_json(&n);
        assert!(s.contains(r#""a\"b\\c\n\u0001""#), "{s}");
        assert_eq!(from_json(&s).unwrap(), n);
    }

    #[test]
    fn malformed_json_nodes_are_errors() {
        assert!(from_json(r#"{"attrs":{}}"#).is_err());
        assert!(from_json(r#"{"tag":"x","content":{"bytes":"0g"}}"#).is_err());
        assert!(from_json(r#"{"tag":"x","content":5}"#).is_err());
        assert!(from_json(r#"{"tag":"x","extra":1}"#).is_err());
    }
}
