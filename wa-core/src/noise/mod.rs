//! The Noise XX handshake as WhatsApp uses it, the transport cipher and the frame codec.
//!
//! WhatsApp Web speaks `Noise_XX_25519_AESGCM_SHA256` over a websocket. The initiator (the
//! client) opens with a 4-byte intro (`WA 06 03`, optionally preceded by an `ED` edge-routing
//! prefix), then every message is a frame with a 3-byte big-endian length. The first three
//! frames are [`crate::proto::HandshakeMessage`]s; after that every frame is one AES-256-GCM
//! ciphertext under the keys the handshake produced.
//!
//! Everything here is sans-IO: the state machines take bytes, keys, randomness and the
//! current time as parameters and return bytes.
//!
//! | item | owns |
//! |---|---|
//! | [`NoiseInitiator`] | the client side of the handshake |
//! | [`NoiseResponder`] | the server side of the handshake |
//! | [`TransportCipher`] | the post-handshake cipher, one [`CipherState`] per direction |
//! | [`FrameEncoder`], [`FrameDecoder`] | intro, routing prefix, 3-byte length framing |
//! | [`CertIssuer`], [`CertVerifier`] | the server certificate chain |
//!
//! ```
//! use wa_core::crypto::KeyPair;
//! use wa_core::noise::{
//!     CertIssuer, CertValidity, CertVerifier, NoiseInitiator, NoiseResponder, WA_INTRO,
//! };
//! # let mut rng = rand::rngs::OsRng;
//! let validity = CertValidity { not_before: 0, not_after: 2_000_000_000 };
//! let issuer = CertIssuer::new(KeyPair::generate(&mut rng), KeyPair::generate(&mut rng), 1, validity);
//! let server_static = KeyPair::generate(&mut rng);
//! let chain = issuer.issue(&server_static.public, 2, validity, &mut rng);
//!
//! let client = NoiseInitiator::new(KeyPair::generate(&mut rng), KeyPair::generate(&mut rng), &WA_INTRO);
//! let server = NoiseResponder::new(server_static, KeyPair::generate(&mut rng), chain, &WA_INTRO);
//!
//! let hello = client.client_hello();
//! let server = server.read_client_hello(&hello)?;
//! let (server_hello, server) = server.write_server_hello();
//! let client = client.read_server_hello(&server_hello, &CertVerifier::with_root(issuer.root_public()), 1_700_000_000)?;
//! let (finish, mut client_cipher) = client.write_client_finish(b"client payload");
//! let done = server.read_client_finish(&finish)?;
//! assert_eq!(done.payload, b"client payload");
//! let mut server_cipher = done.cipher;
//!
//! let frame = client_cipher.seal(b"\0<node/>")?;
//! assert_eq!(server_cipher.open(&frame)?, b"\0<node/>");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cert;
mod frame;
mod handshake;
mod symmetric;
mod transport;

pub use cert::{
    CertDetails, CertError, CertIssuer, CertLevel, CertValidity, CertVerifier, VerifiedCertChain,
    WA_CERT_PUB_KEY,
};
pub use frame::{
    FRAME_HEADER_LEN, FRAME_MAX_LEN, FrameDecoder, FrameEncoder, FrameError, ROUTING_PREFIX,
    WA_INTRO,
};
pub use handshake::{
    ClientFinished, HandshakeError, InitiatorAwaitingFinish, NoiseInitiator, NoiseResponder,
    ResponderAwaitingFinish, ResponderHelloRead,
};
pub use symmetric::NOISE_PATTERN;
pub use transport::{CipherState, TransportCipher, TransportError};

#[cfg(test)]
mod tests;
