//! Protobuf types, generated at build time by prost from `wa-core/proto/*.proto`.
//!
//! Field numbers equal WhatsApp's; the message subset is ours. Every `.proto` file in
//! `wa-core/proto/` declaring `package wa;` lands in this module.

#![allow(missing_docs, clippy::all)]
include!(concat!(env!("OUT_DIR"), "/wa.rs"));

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    fn nested(depth: usize) -> super::Message {
        let mut msg = super::Message {
            conversation: Some("innermost".into()),
            ..Default::default()
        };
        for _ in 0..depth {
            msg = super::Message {
                device_sent_message: Some(Box::new(message::DeviceSentMessage {
                    message: Some(Box::new(msg)),
                    ..Default::default()
                })),
                ..Default::default()
            };
        }
        msg
    }

    #[test]
    fn moderately_nested_messages_decode() {
        let bytes = nested(20).encode_to_vec();
        assert_eq!(super::Message::decode(&bytes[..]).unwrap(), nested(20));
    }

    #[test]
    fn decode_rejects_nesting_beyond_the_recursion_limit() {
        let bytes = nested(200).encode_to_vec();
        assert!(super::Message::decode(&bytes[..]).is_err());
    }

    #[test]
    fn intermediate_issuer_serial_zero_is_kept_on_the_wire() {
        let details = cert_chain::noise_certificate::Details {
            issuer_serial: Some(0),
            ..Default::default()
        };
        assert_eq!(details.encode_to_vec(), [0x10, 0x00]);
    }
}
