//! The XX handshake state machines. Each stage is a type; each step consumes the previous
//! stage, so a message cannot be processed twice or out of order.
//!
//! ```text
//! initiator                                   responder
//! NoiseInitiator::new       -- ClientHello -->  NoiseResponder::read_client_hello
//!                                               ResponderHelloRead::write_server_hello
//! read_server_hello         <-- ServerHello --
//! InitiatorAwaitingFinish::write_client_finish
//!                           -- ClientFinish --> ResponderAwaitingFinish::read_client_finish
//! TransportCipher                               ClientFinished { cipher, .. }
//! ```

use super::cert::{CertError, CertVerifier, VerifiedCertChain};
use super::symmetric::SymmetricState;
use super::transport::TransportCipher;
use crate::crypto::KeyPair;
use crate::proto::HandshakeMessage;
use crate::proto::handshake_message::{ClientFinish, ClientHello, ServerHello};
use prost::Message;

/// Why a handshake message was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The frame is not a valid `HandshakeMessage` protobuf.
    #[error("malformed handshake message")]
    Malformed,
    /// The frame holds a different stage than the one expected next.
    #[error("expected {0}")]
    UnexpectedMessage(&'static str),
    /// A required field is absent.
    #[error("handshake message lacks {0}")]
    MissingField(&'static str),
    /// A key with the wrong length.
    #[error("{field} is {len} bytes, not 32")]
    BadKeyLength {
        /// The key.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// An encrypted field failed authentication: wrong keys, tampering, or a transcript mismatch.
    #[error("cannot decrypt {0}")]
    Decrypt(&'static str),
    /// The client offered the IK pattern (a static key in its hello), which is not supported.
    #[error("client hello carries a static key (Noise IK), which is not supported")]
    IkNotSupported,
    /// The server certificate chain was rejected.
    #[error("server certificate: {0}")]
    Cert(#[from] CertError),
}

fn key32(bytes: &[u8], field: &'static str) -> Result<[u8; 32], HandshakeError> {
    bytes.try_into().map_err(|_| HandshakeError::BadKeyLength {
        field,
        len: bytes.len(),
    })
}

fn decode(bytes: &[u8]) -> Result<HandshakeMessage, HandshakeError> {
    HandshakeMessage::decode(bytes).map_err(|_| HandshakeError::Malformed)
}

/// The initiator before the server hello: it has sent (or will send) its ephemeral key.
#[derive(Clone)]
pub struct NoiseInitiator {
    sym: SymmetricState,
    static_kp: KeyPair,
    ephemeral: KeyPair,
}

impl std::fmt::Debug for NoiseInitiator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoiseInitiator")
            .field("static", &self.static_kp)
            .field("ephemeral", &self.ephemeral)
            .finish_non_exhaustive()
    }
}

impl NoiseInitiator {
    /// Starts a handshake with the long-term Noise key `static_kp` and a fresh `ephemeral`
    /// key; `prologue` is [`super::WA_INTRO`] for WhatsApp.
    pub fn new(static_kp: KeyPair, ephemeral: KeyPair, prologue: &[u8]) -> Self {
        let mut sym = SymmetricState::new(prologue);
        sym.mix_hash(&ephemeral.public);
        NoiseInitiator {
            sym,
            static_kp,
            ephemeral,
        }
    }

    /// The `HandshakeMessage{clientHello{ephemeral}}` to send as the first frame.
    pub fn client_hello(&self) -> Vec<u8> {
        HandshakeMessage {
            client_hello: Some(ClientHello {
                ephemeral: Some(self.ephemeral.public.to_vec().into()),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec()
    }

    /// Processes the server hello: learns the server's keys and verifies its certificate
    /// chain with `verifier` at unix time `now`.
    pub fn read_server_hello(
        mut self,
        bytes: &[u8],
        verifier: &CertVerifier,
        now: u64,
    ) -> Result<InitiatorAwaitingFinish, HandshakeError> {
        let hello = decode(bytes)?
            .server_hello
            .ok_or(HandshakeError::UnexpectedMessage("server hello"))?;
        let ephemeral = hello
            .ephemeral
            .as_deref()
            .ok_or(HandshakeError::MissingField("serverHello.ephemeral"))?;
        let server_ephemeral = key32(ephemeral, "server ephemeral")?;
        let enc_static = hello
            .r#static
            .as_deref()
            .ok_or(HandshakeError::MissingField("serverHello.static"))?;
        let enc_cert = hello
            .payload
            .as_deref()
            .ok_or(HandshakeError::MissingField("serverHello.payload"))?;

        self.sym.mix_hash(&server_ephemeral);
        self.sym.mix_key(&self.ephemeral.agree(&server_ephemeral));
        let server_static = self
            .sym
            .decrypt_and_hash(enc_static)
            .map_err(|_| HandshakeError::Decrypt("server static key"))?;
        let server_static = key32(&server_static, "server static")?;
        self.sym.mix_key(&self.ephemeral.agree(&server_static));
        let cert = self
            .sym
            .decrypt_and_hash(enc_cert)
            .map_err(|_| HandshakeError::Decrypt("certificate chain"))?;
        let cert_chain = verifier.verify(&cert, &server_static, now)?;
        Ok(InitiatorAwaitingFinish {
            sym: self.sym,
            static_kp: self.static_kp,
            server_ephemeral,
            server_static,
            cert_chain,
        })
    }
}

/// The initiator after a valid server hello, ready to authenticate itself.
#[derive(Clone)]
pub struct InitiatorAwaitingFinish {
    sym: SymmetricState,
    static_kp: KeyPair,
    server_ephemeral: [u8; 32],
    server_static: [u8; 32],
    cert_chain: VerifiedCertChain,
}

impl std::fmt::Debug for InitiatorAwaitingFinish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitiatorAwaitingFinish")
            .field("cert_chain", &self.cert_chain)
            .finish_non_exhaustive()
    }
}

impl InitiatorAwaitingFinish {
    /// The server's static key (certified by the chain).
    pub fn server_static(&self) -> &[u8; 32] {
        &self.server_static
    }

    /// The verified certificate chain.
    pub fn cert_chain(&self) -> &VerifiedCertChain {
        &self.cert_chain
    }

    /// The `HandshakeMessage{clientFinish}` carrying our static key and `payload` (a
    /// serialized `ClientPayload`), and the transport cipher for everything after it.
    pub fn write_client_finish(mut self, payload: &[u8]) -> (Vec<u8>, TransportCipher) {
        let enc_static = self.sym.encrypt_and_hash(&self.static_kp.public);
        self.sym
            .mix_key(&self.static_kp.agree(&self.server_ephemeral));
        let enc_payload = self.sym.encrypt_and_hash(payload);
        let bytes = HandshakeMessage {
            client_finish: Some(ClientFinish {
                r#static: Some(enc_static.into()),
                payload: Some(enc_payload.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec();
        let (to_server, to_client) = self.sym.split();
        (bytes, TransportCipher::new(&to_server, &to_client))
    }
}

/// The responder before the client hello.
#[derive(Clone)]
pub struct NoiseResponder {
    sym: SymmetricState,
    static_kp: KeyPair,
    ephemeral: KeyPair,
    cert_chain: Vec<u8>,
}

impl std::fmt::Debug for NoiseResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoiseResponder")
            .field("static", &self.static_kp)
            .field("ephemeral", &self.ephemeral)
            .finish_non_exhaustive()
    }
}

impl NoiseResponder {
    /// A responder with long-term key `static_kp`, a fresh `ephemeral` key and the serialized
    /// certificate chain for `static_kp` (see [`super::CertIssuer`]); `prologue` is
    /// [`super::WA_INTRO`] for WhatsApp (never the routing prefix).
    pub fn new(
        static_kp: KeyPair,
        ephemeral: KeyPair,
        cert_chain: Vec<u8>,
        prologue: &[u8],
    ) -> Self {
        NoiseResponder {
            sym: SymmetricState::new(prologue),
            static_kp,
            ephemeral,
            cert_chain,
        }
    }

    /// Processes the client hello (the first frame after the intro).
    pub fn read_client_hello(mut self, bytes: &[u8]) -> Result<ResponderHelloRead, HandshakeError> {
        let hello = decode(bytes)?
            .client_hello
            .ok_or(HandshakeError::UnexpectedMessage("client hello"))?;
        if hello.r#static.is_some() {
            return Err(HandshakeError::IkNotSupported);
        }
        let ephemeral = hello
            .ephemeral
            .as_deref()
            .ok_or(HandshakeError::MissingField("clientHello.ephemeral"))?;
        let client_ephemeral = key32(ephemeral, "client ephemeral")?;
        self.sym.mix_hash(&client_ephemeral);
        Ok(ResponderHelloRead {
            responder: self,
            client_ephemeral,
        })
    }
}

/// The responder after the client hello, ready to answer.
#[derive(Clone)]
pub struct ResponderHelloRead {
    responder: NoiseResponder,
    client_ephemeral: [u8; 32],
}

impl std::fmt::Debug for ResponderHelloRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponderHelloRead")
            .field("responder", &self.responder)
            .finish_non_exhaustive()
    }
}

impl ResponderHelloRead {
    /// The client's ephemeral key.
    pub fn client_ephemeral(&self) -> &[u8; 32] {
        &self.client_ephemeral
    }

    /// The `HandshakeMessage{serverHello}`: our ephemeral key, our encrypted static key and
    /// the encrypted certificate chain.
    pub fn write_server_hello(self) -> (Vec<u8>, ResponderAwaitingFinish) {
        let NoiseResponder {
            mut sym,
            static_kp,
            ephemeral,
            cert_chain,
        } = self.responder;
        let re = self.client_ephemeral;
        sym.mix_hash(&ephemeral.public);
        sym.mix_key(&ephemeral.agree(&re));
        let enc_static = sym.encrypt_and_hash(&static_kp.public);
        sym.mix_key(&static_kp.agree(&re));
        let enc_cert = sym.encrypt_and_hash(&cert_chain);
        let bytes = HandshakeMessage {
            server_hello: Some(ServerHello {
                ephemeral: Some(ephemeral.public.to_vec().into()),
                r#static: Some(enc_static.into()),
                payload: Some(enc_cert.into()),
                ..Default::default()
            }),
            ..Default::default()
        }
        .encode_to_vec();
        (bytes, ResponderAwaitingFinish { sym, ephemeral })
    }
}

/// The responder after its server hello, waiting for the client finish.
#[derive(Clone)]
pub struct ResponderAwaitingFinish {
    sym: SymmetricState,
    ephemeral: KeyPair,
}

impl std::fmt::Debug for ResponderAwaitingFinish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponderAwaitingFinish")
            .finish_non_exhaustive()
    }
}

/// What a completed responder handshake yields.
#[derive(Debug, Clone)]
pub struct ClientFinished {
    /// The client's long-term Noise static key (authenticated by the handshake).
    pub client_static: [u8; 32],
    /// The decrypted payload (a serialized `ClientPayload` for WhatsApp).
    pub payload: Vec<u8>,
    /// The transport cipher: seals server -> client, opens client -> server.
    pub cipher: TransportCipher,
}

impl ResponderAwaitingFinish {
    /// Processes the client finish and completes the handshake.
    pub fn read_client_finish(mut self, bytes: &[u8]) -> Result<ClientFinished, HandshakeError> {
        let finish = decode(bytes)?
            .client_finish
            .ok_or(HandshakeError::UnexpectedMessage("client finish"))?;
        let enc_static = finish
            .r#static
            .as_deref()
            .ok_or(HandshakeError::MissingField("clientFinish.static"))?;
        let enc_payload = finish
            .payload
            .as_deref()
            .ok_or(HandshakeError::MissingField("clientFinish.payload"))?;
        let client_static = self
            .sym
            .decrypt_and_hash(enc_static)
            .map_err(|_| HandshakeError::Decrypt("client static key"))?;
        let client_static = key32(&client_static, "client static")?;
        self.sym.mix_key(&self.ephemeral.agree(&client_static));
        let payload = self
            .sym
            .decrypt_and_hash(enc_payload)
            .map_err(|_| HandshakeError::Decrypt("client payload"))?;
        let (to_server, to_client) = self.sym.split();
        Ok(ClientFinished {
            client_static,
            payload,
            cipher: TransportCipher::new(&to_client, &to_server),
        })
    }
}
