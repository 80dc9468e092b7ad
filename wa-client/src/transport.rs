//! The socket under the protocol: TCP (directly or through an HTTP/SOCKS5 proxy), the
//! websocket (TLS for `wss://`), the Noise handshake, then encrypted frames both ways.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wa_core::crypto::KeyPair;
use wa_core::noise::{
    CertVerifier, CipherState, FrameDecoder, FrameEncoder, NoiseInitiator, WA_INTRO,
};

use crate::config::{Config, Proxy};
use crate::error::{Error, Result};

/// Any byte stream the websocket can run over.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Ws = WebSocketStream<MaybeTlsStream<Box<dyn Io>>>;

/// How long the server may take to answer the client hello.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// The sending half: seals plaintext node frames and writes them.
pub(crate) struct FrameWriter {
    sink: SplitSink<Ws, WsMessage>,
    encoder: FrameEncoder,
    cipher: CipherState,
}

/// The receiving half: reassembles frames and opens them.
pub(crate) struct FrameReader {
    stream: SplitStream<Ws>,
    decoder: FrameDecoder,
    cipher: CipherState,
}

impl FrameWriter {
    /// Encrypts and sends one plaintext (flags byte + node).
    pub(crate) async fn send(&mut self, plaintext: &[u8]) -> Result<()> {
        let sealed = self
            .cipher
            .seal(plaintext)
            .map_err(|e| Error::Transport(e.to_string()))?;
        let frame = self
            .encoder
            .encode(&sealed)
            .map_err(|e| Error::Transport(e.to_string()))?;
        self.sink
            .send(WsMessage::binary(frame))
            .await
            .map_err(|e| Error::Transport(e.to_string()))
    }

    /// Closes the websocket.
    pub(crate) async fn close(&mut self) {
        let _ = self.sink.send(WsMessage::Close(None)).await;
        let _ = self.sink.close().await;
    }
}

impl FrameReader {
    /// The next decrypted plaintext, or `None` when the socket closed.
    pub(crate) async fn next(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            if let Some(frame) = self
                .decoder
                .next_frame()
                .map_err(|e| Error::Transport(e.to_string()))?
            {
                return self
                    .cipher
                    .open(&frame)
                    .map(Some)
                    .map_err(|e| Error::Transport(format!("frame decrypt: {e}")));
            }
            match self.stream.next().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(Error::Transport(e.to_string())),
                Some(Ok(WsMessage::Binary(data))) => self.decoder.push(&data),
                Some(Ok(WsMessage::Close(_))) => return Ok(None),
                Some(Ok(_)) => {}
            }
        }
    }
}

/// `(host, port, tls)` of a `ws://` or `wss://` URL.
fn target(url: &str) -> Result<(String, u16, bool)> {
    let bad = || Error::InvalidArgument(format!("bad websocket URL {url}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let tls = match scheme {
        "ws" => false,
        "wss" => true,
        _ => return Err(bad()),
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            (h.to_owned(), p.parse().map_err(|_| bad())?)
        }
        _ => (authority.to_owned(), if tls { 443 } else { 80 }),
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host, port, tls))
}

/// Opens a TCP stream to `host:port`, through `proxy` when given.
pub(crate) async fn tcp_connect(
    host: &str,
    port: u16,
    proxy: Option<&Proxy>,
) -> Result<Box<dyn Io>> {
    let io_err = |e: std::io::Error| Error::Transport(e.to_string());
    match proxy {
        None => {
            let stream = TcpStream::connect((host, port)).await.map_err(io_err)?;
            let _ = stream.set_nodelay(true);
            Ok(Box::new(stream))
        }
        Some(Proxy::Http { addr, auth }) => {
            let mut stream = TcpStream::connect(addr.as_str()).await.map_err(io_err)?;
            http_connect(&mut stream, host, port, auth.as_ref()).await?;
            Ok(Box::new(stream))
        }
        Some(Proxy::Socks5 { addr, auth }) => {
            let mut stream = TcpStream::connect(addr.as_str()).await.map_err(io_err)?;
            socks5_connect(&mut stream, host, port, auth.as_ref()).await?;
            Ok(Box::new(stream))
        }
    }
}

/// An HTTP `CONNECT` tunnel.
pub(crate) async fn http_connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    host: &str,
    port: u16,
    auth: Option<&(String, String)>,
) -> Result<()> {
    let io_err = |e: std::io::Error| Error::Transport(e.to_string());
    let mut request = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n");
    if let Some((user, pass)) = auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.map_err(io_err)?;
    // Read the response head byte by byte so nothing of the tunnel is consumed.
    let mut head = Vec::with_capacity(128);
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 {
            return Err(Error::Transport("proxy response head too long".into()));
        }
        head.push(stream.read_u8().await.map_err(io_err)?);
    }
    let status_line = String::from_utf8_lossy(&head);
    let status = status_line.split_whitespace().nth(1).unwrap_or_default();
    if status != "200" {
        return Err(Error::Transport(format!("proxy refused CONNECT: {status}")));
    }
    Ok(())
}

/// A SOCKS5 `CONNECT` (RFC 1928, with RFC 1929 username/password when `auth` is set); the
/// proxy resolves `host`.
pub(crate) async fn socks5_connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    host: &str,
    port: u16,
    auth: Option<&(String, String)>,
) -> Result<()> {
    let io_err = |e: std::io::Error| Error::Transport(e.to_string());
    let fail = |what: &str| Error::Transport(format!("socks5: {what}"));
    let method = if auth.is_some() { 0x02 } else { 0x00 };
    stream
        .write_all(&[0x05, 0x01, method])
        .await
        .map_err(io_err)?;
    let mut reply = [0u8; 2];
    stream.read_exact(&mut reply).await.map_err(io_err)?;
    if reply[0] != 0x05 || reply[1] != method {
        return Err(fail("no acceptable authentication method"));
    }
    if let Some((user, pass)) = auth {
        let (u, p) = (user.as_bytes(), pass.as_bytes());
        if u.len() > 255 || p.len() > 255 {
            return Err(fail("credentials too long"));
        }
        let mut msg = vec![0x01, u.len() as u8];
        msg.extend_from_slice(u);
        msg.push(p.len() as u8);
        msg.extend_from_slice(p);
        stream.write_all(&msg).await.map_err(io_err)?;
        stream.read_exact(&mut reply).await.map_err(io_err)?;
        if reply[1] != 0 {
            return Err(fail("authentication failed"));
        }
    }
    if host.len() > 255 {
        return Err(fail("host name too long"));
    }
    let mut msg = vec![0x05, 0x01, 0x00, 0x03, host.len() as u8];
    msg.extend_from_slice(host.as_bytes());
    msg.extend_from_slice(&port.to_be_bytes());
    stream.write_all(&msg).await.map_err(io_err)?;
    let mut head = [0u8; 4];
    stream.read_exact(&mut head).await.map_err(io_err)?;
    if head[1] != 0 {
        return Err(fail(&format!("connect refused (code {})", head[1])));
    }
    let addr_len = match head[3] {
        0x01 => 4,
        0x04 => 16,
        0x03 => stream.read_u8().await.map_err(io_err)? as usize,
        _ => return Err(fail("bad address type")),
    };
    let mut rest = vec![0u8; addr_len + 2];
    stream.read_exact(&mut rest).await.map_err(io_err)?;
    Ok(())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Connects, runs the Noise handshake with `noise_key` and `payload` (a serialized
/// `ClientPayload`), and returns the two encrypted halves.
pub(crate) async fn connect(
    config: &Config,
    noise_key: &KeyPair,
    payload: &[u8],
) -> Result<(FrameWriter, FrameReader)> {
    let (host, port, _tls) = target(&config.ws_url)?;
    let io = tcp_connect(&host, port, config.proxy.as_ref()).await?;
    let mut request = config
        .ws_url
        .as_str()
        .into_client_request()
        .map_err(|e| Error::Transport(e.to_string()))?;
    request.headers_mut().insert(
        "Origin",
        "https://web.whatsapp.com".parse().expect("static header"),
    );
    // Small buffers: frames are mostly tiny and a client may hold thousands of connections.
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(16 * 1024)
        .write_buffer_size(0);
    let (ws, _) =
        tokio_tungstenite::client_async_tls_with_config(request, io, Some(ws_config), None)
            .await
            .map_err(|e| Error::Transport(e.to_string()))?;
    let (mut sink, mut stream) = ws.split();

    let mut encoder = FrameEncoder::client(None).map_err(|e| Error::Handshake(e.to_string()))?;
    let mut decoder = FrameDecoder::new();
    let ephemeral = KeyPair::generate(&mut rand::rngs::OsRng);
    let initiator = NoiseInitiator::new(noise_key.clone(), ephemeral, &WA_INTRO);
    let hello = encoder
        .encode(&initiator.client_hello())
        .map_err(|e| Error::Handshake(e.to_string()))?;
    sink.send(WsMessage::binary(hello))
        .await
        .map_err(|e| Error::Transport(e.to_string()))?;

    let server_hello = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        loop {
            if let Some(frame) = decoder
                .next_frame()
                .map_err(|e| Error::Handshake(e.to_string()))?
            {
                return Ok(frame);
            }
            match stream.next().await {
                Some(Ok(WsMessage::Binary(data))) => decoder.push(&data),
                Some(Ok(WsMessage::Close(_))) | None => {
                    return Err(Error::Transport("closed during handshake".into()));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(Error::Transport(e.to_string())),
            }
        }
    })
    .await
    .map_err(|_| Error::Timeout)??;

    let verifier = CertVerifier::with_root(config.root_key);
    let awaiting = initiator
        .read_server_hello(&server_hello, &verifier, now_secs())
        .map_err(|e| Error::Handshake(e.to_string()))?;
    let (finish, cipher) = awaiting.write_client_finish(payload);
    let finish = encoder
        .encode(&finish)
        .map_err(|e| Error::Handshake(e.to_string()))?;
    sink.send(WsMessage::binary(finish))
        .await
        .map_err(|e| Error::Transport(e.to_string()))?;
    let (send, recv) = cipher.split();
    Ok((
        FrameWriter {
            sink,
            encoder,
            cipher: send,
        },
        FrameReader {
            stream,
            decoder,
            cipher: recv,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_targets_default_their_ports() {
        assert_eq!(
            target("wss://web.whatsapp.com/ws/chat").unwrap(),
            ("web.whatsapp.com".into(), 443, true)
        );
        assert_eq!(
            target("ws://127.0.0.1:8080/ws/chat").unwrap(),
            ("127.0.0.1".into(), 8080, false)
        );
        assert!(target("http://x/ws").is_err());
    }

    #[tokio::test]
    async fn socks5_connect_speaks_rfc1928_with_credentials() {
        let (mut client, mut proxy) = tokio::io::duplex(1024);
        let server = tokio::spawn(async move {
            let mut greet = [0u8; 3];
            proxy.read_exact(&mut greet).await.unwrap();
            assert_eq!(greet, [5, 1, 2]);
            proxy.write_all(&[5, 2]).await.unwrap();
            let mut auth = [0u8; 6];
            proxy.read_exact(&mut auth).await.unwrap();
            assert_eq!(auth, [1, 1, b'u', 2, b'p', b'w']);
            proxy.write_all(&[1, 0]).await.unwrap();
            let mut req = [0u8; 5 + 4 + 2];
            proxy.read_exact(&mut req).await.unwrap();
            assert_eq!(&req[..5], &[5, 1, 0, 3, 4]);
            assert_eq!(&req[5..9], b"host");
            assert_eq!(&req[9..], &443u16.to_be_bytes());
            proxy
                .write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 80])
                .await
                .unwrap();
        });
        let auth = ("u".to_owned(), "pw".to_owned());
        socks5_connect(&mut client, "host", 443, Some(&auth))
            .await
            .unwrap();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn http_connect_rejects_a_non_200_answer() {
        let (mut client, mut proxy) = tokio::io::duplex(1024);
        tokio::spawn(async move {
            let mut buf = [0u8; 256];
            let _ = proxy.read(&mut buf).await.unwrap();
            proxy
                .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
                .await
                .unwrap();
        });
        let err = http_connect(&mut client, "h", 1, None).await.unwrap_err();
        assert!(err.to_string().contains("407"));
    }
}
