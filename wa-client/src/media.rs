//! Media: encrypt and upload through the `media_conn` hosts; download, check hashes and MAC,
//! decrypt — in memory or streaming to any writer.

use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::RngCore;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use wa_core::Jid;
use wa_core::binary::Node;
use wa_core::crypto::media::{MediaDecryptor, MediaEncryptor, MediaKind};
use wa_core::message::{Audio, Document, Image, Media, MessageContent, Sticker, Video};

use crate::client::{Inner, MediaConn, now_secs};
use crate::error::{Error, Result};
use crate::send::SendResponse;

/// An uploaded, encrypted file: everything a media message needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// Full URL.
    pub url: String,
    /// Path on the media hosts.
    pub direct_path: String,
    /// The media key.
    pub media_key: [u8; 32],
    /// SHA-256 of the plaintext.
    pub file_sha256: [u8; 32],
    /// SHA-256 of the uploaded blob.
    pub file_enc_sha256: [u8; 32],
    /// Plaintext length.
    pub file_length: u64,
}

impl Upload {
    /// The message fields for this upload.
    pub fn to_media(&self, mimetype: &str) -> Media {
        Media {
            url: Some(self.url.clone()),
            direct_path: Some(self.direct_path.clone()),
            media_key: Some(self.media_key.to_vec()),
            file_sha256: Some(self.file_sha256.to_vec()),
            file_enc_sha256: Some(self.file_enc_sha256.to_vec()),
            file_length: Some(self.file_length),
            mimetype: Some(mimetype.to_owned()),
            media_key_timestamp: Some(now_secs() as i64),
        }
    }
}

const CHUNK: usize = 64 * 1024;

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Inner {
    fn media_scheme(&self, host: &str) -> &'static str {
        if self.config.media_http || host.contains(':') {
            "http"
        } else {
            "https"
        }
    }

    async fn media_conn(&self) -> Result<MediaConn> {
        let mut cached = self.media_conn.lock().await;
        if let Some(conn) = cached.as_ref().filter(|c| c.expires > Instant::now()) {
            return Ok(conn.clone());
        }
        let answer = self
            .iq(Node::new("iq")
                .with_attr("to", "s.whatsapp.net")
                .with_attr("type", "set")
                .with_attr("xmlns", "w:m")
                .with_children(vec![Node::new("media_conn")]))
            .await?;
        let mc = answer
            .child("media_conn")
            .ok_or_else(|| Error::protocol("no media_conn"))?;
        let ttl: u64 = mc.attr("ttl").and_then(|t| t.parse().ok()).unwrap_or(60);
        let conn = MediaConn {
            auth: mc.attr("auth").unwrap_or_default().to_owned(),
            hosts: mc
                .children()
                .iter()
                .filter(|h| h.tag == "host")
                .filter_map(|h| h.attr("hostname").map(str::to_owned))
                .collect(),
            expires: Instant::now() + Duration::from_secs(ttl.min(3600)),
        };
        if conn.hosts.is_empty() {
            return Err(Error::Media("media_conn lists no hosts".into()));
        }
        *cached = Some(conn.clone());
        Ok(conn)
    }

    async fn upload_blob(
        &self,
        blob: reqwest::Body,
        kind: MediaKind,
        enc_sha256: &[u8; 32],
    ) -> Result<(String, String)> {
        let conn = self.media_conn().await?;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(enc_sha256);
        let host = &conn.hosts[0];
        let url = format!(
            "{}://{host}/mms/{}/{token}?auth={}&token={token}",
            self.media_scheme(host),
            kind.mms_type(),
            percent_encode(&conn.auth)
        );
        let response = self
            .http()?
            .post(url)
            .header("Origin", "https://web.whatsapp.com")
            .header("Content-Type", "application/octet-stream")
            .body(blob)
            .send()
            .await
            .map_err(|e| Error::Media(e.to_string()))?;
        if !response.status().is_success() {
            return Err(Error::Media(format!(
                "upload refused: {}",
                response.status()
            )));
        }
        let json: serde_json::Value = response
            .json()
            .await
            .map_err(|e| Error::Media(e.to_string()))?;
        let direct_path = json["direct_path"]
            .as_str()
            .ok_or_else(|| Error::Media("upload answer without direct_path".into()))?
            .to_owned();
        let url = json["url"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{}://{host}{direct_path}", self.media_scheme(host)));
        Ok((url, direct_path))
    }

    async fn media_url(&self, media: &Media) -> Result<String> {
        if let Some(url) = media.url.as_ref().filter(|u| u.starts_with("http")) {
            return Ok(url.clone());
        }
        let path = media
            .direct_path
            .as_ref()
            .ok_or_else(|| Error::Media("media without url or direct_path".into()))?;
        let conn = self.media_conn().await?;
        let host = &conn.hosts[0];
        Ok(format!("{}://{host}{path}", self.media_scheme(host)))
    }
}

impl crate::Client {
    /// Encrypts `data` with a fresh media key and uploads it.
    pub async fn upload(&self, data: &[u8], kind: MediaKind) -> Result<Upload> {
        let mut media_key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut media_key);
        let mut enc = MediaEncryptor::new(&media_key, kind);
        let mut blob = enc.update(data);
        let (tail, digests) = enc.finish();
        blob.extend_from_slice(&tail);
        let (url, direct_path) = self
            .inner
            .upload_blob(blob.into(), kind, &digests.file_enc_sha256)
            .await?;
        Ok(Upload {
            url,
            direct_path,
            media_key,
            file_sha256: digests.file_sha256,
            file_enc_sha256: digests.file_enc_sha256,
            file_length: digests.file_length,
        })
    }

    /// Encrypts a file chunk by chunk into a temporary file next to the system temp dir and
    /// uploads that as a stream, so large files never sit in memory.
    pub async fn upload_file(
        &self,
        path: impl AsRef<std::path::Path>,
        kind: MediaKind,
    ) -> Result<Upload> {
        let io = |e: std::io::Error| Error::Media(e.to_string());
        let mut media_key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut media_key);
        let mut input = tokio::fs::File::open(path).await.map_err(io)?;
        let tmp =
            std::env::temp_dir().join(format!("wasap-upload-{}", hex::encode(&media_key[..8])));
        let mut out = tokio::fs::File::create(&tmp).await.map_err(io)?;
        let mut enc = MediaEncryptor::new(&media_key, kind);
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = input.read(&mut buf).await.map_err(io)?;
            if n == 0 {
                break;
            }
            out.write_all(&enc.update(&buf[..n])).await.map_err(io)?;
        }
        let (tail, digests) = enc.finish();
        out.write_all(&tail).await.map_err(io)?;
        out.flush().await.map_err(io)?;
        drop(out);
        let file = tokio::fs::File::open(&tmp).await.map_err(io)?;
        let stream = futures_util::stream::unfold(file, |mut file| async move {
            let mut chunk = vec![0u8; CHUNK];
            match file.read(&mut chunk).await {
                Ok(0) => None,
                Ok(n) => {
                    chunk.truncate(n);
                    Some((Ok::<_, std::io::Error>(chunk), file))
                }
                Err(e) => Some((Err(e), file)),
            }
        });
        let result = self
            .inner
            .upload_blob(
                reqwest::Body::wrap_stream(stream),
                kind,
                &digests.file_enc_sha256,
            )
            .await;
        let _ = tokio::fs::remove_file(&tmp).await;
        let (url, direct_path) = result?;
        Ok(Upload {
            url,
            direct_path,
            media_key,
            file_sha256: digests.file_sha256,
            file_enc_sha256: digests.file_enc_sha256,
            file_length: digests.file_length,
        })
    }

    /// Downloads, verifies (blob hash, MAC, plaintext hash) and decrypts media into `out`,
    /// streaming. On error, what was written must be discarded.
    pub async fn download_to<W: AsyncWrite + Unpin>(
        &self,
        media: &Media,
        kind: MediaKind,
        out: &mut W,
    ) -> Result<u64> {
        let key = media
            .media_key32()
            .ok_or_else(|| Error::Media("media key missing".into()))?;
        let url = self.inner.media_url(media).await?;
        let mut response = self
            .inner
            .http()?
            .get(url)
            .header("Origin", "https://web.whatsapp.com")
            .send()
            .await
            .map_err(|e| Error::Media(e.to_string()))?;
        if !response.status().is_success() {
            return Err(Error::Media(format!(
                "download failed: {}",
                response.status()
            )));
        }
        let mut dec = MediaDecryptor::new(&key, kind);
        let io = |e: std::io::Error| Error::Media(e.to_string());
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Error::Media(e.to_string()))?
        {
            out.write_all(&dec.update(&chunk)).await.map_err(io)?;
        }
        let hash = |v: &Option<Vec<u8>>| v.as_deref().and_then(|h| <[u8; 32]>::try_from(h).ok());
        let (tail, digests) = dec
            .finish(
                hash(&media.file_enc_sha256).as_ref(),
                hash(&media.file_sha256).as_ref(),
            )
            .map_err(|e| Error::Media(e.to_string()))?;
        out.write_all(&tail).await.map_err(io)?;
        out.flush().await.map_err(io)?;
        Ok(digests.file_length)
    }

    /// Downloads and decrypts media into memory.
    pub async fn download(&self, media: &Media, kind: MediaKind) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.download_to(media, kind, &mut out).await?;
        Ok(out)
    }

    /// Downloads the media of a received message, if it has any.
    pub async fn download_content(&self, content: &MessageContent) -> Result<Vec<u8>> {
        let (media, kind) = content
            .media()
            .ok_or_else(|| Error::InvalidArgument("message has no media".into()))?;
        self.download(media, kind).await
    }

    /// Uploads and sends an image.
    pub async fn send_image(
        &self,
        to: &Jid,
        data: &[u8],
        mimetype: &str,
        caption: Option<&str>,
    ) -> Result<SendResponse> {
        let upload = self.upload(data, MediaKind::Image).await?;
        self.send(
            to,
            MessageContent::Image(Image {
                media: upload.to_media(mimetype),
                caption: caption.map(str::to_owned),
                ..Default::default()
            }),
        )
        .await
    }

    /// Uploads and sends a video.
    pub async fn send_video(
        &self,
        to: &Jid,
        data: &[u8],
        mimetype: &str,
        caption: Option<&str>,
    ) -> Result<SendResponse> {
        let upload = self.upload(data, MediaKind::Video).await?;
        self.send(
            to,
            MessageContent::Video(Video {
                media: upload.to_media(mimetype),
                caption: caption.map(str::to_owned),
                ..Default::default()
            }),
        )
        .await
    }

    /// Uploads and sends audio; `voice_note` makes it a push-to-talk voice note.
    pub async fn send_audio(
        &self,
        to: &Jid,
        data: &[u8],
        mimetype: &str,
        voice_note: bool,
    ) -> Result<SendResponse> {
        let upload = self.upload(data, MediaKind::Audio).await?;
        self.send(
            to,
            MessageContent::Audio(Audio {
                media: upload.to_media(mimetype),
                voice_note,
                ..Default::default()
            }),
        )
        .await
    }

    /// Uploads and sends a document.
    pub async fn send_document(
        &self,
        to: &Jid,
        data: &[u8],
        mimetype: &str,
        file_name: &str,
    ) -> Result<SendResponse> {
        let upload = self.upload(data, MediaKind::Document).await?;
        self.send(
            to,
            MessageContent::Document(Document {
                media: upload.to_media(mimetype),
                file_name: Some(file_name.to_owned()),
                ..Default::default()
            }),
        )
        .await
    }

    /// Uploads and sends a sticker (WebP).
    pub async fn send_sticker(&self, to: &Jid, data: &[u8]) -> Result<SendResponse> {
        let upload = self.upload(data, MediaKind::Image).await?;
        self.send(
            to,
            MessageContent::Sticker(Sticker {
                media: upload.to_media("image/webp"),
                ..Default::default()
            }),
        )
        .await
    }
}

/// Reads everything from `reader` (helper for callers with async sources).
pub async fn read_all<R: AsyncRead + Unpin>(mut reader: R) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await?;
    Ok(out)
}
