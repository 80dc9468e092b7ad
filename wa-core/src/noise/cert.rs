//! The server certificate chain: root key -> intermediate certificate -> leaf certificate
//! whose key is the server's Noise static key. The responder issues it, the initiator verifies it.

use crate::crypto::{KeyPair, xeddsa_verify};
use crate::proto::CertChain;
use crate::proto::cert_chain::NoiseCertificate;
use crate::proto::cert_chain::noise_certificate::Details;
use prost::Message;
use rand_core::{CryptoRng, RngCore};

/// WhatsApp's production root public key (Montgomery form), which signs the intermediate.
pub const WA_CERT_PUB_KEY: [u8; 32] = [
    0x14, 0x23, 0x75, 0x57, 0x4d, 0x0a, 0x58, 0x71, 0x66, 0xaa, 0xe7, 0x1e, 0xbe, 0x51, 0x64, 0x37,
    0xc4, 0xa2, 0x8b, 0x73, 0xe3, 0x69, 0x5c, 0x6c, 0xe1, 0xf7, 0xf9, 0x54, 0x5d, 0xa8, 0xee, 0x6b,
];

/// The issuer serial every intermediate certificate carries (the root's serial).
const ROOT_SERIAL: u32 = 0;

/// Which certificate of the chain an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertLevel {
    /// The certificate signed by the root key.
    Intermediate,
    /// The certificate signed by the intermediate key, certifying the server static key.
    Leaf,
}

/// Why a certificate chain was rejected; one variant per check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// The chain or a certificate's details are not valid protobuf.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A required field is absent.
    #[error("certificate chain lacks {0}")]
    MissingField(&'static str),
    /// A signature that is not 64 bytes.
    #[error("{level:?} signature is {len} bytes, not 64")]
    BadSignatureLength {
        /// The certificate.
        level: CertLevel,
        /// Its signature length.
        len: usize,
    },
    /// A signature that does not verify under its issuer's key.
    #[error("{0:?} certificate signature does not verify")]
    BadSignature(CertLevel),
    /// An issuer serial that does not name the issuer.
    #[error("{level:?} certificate has issuer serial {found}, expected {expected}")]
    WrongIssuerSerial {
        /// The certificate.
        level: CertLevel,
        /// The issuer's serial.
        expected: u32,
        /// The certificate's issuer serial.
        found: u32,
    },
    /// A certified key that is not 32 bytes.
    #[error("{level:?} certificate key is {len} bytes, not 32")]
    BadKeyLength {
        /// The certificate.
        level: CertLevel,
        /// The key length.
        len: usize,
    },
    /// The leaf certifies a different key than the server static key of this handshake.
    #[error("leaf certificate key differs from the server static key")]
    LeafKeyMismatch,
    /// `now` is before the certificate's `notBefore`.
    #[error("{level:?} certificate not valid before {not_before} (now {now})")]
    NotYetValid {
        /// The certificate.
        level: CertLevel,
        /// Its start of validity (unix seconds).
        not_before: u64,
        /// The time checked.
        now: u64,
    },
    /// `now` is after the certificate's `notAfter`.
    #[error("{level:?} certificate expired at {not_after} (now {now})")]
    Expired {
        /// The certificate.
        level: CertLevel,
        /// Its end of validity (unix seconds).
        not_after: u64,
        /// The time checked.
        now: u64,
    },
}

/// A validity window in unix seconds, both ends inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertValidity {
    /// First valid second.
    pub not_before: u64,
    /// Last valid second.
    pub not_after: u64,
}

impl CertValidity {
    fn check(&self, level: CertLevel, now: u64) -> Result<(), CertError> {
        if now < self.not_before {
            return Err(CertError::NotYetValid {
                level,
                not_before: self.not_before,
                now,
            });
        }
        if now > self.not_after {
            return Err(CertError::Expired {
                level,
                not_after: self.not_after,
                now,
            });
        }
        Ok(())
    }
}

/// The decoded details of one verified certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertDetails {
    /// This certificate's serial.
    pub serial: u32,
    /// The serial of the certificate (or root) that signed it.
    pub issuer_serial: u32,
    /// The certified public key.
    pub key: [u8; 32],
    /// The validity window.
    pub validity: CertValidity,
}

/// A chain that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCertChain {
    /// The intermediate certificate.
    pub intermediate: CertDetails,
    /// The leaf certificate (its key is the server static key).
    pub leaf: CertDetails,
}

/// Issues certificate chains: holds the root and an intermediate key (a server's CA).
///
/// ```
/// use wa_core::crypto::KeyPair;
/// use wa_core::noise::{CertIssuer, CertValidity, CertVerifier};
/// # let mut rng = rand::rngs::OsRng;
/// let always = CertValidity { not_before: 0, not_after: u64::MAX };
/// let issuer = CertIssuer::new(KeyPair::generate(&mut rng), KeyPair::generate(&mut rng), 1, always);
/// let server_static = KeyPair::generate(&mut rng);
/// let chain = issuer.issue(&server_static.public, 2, always, &mut rng);
/// let verifier = CertVerifier::with_root(issuer.root_public());
/// assert!(verifier.verify(&chain, &server_static.public, 1_700_000_000).is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct CertIssuer {
    root: KeyPair,
    intermediate: KeyPair,
    intermediate_serial: u32,
    intermediate_validity: CertValidity,
}

impl CertIssuer {
    /// An issuer whose intermediate certificate (serial `intermediate_serial`) is signed by `root`.
    pub fn new(
        root: KeyPair,
        intermediate: KeyPair,
        intermediate_serial: u32,
        intermediate_validity: CertValidity,
    ) -> Self {
        CertIssuer {
            root,
            intermediate,
            intermediate_serial,
            intermediate_validity,
        }
    }

    /// The root public key clients must trust.
    pub fn root_public(&self) -> [u8; 32] {
        self.root.public
    }

    /// A serialized [`CertChain`] certifying `server_static` with a leaf of serial
    /// `leaf_serial`, signed by the intermediate.
    pub fn issue<R: RngCore + CryptoRng>(
        &self,
        server_static: &[u8; 32],
        leaf_serial: u32,
        leaf_validity: CertValidity,
        rng: &mut R,
    ) -> Vec<u8> {
        let intermediate = sign_details(
            &self.root,
            Details {
                serial: Some(self.intermediate_serial),
                // Present on the wire even though it is zero: Baileys requires the field.
                issuer_serial: Some(ROOT_SERIAL),
                key: Some(self.intermediate.public.to_vec().into()),
                not_before: Some(self.intermediate_validity.not_before),
                not_after: Some(self.intermediate_validity.not_after),
            },
            rng,
        );
        let leaf = sign_details(
            &self.intermediate,
            Details {
                serial: Some(leaf_serial),
                issuer_serial: Some(self.intermediate_serial),
                key: Some(server_static.to_vec().into()),
                not_before: Some(leaf_validity.not_before),
                not_after: Some(leaf_validity.not_after),
            },
            rng,
        );
        CertChain {
            leaf: Some(leaf),
            intermediate: Some(intermediate),
        }
        .encode_to_vec()
    }
}

fn sign_details<R: RngCore + CryptoRng>(
    signer: &KeyPair,
    details: Details,
    rng: &mut R,
) -> NoiseCertificate {
    let bytes = details.encode_to_vec();
    let mut random = [0u8; 64];
    rng.fill_bytes(&mut random);
    let signature = signer.sign(&bytes, &random);
    NoiseCertificate {
        details: Some(bytes.into()),
        signature: Some(signature.to_vec().into()),
    }
}

/// Verifies server certificate chains against a trusted root public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertVerifier {
    root: [u8; 32],
}

impl Default for CertVerifier {
    fn default() -> Self {
        Self::whatsapp()
    }
}

/// The raw details bytes and the 64-byte signature of one certificate.
fn parts(
    cert: &Option<NoiseCertificate>,
    level: CertLevel,
) -> Result<(&[u8], [u8; 64]), CertError> {
    let (name_details, name_signature) = match level {
        CertLevel::Intermediate => ("intermediate.details", "intermediate.signature"),
        CertLevel::Leaf => ("leaf.details", "leaf.signature"),
    };
    let cert = cert.as_ref().ok_or(CertError::MissingField(match level {
        CertLevel::Intermediate => "intermediate",
        CertLevel::Leaf => "leaf",
    }))?;
    let details = cert
        .details
        .as_deref()
        .ok_or(CertError::MissingField(name_details))?;
    let signature = cert
        .signature
        .as_deref()
        .ok_or(CertError::MissingField(name_signature))?;
    let signature = signature
        .try_into()
        .map_err(|_| CertError::BadSignatureLength {
            level,
            len: signature.len(),
        })?;
    Ok((details, signature))
}

fn decode_details(bytes: &[u8], level: CertLevel) -> Result<CertDetails, CertError> {
    let d = Details::decode(bytes).map_err(|_| {
        CertError::Malformed(match level {
            CertLevel::Intermediate => "intermediate details",
            CertLevel::Leaf => "leaf details",
        })
    })?;
    let key = d.key.as_deref().unwrap_or_default();
    let key = key.try_into().map_err(|_| CertError::BadKeyLength {
        level,
        len: key.len(),
    })?;
    Ok(CertDetails {
        serial: d.serial(),
        issuer_serial: d.issuer_serial(),
        key,
        validity: CertValidity {
            not_before: d.not_before(),
            not_after: d.not_after(),
        },
    })
}

impl CertVerifier {
    /// Trusts WhatsApp's production root, [`WA_CERT_PUB_KEY`].
    pub fn whatsapp() -> Self {
        Self::with_root(WA_CERT_PUB_KEY)
    }

    /// Trusts `root` (e.g. a test server's root key).
    pub fn with_root(root: [u8; 32]) -> Self {
        CertVerifier { root }
    }

    /// The trusted root public key.
    pub fn root(&self) -> &[u8; 32] {
        &self.root
    }

    /// Checks a serialized [`CertChain`] for the handshake whose server static key is
    /// `server_static`, at unix time `now`. The checks run in the order WhatsApp clients run
    /// them; the first failure is returned.
    pub fn verify(
        &self,
        chain: &[u8],
        server_static: &[u8; 32],
        now: u64,
    ) -> Result<VerifiedCertChain, CertError> {
        let chain =
            CertChain::decode(chain).map_err(|_| CertError::Malformed("certificate chain"))?;
        let (inter_bytes, inter_sig) = parts(&chain.intermediate, CertLevel::Intermediate)?;
        let (leaf_bytes, leaf_sig) = parts(&chain.leaf, CertLevel::Leaf)?;

        if !xeddsa_verify(&self.root, inter_bytes, &inter_sig) {
            return Err(CertError::BadSignature(CertLevel::Intermediate));
        }
        let intermediate = decode_details(inter_bytes, CertLevel::Intermediate)?;
        if intermediate.issuer_serial != ROOT_SERIAL {
            return Err(CertError::WrongIssuerSerial {
                level: CertLevel::Intermediate,
                expected: ROOT_SERIAL,
                found: intermediate.issuer_serial,
            });
        }
        if !xeddsa_verify(&intermediate.key, leaf_bytes, &leaf_sig) {
            return Err(CertError::BadSignature(CertLevel::Leaf));
        }
        intermediate.validity.check(CertLevel::Intermediate, now)?;

        let leaf = decode_details(leaf_bytes, CertLevel::Leaf)?;
        if leaf.issuer_serial != intermediate.serial {
            return Err(CertError::WrongIssuerSerial {
                level: CertLevel::Leaf,
                expected: intermediate.serial,
                found: leaf.issuer_serial,
            });
        }
        if &leaf.key != server_static {
            return Err(CertError::LeafKeyMismatch);
        }
        leaf.validity.check(CertLevel::Leaf, now)?;
        Ok(VerifiedCertChain { intermediate, leaf })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const NOW: u64 = 1_750_000_000;
    const VALID: CertValidity = CertValidity {
        not_before: 1_700_000_000,
        not_after: 1_800_000_000,
    };

    /// Keys and details of a good chain, each piece editable before signing.
    struct Fixture {
        rng: StdRng,
        root: KeyPair,
        intermediate_kp: KeyPair,
        server_static: [u8; 32],
        intermediate: Details,
        leaf: Details,
    }

    fn fixture() -> Fixture {
        let mut rng = StdRng::seed_from_u64(42);
        let root = KeyPair::generate(&mut rng);
        let intermediate_kp = KeyPair::generate(&mut rng);
        let server_static = KeyPair::generate(&mut rng).public;
        Fixture {
            intermediate: Details {
                serial: Some(3),
                issuer_serial: Some(0),
                key: Some(intermediate_kp.public.to_vec().into()),
                not_before: Some(VALID.not_before),
                not_after: Some(VALID.not_after),
            },
            leaf: Details {
                serial: Some(4),
                issuer_serial: Some(3),
                key: Some(server_static.to_vec().into()),
                not_before: Some(VALID.not_before),
                not_after: Some(VALID.not_after),
            },
            rng,
            root,
            intermediate_kp,
            server_static,
        }
    }

    impl Fixture {
        fn chain(&mut self) -> CertChain {
            CertChain {
                intermediate: Some(sign_details(
                    &self.root,
                    self.intermediate.clone(),
                    &mut self.rng,
                )),
                leaf: Some(sign_details(
                    &self.intermediate_kp,
                    self.leaf.clone(),
                    &mut self.rng,
                )),
            }
        }

        fn verify_chain(
            &self,
            chain: &CertChain,
            now: u64,
        ) -> Result<VerifiedCertChain, CertError> {
            CertVerifier::with_root(self.root.public).verify(
                &chain.encode_to_vec(),
                &self.server_static,
                now,
            )
        }

        fn verify(&mut self) -> Result<VerifiedCertChain, CertError> {
            let chain = self.chain();
            self.verify_chain(&chain, NOW)
        }
    }

    #[test]
    fn issued_chain_verifies_and_reports_its_details() {
        let mut rng = StdRng::seed_from_u64(1);
        let issuer = CertIssuer::new(
            KeyPair::generate(&mut rng),
            KeyPair::generate(&mut rng),
            9,
            VALID,
        );
        let server = KeyPair::generate(&mut rng);
        let chain = issuer.issue(&server.public, 10, VALID, &mut rng);
        let v = CertVerifier::with_root(issuer.root_public())
            .verify(&chain, &server.public, NOW)
            .unwrap();
        assert_eq!(v.intermediate.serial, 9);
        assert_eq!(v.intermediate.issuer_serial, 0);
        assert_eq!(v.leaf.serial, 10);
        assert_eq!(v.leaf.issuer_serial, 9);
        assert_eq!(v.leaf.key, server.public);
        assert_eq!(v.leaf.validity, VALID);
    }

    #[test]
    fn issued_intermediate_encodes_issuer_serial_zero_explicitly() {
        let mut rng = StdRng::seed_from_u64(2);
        let issuer = CertIssuer::new(
            KeyPair::generate(&mut rng),
            KeyPair::generate(&mut rng),
            9,
            VALID,
        );
        let chain = CertChain::decode(&issuer.issue(&[1; 32], 10, VALID, &mut rng)[..]).unwrap();
        let details = chain.intermediate.unwrap().details.unwrap();
        // Field 2, varint wire type, value 0.
        assert!(
            details.windows(2).any(|w| w == [0x10, 0x00]),
            "{details:02x?}"
        );
    }

    #[test]
    fn default_verifier_trusts_the_whatsapp_root() {
        assert_eq!(CertVerifier::default().root(), &WA_CERT_PUB_KEY);
    }

    #[test]
    fn verify_accepts_the_fixture() {
        assert!(fixture().verify().is_ok());
    }

    #[test]
    fn verify_accepts_the_edges_of_the_validity_window() {
        let mut f = fixture();
        let chain = f.chain();
        assert!(f.verify_chain(&chain, VALID.not_before).is_ok());
        assert!(f.verify_chain(&chain, VALID.not_after).is_ok());
    }

    #[test]
    fn verify_rejects_garbage() {
        let v = CertVerifier::whatsapp();
        assert_eq!(
            v.verify(&[0x0a, 0x05, 0x01], &[0; 32], NOW),
            Err(CertError::Malformed("certificate chain"))
        );
    }

    #[test]
    fn verify_rejects_a_missing_intermediate() {
        let mut f = fixture();
        let mut chain = f.chain();
        chain.intermediate = None;
        assert_eq!(
            f.verify_chain(&chain, NOW),
            Err(CertError::MissingField("intermediate"))
        );
    }

    #[test]
    fn verify_rejects_a_missing_leaf_signature() {
        let mut f = fixture();
        let mut chain = f.chain();
        chain.leaf.as_mut().unwrap().signature = None;
        assert_eq!(
            f.verify_chain(&chain, NOW),
            Err(CertError::MissingField("leaf.signature"))
        );
    }

    #[test]
    fn verify_rejects_a_short_signature() {
        let mut f = fixture();
        let mut chain = f.chain();
        chain.intermediate.as_mut().unwrap().signature = Some(vec![0; 63].into());
        assert_eq!(
            f.verify_chain(&chain, NOW),
            Err(CertError::BadSignatureLength {
                level: CertLevel::Intermediate,
                len: 63
            })
        );
    }

    #[test]
    fn verify_rejects_an_intermediate_signed_by_another_root() {
        let mut f = fixture();
        f.root = KeyPair::from_private([9; 32]);
        let chain = f.chain();
        let verifier = CertVerifier::with_root(KeyPair::from_private([8; 32]).public);
        assert_eq!(
            verifier.verify(&chain.encode_to_vec(), &f.server_static, NOW),
            Err(CertError::BadSignature(CertLevel::Intermediate))
        );
    }

    #[test]
    fn verify_rejects_a_leaf_signed_by_another_intermediate() {
        let mut f = fixture();
        f.intermediate_kp = KeyPair::from_private([5; 32]);
        assert_eq!(f.verify(), Err(CertError::BadSignature(CertLevel::Leaf)));
    }

    #[test]
    fn verify_rejects_altered_leaf_details() {
        let mut f = fixture();
        let mut chain = f.chain();
        let leaf = chain.leaf.as_mut().unwrap();
        let mut details = leaf.details.take().unwrap().to_vec();
        details.push(0x08); // serial again, now truncated
        leaf.details = Some(details.into());
        assert_eq!(
            f.verify_chain(&chain, NOW),
            Err(CertError::BadSignature(CertLevel::Leaf))
        );
    }

    #[test]
    fn verify_rejects_an_intermediate_with_nonzero_issuer_serial() {
        let mut f = fixture();
        f.intermediate.issuer_serial = Some(1);
        assert_eq!(
            f.verify(),
            Err(CertError::WrongIssuerSerial {
                level: CertLevel::Intermediate,
                expected: 0,
                found: 1
            })
        );
    }

    #[test]
    fn verify_rejects_a_leaf_naming_another_issuer() {
        let mut f = fixture();
        f.leaf.issuer_serial = Some(99);
        assert_eq!(
            f.verify(),
            Err(CertError::WrongIssuerSerial {
                level: CertLevel::Leaf,
                expected: 3,
                found: 99
            })
        );
    }

    #[test]
    fn verify_rejects_a_short_intermediate_key() {
        let mut f = fixture();
        f.intermediate.key = Some(vec![1; 31].into());
        assert_eq!(
            f.verify(),
            Err(CertError::BadKeyLength {
                level: CertLevel::Intermediate,
                len: 31
            })
        );
    }

    #[test]
    fn verify_rejects_a_leaf_for_another_key() {
        let mut f = fixture();
        f.leaf.key = Some(vec![7; 32].into());
        assert_eq!(f.verify(), Err(CertError::LeafKeyMismatch));
    }

    #[test]
    fn verify_rejects_a_leaf_without_key() {
        let mut f = fixture();
        f.leaf.key = None;
        assert_eq!(
            f.verify(),
            Err(CertError::BadKeyLength {
                level: CertLevel::Leaf,
                len: 0
            })
        );
    }

    #[test]
    fn verify_rejects_an_expired_intermediate() {
        let mut f = fixture();
        f.intermediate.not_after = Some(NOW - 1);
        assert_eq!(
            f.verify(),
            Err(CertError::Expired {
                level: CertLevel::Intermediate,
                not_after: NOW - 1,
                now: NOW
            })
        );
    }

    #[test]
    fn verify_rejects_a_not_yet_valid_intermediate() {
        let mut f = fixture();
        f.intermediate.not_before = Some(NOW + 1);
        assert_eq!(
            f.verify(),
            Err(CertError::NotYetValid {
                level: CertLevel::Intermediate,
                not_before: NOW + 1,
                now: NOW
            })
        );
    }

    #[test]
    fn verify_rejects_an_expired_leaf() {
        let mut f = fixture();
        f.leaf.not_after = Some(NOW - 1);
        assert_eq!(
            f.verify(),
            Err(CertError::Expired {
                level: CertLevel::Leaf,
                not_after: NOW - 1,
                now: NOW
            })
        );
    }

    #[test]
    fn verify_rejects_a_not_yet_valid_leaf() {
        let mut f = fixture();
        f.leaf.not_before = Some(NOW + 1);
        assert_eq!(
            f.verify(),
            Err(CertError::NotYetValid {
                level: CertLevel::Leaf,
                not_before: NOW + 1,
                now: NOW
            })
        );
    }

    #[test]
    fn verify_rejects_undecodable_but_signed_leaf_details() {
        let mut f = fixture();
        let mut chain = f.chain();
        let bad = vec![0x1a, 0x40, 0x01]; // key field claiming 64 bytes, 1 present
        let mut random = [0u8; 64];
        f.rng.fill_bytes(&mut random);
        let sig = f.intermediate_kp.sign(&bad, &random);
        chain.leaf = Some(NoiseCertificate {
            details: Some(bad.into()),
            signature: Some(sig.to_vec().into()),
        });
        assert_eq!(
            f.verify_chain(&chain, NOW),
            Err(CertError::Malformed("leaf details"))
        );
    }
}
