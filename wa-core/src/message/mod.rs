//! Messages: ids, the typed content model ([`MessageContent`]) and its protobuf conversions,
//! and own-device fan-out wrapping.
//!
//! WhatsApp's plaintext padding lives in `signal::padding`, next to the encryption it precedes.

mod content;
mod convert;
mod device_sent;
mod id;
#[cfg(test)]
mod tests;

pub use content::{
    Audio, Contact, Context, Document, Edit, Image, LinkPreview, Location, Media, MessageContent,
    MessageKey, Poll, Quote, Reaction, Revoke, Sticker, Text, Video,
};
pub use convert::ContentError;
pub use device_sent::{DeviceSent, unwrap_device_sent, wrap_device_sent};
pub use id::{MESSAGE_ID_PREFIX, message_id, new_message_id};
