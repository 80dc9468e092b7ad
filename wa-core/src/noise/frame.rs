//! The byte stream under Noise: the one-time intro, the optional edge-routing prefix, and
//! frames with a 3-byte big-endian length.
//!
//! A websocket message is only a chunk of that stream: it may hold several frames or part of
//! one, so the decoder buffers whatever it is fed and yields whole frames.

/// The connection intro: `'W' 'A'`, magic 6, token dictionary version 3. Also the Noise prologue.
pub const WA_INTRO: [u8; 4] = [b'W', b'A', 6, 3];

/// The first four bytes of the edge-routing pre-intro: `'E' 'D' 0 1`, then a 3-byte length
/// and the routing info, then [`WA_INTRO`].
pub const ROUTING_PREFIX: [u8; 4] = [b'E', b'D', 0, 1];

/// Bytes of the length prefix in front of every frame.
pub const FRAME_HEADER_LEN: usize = 3;

/// The largest payload a frame can carry: lengths must stay below `1 << 24`.
pub const FRAME_MAX_LEN: usize = (1 << 24) - 1;

/// Errors of the frame codec. After a decode error the stream is unusable and the decoder
/// keeps returning the same error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A payload (or routing info) longer than the limit.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// The announced or given length.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The stream did not start with `WA 06 03` (after the routing prefix, if any).
    #[error("bad connection intro {0:02x?}")]
    BadIntro([u8; 4]),
    /// The stream started with `ED` but not with the `ED 00 01` routing prefix.
    #[error("bad edge-routing prefix {0:02x?}")]
    BadRoutingPrefix([u8; 4]),
}

fn length_prefix(len: usize) -> [u8; 3] {
    [(len >> 16) as u8, (len >> 8) as u8, len as u8]
}

/// Writes frames; the client variant glues the intro in front of the first one.
#[derive(Debug, Clone)]
pub struct FrameEncoder {
    intro: Option<Vec<u8>>,
}

impl FrameEncoder {
    /// The client side: the first frame is preceded by [`WA_INTRO`], itself preceded by the
    /// edge-routing prefix when `routing_info` is given.
    pub fn client(routing_info: Option<&[u8]>) -> Result<Self, FrameError> {
        let mut intro = Vec::new();
        if let Some(info) = routing_info {
            if info.len() > FRAME_MAX_LEN {
                return Err(FrameError::TooLarge {
                    len: info.len(),
                    max: FRAME_MAX_LEN,
                });
            }
            intro.extend_from_slice(&ROUTING_PREFIX);
            intro.extend_from_slice(&length_prefix(info.len()));
            intro.extend_from_slice(info);
        }
        intro.extend_from_slice(&WA_INTRO);
        Ok(FrameEncoder { intro: Some(intro) })
    }

    /// The server side: frames only, no intro.
    pub fn server() -> Self {
        FrameEncoder { intro: None }
    }

    /// Appends the framed `payload` (with the intro if this is the client's first frame).
    pub fn encode_into(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        if payload.len() > FRAME_MAX_LEN {
            return Err(FrameError::TooLarge {
                len: payload.len(),
                max: FRAME_MAX_LEN,
            });
        }
        if let Some(intro) = self.intro.take() {
            out.extend_from_slice(&intro);
        }
        out.extend_from_slice(&length_prefix(payload.len()));
        out.extend_from_slice(payload);
        Ok(())
    }

    /// The framed `payload` as a new buffer (one websocket message).
    pub fn encode(&mut self, payload: &[u8]) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::with_capacity(
            self.intro.as_ref().map_or(0, Vec::len) + FRAME_HEADER_LEN + payload.len(),
        );
        self.encode_into(payload, &mut out)?;
        Ok(out)
    }
}

/// Reassembles frames from arbitrary chunks of the stream.
///
/// ```
/// use wa_core::noise::{FrameDecoder, FrameEncoder};
/// let mut enc = FrameEncoder::client(None)?;
/// let wire = [enc.encode(b"hello")?, enc.encode(b"world")?].concat();
///
/// let mut dec = FrameDecoder::expecting_intro();
/// dec.push(&wire[..6]);
/// assert_eq!(dec.next_frame()?, None);
/// dec.push(&wire[6..]);
/// assert_eq!(dec.next_frame()?.as_deref(), Some(&b"hello"[..]));
/// assert_eq!(dec.next_frame()?.as_deref(), Some(&b"world"[..]));
/// assert_eq!(dec.next_frame()?, None);
/// # Ok::<(), wa_core::noise::FrameError>(())
/// ```
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    awaiting_intro: bool,
    routing_info: Option<Vec<u8>>,
    max_len: usize,
    failed: Option<FrameError>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// The client side: the server's stream is frames from the first byte.
    pub fn new() -> Self {
        FrameDecoder {
            buf: Vec::new(),
            start: 0,
            awaiting_intro: false,
            routing_info: None,
            max_len: FRAME_MAX_LEN,
            failed: None,
        }
    }

    /// The server side: the client's stream starts with the intro, with or without the
    /// edge-routing prefix.
    pub fn expecting_intro() -> Self {
        FrameDecoder {
            awaiting_intro: true,
            ..Self::new()
        }
    }

    /// Lowers the largest accepted frame payload (and routing info) below [`FRAME_MAX_LEN`].
    pub fn with_max_frame_len(mut self, max: usize) -> Self {
        self.max_len = max.min(FRAME_MAX_LEN);
        self
    }

    /// Appends a chunk of the stream (e.g. one websocket message).
    pub fn push(&mut self, chunk: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The routing info of an `ED` pre-intro, once the intro has been read.
    pub fn routing_info(&self) -> Option<&[u8]> {
        self.routing_info.as_deref()
    }

    /// Whether the intro (if expected) has been consumed.
    pub fn intro_received(&self) -> bool {
        !self.awaiting_intro
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered_len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next whole frame payload, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        match self.try_next() {
            Err(err) => {
                self.failed = Some(err.clone());
                Err(err)
            }
            ok => ok,
        }
    }

    fn try_next(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        if self.awaiting_intro && !self.read_intro()? {
            return Ok(None);
        }
        let avail = &self.buf[self.start..];
        let Some(len) = read_len(avail) else {
            return Ok(None);
        };
        if len > self.max_len {
            return Err(FrameError::TooLarge {
                len,
                max: self.max_len,
            });
        }
        let Some(payload) = avail.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + len) else {
            return Ok(None);
        };
        let payload = payload.to_vec();
        self.start += FRAME_HEADER_LEN + len;
        Ok(Some(payload))
    }

    /// Consumes the intro if all of it has arrived; `Ok(false)` when more bytes are needed.
    fn read_intro(&mut self) -> Result<bool, FrameError> {
        let avail = &self.buf[self.start..];
        let Some(head) = avail.get(..4) else {
            return Ok(false);
        };
        let head: [u8; 4] = head.try_into().expect("four bytes");
        let mut offset = 0;
        let mut routing = None;
        if head[..2] == ROUTING_PREFIX[..2] {
            if head != ROUTING_PREFIX {
                return Err(FrameError::BadRoutingPrefix(head));
            }
            let Some(len) = read_len(&avail[4..]) else {
                return Ok(false);
            };
            if len > self.max_len {
                return Err(FrameError::TooLarge {
                    len,
                    max: self.max_len,
                });
            }
            let Some(info) = avail.get(7..7 + len) else {
                return Ok(false);
            };
            routing = Some(info.to_vec());
            offset = 7 + len;
        }
        let Some(intro) = avail.get(offset..offset + 4) else {
            return Ok(false);
        };
        if intro != WA_INTRO {
            return Err(FrameError::BadIntro(intro.try_into().expect("four bytes")));
        }
        self.start += offset + 4;
        self.routing_info = routing;
        self.awaiting_intro = false;
        Ok(true)
    }
}

fn read_len(bytes: &[u8]) -> Option<usize> {
    let b = bytes.get(..FRAME_HEADER_LEN)?;
    Some((usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(dec: &mut FrameDecoder) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(f) = dec.next_frame().unwrap() {
            out.push(f);
        }
        out
    }

    fn sample_payloads() -> Vec<Vec<u8>> {
        vec![b"hello".to_vec(), Vec::new(), vec![0xAB; 300]]
    }

    fn client_stream(routing: Option<&[u8]>) -> Vec<u8> {
        let mut enc = FrameEncoder::client(routing).unwrap();
        let mut wire = Vec::new();
        for p in sample_payloads() {
            enc.encode_into(&p, &mut wire).unwrap();
        }
        wire
    }

    #[test]
    fn client_encoder_sends_the_intro_once() {
        let mut enc = FrameEncoder::client(None).unwrap();
        assert_eq!(enc.encode(b"ab").unwrap(), b"WA\x06\x03\x00\x00\x02ab");
        assert_eq!(enc.encode(b"c").unwrap(), b"\x00\x00\x01c");
    }

    #[test]
    fn routing_prefix_precedes_the_intro() {
        let mut enc = FrameEncoder::client(Some(b"xyz")).unwrap();
        assert_eq!(
            enc.encode(b"p").unwrap(),
            b"ED\x00\x01\x00\x00\x03xyzWA\x06\x03\x00\x00\x01p"
        );
    }

    #[test]
    fn server_encoder_writes_bare_frames() {
        let mut enc = FrameEncoder::server();
        assert_eq!(enc.encode(b"ab").unwrap(), b"\x00\x00\x02ab");
    }

    #[test]
    fn length_prefix_is_three_bytes_big_endian() {
        let mut enc = FrameEncoder::server();
        let wire = enc.encode(&vec![0; 0x01_02_03]).unwrap();
        assert_eq!(&wire[..3], &[1, 2, 3]);
    }

    #[test]
    fn encoder_rejects_payloads_of_1_shl_24_bytes() {
        let mut enc = FrameEncoder::server();
        assert_eq!(
            enc.encode(&vec![0; 1 << 24]),
            Err(FrameError::TooLarge {
                len: 1 << 24,
                max: FRAME_MAX_LEN
            })
        );
        assert!(enc.encode(&vec![0; FRAME_MAX_LEN]).is_ok());
    }

    #[test]
    fn server_decoder_yields_frames_for_every_split_point() {
        for routing in [None, Some(&b"route-info"[..])] {
            let wire = client_stream(routing);
            for split in 0..=wire.len() {
                let mut dec = FrameDecoder::expecting_intro();
                dec.push(&wire[..split]);
                let mut frames = drain(&mut dec);
                dec.push(&wire[split..]);
                frames.extend(drain(&mut dec));
                assert_eq!(frames, sample_payloads(), "split at {split}");
                assert_eq!(dec.routing_info(), routing);
                assert_eq!(dec.buffered_len(), 0);
            }
        }
    }

    #[test]
    fn server_decoder_handles_byte_by_byte_delivery() {
        let wire = client_stream(Some(b"r"));
        let mut dec = FrameDecoder::expecting_intro();
        let mut frames = Vec::new();
        for b in &wire {
            dec.push(std::slice::from_ref(b));
            frames.extend(drain(&mut dec));
        }
        assert_eq!(frames, sample_payloads());
    }

    #[test]
    fn client_decoder_reads_frames_from_the_first_byte() {
        let mut enc = FrameEncoder::server();
        let wire = [enc.encode(b"one").unwrap(), enc.encode(b"two").unwrap()].concat();
        for split in 0..=wire.len() {
            let mut dec = FrameDecoder::new();
            dec.push(&wire[..split]);
            let mut frames = drain(&mut dec);
            dec.push(&wire[split..]);
            frames.extend(drain(&mut dec));
            assert_eq!(frames, vec![b"one".to_vec(), b"two".to_vec()]);
        }
    }

    #[test]
    fn decoder_rejects_frames_above_its_limit_before_buffering_them() {
        let mut dec = FrameDecoder::new().with_max_frame_len(10);
        dec.push(&[0, 0, 11]);
        assert_eq!(
            dec.next_frame(),
            Err(FrameError::TooLarge { len: 11, max: 10 })
        );
        // The error is sticky.
        dec.push(&[0, 0, 1, 9]);
        assert!(dec.next_frame().is_err());
    }

    #[test]
    fn decoder_accepts_a_frame_at_its_limit() {
        let mut dec = FrameDecoder::new().with_max_frame_len(4);
        dec.push(&[0, 0, 4, 1, 2, 3, 4]);
        assert_eq!(dec.next_frame().unwrap(), Some(vec![1, 2, 3, 4]));
    }

    #[test]
    fn decoder_rejects_routing_info_above_its_limit() {
        let mut dec = FrameDecoder::expecting_intro().with_max_frame_len(2);
        dec.push(b"ED\x00\x01\x00\x00\x03");
        assert_eq!(
            dec.next_frame(),
            Err(FrameError::TooLarge { len: 3, max: 2 })
        );
    }

    #[test]
    fn server_decoder_rejects_a_wrong_intro() {
        let mut dec = FrameDecoder::expecting_intro();
        dec.push(b"WA\x05\x02\x00\x00\x00");
        assert_eq!(dec.next_frame(), Err(FrameError::BadIntro(*b"WA\x05\x02")));
    }

    #[test]
    fn server_decoder_rejects_a_wrong_intro_after_routing_info() {
        let mut dec = FrameDecoder::expecting_intro();
        dec.push(b"ED\x00\x01\x00\x00\x01zXA\x06\x03");
        assert_eq!(dec.next_frame(), Err(FrameError::BadIntro(*b"XA\x06\x03")));
    }

    #[test]
    fn server_decoder_rejects_a_malformed_routing_prefix() {
        let mut dec = FrameDecoder::expecting_intro();
        dec.push(b"ED\x00\x02");
        assert_eq!(
            dec.next_frame(),
            Err(FrameError::BadRoutingPrefix(*b"ED\x00\x02"))
        );
    }

    #[test]
    fn server_decoder_waits_for_the_whole_intro() {
        let mut dec = FrameDecoder::expecting_intro();
        dec.push(b"WA\x06");
        assert_eq!(dec.next_frame(), Ok(None));
        assert!(!dec.intro_received());
        dec.push(b"\x03");
        assert_eq!(dec.next_frame(), Ok(None));
        assert!(dec.intro_received());
        assert_eq!(dec.routing_info(), None);
    }

    #[test]
    fn client_encoder_rejects_oversize_routing_info() {
        assert!(matches!(
            FrameEncoder::client(Some(&vec![0; 1 << 24])),
            Err(FrameError::TooLarge { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn decoder_reassembles_any_stream_cut_anywhere(
            payloads in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..300), 1..6),
            routing in proptest::option::of(proptest::collection::vec(proptest::num::u8::ANY, 0..40)),
            cuts in proptest::collection::vec(0usize..2000, 0..12),
        ) {
            let mut enc = FrameEncoder::client(routing.as_deref()).unwrap();
            let mut wire = Vec::new();
            for p in &payloads {
                enc.encode_into(p, &mut wire).unwrap();
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (wire.len() + 1)).collect();
            cuts.push(wire.len());
            cuts.sort_unstable();
            let mut dec = FrameDecoder::expecting_intro();
            let mut frames = Vec::new();
            let mut from = 0;
            for cut in cuts {
                dec.push(&wire[from..cut]);
                from = cut;
                frames.extend(drain(&mut dec));
            }
            proptest::prop_assert_eq!(frames, payloads);
            proptest::prop_assert_eq!(dec.routing_info(), routing.as_deref());
        }
    }
}
