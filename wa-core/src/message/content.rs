//! The typed content of one message: what a bot reads and writes instead of the raw protobuf.

use crate::crypto::{media::MediaKind, sha256};
use crate::proto;

/// Identifies one message (the target of a reaction, edit or revoke).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageKey {
    /// The chat JID.
    pub remote_jid: String,
    /// Whether the target was sent by us.
    pub from_me: bool,
    /// The message id.
    pub id: String,
    /// The sender, in groups when not from us.
    pub participant: Option<String>,
}

/// The message a reply quotes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Quote {
    /// Id of the quoted message (`stanzaId`).
    pub stanza_id: String,
    /// Sender of the quoted message.
    pub participant: Option<String>,
    /// Chat of the quoted message, when it differs from the reply's chat.
    pub remote_jid: Option<String>,
    /// The quoted message's content, as WhatsApp shows it above the reply.
    pub message: Option<Box<proto::Message>>,
}

/// Reply, mention and forwarding context; every content kind except reactions, edits and
/// revokes can carry one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Context {
    /// The message replied to.
    pub quote: Option<Quote>,
    /// JIDs mentioned in the text (`@<number>` in the text itself).
    pub mentions: Vec<String>,
    /// Marked as forwarded.
    pub forwarded: bool,
    /// How many times it was forwarded.
    pub forwarding_score: Option<u32>,
    /// Disappearing-messages timer of the chat, seconds.
    pub expiration: Option<u32>,
}

impl Context {
    /// A context that replies to `quote`.
    pub fn reply(quote: Quote) -> Self {
        Context {
            quote: Some(quote),
            ..Default::default()
        }
    }

    /// A context that mentions `jids`.
    pub fn mentioning<I: IntoIterator<Item = S>, S: Into<String>>(jids: I) -> Self {
        Context {
            mentions: jids.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }
}

/// Link-preview fields of an extended text message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinkPreview {
    /// The URL as it appears in the text.
    pub matched_text: Option<String>,
    /// Page title.
    pub title: Option<String>,
    /// Page description.
    pub description: Option<String>,
    /// Inline JPEG thumbnail.
    pub jpeg_thumbnail: Option<Vec<u8>>,
}

/// A text message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Text {
    /// The text.
    pub text: String,
    /// Link preview (sent as `extendedTextMessage`).
    pub preview: Option<LinkPreview>,
    /// Reply and mentions (sent as `extendedTextMessage`).
    pub context: Option<Context>,
}

/// Where an uploaded, encrypted media file is and how to check and decrypt it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Media {
    /// Full download URL.
    pub url: Option<String>,
    /// Path on the media hosts (starts with `/`).
    pub direct_path: Option<String>,
    /// The 32-byte media key.
    pub media_key: Option<Vec<u8>>,
    /// SHA-256 of the plaintext.
    pub file_sha256: Option<Vec<u8>>,
    /// SHA-256 of the uploaded (encrypted) blob.
    pub file_enc_sha256: Option<Vec<u8>>,
    /// Plaintext length.
    pub file_length: Option<u64>,
    /// MIME type.
    pub mimetype: Option<String>,
    /// When the media key was made (unix seconds).
    pub media_key_timestamp: Option<i64>,
}

impl Media {
    /// The media key when it is exactly 32 bytes.
    pub fn media_key32(&self) -> Option<[u8; 32]> {
        self.media_key.as_deref()?.try_into().ok()
    }
}

/// An image.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Image {
    /// Upload fields.
    pub media: Media,
    /// Caption.
    pub caption: Option<String>,
    /// Width in pixels.
    pub width: Option<u32>,
    /// Height in pixels.
    pub height: Option<u32>,
    /// Inline JPEG thumbnail.
    pub jpeg_thumbnail: Option<Vec<u8>>,
    /// View once.
    pub view_once: bool,
    /// Reply and mentions.
    pub context: Option<Context>,
}

/// A video, GIF or round video.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Video {
    /// Upload fields.
    pub media: Media,
    /// Caption.
    pub caption: Option<String>,
    /// Width in pixels.
    pub width: Option<u32>,
    /// Height in pixels.
    pub height: Option<u32>,
    /// Duration in seconds.
    pub seconds: Option<u32>,
    /// Play as a looping GIF.
    pub gif_playback: bool,
    /// Round video message (`ptvMessage`).
    pub round: bool,
    /// Inline JPEG thumbnail.
    pub jpeg_thumbnail: Option<Vec<u8>>,
    /// View once.
    pub view_once: bool,
    /// Reply and mentions.
    pub context: Option<Context>,
}

/// An audio file or voice note.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Audio {
    /// Upload fields.
    pub media: Media,
    /// Duration in seconds.
    pub seconds: Option<u32>,
    /// Voice note (`ptt`).
    pub voice_note: bool,
    /// Voice-note waveform (64 samples 0..100).
    pub waveform: Option<Vec<u8>>,
    /// View once.
    pub view_once: bool,
    /// Reply and mentions.
    pub context: Option<Context>,
}

/// A document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// Upload fields.
    pub media: Media,
    /// File name shown to the recipient.
    pub file_name: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Caption.
    pub caption: Option<String>,
    /// Page count.
    pub page_count: Option<u32>,
    /// Inline JPEG thumbnail.
    pub jpeg_thumbnail: Option<Vec<u8>>,
    /// Reply and mentions.
    pub context: Option<Context>,
}

/// A sticker.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sticker {
    /// Upload fields.
    pub media: Media,
    /// Width in pixels.
    pub width: Option<u32>,
    /// Height in pixels.
    pub height: Option<u32>,
    /// Animated sticker.
    pub animated: bool,
    /// Reply and mentions.
    pub context: Option<Context>,
}

/// A shared location.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Location {
    /// Latitude in degrees.
    pub latitude: f64,
    /// Longitude in degrees.
    pub longitude: f64,
    /// Place name.
    pub name: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Link.
    pub url: Option<String>,
    /// Comment.
    pub comment: Option<String>,
    /// Inline JPEG thumbnail.
    pub jpeg_thumbnail: Option<Vec<u8>>,
    /// Reply and mentions.
    pub context: Option<Context>,
}

/// A contact card.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Contact {
    /// Name shown in the chat.
    pub display_name: Option<String>,
    /// The vCard text.
    pub vcard: String,
    /// Reply and mentions.
    pub context: Option<Context>,
}

/// An emoji reaction to another message; an empty emoji removes our reaction.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reaction {
    /// The message reacted to.
    pub target: MessageKey,
    /// The emoji, or `""` to remove.
    pub emoji: String,
    /// When the reaction was made, unix milliseconds.
    pub sender_timestamp_ms: Option<i64>,
}

/// A new content for one of our earlier messages.
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    /// The message edited (ours).
    pub target: MessageKey,
    /// The replacement content.
    pub content: Box<MessageContent>,
    /// When the edit was made, unix milliseconds.
    pub timestamp_ms: Option<i64>,
}

/// "Delete for everyone".
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Revoke {
    /// The message deleted.
    pub target: MessageKey,
}

/// A poll.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Poll {
    /// The question.
    pub name: String,
    /// The options, in order.
    pub options: Vec<String>,
    /// How many options a voter may pick; 0 = any number.
    pub selectable_count: u32,
    /// The secret votes are encrypted with (`messageContextInfo.messageSecret`); required to
    /// send a poll, see [`Poll::new`].
    pub message_secret: Option<[u8; 32]>,
    /// Reply and mentions.
    pub context: Option<Context>,
}

impl Poll {
    /// A poll with a fresh 32-byte message secret from `rng`.
    pub fn new<R: rand_core::RngCore + rand_core::CryptoRng>(
        rng: &mut R,
        name: impl Into<String>,
        options: Vec<String>,
        selectable_count: u32,
    ) -> Self {
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        Poll {
            name: name.into(),
            options,
            selectable_count,
            message_secret: Some(secret),
            context: None,
        }
    }

    /// SHA-256 of each option name: how votes name the options they select.
    pub fn option_hashes(&self) -> Vec<[u8; 32]> {
        self.options.iter().map(|o| sha256(o.as_bytes())).collect()
    }
}

/// What one message says.
///
/// [`MessageContent::to_proto`] and [`MessageContent::from_proto`] convert to and from the
/// protobuf; kinds this model does not cover come back as [`MessageContent::Unsupported`]
/// holding the protobuf, so nothing received is ever lost.
///
/// ```
/// use wa_core::message::{Context, MessageContent, Text};
/// let reply = MessageContent::Text(Text {
///     text: "hi @6281".into(),
///     context: Some(Context::mentioning(["6281@s.whatsapp.net"])),
///     ..Default::default()
/// });
/// let proto = reply.to_proto();
/// assert_eq!(MessageContent::from_proto(&proto), reply);
/// assert_eq!(reply.text(), Some("hi @6281"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MessageContent {
    /// Text (`conversation`, or `extendedTextMessage` when it has a preview or context).
    Text(Text),
    /// Image.
    Image(Image),
    /// Video.
    Video(Video),
    /// Audio or voice note.
    Audio(Audio),
    /// Document.
    Document(Document),
    /// Sticker.
    Sticker(Sticker),
    /// Location.
    Location(Location),
    /// Contact card.
    Contact(Contact),
    /// Reaction.
    Reaction(Reaction),
    /// Edit of an earlier message.
    Edit(Edit),
    /// Delete for everyone.
    Revoke(Revoke),
    /// Poll.
    Poll(Poll),
    /// Anything else, as received.
    Unsupported(Box<proto::Message>),
}

impl MessageContent {
    /// The text, or the caption of an image, video or document (of the new content for an edit).
    pub fn text(&self) -> Option<&str> {
        match self {
            MessageContent::Text(t) => Some(&t.text),
            MessageContent::Image(m) => m.caption.as_deref(),
            MessageContent::Video(m) => m.caption.as_deref(),
            MessageContent::Document(m) => m.caption.as_deref(),
            MessageContent::Edit(e) => e.content.text(),
            _ => None,
        }
    }

    /// The reply/mention context, for kinds that carry one.
    pub fn context(&self) -> Option<&Context> {
        match self {
            MessageContent::Text(m) => m.context.as_ref(),
            MessageContent::Image(m) => m.context.as_ref(),
            MessageContent::Video(m) => m.context.as_ref(),
            MessageContent::Audio(m) => m.context.as_ref(),
            MessageContent::Document(m) => m.context.as_ref(),
            MessageContent::Sticker(m) => m.context.as_ref(),
            MessageContent::Location(m) => m.context.as_ref(),
            MessageContent::Contact(m) => m.context.as_ref(),
            MessageContent::Poll(m) => m.context.as_ref(),
            _ => None,
        }
    }

    /// The upload fields and key kind of media content.
    pub fn media(&self) -> Option<(&Media, MediaKind)> {
        match self {
            MessageContent::Image(m) => Some((&m.media, MediaKind::Image)),
            MessageContent::Video(m) => Some((&m.media, MediaKind::Video)),
            MessageContent::Audio(m) => Some((&m.media, MediaKind::Audio)),
            MessageContent::Document(m) => Some((&m.media, MediaKind::Document)),
            MessageContent::Sticker(m) => Some((&m.media, MediaKind::Image)),
            _ => None,
        }
    }
}

impl From<&str> for MessageContent {
    fn from(text: &str) -> Self {
        MessageContent::Text(Text {
            text: text.to_owned(),
            ..Default::default()
        })
    }
}
