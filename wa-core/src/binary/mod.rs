//! WABinary: the binary XML-like node format of the WhatsApp Web protocol.
