//! Baileys' `generateWAMessage` output decodes into the content we expect, and our encoding of
//! that content decodes back to the same thing.
mod common;

use std::collections::HashMap;
use std::sync::OnceLock;
use wa_core::message::{MessageContent, MessageKey};

fn samples() -> &'static HashMap<String, MessageContent> {
    static SAMPLES: OnceLock<HashMap<String, MessageContent>> = OnceLock::new();
    SAMPLES.get_or_init(load)
}

fn load() -> HashMap<String, MessageContent> {
    let out = common::interop::run_script("message-baileys.mjs", &[], b"");
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let bytes = hex::decode(v["hex"].as_str().unwrap()).unwrap();
            let content = MessageContent::decode(&bytes).unwrap();
            // Whatever Baileys sent, our encoding of the decoded content reads the same.
            assert_eq!(MessageContent::from_proto(&content.to_proto()), content);
            (v["name"].as_str().unwrap().to_owned(), content)
        })
        .collect()
}

fn target() -> MessageKey {
    MessageKey {
        remote_jid: "120363@g.us".into(),
        from_me: false,
        id: "3EB0TARGET".into(),
        participant: Some("6282@s.whatsapp.net".into()),
    }
}

fn get(name: &str) -> &'static MessageContent {
    samples()
        .get(name)
        .unwrap_or_else(|| panic!("no sample {name}"))
}

#[test]
fn baileys_plain_text_decodes_as_text() {
    let MessageContent::Text(text) = get("text") else {
        panic!("{:?}", get("text"))
    };
    assert_eq!(text.text, "hello");
}

#[test]
fn baileys_mentions_land_in_the_context() {
    let MessageContent::Text(mention) = get("mention") else {
        panic!("{:?}", get("mention"))
    };
    assert_eq!(mention.text, "hi @6283");
    assert_eq!(
        mention.context.as_ref().unwrap().mentions,
        ["6283@s.whatsapp.net"]
    );
}

#[test]
fn baileys_replies_carry_the_quote() {
    let MessageContent::Text(reply) = get("reply") else {
        panic!("{:?}", get("reply"))
    };
    let quote = reply.context.as_ref().unwrap().quote.as_ref().unwrap();
    assert_eq!(quote.stanza_id, "3EB0QUOTED");
    assert_eq!(quote.participant.as_deref(), Some("6281@s.whatsapp.net"));
    assert_eq!(
        quote.message.as_ref().unwrap().conversation.as_deref(),
        Some("the original")
    );
}

#[test]
fn baileys_link_previews_keep_their_fields() {
    let MessageContent::Text(preview) = get("preview") else {
        panic!("{:?}", get("preview"))
    };
    let p = preview.preview.as_ref().unwrap();
    assert_eq!(p.matched_text.as_deref(), Some("https://example.com"));
    assert_eq!(p.title.as_deref(), Some("Example"));
    assert_eq!(p.jpeg_thumbnail.as_deref(), Some(&[0xff, 0xd8][..]));
}

#[test]
fn baileys_locations_keep_coordinates_and_name() {
    let MessageContent::Location(loc) = get("location") else {
        panic!("{:?}", get("location"))
    };
    assert_eq!((loc.latitude, loc.longitude), (-6.175392, 106.827153));
    assert_eq!(loc.name.as_deref(), Some("Monas"));
}

#[test]
fn baileys_contact_cards_keep_name_and_vcard() {
    let MessageContent::Contact(contact) = get("contact") else {
        panic!("{:?}", get("contact"))
    };
    assert_eq!(contact.display_name.as_deref(), Some("Budi"));
    assert!(contact.vcard.contains("FN:Budi"));
}

#[test]
fn baileys_reactions_and_their_removal_name_the_target() {
    let MessageContent::Reaction(reaction) = get("reaction") else {
        panic!("{:?}", get("reaction"))
    };
    assert_eq!(
        (reaction.target.clone(), reaction.emoji.as_str()),
        (target(), "👍")
    );
    assert_eq!(reaction.sender_timestamp_ms, Some(1_700_000_000_000));
    let MessageContent::Reaction(unreact) = get("unreact") else {
        panic!("{:?}", get("unreact"))
    };
    assert_eq!(unreact.emoji, "");
}

#[test]
fn baileys_polls_keep_options_count_and_secret() {
    let MessageContent::Poll(poll) = get("poll") else {
        panic!("{:?}", get("poll"))
    };
    assert_eq!(poll.name, "Lunch?");
    assert_eq!(poll.options, ["Nasi", "Mie", "Soto"]);
    assert_eq!(poll.selectable_count, 2);
    assert_eq!(poll.message_secret, Some([7; 32]));
    let MessageContent::Poll(single) = get("poll-single") else {
        panic!("{:?}", get("poll-single"))
    };
    assert_eq!(
        (single.selectable_count, single.message_secret),
        (1, Some([8; 32]))
    );
}

#[test]
fn baileys_edits_wrap_the_new_content() {
    let MessageContent::Edit(edit) = get("edit") else {
        panic!("{:?}", get("edit"))
    };
    assert_eq!(edit.target.id, "3EB0MINE");
    assert!(edit.target.from_me);
    assert_eq!(edit.content.text(), Some("fixed typo"));
}

#[test]
fn baileys_revokes_name_the_target() {
    let MessageContent::Revoke(revoke) = get("revoke") else {
        panic!("{:?}", get("revoke"))
    };
    assert_eq!(revoke.target.id, "3EB0MINE");
}

/// Baileys' view of our encoding of each content: its content type and decoded JSON.
fn baileys_view(items: &[(&str, MessageContent)]) -> HashMap<String, (String, serde_json::Value)> {
    let input: Vec<_> = items
        .iter()
        .map(|(name, c)| {
            use prost::Message as _;
            serde_json::json!({"name": name, "hex": hex::encode(c.to_proto().encode_to_vec())})
        })
        .collect();
    let out = common::interop::run_script(
        "message-decode.mjs",
        &[],
        serde_json::Value::Array(input).to_string().as_bytes(),
    );
    let parsed: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
    parsed
        .into_iter()
        .map(|v| {
            let name = v["name"].as_str().unwrap().to_owned();
            (
                name,
                (
                    v["type"].as_str().unwrap_or("").to_owned(),
                    v["json"].clone(),
                ),
            )
        })
        .collect()
}

#[test]
fn baileys_reads_our_encoding_of_every_kind() {
    use wa_core::message::*;
    let media = Media {
        url: Some("https://mmg.whatsapp.net/x".into()),
        direct_path: Some("/v/t62/abc".into()),
        media_key: Some(vec![7; 32]),
        file_sha256: Some(vec![1; 32]),
        file_enc_sha256: Some(vec![2; 32]),
        file_length: Some(99),
        mimetype: Some("image/jpeg".into()),
        media_key_timestamp: Some(1_700_000_000),
    };
    let items = [
        ("text", MessageContent::from("hello")),
        (
            "reply",
            MessageContent::Text(Text {
                text: "yes".into(),
                preview: None,
                context: Some(Context {
                    quote: Some(Quote {
                        stanza_id: "3EB0Q".into(),
                        participant: Some("6282@s.whatsapp.net".into()),
                        ..Default::default()
                    }),
                    mentions: vec!["6283@s.whatsapp.net".into()],
                    ..Default::default()
                }),
            }),
        ),
        (
            "image",
            MessageContent::Image(Image {
                media: media.clone(),
                caption: Some("pic".into()),
                ..Default::default()
            }),
        ),
        (
            "sticker",
            MessageContent::Sticker(Sticker {
                media: media.clone(),
                ..Default::default()
            }),
        ),
        (
            "voice",
            MessageContent::Audio(Audio {
                media: media.clone(),
                voice_note: true,
                ..Default::default()
            }),
        ),
        (
            "round",
            MessageContent::Video(Video {
                media: media.clone(),
                round: true,
                ..Default::default()
            }),
        ),
        (
            "document",
            MessageContent::Document(Document {
                media,
                file_name: Some("a.pdf".into()),
                ..Default::default()
            }),
        ),
        (
            "reaction",
            MessageContent::Reaction(Reaction {
                target: target(),
                emoji: "🙏".into(),
                sender_timestamp_ms: Some(5),
            }),
        ),
        (
            "edit",
            MessageContent::Edit(Edit {
                target: target(),
                content: Box::new(MessageContent::from("new")),
                timestamp_ms: Some(6),
            }),
        ),
        (
            "revoke",
            MessageContent::Revoke(Revoke { target: target() }),
        ),
        (
            "poll",
            MessageContent::Poll(Poll {
                name: "Q".into(),
                options: vec!["a".into(), "b".into()],
                selectable_count: 1,
                message_secret: Some([9; 32]),
                context: None,
            }),
        ),
    ];
    let view = baileys_view(&items);
    let kind = |name: &str| view[name].0.as_str();
    let json = |name: &str| &view[name].1;
    assert_eq!(kind("text"), "conversation");
    assert_eq!(kind("reply"), "extendedTextMessage");
    let info = &json("reply")["extendedTextMessage"]["contextInfo"];
    assert_eq!(info["stanzaId"], "3EB0Q");
    assert_eq!(info["mentionedJid"][0], "6283@s.whatsapp.net");
    assert_eq!(kind("image"), "imageMessage");
    assert_eq!(json("image")["imageMessage"]["caption"], "pic");
    assert_eq!(kind("sticker"), "stickerMessage");
    assert_eq!(
        json("sticker")["stickerMessage"]["mediaKey"],
        json("image")["imageMessage"]["mediaKey"]
    );
    assert_eq!(kind("voice"), "audioMessage");
    assert_eq!(json("voice")["audioMessage"]["ptt"], true);
    assert_eq!(kind("round"), "ptvMessage");
    assert_eq!(json("document")["documentMessage"]["fileName"], "a.pdf");
    assert_eq!(kind("reaction"), "reactionMessage");
    assert_eq!(
        json("reaction")["reactionMessage"]["key"]["id"],
        "3EB0TARGET"
    );
    // Baileys' normalizeMessageContent looks through editedMessage to the protocolMessage.
    assert_eq!(kind("edit"), "protocolMessage");
    let edit = &json("edit")["editedMessage"]["message"]["protocolMessage"];
    assert_eq!(edit["type"], "MESSAGE_EDIT");
    assert_eq!(edit["editedMessage"]["conversation"], "new");
    assert_eq!(json("revoke")["protocolMessage"]["type"], "REVOKE");
    assert_eq!(kind("poll"), "pollCreationMessage");
    assert_eq!(
        json("poll")["pollCreationMessage"]["options"][1]["optionName"],
        "b"
    );
    assert!(json("poll")["messageContextInfo"]["messageSecret"].is_string());
}
