//! The `ClientPayload` a client sends inside Noise `ClientFinish`: a registration for an unpaired
//! companion, a login for a paired one; and the server's reading of it.

use bytes::Bytes;
use md5::{Digest, Md5};
use prost::Message as _;

use super::CompanionKeys;
use crate::crypto::xeddsa_verify;
use crate::proto::{
    AppVersion, ClientPayload, DeviceProps,
    client_payload::{
        ConnectReason, ConnectType, DevicePairingRegistrationData, UserAgent, WebInfo,
        user_agent::{Platform, ReleaseChannel},
        web_info::WebSubPlatform,
    },
    device_props::{HistorySyncConfig, PlatformType},
};

/// How the client describes itself in every payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// WhatsApp Web version `[2, 3000, N]`; the server refuses outdated ones (405).
    pub version: [u32; 3],
    /// Shown on the phone's linked-devices list (`DeviceProps.os`), e.g. `"Wasap"`.
    pub os: String,
    /// Browser kind shown on the phone (`DeviceProps.platformType`).
    pub platform_type: PlatformType,
    /// `localeCountryIso31661Alpha2`, e.g. `"US"`.
    pub country: String,
    /// Ask the phone for the full history at pairing.
    pub require_full_sync: bool,
    /// Optional push name.
    pub push_name: Option<String>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            // Baileys 7.0.0-rc14's default version.
            version: [2, 3000, 1_035_194_821],
            os: "Wasap".into(),
            platform_type: PlatformType::Chrome,
            country: "US".into(),
            require_full_sync: false,
            push_name: None,
        }
    }
}

impl ClientConfig {
    /// The version as WhatsApp writes it, `"2.3000.N"`.
    pub fn version_string(&self) -> String {
        let [a, b, c] = self.version;
        format!("{a}.{b}.{c}")
    }

    fn base_payload(&self) -> ClientPayload {
        let [primary, secondary, tertiary] = self.version;
        ClientPayload {
            user_agent: Some(UserAgent {
                platform: Some(Platform::Web as i32),
                app_version: Some(AppVersion {
                    primary: Some(primary),
                    secondary: Some(secondary),
                    tertiary: Some(tertiary),
                    ..Default::default()
                }),
                mcc: Some("000".into()),
                mnc: Some("000".into()),
                os_version: Some("0.1".into()),
                device: Some("Desktop".into()),
                os_build_number: Some("0.1".into()),
                release_channel: Some(ReleaseChannel::Release as i32),
                locale_language_iso6391: Some("en".into()),
                locale_country_iso31661_alpha2: Some(self.country.clone()),
                ..Default::default()
            }),
            web_info: Some(WebInfo {
                web_sub_platform: Some(WebSubPlatform::WebBrowser as i32),
                ..Default::default()
            }),
            connect_type: Some(ConnectType::WifiUnknown as i32),
            connect_reason: Some(ConnectReason::UserActivated as i32),
            push_name: self.push_name.clone(),
            ..Default::default()
        }
    }
}

/// The registration payload of an unpaired companion: its Signal keys, the MD5 of the version
/// string and its `DeviceProps`; `passive` and `pull` false.
pub fn registration_payload(keys: &CompanionKeys, config: &ClientConfig) -> ClientPayload {
    let build_hash = Md5::digest(config.version_string().as_bytes());
    let props = DeviceProps {
        os: Some(config.os.clone()),
        version: Some(AppVersion {
            primary: Some(0),
            secondary: Some(1),
            tertiary: Some(0),
            ..Default::default()
        }),
        platform_type: Some(config.platform_type as i32),
        require_full_sync: Some(config.require_full_sync),
        history_sync_config: Some(HistorySyncConfig {
            storage_quota_mb: Some(10240),
            inline_initial_payload_in_e2_ee_msg: Some(true),
            support_call_log_history: Some(false),
            support_cag_reactions_and_polls: Some(true),
            support_group_history: Some(false),
            ..Default::default()
        }),
    };
    let spk = &keys.signed_pre_key;
    ClientPayload {
        passive: Some(false),
        pull: Some(false),
        device_pairing_data: Some(DevicePairingRegistrationData {
            e_regid: Some(Bytes::copy_from_slice(&keys.registration_id.to_be_bytes())),
            e_keytype: Some(Bytes::from_static(&[0x05])),
            e_ident: Some(Bytes::copy_from_slice(&keys.identity.public)),
            e_skey_id: Some(Bytes::copy_from_slice(&spk.id.to_be_bytes()[1..])),
            e_skey_val: Some(Bytes::copy_from_slice(&spk.key_pair.public)),
            e_skey_sig: Some(Bytes::copy_from_slice(&spk.signature)),
            build_hash: Some(Bytes::copy_from_slice(&build_hash)),
            device_props: Some(props.encode_to_vec().into()),
        }),
        ..config.base_payload()
    }
}

/// The login payload of a paired companion: `username` = the account's phone number,
/// `device` = our device id; `passive` and `pull` true.
pub fn login_payload(phone: u64, device: u32, config: &ClientConfig) -> ClientPayload {
    ClientPayload {
        username: Some(phone),
        device: Some(device),
        passive: Some(true),
        pull: Some(true),
        lid_db_migrated: Some(false),
        ..config.base_payload()
    }
}

/// Why the server could not read a `ClientPayload`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Not a `ClientPayload` protobuf.
    #[error("ClientPayload does not decode")]
    Decode,
    /// Neither a username (login) nor pairing data (registration).
    #[error("ClientPayload is neither a login nor a registration")]
    Neither,
    /// A registration field is missing or has the wrong size.
    #[error("registration field {0} is missing or malformed")]
    Field(&'static str),
    /// `DeviceProps` inside the registration does not decode.
    #[error("DeviceProps does not decode")]
    DeviceProps,
}

/// The Signal keys a new companion registers with.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationData {
    /// Registration id (4 bytes BE on the wire).
    pub registration_id: u32,
    /// Identity public key.
    pub identity: [u8; 32],
    /// Signed prekey id (3 bytes BE on the wire).
    pub signed_pre_key_id: u32,
    /// Signed prekey public key.
    pub signed_pre_key: [u8; 32],
    /// The identity key's signature over `0x05 || signed_pre_key`.
    pub signed_pre_key_signature: [u8; 64],
    /// MD5 of the client's version string.
    pub build_hash: Vec<u8>,
    /// What the companion says it is.
    pub device_props: DeviceProps,
}

impl RegistrationData {
    /// Whether the signed prekey signature verifies under the identity key.
    pub fn signature_valid(&self) -> bool {
        let mut msg = [0u8; 33];
        msg[0] = 0x05;
        msg[1..].copy_from_slice(&self.signed_pre_key);
        xeddsa_verify(&self.identity, &msg, &self.signed_pre_key_signature)
    }
}

/// What a client asked for in its `ClientPayload`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientHello {
    /// A paired device logging in.
    Login {
        /// The account's phone number.
        phone: u64,
        /// The device id.
        device: u32,
        /// `passive` flag.
        passive: bool,
        /// Push name, if sent.
        push_name: Option<String>,
    },
    /// A new companion asking to be paired.
    Registration(Box<RegistrationData>),
}

/// Server side: reads a decrypted `ClientPayload`.
pub fn read_client_payload(bytes: &[u8]) -> Result<ClientHello, PayloadError> {
    let payload = ClientPayload::decode(bytes).map_err(|_| PayloadError::Decode)?;
    if let Some(phone) = payload.username {
        return Ok(ClientHello::Login {
            phone,
            device: payload.device.unwrap_or(0),
            passive: payload.passive.unwrap_or(false),
            push_name: payload.push_name,
        });
    }
    let data = payload.device_pairing_data.ok_or(PayloadError::Neither)?;
    let regid: [u8; 4] = fixed(&data.e_regid, "eRegid")?;
    let keytype: [u8; 1] = fixed(&data.e_keytype, "eKeytype")?;
    if keytype != [0x05] {
        return Err(PayloadError::Field("eKeytype"));
    }
    let skey_id: [u8; 3] = fixed(&data.e_skey_id, "eSkeyId")?;
    let device_props = DeviceProps::decode(data.device_props.unwrap_or_default())
        .map_err(|_| PayloadError::DeviceProps)?;
    Ok(ClientHello::Registration(Box::new(RegistrationData {
        registration_id: u32::from_be_bytes(regid),
        identity: fixed(&data.e_ident, "eIdent")?,
        signed_pre_key_id: u32::from_be_bytes([0, skey_id[0], skey_id[1], skey_id[2]]),
        signed_pre_key: fixed(&data.e_skey_val, "eSkeyVal")?,
        signed_pre_key_signature: fixed(&data.e_skey_sig, "eSkeySig")?,
        build_hash: data.build_hash.map(|b| b.to_vec()).unwrap_or_default(),
        device_props,
    })))
}

fn fixed<const N: usize>(
    field: &Option<Bytes>,
    name: &'static str,
) -> Result<[u8; N], PayloadError> {
    field
        .as_deref()
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or(PayloadError::Field(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    fn keys() -> CompanionKeys {
        CompanionKeys::generate(&mut StdRng::seed_from_u64(9))
    }

    #[test]
    fn registration_round_trips_through_the_server_reader() {
        let keys = keys();
        let bytes = registration_payload(&keys, &ClientConfig::default()).encode_to_vec();
        let ClientHello::Registration(reg) = read_client_payload(&bytes).unwrap() else {
            panic!("not a registration");
        };
        assert_eq!(reg.registration_id, keys.registration_id);
        assert_eq!(reg.identity, keys.identity.public);
        assert_eq!(reg.signed_pre_key_id, 1);
        assert_eq!(reg.signed_pre_key, keys.signed_pre_key.key_pair.public);
        assert!(reg.signature_valid());
        assert_eq!(reg.device_props.os.as_deref(), Some("Wasap"));
    }

    #[test]
    fn registration_uses_fixed_width_ids_and_the_key_type_byte() {
        let keys = keys();
        let payload = registration_payload(&keys, &ClientConfig::default());
        let data = payload.device_pairing_data.unwrap();
        assert_eq!(data.e_regid.unwrap().len(), 4);
        assert_eq!(data.e_skey_id.unwrap().as_ref(), [0, 0, 1]);
        assert_eq!(data.e_keytype.unwrap().as_ref(), [5]);
        assert_eq!((payload.passive, payload.pull), (Some(false), Some(false)));
        assert_eq!(payload.username, None);
    }

    #[test]
    fn build_hash_is_md5_of_the_dotted_version() {
        let config = ClientConfig {
            version: [2, 3000, 1],
            ..Default::default()
        };
        let data = registration_payload(&keys(), &config)
            .device_pairing_data
            .unwrap();
        // MD5("2.3000.1"), computed with coreutils md5sum.
        assert_eq!(
            hex::encode(data.build_hash.unwrap()),
            "236487c02d95b982c2cdc3c6e961e0e3"
        );
    }

    #[test]
    fn login_carries_phone_device_passive_and_pull() {
        let payload = login_payload(6281234567890, 7, &ClientConfig::default());
        assert_eq!(payload.username, Some(6281234567890));
        assert_eq!(payload.device, Some(7));
        assert_eq!((payload.passive, payload.pull), (Some(true), Some(true)));
        assert_eq!(payload.device_pairing_data, None);
        let user_agent = payload.user_agent.unwrap();
        assert_eq!(user_agent.platform, Some(Platform::Web as i32));
        assert_eq!(user_agent.mcc.as_deref(), Some("000"));
    }

    #[test]
    fn server_reads_a_login() {
        let bytes = login_payload(628111, 3, &ClientConfig::default()).encode_to_vec();
        assert_eq!(
            read_client_payload(&bytes).unwrap(),
            ClientHello::Login {
                phone: 628111,
                device: 3,
                passive: true,
                push_name: None
            }
        );
    }

    #[test]
    fn payload_without_login_or_registration_is_rejected() {
        let bytes = ClientConfig::default().base_payload().encode_to_vec();
        assert_eq!(read_client_payload(&bytes), Err(PayloadError::Neither));
    }

    #[test]
    fn registration_with_a_short_identity_is_rejected() {
        let mut payload = registration_payload(&keys(), &ClientConfig::default());
        payload.device_pairing_data.as_mut().unwrap().e_ident = Some(Bytes::from_static(&[1; 31]));
        assert_eq!(
            read_client_payload(&payload.encode_to_vec()),
            Err(PayloadError::Field("eIdent"))
        );
    }

    #[test]
    fn garbage_does_not_decode() {
        assert_eq!(read_client_payload(&[0xff; 5]), Err(PayloadError::Decode));
    }
}
