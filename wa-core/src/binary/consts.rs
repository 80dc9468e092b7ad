//! Tag bytes of the WABinary format.

/// Empty list; as a string item, the empty string.
pub const LIST_EMPTY: u8 = 0;
/// Highest single-byte token index.
pub const SINGLE_BYTE_MAX: u8 = 235;
/// Double-byte token in dictionary 0 (one index byte follows).
pub const DICTIONARY_0: u8 = 236;
/// Double-byte token in dictionary 1.
pub const DICTIONARY_1: u8 = 237;
/// Double-byte token in dictionary 2.
pub const DICTIONARY_2: u8 = 238;
/// Double-byte token in dictionary 3.
pub const DICTIONARY_3: u8 = 239;
/// Interop JID: user, device (u16), integrator (u16), server.
pub const INTEROP_JID: u8 = 245;
/// Messenger JID: user, device (u16), server.
pub const FB_JID: u8 = 246;
/// Device JID: domain byte, device byte, user.
pub const AD_JID: u8 = 247;
/// List with a one-byte size.
pub const LIST_8: u8 = 248;
/// List with a two-byte (big-endian) size.
pub const LIST_16: u8 = 249;
/// JID without device: user (or `LIST_EMPTY`), server.
pub const JID_PAIR: u8 = 250;
/// Packed uppercase-hex string.
pub const HEX_8: u8 = 251;
/// Bytes with a one-byte length.
pub const BINARY_8: u8 = 252;
/// Bytes with a 20-bit (three-byte) length.
pub const BINARY_20: u8 = 253;
/// Bytes with a four-byte length.
pub const BINARY_32: u8 = 254;
/// Packed nibble string (`0-9`, `-`, `.`).
pub const NIBBLE_8: u8 = 255;
/// Longest packable string, in characters.
pub const PACKED_MAX: usize = 127;
/// Flag bit of a compressed (zlib) frame body.
pub const FLAG_COMPRESSED: u8 = 0x02;
