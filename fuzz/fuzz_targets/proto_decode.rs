//! Protobuf decoding of the types that arrive from the network.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use wa_core::proto;

fuzz_target!(|data: &[u8]| {
    let _ = proto::Message::decode(data);
    let _ = proto::WebMessageInfo::decode(data);
    let _ = proto::ClientPayload::decode(data);
    let _ = proto::HandshakeMessage::decode(data);
    let _ = proto::CertChain::decode(data);
    let _ = proto::DeviceProps::decode(data);
    let _ = proto::AdvSignedDeviceIdentityHmac::decode(data);
    let _ = proto::AdvSignedDeviceIdentity::decode(data);
    let _ = proto::AdvDeviceIdentity::decode(data);
    let _ = proto::AdvSignedKeyIndexList::decode(data);
    let _ = proto::AdvKeyIndexList::decode(data);
});
