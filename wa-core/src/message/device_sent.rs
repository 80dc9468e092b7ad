//! Own-device fan-out: a message we send to someone is also encrypted for our other devices,
//! wrapped as `deviceSentMessage { destinationJid, message }` so they file it in the right chat.

use crate::proto::{self, message::DeviceSentMessage};

/// A message one of our other devices sent, unwrapped.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSent {
    /// The chat it was sent to.
    pub destination_jid: String,
    /// The phash of the recipient devices, when present.
    pub phash: Option<String>,
    /// The message as the recipient got it.
    pub message: proto::Message,
}

/// Wraps `message` for our own other devices. The `messageContextInfo` stays on the outside
/// too, as whatsmeow and Baileys do.
pub fn wrap_device_sent(
    message: &proto::Message,
    destination_jid: &str,
    phash: Option<&str>,
) -> proto::Message {
    proto::Message {
        device_sent_message: Some(Box::new(DeviceSentMessage {
            destination_jid: Some(destination_jid.to_owned()),
            message: Some(Box::new(message.clone())),
            phash: phash.map(str::to_owned),
        })),
        message_context_info: message.message_context_info.clone(),
        ..Default::default()
    }
}

/// The inner message of a `deviceSentMessage`, or `None` when `message` is not one (or has no
/// inner message). The outer `messageContextInfo` fills in a missing inner one.
pub fn unwrap_device_sent(message: &proto::Message) -> Option<DeviceSent> {
    let sent = message.device_sent_message.as_deref()?;
    let mut inner = sent.message.as_deref()?.clone();
    if inner.message_context_info.is_none() {
        inner.message_context_info = message.message_context_info.clone();
    }
    Some(DeviceSent {
        destination_jid: sent.destination_jid.clone().unwrap_or_default(),
        phash: sent.phash.clone(),
        message: inner,
    })
}
