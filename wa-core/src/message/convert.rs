//! [`MessageContent`] <-> `proto::Message`.

use bytes::Bytes;
use prost::Message as _;

use super::content::*;
use crate::proto::{
    self,
    message::{
        AudioMessage, ContactMessage, DocumentMessage, ExtendedTextMessage, FutureProofMessage,
        ImageMessage, LocationMessage, PollCreationMessage, ProtocolMessage, ReactionMessage,
        StickerMessage, VideoMessage, poll_creation_message::Option as PollOption,
        protocol_message::Type as ProtocolType,
    },
};

/// Wrappers (ephemeral, view once, …) unwrapped before giving up and keeping the raw message.
const MAX_WRAPPERS: usize = 8;

/// Why bytes are not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// The bytes are not a `Message` protobuf (or nest deeper than the decoder allows).
    #[error("message protobuf does not decode")]
    Decode,
}

fn bytes(v: &Option<Vec<u8>>) -> Option<Bytes> {
    v.as_ref().map(|b| Bytes::copy_from_slice(b))
}

fn vec(v: &Option<Bytes>) -> Option<Vec<u8>> {
    v.as_ref().map(|b| b.to_vec())
}

fn flag(v: bool) -> Option<bool> {
    v.then_some(true)
}

/// The upload fields every media protobuf carries under the same names, read into [`Media`].
macro_rules! media_in {
    ($x:expr) => {
        Media {
            url: $x.url.clone(),
            direct_path: $x.direct_path.clone(),
            media_key: vec(&$x.media_key),
            file_sha256: vec(&$x.file_sha256),
            file_enc_sha256: vec(&$x.file_enc_sha256),
            file_length: $x.file_length,
            mimetype: $x.mimetype.clone(),
            media_key_timestamp: $x.media_key_timestamp,
        }
    };
}

/// A media protobuf of type `$ty` with only the upload fields of [`Media`] `$f` set; the
/// kind-specific fields come first in the struct literal that uses it as its base.
macro_rules! media_out {
    ($ty:ident, $f:expr) => {
        $ty {
            url: $f.url.clone(),
            mimetype: $f.mimetype.clone(),
            file_sha256: bytes(&$f.file_sha256),
            file_length: $f.file_length,
            media_key: bytes(&$f.media_key),
            file_enc_sha256: bytes(&$f.file_enc_sha256),
            direct_path: $f.direct_path.clone(),
            media_key_timestamp: $f.media_key_timestamp,
            ..Default::default()
        }
    };
}

impl MessageKey {
    /// The protobuf form.
    pub fn to_proto(&self) -> proto::MessageKey {
        proto::MessageKey {
            remote_jid: Some(self.remote_jid.clone()),
            from_me: Some(self.from_me),
            id: Some(self.id.clone()),
            participant: self.participant.clone(),
        }
    }

    /// From the protobuf form (missing fields become empty).
    pub fn from_proto(key: &proto::MessageKey) -> Self {
        MessageKey {
            remote_jid: key.remote_jid.clone().unwrap_or_default(),
            from_me: key.from_me.unwrap_or(false),
            id: key.id.clone().unwrap_or_default(),
            participant: key.participant.clone(),
        }
    }
}

impl Context {
    /// The protobuf `ContextInfo`.
    pub fn to_proto(&self) -> proto::ContextInfo {
        let quote = self.quote.as_ref();
        proto::ContextInfo {
            stanza_id: quote.map(|q| q.stanza_id.clone()),
            participant: quote.and_then(|q| q.participant.clone()),
            quoted_message: quote.and_then(|q| q.message.clone()),
            remote_jid: quote.and_then(|q| q.remote_jid.clone()),
            mentioned_jid: self.mentions.clone(),
            forwarding_score: self.forwarding_score,
            is_forwarded: flag(self.forwarded),
            expiration: self.expiration,
            ..Default::default()
        }
    }

    /// From a protobuf `ContextInfo`; `None` when it carries nothing this model keeps.
    pub fn from_proto(info: &proto::ContextInfo) -> Option<Self> {
        let quote = info.stanza_id.as_ref().map(|id| Quote {
            stanza_id: id.clone(),
            participant: info.participant.clone(),
            remote_jid: info.remote_jid.clone(),
            message: info.quoted_message.clone(),
        });
        let context = Context {
            quote,
            mentions: info.mentioned_jid.clone(),
            forwarded: info.is_forwarded.unwrap_or(false),
            forwarding_score: info.forwarding_score,
            expiration: info.expiration,
        };
        (context != Context::default()).then_some(context)
    }
}

fn ctx_out(c: &Option<Context>) -> Option<Box<proto::ContextInfo>> {
    c.as_ref().map(|c| Box::new(c.to_proto()))
}

fn ctx_in(c: &Option<Box<proto::ContextInfo>>) -> Option<Context> {
    c.as_deref().and_then(Context::from_proto)
}

impl MessageContent {
    /// The protobuf to encrypt and send.
    pub fn to_proto(&self) -> proto::Message {
        let mut out = proto::Message::default();
        match self {
            MessageContent::Text(t) if t.preview.is_none() && t.context.is_none() => {
                out.conversation = Some(t.text.clone());
            }
            MessageContent::Text(t) => {
                let p = t.preview.clone().unwrap_or_default();
                out.extended_text_message = Some(Box::new(ExtendedTextMessage {
                    text: Some(t.text.clone()),
                    matched_text: p.matched_text,
                    title: p.title,
                    description: p.description,
                    jpeg_thumbnail: bytes(&p.jpeg_thumbnail),
                    context_info: ctx_out(&t.context),
                    ..Default::default()
                }));
            }
            MessageContent::Image(m) => {
                let f = &m.media;
                out.image_message = Some(Box::new(ImageMessage {
                    caption: m.caption.clone(),
                    height: m.height,
                    width: m.width,
                    jpeg_thumbnail: bytes(&m.jpeg_thumbnail),
                    context_info: ctx_out(&m.context),
                    view_once: flag(m.view_once),
                    ..media_out!(ImageMessage, f)
                }));
            }
            MessageContent::Video(m) => {
                let f = &m.media;
                let video = Box::new(VideoMessage {
                    seconds: m.seconds,
                    caption: m.caption.clone(),
                    gif_playback: flag(m.gif_playback),
                    height: m.height,
                    width: m.width,
                    jpeg_thumbnail: bytes(&m.jpeg_thumbnail),
                    context_info: ctx_out(&m.context),
                    view_once: flag(m.view_once),
                    ..media_out!(VideoMessage, f)
                });
                if m.round {
                    out.ptv_message = Some(video);
                } else {
                    out.video_message = Some(video);
                }
            }
            MessageContent::Audio(m) => {
                let f = &m.media;
                out.audio_message = Some(Box::new(AudioMessage {
                    seconds: m.seconds,
                    ptt: flag(m.voice_note),
                    context_info: ctx_out(&m.context),
                    waveform: bytes(&m.waveform),
                    view_once: flag(m.view_once),
                    ..media_out!(AudioMessage, f)
                }));
            }
            MessageContent::Document(m) => {
                let f = &m.media;
                out.document_message = Some(Box::new(DocumentMessage {
                    title: m.title.clone(),
                    page_count: m.page_count,
                    file_name: m.file_name.clone(),
                    jpeg_thumbnail: bytes(&m.jpeg_thumbnail),
                    context_info: ctx_out(&m.context),
                    caption: m.caption.clone(),
                    ..media_out!(DocumentMessage, f)
                }));
            }
            MessageContent::Sticker(m) => {
                let f = &m.media;
                out.sticker_message = Some(Box::new(StickerMessage {
                    height: m.height,
                    width: m.width,
                    is_animated: flag(m.animated),
                    context_info: ctx_out(&m.context),
                    ..media_out!(StickerMessage, f)
                }));
            }
            MessageContent::Location(m) => {
                out.location_message = Some(Box::new(LocationMessage {
                    degrees_latitude: Some(m.latitude),
                    degrees_longitude: Some(m.longitude),
                    name: m.name.clone(),
                    address: m.address.clone(),
                    url: m.url.clone(),
                    comment: m.comment.clone(),
                    jpeg_thumbnail: bytes(&m.jpeg_thumbnail),
                    context_info: ctx_out(&m.context),
                    ..Default::default()
                }));
            }
            MessageContent::Contact(m) => {
                out.contact_message = Some(Box::new(ContactMessage {
                    display_name: m.display_name.clone(),
                    vcard: Some(m.vcard.clone()),
                    context_info: ctx_out(&m.context),
                }));
            }
            MessageContent::Reaction(m) => {
                out.reaction_message = Some(ReactionMessage {
                    key: Some(m.target.to_proto()),
                    text: Some(m.emoji.clone()),
                    grouping_key: None,
                    sender_timestamp_ms: m.sender_timestamp_ms,
                });
            }
            MessageContent::Edit(m) => {
                let protocol = proto::Message {
                    protocol_message: Some(Box::new(ProtocolMessage {
                        key: Some(m.target.to_proto()),
                        r#type: Some(ProtocolType::MessageEdit as i32),
                        edited_message: Some(Box::new(m.content.to_proto())),
                        timestamp_ms: m.timestamp_ms,
                        ..Default::default()
                    })),
                    ..Default::default()
                };
                out.edited_message = Some(Box::new(FutureProofMessage {
                    message: Some(Box::new(protocol)),
                }));
            }
            MessageContent::Revoke(m) => {
                out.protocol_message = Some(Box::new(ProtocolMessage {
                    key: Some(m.target.to_proto()),
                    r#type: Some(ProtocolType::Revoke as i32),
                    ..Default::default()
                }));
            }
            MessageContent::Poll(m) => {
                out.poll_creation_message = Some(Box::new(PollCreationMessage {
                    name: Some(m.name.clone()),
                    options: m
                        .options
                        .iter()
                        .map(|o| PollOption {
                            option_name: Some(o.clone()),
                            option_hash: None,
                        })
                        .collect(),
                    selectable_options_count: Some(m.selectable_count),
                    context_info: ctx_out(&m.context),
                    ..Default::default()
                }));
                if let Some(secret) = m.message_secret {
                    out.message_context_info = Some(proto::MessageContextInfo {
                        message_secret: Some(Bytes::copy_from_slice(&secret)),
                        ..Default::default()
                    });
                }
            }
            MessageContent::Unsupported(raw) => return (**raw).clone(),
        }
        out
    }

    /// Decodes `Message` protobuf bytes (a decrypted, unpadded payload) into content.
    pub fn decode(bytes: &[u8]) -> Result<Self, ContentError> {
        let message = proto::Message::decode(bytes).map_err(|_| ContentError::Decode)?;
        Ok(MessageContent::from_proto(&message))
    }

    /// The content of a received message. Wrappers (ephemeral, view once, document with
    /// caption, device-sent) are looked through; kinds not modelled here, and known kinds
    /// missing their required fields, come back as [`MessageContent::Unsupported`].
    pub fn from_proto(message: &proto::Message) -> Self {
        from_proto_at(message, message, 0)
    }
}

fn inner(w: &Option<Box<FutureProofMessage>>) -> Option<&proto::Message> {
    w.as_deref()?.message.as_deref()
}

fn from_proto_at(m: &proto::Message, original: &proto::Message, depth: usize) -> MessageContent {
    let unsupported = || MessageContent::Unsupported(Box::new(original.clone()));
    if depth > MAX_WRAPPERS {
        return unsupported();
    }
    let wrapped = inner(&m.ephemeral_message)
        .or_else(|| inner(&m.document_with_caption_message))
        .or_else(|| m.device_sent_message.as_deref()?.message.as_deref());
    if let Some(w) = wrapped {
        return from_proto_at(w, original, depth + 1);
    }
    if let Some(w) = inner(&m.view_once_message).or_else(|| inner(&m.view_once_message_v2)) {
        let mut content = from_proto_at(w, original, depth + 1);
        match &mut content {
            MessageContent::Image(x) => x.view_once = true,
            MessageContent::Video(x) => x.view_once = true,
            MessageContent::Audio(x) => x.view_once = true,
            _ => {}
        }
        return content;
    }
    if let Some(w) = inner(&m.edited_message) {
        // The edit itself is a protocolMessage inside the wrapper.
        return match from_proto_at(w, w, depth + 1) {
            edit @ MessageContent::Edit(_) => edit,
            _ => unsupported(),
        };
    }
    if let Some(text) = &m.conversation {
        return MessageContent::Text(Text {
            text: text.clone(),
            ..Default::default()
        });
    }
    if let Some(t) = &m.extended_text_message {
        let preview = LinkPreview {
            matched_text: t.matched_text.clone(),
            title: t.title.clone(),
            description: t.description.clone(),
            jpeg_thumbnail: vec(&t.jpeg_thumbnail),
        };
        return MessageContent::Text(Text {
            text: t.text.clone().unwrap_or_default(),
            preview: (preview != LinkPreview::default()).then_some(preview),
            context: ctx_in(&t.context_info),
        });
    }
    if let Some(x) = &m.image_message {
        return MessageContent::Image(Image {
            media: media_in!(x),
            caption: x.caption.clone(),
            width: x.width,
            height: x.height,
            jpeg_thumbnail: vec(&x.jpeg_thumbnail),
            view_once: x.view_once.unwrap_or(false),
            context: ctx_in(&x.context_info),
        });
    }
    if let Some((x, round)) = m
        .video_message
        .as_deref()
        .map(|v| (v, false))
        .or_else(|| m.ptv_message.as_deref().map(|v| (v, true)))
    {
        return MessageContent::Video(Video {
            media: media_in!(x),
            caption: x.caption.clone(),
            width: x.width,
            height: x.height,
            seconds: x.seconds,
            gif_playback: x.gif_playback.unwrap_or(false),
            round,
            jpeg_thumbnail: vec(&x.jpeg_thumbnail),
            view_once: x.view_once.unwrap_or(false),
            context: ctx_in(&x.context_info),
        });
    }
    if let Some(x) = &m.audio_message {
        return MessageContent::Audio(Audio {
            media: media_in!(x),
            seconds: x.seconds,
            voice_note: x.ptt.unwrap_or(false),
            waveform: vec(&x.waveform),
            view_once: x.view_once.unwrap_or(false),
            context: ctx_in(&x.context_info),
        });
    }
    if let Some(x) = &m.document_message {
        return MessageContent::Document(Document {
            media: media_in!(x),
            file_name: x.file_name.clone(),
            title: x.title.clone(),
            caption: x.caption.clone(),
            page_count: x.page_count,
            jpeg_thumbnail: vec(&x.jpeg_thumbnail),
            context: ctx_in(&x.context_info),
        });
    }
    if let Some(x) = &m.sticker_message {
        return MessageContent::Sticker(Sticker {
            media: media_in!(x),
            width: x.width,
            height: x.height,
            animated: x.is_animated.unwrap_or(false),
            context: ctx_in(&x.context_info),
        });
    }
    if let Some(x) = &m.location_message {
        return MessageContent::Location(Location {
            latitude: x.degrees_latitude.unwrap_or(0.0),
            longitude: x.degrees_longitude.unwrap_or(0.0),
            name: x.name.clone(),
            address: x.address.clone(),
            url: x.url.clone(),
            comment: x.comment.clone(),
            jpeg_thumbnail: vec(&x.jpeg_thumbnail),
            context: ctx_in(&x.context_info),
        });
    }
    if let Some(x) = &m.contact_message {
        return MessageContent::Contact(Contact {
            display_name: x.display_name.clone(),
            vcard: x.vcard.clone().unwrap_or_default(),
            context: ctx_in(&x.context_info),
        });
    }
    if let Some(x) = &m.reaction_message {
        let Some(key) = &x.key else {
            return unsupported();
        };
        return MessageContent::Reaction(Reaction {
            target: MessageKey::from_proto(key),
            emoji: x.text.clone().unwrap_or_default(),
            sender_timestamp_ms: x.sender_timestamp_ms,
        });
    }
    if let Some(x) = &m.protocol_message {
        let Some(key) = &x.key else {
            return unsupported();
        };
        let target = MessageKey::from_proto(key);
        return match (
            x.r#type.and_then(|t| ProtocolType::try_from(t).ok()),
            &x.edited_message,
        ) {
            (Some(ProtocolType::Revoke), _) => MessageContent::Revoke(Revoke { target }),
            (Some(ProtocolType::MessageEdit), Some(new)) => MessageContent::Edit(Edit {
                target,
                content: Box::new(from_proto_at(new, new, depth + 1)),
                timestamp_ms: x.timestamp_ms,
            }),
            _ => unsupported(),
        };
    }
    let poll = m
        .poll_creation_message
        .as_deref()
        .or(m.poll_creation_message_v2.as_deref())
        .or(m.poll_creation_message_v3.as_deref());
    if let Some(x) = poll {
        // Wrapped polls may carry the secret on the outer message only.
        let secret = [m, original]
            .into_iter()
            .filter_map(|x| x.message_context_info.as_ref()?.message_secret.as_deref())
            .find_map(|s| <[u8; 32]>::try_from(s).ok());
        return MessageContent::Poll(Poll {
            name: x.name.clone().unwrap_or_default(),
            options: x
                .options
                .iter()
                .map(|o| o.option_name.clone().unwrap_or_default())
                .collect(),
            selectable_count: x.selectable_options_count.unwrap_or(0),
            message_secret: secret,
            context: ctx_in(&x.context_info),
        });
    }
    unsupported()
}
