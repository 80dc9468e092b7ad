use super::*;
use crate::crypto::media::MediaKind;
use crate::proto::{self, message::FutureProofMessage};
use prost::Message as _;

fn media() -> Media {
    Media {
        url: Some("https://mmg.whatsapp.net/x".into()),
        direct_path: Some("/v/t62/abc?ccb=1".into()),
        media_key: Some(vec![7; 32]),
        file_sha256: Some(vec![1; 32]),
        file_enc_sha256: Some(vec![2; 32]),
        file_length: Some(12345),
        mimetype: Some("application/octet-stream".into()),
        media_key_timestamp: Some(1_700_000_000),
    }
}

fn key(id: &str) -> MessageKey {
    MessageKey {
        remote_jid: "120363@g.us".into(),
        from_me: false,
        id: id.into(),
        participant: Some("6281@s.whatsapp.net".into()),
    }
}

fn context() -> Context {
    Context {
        quote: Some(Quote {
            stanza_id: "3EB0QUOTED".into(),
            participant: Some("6282@s.whatsapp.net".into()),
            remote_jid: None,
            message: Some(Box::new(proto::Message {
                conversation: Some("the original".into()),
                ..Default::default()
            })),
        }),
        mentions: vec!["6283@s.whatsapp.net".into()],
        forwarded: true,
        forwarding_score: Some(2),
        expiration: Some(86400),
    }
}

/// Content -> proto -> bytes -> proto -> content is the identity.
fn assert_round_trip(content: MessageContent) {
    let bytes = content.to_proto().encode_to_vec();
    assert_eq!(MessageContent::decode(&bytes).unwrap(), content);
}

#[test]
fn plain_text_is_a_conversation() {
    let content = MessageContent::from("hello");
    assert_eq!(content.to_proto().conversation.as_deref(), Some("hello"));
    assert_round_trip(content);
}

#[test]
fn text_with_preview_is_an_extended_text() {
    let content = MessageContent::Text(Text {
        text: "see https://example.com".into(),
        preview: Some(LinkPreview {
            matched_text: Some("https://example.com".into()),
            title: Some("Example".into()),
            description: Some("An example".into()),
            jpeg_thumbnail: Some(vec![0xFF, 0xD8]),
        }),
        context: None,
    });
    let proto = content.to_proto();
    assert!(proto.conversation.is_none());
    assert_eq!(
        proto.extended_text_message.unwrap().title.as_deref(),
        Some("Example")
    );
    assert_round_trip(content);
}

#[test]
fn reply_with_mentions_round_trips() {
    let content = MessageContent::Text(Text {
        text: "yes @6283".into(),
        preview: None,
        context: Some(context()),
    });
    let info = content
        .to_proto()
        .extended_text_message
        .unwrap()
        .context_info
        .unwrap();
    assert_eq!(info.stanza_id.as_deref(), Some("3EB0QUOTED"));
    assert_eq!(info.mentioned_jid, ["6283@s.whatsapp.net"]);
    assert_round_trip(content);
}

#[test]
fn image_round_trips_and_maps_to_image_keys() {
    let content = MessageContent::Image(Image {
        media: media(),
        caption: Some("a photo".into()),
        width: Some(640),
        height: Some(480),
        jpeg_thumbnail: Some(vec![1, 2]),
        view_once: false,
        context: Some(context()),
    });
    assert_eq!(content.media().unwrap().1, MediaKind::Image);
    assert_eq!(content.text(), Some("a photo"));
    assert_round_trip(content);
}

#[test]
fn video_and_round_video_round_trip() {
    let mut video = Video {
        media: media(),
        caption: Some("clip".into()),
        width: Some(1280),
        height: Some(720),
        seconds: Some(12),
        gif_playback: true,
        round: false,
        jpeg_thumbnail: None,
        view_once: false,
        context: None,
    };
    assert!(
        MessageContent::Video(video.clone())
            .to_proto()
            .video_message
            .is_some()
    );
    assert_round_trip(MessageContent::Video(video.clone()));
    video.round = true;
    assert!(
        MessageContent::Video(video.clone())
            .to_proto()
            .ptv_message
            .is_some()
    );
    assert_eq!(
        MessageContent::Video(video.clone()).media().unwrap().1,
        MediaKind::Video
    );
    assert_round_trip(MessageContent::Video(video));
}

#[test]
fn voice_note_sets_ptt() {
    let content = MessageContent::Audio(Audio {
        media: media(),
        seconds: Some(9),
        voice_note: true,
        waveform: Some(vec![0, 50, 99]),
        view_once: false,
        context: None,
    });
    assert_eq!(content.to_proto().audio_message.unwrap().ptt, Some(true));
    assert_eq!(content.media().unwrap().1, MediaKind::Audio);
    assert_round_trip(content);
}

#[test]
fn document_round_trips() {
    let content = MessageContent::Document(Document {
        media: media(),
        file_name: Some("report.pdf".into()),
        title: Some("Report".into()),
        caption: Some("the report".into()),
        page_count: Some(4),
        jpeg_thumbnail: None,
        context: Some(context()),
    });
    assert_eq!(content.media().unwrap().1, MediaKind::Document);
    assert_round_trip(content);
}

#[test]
fn sticker_uses_sticker_field_numbers_and_image_keys() {
    let content = MessageContent::Sticker(Sticker {
        media: media(),
        width: Some(512),
        height: Some(512),
        animated: true,
        context: None,
    });
    let bytes = content.to_proto().encode_to_vec();
    // Sticker's mediaKey is field 4 (tag 0x22), unlike ImageMessage's 8.
    let sticker = proto::Message::decode(&bytes[..])
        .unwrap()
        .sticker_message
        .unwrap();
    assert!(sticker.encode_to_vec().windows(2).any(|w| w == [0x22, 32]));
    assert_eq!(content.media().unwrap().1, MediaKind::Image);
    assert_round_trip(content);
}

#[test]
fn location_round_trips() {
    assert_round_trip(MessageContent::Location(Location {
        latitude: -6.175392,
        longitude: 106.827153,
        name: Some("Monas".into()),
        address: Some("Jakarta".into()),
        url: None,
        comment: None,
        jpeg_thumbnail: None,
        context: Some(context()),
    }));
}

#[test]
fn contact_round_trips() {
    assert_round_trip(MessageContent::Contact(Contact {
        display_name: Some("Budi".into()),
        vcard: "BEGIN:VCARD\nVERSION:3.0\nFN:Budi\nEND:VCARD".into(),
        context: None,
    }));
}

#[test]
fn reaction_and_its_removal_round_trip() {
    let mut reaction = Reaction {
        target: key("3EB0TARGET"),
        emoji: "👍".into(),
        sender_timestamp_ms: Some(1_700_000_000_000),
    };
    assert_round_trip(MessageContent::Reaction(reaction.clone()));
    reaction.emoji.clear();
    let proto = MessageContent::Reaction(reaction.clone()).to_proto();
    assert_eq!(proto.reaction_message.unwrap().text.as_deref(), Some(""));
    assert_round_trip(MessageContent::Reaction(reaction));
}

#[test]
fn edit_is_a_message_edit_inside_edited_message() {
    let content = MessageContent::Edit(Edit {
        target: MessageKey {
            remote_jid: "6281@s.whatsapp.net".into(),
            from_me: true,
            id: "3EB0EDITED".into(),
            participant: None,
        },
        content: Box::new(MessageContent::from("fixed typo")),
        timestamp_ms: Some(1_700_000_000_000),
    });
    let proto = content.to_proto();
    let protocol = proto
        .edited_message
        .unwrap()
        .message
        .unwrap()
        .protocol_message
        .unwrap();
    assert_eq!(protocol.r#type, Some(14));
    assert_eq!(
        protocol.edited_message.unwrap().conversation.as_deref(),
        Some("fixed typo")
    );
    assert_eq!(content.text(), Some("fixed typo"));
    assert_round_trip(content);
}

#[test]
fn an_unwrapped_message_edit_protocol_message_is_an_edit_too() {
    let wrapped = MessageContent::Edit(Edit {
        target: key("3EB0E"),
        content: Box::new(MessageContent::from("new")),
        timestamp_ms: None,
    });
    let bare = *wrapped.to_proto().edited_message.unwrap().message.unwrap();
    assert_eq!(MessageContent::from_proto(&bare), wrapped);
}

#[test]
fn revoke_is_protocol_message_type_zero() {
    let content = MessageContent::Revoke(Revoke {
        target: key("3EB0GONE"),
    });
    let protocol = content.to_proto().protocol_message.unwrap();
    assert_eq!(protocol.r#type, Some(0));
    assert_round_trip(content);
}

#[test]
fn poll_carries_its_secret_in_message_context_info() {
    let poll = Poll::new(
        &mut rand::rngs::OsRng,
        "Lunch?",
        vec!["Nasi".into(), "Mie".into()],
        1,
    );
    let proto = MessageContent::Poll(poll.clone()).to_proto();
    assert_eq!(
        proto
            .message_context_info
            .unwrap()
            .message_secret
            .unwrap()
            .as_ref(),
        poll.message_secret.unwrap()
    );
    assert_eq!(proto.poll_creation_message.unwrap().options.len(), 2);
    assert_round_trip(MessageContent::Poll(poll));
}

#[test]
fn poll_option_hashes_are_sha256_of_the_names() {
    let poll = Poll {
        options: vec!["abc".into()],
        ..Default::default()
    };
    assert_eq!(
        hex::encode(poll.option_hashes()[0]),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn single_choice_v3_polls_are_read() {
    let poll = MessageContent::Poll(Poll {
        name: "Q".into(),
        options: vec!["a".into(), "b".into()],
        selectable_count: 1,
        message_secret: Some([5; 32]),
        context: None,
    });
    let mut proto = poll.to_proto();
    proto.poll_creation_message_v3 = proto.poll_creation_message.take();
    assert_eq!(MessageContent::from_proto(&proto), poll);
}

#[test]
fn wrappers_are_looked_through() {
    let image = MessageContent::Image(Image {
        media: media(),
        ..Default::default()
    });
    let wrap = |m: proto::Message| {
        Some(Box::new(FutureProofMessage {
            message: Some(Box::new(m)),
        }))
    };
    let ephemeral = proto::Message {
        ephemeral_message: wrap(image.to_proto()),
        ..Default::default()
    };
    assert_eq!(MessageContent::from_proto(&ephemeral), image);
    let view_once = proto::Message {
        view_once_message_v2: wrap(image.to_proto()),
        ..Default::default()
    };
    let MessageContent::Image(seen) = MessageContent::from_proto(&view_once) else {
        panic!("not an image");
    };
    assert!(seen.view_once);
}

#[test]
fn unknown_kinds_are_kept_verbatim() {
    let skdm_only = proto::Message {
        sender_key_distribution_message: Some(proto::message::SenderKeyDistributionMessage {
            group_id: Some("120363@g.us".into()),
            axolotl_sender_key_distribution_message: Some(vec![0x33, 1].into()),
        }),
        ..Default::default()
    };
    let content = MessageContent::from_proto(&skdm_only);
    assert_eq!(
        content,
        MessageContent::Unsupported(Box::new(skdm_only.clone()))
    );
    assert_eq!(content.to_proto(), skdm_only);
}

#[test]
fn a_reaction_without_a_key_is_unsupported_not_an_error() {
    let proto = proto::Message {
        reaction_message: Some(proto::message::ReactionMessage {
            text: Some("x".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert!(matches!(
        MessageContent::from_proto(&proto),
        MessageContent::Unsupported(_)
    ));
}

#[test]
fn deeply_nested_wrappers_stop_at_the_limit() {
    let mut m = MessageContent::from("deep").to_proto();
    for _ in 0..20 {
        m = proto::Message {
            ephemeral_message: Some(Box::new(FutureProofMessage {
                message: Some(Box::new(m)),
            })),
            ..Default::default()
        };
    }
    assert!(matches!(
        MessageContent::from_proto(&m),
        MessageContent::Unsupported(_)
    ));
}

#[test]
fn decode_rejects_garbage() {
    assert_eq!(
        MessageContent::decode(&[0x0a, 0xff]),
        Err(ContentError::Decode)
    );
}

#[test]
fn device_sent_wrap_and_unwrap_are_inverse() {
    let poll = Poll::new(&mut rand::rngs::OsRng, "Q", vec!["a".into()], 0);
    let message = MessageContent::Poll(poll.clone()).to_proto();
    let wrapped = wrap_device_sent(&message, "6281@s.whatsapp.net", Some("2:abc"));
    assert_eq!(wrapped.message_context_info, message.message_context_info);
    let sent = unwrap_device_sent(&wrapped).unwrap();
    assert_eq!(sent.destination_jid, "6281@s.whatsapp.net");
    assert_eq!(sent.phash.as_deref(), Some("2:abc"));
    assert_eq!(sent.message, message);
    assert_eq!(
        MessageContent::from_proto(&wrapped),
        MessageContent::Poll(poll)
    );
}

#[test]
fn unwrap_device_sent_of_a_plain_message_is_none() {
    assert_eq!(
        unwrap_device_sent(&MessageContent::from("x").to_proto()),
        None
    );
}

#[test]
fn a_wrapped_poll_finds_its_secret_on_the_outer_message() {
    let poll = Poll {
        name: "Q".into(),
        options: vec!["a".into()],
        selectable_count: 0,
        message_secret: Some([3; 32]),
        context: None,
    };
    let mut inner = MessageContent::Poll(poll.clone()).to_proto();
    let info = inner.message_context_info.take();
    let outer = proto::Message {
        ephemeral_message: Some(Box::new(FutureProofMessage {
            message: Some(Box::new(inner)),
        })),
        message_context_info: info,
        ..Default::default()
    };
    assert_eq!(
        MessageContent::from_proto(&outer),
        MessageContent::Poll(poll)
    );
}
