//! The QR code a companion shows and a phone scans:
//! `[https://wa.me/settings/linked_devices#]<ref>,<noise pub>,<identity pub>,<adv secret>,<platform>`,
//! keys in standard base64 with padding.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The deep-link prefix whatsmeow and Baileys put before the five fields.
pub const QR_LINK_PREFIX: &str = "https://wa.me/settings/linked_devices#";

/// Longest accepted QR string; real ones are about 200 characters.
const MAX_QR_LEN: usize = 4096;

/// What kind of companion is asking to be linked (the last QR field, also the
/// `companion_platform_id` of phone-code pairing).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CompanionPlatform {
    /// `0`
    Unknown,
    /// `1`
    Chrome,
    /// `2`
    Edge,
    /// `3`
    Firefox,
    /// `4`
    InternetExplorer,
    /// `5`
    Opera,
    /// `6`
    Safari,
    /// `7` (desktop app)
    Electron,
    /// `8` (Windows app)
    Uwp,
    /// `9`
    OtherWebClient,
    /// `c`
    MacOs,
    /// `e`
    Android,
    /// An id this library does not name (kept verbatim; 1 to 8 ASCII alphanumerics).
    Other(String),
}

impl CompanionPlatform {
    /// The id as it appears in the QR string.
    pub fn id(&self) -> &str {
        match self {
            CompanionPlatform::Unknown => "0",
            CompanionPlatform::Chrome => "1",
            CompanionPlatform::Edge => "2",
            CompanionPlatform::Firefox => "3",
            CompanionPlatform::InternetExplorer => "4",
            CompanionPlatform::Opera => "5",
            CompanionPlatform::Safari => "6",
            CompanionPlatform::Electron => "7",
            CompanionPlatform::Uwp => "8",
            CompanionPlatform::OtherWebClient => "9",
            CompanionPlatform::MacOs => "c",
            CompanionPlatform::Android => "e",
            CompanionPlatform::Other(id) => id,
        }
    }

    /// The platform of a QR id; `None` if it is empty, too long or not ASCII alphanumeric.
    pub fn from_id(id: &str) -> Option<Self> {
        Some(match id {
            "0" => CompanionPlatform::Unknown,
            "1" => CompanionPlatform::Chrome,
            "2" => CompanionPlatform::Edge,
            "3" => CompanionPlatform::Firefox,
            "4" => CompanionPlatform::InternetExplorer,
            "5" => CompanionPlatform::Opera,
            "6" => CompanionPlatform::Safari,
            "7" => CompanionPlatform::Electron,
            "8" => CompanionPlatform::Uwp,
            "9" => CompanionPlatform::OtherWebClient,
            "c" => CompanionPlatform::MacOs,
            "e" => CompanionPlatform::Android,
            other
                if (1..=8).contains(&other.len())
                    && other.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                CompanionPlatform::Other(other.to_owned())
            }
            _ => return None,
        })
    }
}

/// Which base64 key field of a QR string was bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrField {
    /// The Noise static public key (field 2).
    NoiseKey,
    /// The identity public key (field 3).
    IdentityKey,
    /// The ADV secret (field 4).
    AdvSecret,
}

/// Why a QR string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// Longer than any QR string can be.
    #[error("QR string too long ({0} bytes)")]
    TooLong(usize),
    /// Not exactly five comma-separated fields.
    #[error("QR string has {0} fields, expected 5")]
    FieldCount(usize),
    /// The ref (first field) is empty.
    #[error("QR ref is empty")]
    EmptyRef,
    /// A key field is not valid base64.
    #[error("QR {0:?} is not valid base64")]
    Base64(QrField),
    /// A key field does not decode to 32 bytes.
    #[error("QR {field:?} is {len} bytes, expected 32")]
    KeyLength {
        /// The field.
        field: QrField,
        /// Its decoded length.
        len: usize,
    },
    /// The platform id is empty or not a short alphanumeric id.
    #[error("QR platform id {0:?} is invalid")]
    Platform(String),
}

/// The content of a pairing QR code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrData {
    /// One of the refs the server sent in `pair-device`.
    pub reference: String,
    /// The companion's Noise static public key.
    pub noise_public: [u8; 32],
    /// The companion's identity public key.
    pub identity_public: [u8; 32],
    /// The companion's ADV secret.
    pub adv_secret: [u8; 32],
    /// What kind of companion this is.
    pub platform: CompanionPlatform,
}

impl QrData {
    /// The QR string with the `https://wa.me/settings/linked_devices#` prefix, as whatsmeow and
    /// Baileys show it.
    ///
    /// ```
    /// use wa_core::pair::{CompanionPlatform, QrData};
    /// let qr = QrData {
    ///     reference: "2@abc".into(),
    ///     noise_public: [1; 32],
    ///     identity_public: [2; 32],
    ///     adv_secret: [3; 32],
    ///     platform: CompanionPlatform::Chrome,
    /// };
    /// let text = qr.to_qr_string();
    /// assert!(text.starts_with("https://wa.me/settings/linked_devices#2@abc,"));
    /// assert_eq!(QrData::parse(&text).unwrap(), qr);
    /// ```
    pub fn to_qr_string(&self) -> String {
        format!(
            "{QR_LINK_PREFIX}{},{},{},{},{}",
            self.reference,
            STANDARD.encode(self.noise_public),
            STANDARD.encode(self.identity_public),
            STANDARD.encode(self.adv_secret),
            self.platform.id()
        )
    }

    /// Parses a QR string, with or without the link prefix (surrounding whitespace is ignored).
    pub fn parse(text: &str) -> Result<Self, QrError> {
        if text.len() > MAX_QR_LEN {
            return Err(QrError::TooLong(text.len()));
        }
        let text = text.trim();
        let body = text.strip_prefix(QR_LINK_PREFIX).unwrap_or(text);
        let fields: Vec<&str> = body.split(',').collect();
        let [reference, noise, identity, adv, platform] = fields[..] else {
            return Err(QrError::FieldCount(fields.len()));
        };
        if reference.is_empty() {
            return Err(QrError::EmptyRef);
        }
        Ok(QrData {
            reference: reference.to_owned(),
            noise_public: key_field(noise, QrField::NoiseKey)?,
            identity_public: key_field(identity, QrField::IdentityKey)?,
            adv_secret: key_field(adv, QrField::AdvSecret)?,
            platform: CompanionPlatform::from_id(platform)
                .ok_or_else(|| QrError::Platform(platform.to_owned()))?,
        })
    }
}

fn key_field(text: &str, field: QrField) -> Result<[u8; 32], QrError> {
    let bytes = STANDARD.decode(text).map_err(|_| QrError::Base64(field))?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| QrError::KeyLength {
        field,
        len: bytes.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> QrData {
        QrData {
            reference: "2@Xy+/=z".into(),
            noise_public: [0xAA; 32],
            identity_public: [0xBB; 32],
            adv_secret: [0xCC; 32],
            platform: CompanionPlatform::MacOs,
        }
    }

    #[test]
    fn qr_string_round_trips() {
        assert_eq!(QrData::parse(&sample().to_qr_string()).unwrap(), sample());
    }

    #[test]
    fn parse_accepts_the_bare_five_field_form() {
        let text = sample().to_qr_string();
        let bare = text.strip_prefix(QR_LINK_PREFIX).unwrap();
        assert_eq!(QrData::parse(bare).unwrap(), sample());
    }

    #[test]
    fn keys_are_standard_base64_with_padding() {
        let text = sample().to_qr_string();
        let fields: Vec<&str> = text.split(',').collect();
        assert_eq!(fields[1], STANDARD.encode([0xAA; 32]));
        assert!(fields[1].ends_with('='));
        assert_eq!(fields[4], "c");
    }

    #[test]
    fn parse_rejects_the_old_four_field_form() {
        let text = sample().to_qr_string();
        let four = &text[..text.rfind(',').unwrap()];
        assert_eq!(QrData::parse(four), Err(QrError::FieldCount(4)));
    }

    #[test]
    fn parse_rejects_a_short_key() {
        let text = format!(
            "r,{},{},{},1",
            STANDARD.encode([1; 31]),
            STANDARD.encode([2; 32]),
            STANDARD.encode([3; 32])
        );
        assert_eq!(
            QrData::parse(&text),
            Err(QrError::KeyLength {
                field: QrField::NoiseKey,
                len: 31
            })
        );
    }

    #[test]
    fn parse_rejects_bad_base64_in_the_adv_secret() {
        let text = format!(
            "r,{},{},not*base64,1",
            STANDARD.encode([1; 32]),
            STANDARD.encode([2; 32])
        );
        assert_eq!(
            QrData::parse(&text),
            Err(QrError::Base64(QrField::AdvSecret))
        );
    }

    #[test]
    fn parse_rejects_an_empty_ref_and_an_empty_platform() {
        let mut qr = sample();
        qr.reference.clear();
        assert_eq!(QrData::parse(&qr.to_qr_string()), Err(QrError::EmptyRef));
        let text = sample().to_qr_string();
        let no_platform = &text[..text.len() - 1];
        assert_eq!(
            QrData::parse(no_platform),
            Err(QrError::Platform(String::new()))
        );
    }

    #[test]
    fn unknown_platform_ids_are_kept() {
        let mut qr = sample();
        qr.platform = CompanionPlatform::Other("z".into());
        assert_eq!(QrData::parse(&qr.to_qr_string()).unwrap(), qr);
    }

    #[test]
    fn every_named_platform_id_round_trips() {
        for id in ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "c", "e"] {
            let platform = CompanionPlatform::from_id(id).unwrap();
            assert!(!matches!(platform, CompanionPlatform::Other(_)), "{id}");
            assert_eq!(platform.id(), id);
        }
    }

    #[test]
    fn parse_rejects_oversized_input_before_splitting() {
        let text = "a,".repeat(3000);
        assert_eq!(QrData::parse(&text), Err(QrError::TooLong(6000)));
    }
}
