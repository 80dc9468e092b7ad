//! The Noise XX handshake as WhatsApp uses it, the transport cipher and the frame codec.
