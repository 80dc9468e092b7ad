//! Pairing against Baileys: our phone side feeds Baileys' companion code
//! (`configureSuccessfulPairing`), our phone-side check verifies Baileys' reply; code keys,
//! codes, QR strings and ClientPayloads agree in both directions.
mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use prost::Message as _;
use rand::{SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use wa_core::crypto::KeyPair;
use wa_core::pair::{
    ClientConfig, ClientHello, CompanionGrant, CompanionKeys, CompanionPlatform, QrData,
    code::{code_from_bytes, derive_code_key},
    read_client_payload, registration_payload, sign_companion_identity, verify_pair_device_sign,
};

fn baileys(request: Value) -> Value {
    let out = common::interop::run_script("pair-baileys.mjs", &[], request.to_string().as_bytes());
    serde_json::from_slice(&out).unwrap()
}

struct Scene {
    phone: KeyPair,
    companion: CompanionKeys,
    grant: CompanionGrant,
}

fn scene(seed: u64, hosted: bool) -> Scene {
    let mut rng = StdRng::seed_from_u64(seed);
    Scene {
        phone: KeyPair::generate(&mut rng),
        companion: CompanionKeys::generate(&mut rng),
        grant: CompanionGrant {
            raw_id: 777,
            timestamp: 1_700_000_000,
            key_index: 3,
            hosted,
        },
    }
}

fn pair_success_request(s: &Scene, adv_secret: &[u8; 32], device_identity: &[u8]) -> Value {
    json!({
        "op": "pair-success",
        "advSecret": B64.encode(adv_secret),
        "identityPriv": hex::encode(s.companion.identity.private),
        "identityPub": hex::encode(s.companion.identity.public),
        "deviceIdentity": hex::encode(device_identity),
    })
}

fn run_pairing(hosted: bool) {
    let s = scene(1, hosted);
    let c = &s.companion;
    let signed = sign_companion_identity(
        &s.phone,
        &c.identity.public,
        &c.adv_secret,
        &s.grant,
        &[9; 64],
    );
    let answer = baileys(pair_success_request(&s, &c.adv_secret, &signed));
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["keyIndex"], "3");
    assert_eq!(answer["accountSignatureKey"], hex::encode(s.phone.public));
    let reply = hex::decode(answer["reply"].as_str().unwrap()).unwrap();
    let (_, identity) =
        verify_pair_device_sign(&reply, &s.phone.public, &c.identity.public).unwrap();
    assert_eq!(identity.key_index, Some(3));
    // Baileys' reply omits the account key, as ours does.
    let decoded = wa_core::proto::AdvSignedDeviceIdentity::decode(&reply[..]).unwrap();
    assert_eq!(decoded.account_signature_key, None);
}

#[test]
fn baileys_companion_accepts_our_phone_and_our_phone_accepts_its_reply() {
    run_pairing(false);
}

#[test]
fn baileys_companion_accepts_our_hosted_pair_success() {
    run_pairing(true);
}

#[test]
fn baileys_rejects_our_pair_success_under_another_adv_secret() {
    let s = scene(2, false);
    let c = &s.companion;
    let signed = sign_companion_identity(
        &s.phone,
        &c.identity.public,
        &[0x55; 32],
        &s.grant,
        &[9; 64],
    );
    let answer = baileys(pair_success_request(&s, &c.adv_secret, &signed));
    assert_eq!(answer["ok"], false, "{answer}");
}

#[test]
fn pairing_code_key_equals_baileys() {
    for (code, salt) in [("ABCD1234", [1u8; 32]), ("ZZ9Y8X7W", [0xA5; 32])] {
        let answer = baileys(json!({"op": "code-key", "code": code, "salt": hex::encode(salt)}));
        assert_eq!(
            answer["key"],
            hex::encode(derive_code_key(code, &salt)),
            "{code}"
        );
    }
}

#[test]
fn pairing_code_alphabet_equals_baileys() {
    for bytes in [
        [1u8, 2, 3, 4, 5],
        [0xde, 0xad, 0xbe, 0xef, 0x42],
        [0x80, 0, 0, 0, 1],
    ] {
        let answer = baileys(json!({"op": "crockford", "bytes": hex::encode(bytes)}));
        assert_eq!(answer["code"], code_from_bytes(&bytes));
    }
}

#[test]
fn baileys_qr_string_parses_with_ours() {
    let c = scene(3, false).companion;
    let answer = baileys(json!({
        "op": "qr", "ref": "2@AbC+/xyz==", "browser": ["Mac OS", "Chrome", "14"],
        "noise": hex::encode(c.noise.public), "identity": hex::encode(c.identity.public),
        "adv": hex::encode(c.adv_secret),
    }));
    let text = answer["qr"].as_str().unwrap();
    let qr = QrData::parse(text).unwrap();
    assert_eq!(qr.reference, "2@AbC+/xyz==");
    assert_eq!(qr.noise_public, c.noise.public);
    assert_eq!(qr.identity_public, c.identity.public);
    assert_eq!(qr.adv_secret, c.adv_secret);
    assert_eq!(qr.platform, CompanionPlatform::Chrome);
    assert_eq!(qr.to_qr_string(), text);
}

#[test]
fn baileys_client_payloads_read_like_ours() {
    let c = scene(4, false).companion;
    let answer = baileys(json!({
        "op": "payloads", "registrationId": c.registration_id, "version": [2, 3000, 1035194821],
        "identityPub": hex::encode(c.identity.public),
        "spkPub": hex::encode(c.signed_pre_key.key_pair.public),
        "spkSig": hex::encode(c.signed_pre_key.signature),
    }));
    let registration = hex::decode(answer["registration"].as_str().unwrap()).unwrap();
    let ClientHello::Registration(theirs) = read_client_payload(&registration).unwrap() else {
        panic!("Baileys' registration read as something else");
    };
    assert!(theirs.signature_valid());
    let ours = registration_payload(&c, &ClientConfig::default());
    let ClientHello::Registration(mine) = read_client_payload(&ours.encode_to_vec()).unwrap()
    else {
        panic!("our registration read as something else");
    };
    assert_eq!(theirs.registration_id, mine.registration_id);
    assert_eq!(theirs.identity, mine.identity);
    assert_eq!(theirs.signed_pre_key_id, mine.signed_pre_key_id);
    assert_eq!(theirs.signed_pre_key, mine.signed_pre_key);
    assert_eq!(theirs.build_hash, mine.build_hash);
    let login = hex::decode(answer["login"].as_str().unwrap()).unwrap();
    assert!(matches!(
        read_client_payload(&login).unwrap(),
        ClientHello::Login {
            phone: 6281234567,
            device: 5,
            passive: true,
            ..
        }
    ));
}

#[test]
fn our_phone_opens_a_code_pairing_bundle_built_with_baileys_primitives() {
    use wa_core::pair::code::{PrimaryCodePairing, wrap_ephemeral};
    let mut rng = StdRng::seed_from_u64(5);
    let companion_ephemeral = KeyPair::generate(&mut rng);
    let companion_identity = KeyPair::generate(&mut rng);
    let phone_identity = KeyPair::generate(&mut rng);
    let code = "7KXQ2M9P";
    let hello = wrap_ephemeral(code, &companion_ephemeral.public, &[1; 32], &[2; 16]);
    let phone = PrimaryCodePairing::new(&mut rng, code, &hello).unwrap();
    let notification = phone.wrapped_ephemeral(&mut rng);
    let answer = baileys(json!({
        "op": "code-finish", "code": code,
        "ephemeralPriv": hex::encode(companion_ephemeral.private),
        "identityPriv": hex::encode(companion_identity.private),
        "identityPub": hex::encode(companion_identity.public),
        "wrappedPrimary": hex::encode(notification),
        "primaryIdentity": hex::encode(phone_identity.public),
        "random": hex::encode([3u8; 32]), "salt": hex::encode([4u8; 32]), "iv": hex::encode([5u8; 12]),
    }));
    let bundle = hex::decode(answer["bundle"].as_str().unwrap()).unwrap();
    let finish = phone.finish(&phone_identity, &bundle).unwrap();
    assert_eq!(finish.companion_identity, companion_identity.public);
    assert_eq!(hex::encode(finish.adv_secret), answer["advSecret"]);
}
