//! Encoding: a node tree to WABinary bytes, making exactly Baileys' choices so that our bytes
//! equal theirs for the same node.
//!
//! Every string (tag, attribute key and value, string content) goes through Baileys'
//! `writeString`: empty string -> `BINARY_8 0`; token -> one or two bytes; nibble-packable
//! (`0-9 - .`, at most 127) -> `NIBBLE_8`; uppercase-hex-packable -> `HEX_8`; containing `@`
//! -> a JID as Baileys' `jidDecode` reads it (`AD_JID` when a `:device` part is present, else
//! `JID_PAIR`); anything else -> raw UTF-8 with a `BINARY_*` length.

use super::consts::*;
use super::decode::DEFAULT_MAX_DEPTH;
use super::node::{Content, NodeRef};
use super::token::{self, Token};

/// Why a node cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Tags must not be empty.
    #[error("empty tag")]
    EmptyTag,
    /// More attributes than a list header can count.
    #[error("too many attributes ({0})")]
    TooManyAttributes(usize),
    /// More children than a list header can count (65,535).
    #[error("too many children ({0})")]
    TooManyChildren(usize),
    /// A string or byte content of 2^32 bytes or more.
    #[error("item of {0} bytes is too long")]
    TooLong(usize),
    /// Nodes nested deeper than the decoder accepts.
    #[error("nesting deeper than {0}")]
    TooDeep(usize),
}

/// Encodes a frame: the `0x00` flags byte, then the node.
///
/// ```
/// use wa_core::binary::{encode_frame, Node};
/// let iq = Node::new("iq")
///     .with_attr("id", "1")
///     .with_attr("to", "@s.whatsapp.net")
///     .with_attr("type", "get")
///     .with_attr("xmlns", "w:p");
/// assert_eq!(
///     encode_frame(&iq).unwrap(),
///     [0x00, 0xf8, 0x09, 0x19, 0x08, 0x55, 0x11, 0xfa, 0x00, 0x03, 0x04, 0x29, 0x16, 0x57],
/// );
/// ```
pub fn encode_frame(node: &NodeRef<'_>) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(256);
    out.push(0);
    encode(node, &mut out)?;
    Ok(out)
}

/// Appends the encoding of `node` (without flags byte) to `out`.
pub fn encode(node: &NodeRef<'_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    write_node(node, out, 0)
}

/// Appends the encoding of a string exactly as Baileys' `writeString` does.
pub fn encode_str(s: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    write_str(s, out)
}

/// Appends the wire form of a JID: `AD_JID` (domain byte, device byte, user) when it names a
/// device, else `JID_PAIR` (user or `LIST_EMPTY`, server) — what Baileys writes for its text.
///
/// ```
/// use wa_core::{Jid, binary::encode_jid};
/// let mut out = Vec::new();
/// encode_jid(&Jid::lid("98765").with_device(3), &mut out).unwrap();
/// assert_eq!(out, [0xf7, 0x01, 0x03, 0xff, 0x83, 0x98, 0x76, 0x5f]);
/// ```
pub fn encode_jid(jid: &super::Jid, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    write_str(&jid.to_string(), out)
}

fn write_node(node: &NodeRef<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), EncodeError> {
    if depth > DEFAULT_MAX_DEPTH {
        return Err(EncodeError::TooDeep(DEFAULT_MAX_DEPTH));
    }
    if node.tag.is_empty() {
        return Err(EncodeError::EmptyTag);
    }
    let has_content = !matches!(node.content, Content::None);
    let size = 1 + 2 * node.attrs.len() + usize::from(has_content);
    if size > usize::from(u16::MAX) {
        return Err(EncodeError::TooManyAttributes(node.attrs.len()));
    }
    write_list_start(size, out);
    write_str(&node.tag, out)?;
    for (k, v) in &node.attrs {
        write_str(k, out)?;
        write_str(v, out)?;
    }
    match &node.content {
        Content::None => {}
        Content::Text(t) => write_str(t, out)?,
        Content::Bytes(b) => {
            write_byte_len(b.len(), out)?;
            out.extend_from_slice(b);
        }
        Content::Nodes(children) => {
            if children.len() > usize::from(u16::MAX) {
                return Err(EncodeError::TooManyChildren(children.len()));
            }
            write_list_start(children.len(), out);
            for c in children {
                write_node(c, out, depth + 1)?;
            }
        }
    }
    Ok(())
}

#[inline]
fn write_list_start(n: usize, out: &mut Vec<u8>) {
    match n {
        0 => out.push(LIST_EMPTY),
        1..=255 => out.extend_from_slice(&[LIST_8, n as u8]),
        _ => out.extend_from_slice(&[LIST_16, (n >> 8) as u8, n as u8]),
    }
}

#[inline]
fn write_byte_len(n: usize, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if n < 256 {
        out.extend_from_slice(&[BINARY_8, n as u8]);
    } else if n < 1 << 20 {
        out.reserve(n + 4);
        out.extend_from_slice(&[BINARY_20, (n >> 16) as u8 & 0x0f, (n >> 8) as u8, n as u8]);
    } else {
        let n32 = u32::try_from(n).map_err(|_| EncodeError::TooLong(n))?;
        out.reserve(n + 5);
        out.push(BINARY_32);
        out.extend_from_slice(&n32.to_be_bytes());
    }
    Ok(())
}

/// Character classes for the packing checks.
const NIB: u8 = 1;
const HEX: u8 = 2;
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = NIB | HEX;
        c += 1;
    }
    t[b'-' as usize] = NIB;
    t[b'.' as usize] = NIB;
    let mut c = b'A';
    while c <= b'F' {
        t[c as usize] = HEX;
        c += 1;
    }
    t
};

/// Baileys' `writeString`. The JID branch ends by writing the server as a string, which may
/// again be a JID: that tail call is the loop, so hostile strings cannot exhaust the stack.
fn write_str(mut s: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    loop {
        if s.is_empty() {
            out.extend_from_slice(&[BINARY_8, 0]);
            return Ok(());
        }
        match token::lookup(s) {
            Some(Token::Single(i)) => {
                out.push(i);
                return Ok(());
            }
            Some(Token::Double(d, i)) => {
                out.extend_from_slice(&[DICTIONARY_0 + d, i]);
                return Ok(());
            }
            None => {}
        }
        let b = s.as_bytes();
        if b.len() <= PACKED_MAX {
            let class = b
                .iter()
                .fold(NIB | HEX, |acc, &c| acc & CLASS[usize::from(c)]);
            if class & NIB != 0 {
                write_packed(b, NIBBLE_8, out);
                return Ok(());
            }
            if class & HEX != 0 {
                write_packed(b, HEX_8, out);
                return Ok(());
            }
        }
        let Some(at) = b.iter().position(|&c| c == b'@') else {
            return write_raw(b, out);
        };
        let (user_combined, server) = (&s[..at], &s[at + 1..]);
        // Baileys: `[userAgent, device] = userCombined.split(':')`, then
        // `[user, agent] = userAgent.split('_')`; empty parts count as absent.
        let (user_agent, device) = match user_combined.find(':') {
            Some(i) => {
                let rest = &user_combined[i + 1..];
                let d = rest.find(':').map_or(rest, |j| &rest[..j]);
                (&user_combined[..i], (!d.is_empty()).then_some(d))
            }
            None => (user_combined, None),
        };
        let (user, agent) = match user_agent.find('_') {
            Some(i) => {
                let rest = &user_agent[i + 1..];
                let a = rest.find('_').map_or(rest, |j| &rest[..j]);
                (&user_agent[..i], (!a.is_empty()).then_some(a))
            }
            None => (user_agent, None),
        };
        match device {
            Some(device) => {
                let domain = match server {
                    "lid" => 1,
                    "hosted" => 128,
                    "hosted.lid" => 129,
                    _ => agent.map_or(0, |a| js::to_uint8(js::parse_int(a))),
                };
                out.extend_from_slice(&[AD_JID, domain, js::to_uint8(js::to_number(device))]);
                // `user` holds no '@', so this recursion is one level deep.
                return write_str(user, out);
            }
            None => {
                out.push(JID_PAIR);
                if user.is_empty() {
                    out.push(LIST_EMPTY);
                } else {
                    write_str(user, out)?;
                }
                s = server;
            }
        }
    }
}

fn write_raw(b: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    write_byte_len(b.len(), out)?;
    out.extend_from_slice(b);
    Ok(())
}

fn write_packed(b: &[u8], tag: u8, out: &mut Vec<u8>) {
    let code = |c: u8| -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'-' => 10,
            b'.' => 11,
            b'A'..=b'F' => c - b'A' + 10,
            _ => 15,
        }
    };
    let odd = b.len() % 2;
    out.reserve(2 + b.len() / 2 + odd);
    out.push(tag);
    out.push(((b.len() / 2 + odd) as u8) | if odd == 1 { 0x80 } else { 0 });
    let pairs = b.chunks_exact(2);
    let rest = pairs.remainder();
    for p in pairs {
        out.push(code(p[0]) << 4 | code(p[1]));
    }
    if let [last] = rest {
        out.push(code(*last) << 4 | 0x0f);
    }
}

/// The bits of JavaScript number semantics Baileys' `jidDecode`/`writeJid` run strings through
/// (`+device`, `parseInt(agent)`, then `(x || 0) & 0xff`).
mod js {
    fn is_js_space(c: char) -> bool {
        matches!(
            c,
            '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
                ..='\u{200a}'
                    | '\u{2028}'
                    | '\u{2029}'
                    | '\u{202f}'
                    | '\u{205f}'
                    | '\u{3000}'
                    | '\u{feff}'
        )
    }

    /// `Number(s)` for a string.
    pub(super) fn to_number(s: &str) -> f64 {
        if let Some(v) = small_decimal(s) {
            return v;
        }
        let s = s.trim_matches(is_js_space);
        if s.is_empty() {
            return 0.0;
        }
        for (prefix, radix) in [
            ("0x", 16),
            ("0X", 16),
            ("0o", 8),
            ("0O", 8),
            ("0b", 2),
            ("0B", 2),
        ] {
            if let Some(digits) = s.strip_prefix(prefix) {
                return radix_value(digits, radix).unwrap_or(f64::NAN);
            }
        }
        let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
        if unsigned == "Infinity" {
            return if s.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            };
        }
        if is_decimal_literal(unsigned) {
            s.parse().unwrap_or(f64::NAN)
        } else {
            f64::NAN
        }
    }

    /// Fast path: up to nine plain decimal digits (device numbers, agents).
    fn small_decimal(s: &str) -> Option<f64> {
        if s.is_empty() || s.len() > 9 || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        Some(f64::from(
            s.bytes()
                .fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0')),
        ))
    }

    /// `parseInt(s)` (no radix).
    pub(super) fn parse_int(s: &str) -> f64 {
        if let Some(v) = small_decimal(s) {
            return v;
        }
        let s = s.trim_start_matches(is_js_space);
        let (neg, s) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (s, radix) = match s.get(..2) {
            Some("0x" | "0X") => (&s[2..], 16),
            _ => (s, 10),
        };
        let end = s
            .char_indices()
            .find(|(_, c)| !c.is_digit(radix))
            .map_or(s.len(), |(i, _)| i);
        let digits = &s[..end];
        let v = if radix == 10 {
            digits.parse::<f64>().ok()
        } else {
            radix_value(digits, radix)
        };
        match v {
            Some(v) if neg => -v,
            Some(v) => v,
            None => f64::NAN,
        }
    }

    fn radix_value(digits: &str, radix: u32) -> Option<f64> {
        if digits.is_empty() {
            return None;
        }
        digits.chars().try_fold(0.0f64, |acc, c| {
            c.to_digit(radix)
                .map(|d| acc * f64::from(radix) + f64::from(d))
        })
    }

    /// `StrUnsignedDecimalLiteral` without `Infinity`: digits, optional fraction, exponent.
    fn is_decimal_literal(s: &str) -> bool {
        let b = s.as_bytes();
        let mut i = 0;
        let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
        i += int_digits;
        let mut frac_digits = 0;
        if b.get(i) == Some(&b'.') {
            i += 1;
            frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            i += frac_digits;
        }
        if int_digits + frac_digits == 0 {
            return false;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            if exp == 0 {
                return false;
            }
            i += exp;
        }
        i == b.len()
    }

    /// `(x || 0) & 0xff`: ToInt32, low byte; NaN and infinities become 0.
    pub(super) fn to_uint8(x: f64) -> u8 {
        if !x.is_finite() {
            return 0;
        }
        let m = x.trunc().rem_euclid(4_294_967_296.0);
        (m as u64 & 0xff) as u8
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn number_follows_javascript() {
            assert_eq!(to_number("12"), 12.0);
            assert_eq!(to_number(" 7 "), 7.0);
            assert_eq!(to_number("0x1f"), 31.0);
            assert_eq!(to_number("1e2"), 100.0);
            assert_eq!(to_number(".5"), 0.5);
            assert!(to_number("12a").is_nan());
            assert!(to_number("inf").is_nan());
            assert_eq!(to_number("-Infinity"), f64::NEG_INFINITY);
        }

        #[test]
        fn parse_int_reads_a_prefix() {
            assert_eq!(parse_int("12abc"), 12.0);
            assert_eq!(parse_int("0x10"), 16.0);
            assert_eq!(parse_int("-3"), -3.0);
            assert!(parse_int("abc").is_nan());
        }

        #[test]
        fn small_decimals_match_the_general_path() {
            for s in ["0", "7", "99", "255", "65535", "123456789"] {
                assert_eq!(small_decimal(s), s.parse::<f64>().ok());
            }
            assert_eq!(small_decimal("1234567890"), None);
            assert_eq!(small_decimal("1a"), None);
        }

        #[test]
        fn uint8_wraps_like_int32_and() {
            assert_eq!(to_uint8(256.0), 0);
            assert_eq!(to_uint8(-1.0), 255);
            assert_eq!(to_uint8(3.9), 3);
            assert_eq!(to_uint8(f64::NAN), 0);
            assert_eq!(to_uint8(4_294_967_297.0), 1);
        }
    }
}
