//! Message bytes -> proto::Message -> MessageContent, and the content's re-encoding is stable:
//! encoding what we read, reading it again and encoding again gives the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use wa_core::message::{MessageContent, unwrap_device_sent};
use wa_core::proto;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = proto::Message::decode(data) else {
        return;
    };
    let _ = unwrap_device_sent(&message);
    let content = MessageContent::from_proto(&message);
    let _ = (content.text(), content.context(), content.media());
    let once = content.to_proto().encode_to_vec();
    let again = MessageContent::decode(&once).expect("our own encoding decodes");
    assert_eq!(
        again.to_proto().encode_to_vec(),
        once,
        "re-encoding is not stable"
    );
});
