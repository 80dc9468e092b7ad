//! Decoding: a frame's flags byte (with zlib inflation) and the node tree after it.
//!
//! The input is untrusted: every length is checked against what is left before anything is
//! reserved, nesting is capped, inflation is capped, and every failure is a [`DecodeError`].
//! Strings borrow from the input when the wire holds them raw or as tokens.

use std::borrow::Cow;

use super::consts::*;
use super::node::{Content, NodeRef};
use super::text::{Text, TextWriter};
use super::token;

/// Default cap on the inflated size of a compressed frame (16 MiB, the frame size limit).
pub const DEFAULT_MAX_INFLATED_LEN: usize = 16 << 20;
/// Default cap on nesting (nodes inside nodes, JIDs inside JIDs).
pub const DEFAULT_MAX_DEPTH: usize = 256;

/// Limits applied while decoding untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted size of an inflated (zlib) frame body.
    pub max_inflated_len: usize,
    /// Deepest accepted nesting of nodes (and of JIDs within strings).
    pub max_depth: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_inflated_len: DEFAULT_MAX_INFLATED_LEN,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// Why bytes are not a valid node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame has no flags byte.
    #[error("empty frame")]
    EmptyFrame,
    /// The input ended inside an item.
    #[error("unexpected end of input at byte {0}")]
    UnexpectedEof(u32),
    /// A byte that cannot start a string here.
    #[error("invalid string tag 0x{tag:02x} at byte {at}")]
    InvalidStringTag {
        /// The tag byte.
        tag: u8,
        /// Its offset.
        at: u32,
    },
    /// A node must start with a list header.
    #[error("invalid list tag 0x{tag:02x} at byte {at}")]
    InvalidListTag {
        /// The tag byte.
        tag: u8,
        /// Its offset.
        at: u32,
    },
    /// A node with list size 0 or an empty tag.
    #[error("invalid node at byte {0}: empty list or empty tag")]
    InvalidNode(u32),
    /// A nibble code 12..=14 in a nibble-packed string.
    #[error("invalid nibble {nibble} at byte {at}")]
    InvalidNibble {
        /// The 4-bit code.
        nibble: u8,
        /// The offset of its byte.
        at: u32,
    },
    /// A `JID_PAIR` with an empty server.
    #[error("JID pair without server at byte {0}")]
    InvalidJidPair(u32),
    /// Nesting deeper than [`DecodeLimits::max_depth`].
    #[error("nesting deeper than {0}")]
    TooDeep(u32),
    /// The input makes the decoder re-read items more than its size allows (nested interop
    /// JIDs whose optional server fails to parse are re-read at every level: exponential in
    /// Baileys, refused here after a linear amount of work).
    #[error("input too complex (re-reads exceeded the work budget)")]
    TooComplex,
    /// Bytes left after the node.
    #[error("{0} bytes left after the node")]
    TrailingBytes(u32),
    /// The zlib body is corrupt or truncated.
    #[error("corrupt or truncated zlib body")]
    Inflate,
    /// The zlib body inflates to more than [`DecodeLimits::max_inflated_len`].
    #[error("inflated frame exceeds {0} bytes")]
    InflatedTooLarge(u32),
}

/// Decodes one node from `data` (no flags byte), borrowing from it.
///
/// ```
/// use wa_core::binary::{decode, Content};
/// let node = decode(&[0xf8, 0x02, 0x19, 0xf8, 0x00]).unwrap(); // <iq>[]</iq>
/// assert_eq!(node.tag, "iq");
/// assert_eq!(node.content, Content::Nodes(vec![]));
/// ```
pub fn decode(data: &[u8]) -> Result<NodeRef<'_>, DecodeError> {
    decode_with(data, &DecodeLimits::default())
}

/// [`decode`] with explicit limits.
pub fn decode_with<'a>(data: &'a [u8], limits: &DecodeLimits) -> Result<NodeRef<'a>, DecodeError> {
    let mut d = Decoder {
        data,
        pos: 0,
        max_depth: limits.max_depth,
        // Every string item starts with a tag byte, so a decode without re-reads reads at most
        // `data.len()` items; re-reads (interop JIDs) get as much again.
        budget: data.len().saturating_mul(2).saturating_add(16),
    };
    let mut node = NodeRef::default();
    d.read_node_into(0, &mut node)?;
    match data.len() - d.pos {
        0 => Ok(node),
        n => Err(DecodeError::TrailingBytes(off(n))),
    }
}

/// Strips the flags byte of a decrypted frame and inflates the body when flag `0x02` is set.
pub fn unpack<'a>(frame: &'a [u8], limits: &DecodeLimits) -> Result<Cow<'a, [u8]>, DecodeError> {
    let (&flags, body) = frame.split_first().ok_or(DecodeError::EmptyFrame)?;
    if flags & FLAG_COMPRESSED != 0 {
        inflate(body, limits.max_inflated_len).map(Cow::Owned)
    } else {
        Ok(Cow::Borrowed(body))
    }
}

/// Decodes a whole decrypted frame (flags byte, maybe zlib) into an owned node.
///
/// ```
/// use wa_core::binary::decode_frame;
/// let node = decode_frame(&hex_literal(b"00f8031f0488")).unwrap();
/// assert_eq!(node.attr("type"), Some("available"));
/// # fn hex_literal(h: &[u8]) -> Vec<u8> {
/// #     h.chunks(2).map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap()).collect()
/// # }
/// ```
pub fn decode_frame(frame: &[u8]) -> Result<super::Node, DecodeError> {
    decode_frame_with(frame, &DecodeLimits::default())
}

/// [`decode_frame`] with explicit limits.
pub fn decode_frame_with(frame: &[u8], limits: &DecodeLimits) -> Result<super::Node, DecodeError> {
    match unpack(frame, limits)? {
        Cow::Borrowed(body) => decode_with(body, limits).map(NodeRef::into_owned),
        Cow::Owned(body) => decode_with(&body, limits).map(NodeRef::into_owned),
    }
}

/// Inflates a zlib stream, refusing to produce more than `max` bytes.
fn inflate(input: &[u8], max: usize) -> Result<Vec<u8>, DecodeError> {
    use flate2::{Decompress, FlushDecompress, Status};
    let mut z = Decompress::new(true);
    // The first guess is justified by the input; growth beyond it is justified by progress.
    let mut out: Vec<u8> = Vec::with_capacity(input.len().saturating_mul(4).clamp(64, max.max(1)));
    loop {
        if out.len() == out.capacity() {
            if out.len() > max {
                return Err(DecodeError::InflatedTooLarge(off(max)));
            }
            let room = (max + 1 - out.len()).min(out.len().max(64));
            out.reserve_exact(room);
        }
        let (in_before, out_before) = (z.total_in(), out.len());
        let consumed = usize::try_from(in_before)
            .unwrap_or(usize::MAX)
            .min(input.len());
        let status = z
            .decompress_vec(&input[consumed..], &mut out, FlushDecompress::None)
            .map_err(|_| DecodeError::Inflate)?;
        if out.len() > max {
            return Err(DecodeError::InflatedTooLarge(off(max)));
        }
        match status {
            Status::StreamEnd => return Ok(out),
            _ if z.total_in() == in_before
                && out.len() == out_before
                && out.len() < out.capacity() =>
            {
                return Err(DecodeError::Inflate);
            }
            _ => {}
        }
    }
}

/// An offset or size for an error (inputs past 4 GiB saturate).
fn off(x: usize) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

/// How many attributes or children are reserved before any of them has been read (at most
/// 256 nesting levels x 64 x 80 bytes = 1.3 MB for a hostile chain of list headers).
const RESERVE_AHEAD: usize = 64;

/// Packed strings of up to this many bytes unpack on the stack.
const SMALL_PACKED: usize = 24;

/// Marks an invalid 4-bit code in the pair tables.
const INVALID: u8 = 0xff;

/// The two characters a packed byte stands for; `0xF` in a nibble string is NUL (the filler,
/// which the odd-length flag removes), 12..=14 are invalid.
const fn pair_table(alphabet: &[u8; 16]) -> [[u8; 2]; 256] {
    let mut t = [[0u8; 2]; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = [alphabet[b >> 4], alphabet[b & 0x0f]];
        b += 1;
    }
    t
}
static NIBBLE_PAIRS: [[u8; 2]; 256] = pair_table(b"0123456789-.\xff\xff\xff\0");
static HEX_PAIRS: [[u8; 2]; 256] = pair_table(b"0123456789ABCDEF");

struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
    max_depth: usize,
    /// String items left to read before the input counts as too complex.
    budget: usize,
}

impl<'a> Decoder<'a> {
    #[inline]
    fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or(DecodeError::UnexpectedEof(off(self.pos)))?;
        self.pos += 1;
        Ok(b)
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or(DecodeError::UnexpectedEof(off(self.pos)))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Counts one string item against the work budget.
    #[inline]
    fn spend(&mut self) -> Result<(), DecodeError> {
        self.budget = self.budget.checked_sub(1).ok_or(DecodeError::TooComplex)?;
        Ok(())
    }

    #[inline]
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Reads the length that follows a `BINARY_*` tag.
    #[inline]
    fn byte_len(&mut self, tag: u8) -> Result<usize, DecodeError> {
        Ok(match tag {
            BINARY_8 => usize::from(self.u8()?),
            BINARY_20 => {
                let b = self.take(3)?;
                (usize::from(b[0] & 0x0f) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
            }
            _ => {
                let b = self.take(4)?;
                u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
            }
        })
    }

    #[inline]
    fn list_size(&mut self, tag: u8) -> Result<usize, DecodeError> {
        match tag {
            LIST_EMPTY => Ok(0),
            LIST_8 => Ok(usize::from(self.u8()?)),
            LIST_16 => Ok(usize::from(self.u16()?)),
            _ => Err(DecodeError::InvalidListTag {
                tag,
                at: off(self.pos - 1),
            }),
        }
    }

    /// Reads one node into `node` (an empty node in its final place: building in place
    /// saves moving nodes and 40-byte strings through `Result`s, which stalls on
    /// store forwarding).
    fn read_node_into(&mut self, depth: usize, node: &mut NodeRef<'a>) -> Result<(), DecodeError> {
        if depth > self.max_depth {
            return Err(DecodeError::TooDeep(off(self.max_depth)));
        }
        let start = self.pos;
        let head = self.u8()?;
        let size = self.list_size(head)?;
        if size == 0 {
            return Err(DecodeError::InvalidNode(off(start)));
        }
        let t = self.u8()?;
        self.read_text_into(t, depth, &mut node.tag)?;
        if node.tag.raw_bytes().is_empty() {
            return Err(DecodeError::InvalidNode(off(start)));
        }
        let n_attrs = (size - 1) >> 1;
        if n_attrs > 0 {
            // Each attribute takes at least two bytes: a count the input cannot hold is
            // refused before anything is reserved for it.
            if n_attrs > self.remaining() / 2 {
                return Err(DecodeError::UnexpectedEof(off(self.data.len())));
            }
            // Reserve at most a little ahead of what has been read, so that declared counts
            // never buy memory the bytes have not paid for; slots are appended in place
            // (`resize_with`), and each is filled where it lies.
            node.attrs.reserve_exact(n_attrs.min(RESERVE_AHEAD));
            for i in 0..n_attrs {
                node.attrs.resize_with(i + 1, || (Text::EMPTY, Text::EMPTY));
                let (key, value) = &mut node.attrs[i];
                let k = self.u8()?;
                self.read_text_into(k, depth, key)?;
                let v = self.u8()?;
                self.read_text_into(v, depth, value)?;
            }
        }
        if size % 2 == 0 {
            let t = self.u8()?;
            match t {
                LIST_EMPTY | LIST_8 | LIST_16 => {
                    let n = self.list_size(t)?;
                    // A child takes at least three bytes (list header, size, tag): a count
                    // the input cannot hold is refused before anything is reserved for it.
                    if n > self.remaining() / 3 {
                        return Err(DecodeError::UnexpectedEof(off(self.data.len())));
                    }
                    // Nested lists could otherwise each reserve their declared size before
                    // their first child is read: grow with what was actually read instead.
                    let mut children = Vec::with_capacity(n.min(RESERVE_AHEAD));
                    for i in 0..n {
                        children.resize_with(i + 1, NodeRef::default);
                        self.read_node_into(depth + 1, &mut children[i])?;
                    }
                    node.content = Content::Nodes(children);
                }
                BINARY_8 | BINARY_20 | BINARY_32 => {
                    let n = self.byte_len(t)?;
                    node.content = Content::Bytes(Cow::Borrowed(self.take(n)?));
                }
                _ => {
                    node.content = Content::Text(Text::EMPTY);
                    if let Content::Text(text) = &mut node.content {
                        self.read_text_into(t, depth, text)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Reads a string item (tag byte `tag` just consumed) into `out`.
    fn read_text_into(
        &mut self,
        tag: u8,
        depth: usize,
        out: &mut Text<'a>,
    ) -> Result<(), DecodeError> {
        self.spend()?;
        match tag {
            LIST_EMPTY => *out = Text::EMPTY,
            1..=SINGLE_BYTE_MAX => *out = Text::borrowed(token::single(tag).unwrap_or_default()),
            DICTIONARY_0..=DICTIONARY_3 => {
                let i = self.u8()?;
                *out = Text::borrowed(token::double(tag - DICTIONARY_0, i).unwrap_or_default());
            }
            BINARY_8 | BINARY_20 | BINARY_32 => {
                let n = self.byte_len(tag)?;
                *out = Text::from(String::from_utf8_lossy(self.take(n)?));
            }
            NIBBLE_8 | HEX_8 => self.read_packed_into(tag, out)?,
            JID_PAIR => self.read_jid_pair_into(depth + 1, out)?,
            AD_JID => self.read_ad_jid_into(depth + 1, out)?,
            FB_JID => *out = self.read_fb_jid(depth + 1)?,
            INTEROP_JID => *out = self.read_interop_jid(depth + 1)?,
            _ => {
                return Err(DecodeError::InvalidStringTag {
                    tag,
                    at: off(self.pos - 1),
                });
            }
        }
        Ok(())
    }

    /// Reads a string item whose tag byte `tag` was just consumed.
    fn read_text(&mut self, tag: u8, depth: usize) -> Result<Text<'a>, DecodeError> {
        let mut text = Text::EMPTY;
        self.read_text_into(tag, depth, &mut text)?;
        Ok(text)
    }

    fn read_packed_into(&mut self, tag: u8, text: &mut Text<'a>) -> Result<(), DecodeError> {
        let start = self.u8()?;
        let at = self.pos;
        let bytes = self.take(usize::from(start & 0x7f))?;
        let table = if tag == NIBBLE_8 {
            &NIBBLE_PAIRS
        } else {
            &HEX_PAIRS
        };
        let mut chars = bytes.len() * 2;
        if start & 0x80 != 0 {
            chars = chars.saturating_sub(1);
        }
        // Short strings (the usual ids, numbers and JID users) unpack into a small stack
        // buffer; long ones into an exact-size heap buffer.
        let mut small = [0u8; 2 * SMALL_PACKED];
        let mut large = Vec::new();
        let out: &mut [u8] = if bytes.len() <= SMALL_PACKED {
            &mut small[..]
        } else {
            large.resize(bytes.len() * 2, 0);
            &mut large[..]
        };
        for ((i, &b), pair) in bytes.iter().enumerate().zip(out.chunks_exact_mut(2)) {
            let [hi, lo] = table[usize::from(b)];
            if hi == INVALID || lo == INVALID {
                let nibble = if hi == INVALID { b >> 4 } else { b & 0x0f };
                return Err(DecodeError::InvalidNibble {
                    nibble,
                    at: off(at + i),
                });
            }
            pair[0] = hi;
            pair[1] = lo;
        }
        *text = Text::from_padded(out, chars);
        Ok(())
    }

    /// Reads a JID's user (or server) straight into `out`: packed strings, the usual case,
    /// unpack in place instead of through an intermediate [`Text`].
    fn nested_into(
        &mut self,
        depth: usize,
        out: &mut TextWriter<'_, 'a>,
    ) -> Result<(), DecodeError> {
        self.spend()?;
        if depth > self.max_depth {
            return Err(DecodeError::TooDeep(off(self.max_depth)));
        }
        let t = self.u8()?;
        if t == NIBBLE_8 || t == HEX_8 {
            let start = self.u8()?;
            let at = self.pos;
            let bytes = self.take(usize::from(start & 0x7f))?;
            let table = if t == NIBBLE_8 {
                &NIBBLE_PAIRS
            } else {
                &HEX_PAIRS
            };
            let last = bytes.len().wrapping_sub(1);
            for (i, &b) in bytes.iter().enumerate() {
                let [hi, lo] = table[usize::from(b)];
                if hi == INVALID || lo == INVALID {
                    let nibble = if hi == INVALID { b >> 4 } else { b & 0x0f };
                    return Err(DecodeError::InvalidNibble {
                        nibble,
                        at: off(at + i),
                    });
                }
                if i == last && start & 0x80 != 0 {
                    out.push_ascii_raw(hi);
                } else {
                    out.push_pair(hi, lo);
                }
            }
            Ok(())
        } else {
            let text = self.read_text(t, depth)?;
            out.push_text(&text);
            Ok(())
        }
    }

    fn nested(&mut self, depth: usize) -> Result<Text<'a>, DecodeError> {
        if depth > self.max_depth {
            return Err(DecodeError::TooDeep(off(self.max_depth)));
        }
        let t = self.u8()?;
        self.read_text(t, depth)
    }

    fn read_jid_pair_into(&mut self, depth: usize, text: &mut Text<'a>) -> Result<(), DecodeError> {
        let at = self.pos - 1;
        let mut out = TextWriter::new(text);
        self.nested_into(depth, &mut out)?;
        out.push_ascii(b'@');
        let before = out.len();
        self.nested_into(depth, &mut out)?;
        if out.len() == before {
            return Err(DecodeError::InvalidJidPair(off(at)));
        }
        out.finish();
        Ok(())
    }

    fn read_ad_jid_into(&mut self, depth: usize, text: &mut Text<'a>) -> Result<(), DecodeError> {
        let domain = self.u8()?;
        let device = self.u8()?;
        let mut out = TextWriter::new(text);
        self.nested_into(depth, &mut out)?;
        let server = match domain {
            super::jid::DOMAIN_LID => "lid",
            super::jid::DOMAIN_HOSTED => "hosted",
            super::jid::DOMAIN_HOSTED_LID => "hosted.lid",
            _ => "s.whatsapp.net",
        };
        // Baileys' jidEncode leaves out device 0.
        if device != 0 {
            out.push_ascii(b':');
            out.push_u32(u32::from(device));
        }
        out.push_ascii(b'@');
        out.push_str(server);
        out.finish();
        Ok(())
    }

    fn read_fb_jid(&mut self, depth: usize) -> Result<Text<'a>, DecodeError> {
        let user = self.nested(depth)?;
        let device = self.u16()?;
        let server = self.nested(depth)?;
        let mut text = Text::EMPTY;
        let mut out = TextWriter::new(&mut text);
        out.push_text(&user);
        out.push_ascii(b':');
        out.push_u32(u32::from(device));
        out.push_ascii(b'@');
        out.push_text(&server);
        out.finish();
        Ok(text)
    }

    fn read_interop_jid(&mut self, depth: usize) -> Result<Text<'a>, DecodeError> {
        let user = self.nested(depth)?;
        let device = self.u16()?;
        let integrator = self.u16()?;
        // Baileys reads the server optionally: when it does not parse, it rewinds and uses
        // `interop`. Doing the same keeps both decoders agreeing on what follows.
        let before = self.pos;
        let server = match self.nested(depth) {
            Ok(s) => s,
            Err(_) => {
                self.pos = before;
                Text::borrowed("interop")
            }
        };
        let mut text = Text::EMPTY;
        let mut out = TextWriter::new(&mut text);
        out.push_u32(u32::from(integrator));
        out.push_ascii(b'-');
        out.push_text(&user);
        out.push_ascii(b':');
        out.push_u32(u32::from(device));
        out.push_ascii(b'@');
        out.push_text(&server);
        out.finish();
        Ok(text)
    }
}
