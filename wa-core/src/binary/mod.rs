//! WABinary: the binary XML-like node format of the WhatsApp Web protocol.
//!
//! A decrypted frame is a flags byte (bit `0x02`: the rest is zlib) followed by one node:
//! a list header, the tag, attribute key/value pairs, and optional content (child nodes,
//! bytes, or a string). Strings are tokens from the version-3 dictionaries ([`token`]),
//! packed nibble/hex strings, JIDs, or raw UTF-8.
//!
//! - [`decode`] / [`decode_frame`]: untrusted bytes to [`NodeRef`] (zero-copy) / [`Node`];
//! - [`encode`] / [`encode_frame`]: a node to bytes, byte-for-byte as Baileys 7 writes them;
//! - [`Jid`]: addresses, parsed from and printed to the text form nodes carry;
//! - `json` (feature `json`): the JSON form shared with the CLI and the interop tests.
//!
//! ```
//! use wa_core::binary::{decode_frame, encode_frame, Node};
//! let ack = Node::new("ack").with_attr("id", "3EB0ABCDEF").with_attr("class", "receipt");
//! let frame = encode_frame(&ack).unwrap();
//! assert_eq!(decode_frame(&frame).unwrap(), ack);
//! ```

pub mod consts;
mod decode;
mod encode;
pub mod jid;
#[cfg(feature = "json")]
pub mod json;
mod node;
mod text;
pub mod token;
mod token_hash;

#[cfg(test)]
mod tests;

pub use decode::{
    DEFAULT_MAX_DEPTH, DEFAULT_MAX_INFLATED_LEN, DecodeError, DecodeLimits, decode, decode_frame,
    decode_frame_with, decode_with, unpack,
};
pub use encode::{EncodeError, encode, encode_frame, encode_jid, encode_str};
pub use jid::{Jid, JidError, Server};
pub use node::{Content, Node, NodeRef};
pub use text::{INLINE_CAP, Text};
