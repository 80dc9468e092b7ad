//! Composing a WhatsHub message from `content.raw_data`, `content.text` and `ai_context`: the
//! [`Composer`] seam, [`OpenAiComposer`] for any OpenAI-compatible chat-completions endpoint,
//! and [`PlainComposer`], the deterministic rendering used when no endpoint is configured.
//!
//! The deterministic rendering (documented in docs/compat.md): a string is sent as it is; an
//! object becomes one `Label: value` line per key, in the order given, the label being the key
//! with `_`/`-` as spaces and the first letter capitalised; an array becomes one `- item` line
//! per item; nested values are written inline (`a: 1, b: 2`), `true`/`false` as `Ya`/`Tidak`
//! and `null` as `-`. `content.text`, when also given, comes first, followed by a blank line.
//! `ai_context` is an instruction for a model and is never turned into text by this rendering.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::ordered::Json;
use crate::config::AiConfig;

/// What a message is composed from.
#[derive(Debug, Clone, Copy, Default)]
pub struct ComposeRequest<'a> {
    /// `content.raw_data` as compact JSON text, keys in the caller's order.
    pub raw_data_json: Option<&'a str>,
    /// `content.raw_data` in the deterministic rendering.
    pub raw_data_lines: Option<&'a str>,
    /// `content.text`: the caller's own text (or caption).
    pub text: Option<&'a str>,
    /// `ai_context`: the caller's instruction for the model.
    pub context: Option<&'a str>,
}

/// Why a message could not be composed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ComposeError {
    /// There is nothing to compose from.
    #[error("nothing to compose: give content.text or content.raw_data")]
    Nothing,
    /// The endpoint did not answer in time.
    #[error("the AI endpoint did not answer within the timeout")]
    Timeout,
    /// The endpoint could not be reached.
    #[error("the AI endpoint could not be reached: {0}")]
    Transport(String),
    /// The endpoint answered with a non-success status.
    #[error("the AI endpoint answered HTTP {0}")]
    Status(u16),
    /// The answer was not a chat completion with text.
    #[error("the AI endpoint answered something other than a completion: {0}")]
    BadResponse(String),
}

/// Turns the parts of a WhatsHub request into the message text.
#[async_trait]
pub trait Composer: Send + Sync + std::fmt::Debug {
    /// The message text for `req`.
    async fn compose(&self, req: &ComposeRequest<'_>) -> Result<String, ComposeError>;
}

/// The deterministic composer: the text, then the rendering of `raw_data`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainComposer;

#[async_trait]
impl Composer for PlainComposer {
    async fn compose(&self, req: &ComposeRequest<'_>) -> Result<String, ComposeError> {
        plain(req).ok_or(ComposeError::Nothing)
    }
}

/// The deterministic composition of `req`, or None when it holds neither text nor raw data.
pub fn plain(req: &ComposeRequest<'_>) -> Option<String> {
    let parts: Vec<&str> = [req.text, req.raw_data_lines]
        .into_iter()
        .flatten()
        .filter(|p| !p.trim().is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// Renders `raw_data` as readable lines (see the module documentation).
pub fn render_raw_data(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Object(members) => members
            .iter()
            .map(|(k, v)| format!("{}: {}", label(k), inline(v)))
            .collect::<Vec<_>>()
            .join("\n"),
        Json::Array(items) => items
            .iter()
            .map(|i| format!("- {}", inline(i)))
            .collect::<Vec<_>>()
            .join("\n"),
        other => inline(other),
    }
}

fn label(key: &str) -> String {
    let spaced: String = key
        .chars()
        .map(|c| if c == '_' || c == '-' { ' ' } else { c })
        .collect();
    let mut chars = spaced.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn inline(v: &Json) -> String {
    match v {
        Json::Null => "-".into(),
        Json::Bool(true) => "Ya".into(),
        Json::Bool(false) => "Tidak".into(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => s.clone(),
        Json::Array(items) => items.iter().map(inline).collect::<Vec<_>>().join(", "),
        Json::Object(members) => members
            .iter()
            .map(|(k, v)| format!("{}: {}", label(k), inline(v)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Largest completion answer read.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

const SYSTEM_PROMPT: &str = "Kamu menyusun pesan WhatsApp untuk sebuah bisnis. Ikuti instruksi pengguna, gunakan hanya data yang diberikan, dan jawab hanya dengan isi pesan (tanpa pembuka, penjelasan, atau tanda kutip).";

/// An OpenAI-compatible chat-completions endpoint: `POST {url}/chat/completions` with the
/// model, a system prompt and the request's instruction, data and text.
#[derive(Clone)]
pub struct OpenAiComposer {
    http: reqwest::Client,
    endpoint: String,
    model: String,
    key: Option<String>,
}

impl std::fmt::Debug for OpenAiComposer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of every log line.
        f.debug_struct("OpenAiComposer")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl OpenAiComposer {
    /// A composer for `config`; fails only when the HTTP client cannot be built.
    pub fn new(config: &AiConfig) -> Result<Self, ComposeError> {
        let timeout = if config.timeout.is_zero() {
            Duration::from_secs(30)
        } else {
            config.timeout
        };
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| ComposeError::Transport(e.to_string()))?;
        Ok(OpenAiComposer {
            http,
            endpoint: format!("{}/chat/completions", config.url.trim_end_matches('/')),
            model: config.model.clone(),
            key: config.key.clone().filter(|k| !k.is_empty()),
        })
    }

    fn user_prompt(req: &ComposeRequest<'_>) -> String {
        let mut p = format!(
            "Instruksi: {}",
            req.context
                .filter(|c| !c.trim().is_empty())
                .unwrap_or("Susun pesan WhatsApp yang jelas dan ramah.")
        );
        if let Some(d) = req.raw_data_json {
            p.push_str("\n\nData:\n");
            p.push_str(d);
        }
        if let Some(t) = req.text.filter(|t| !t.trim().is_empty()) {
            p.push_str("\n\nTeks awal:\n");
            p.push_str(t);
        }
        p
    }
}

#[async_trait]
impl Composer for OpenAiComposer {
    async fn compose(&self, req: &ComposeRequest<'_>) -> Result<String, ComposeError> {
        if plain(req).is_none() {
            return Err(ComposeError::Nothing);
        }
        let body = json!({
            "model": self.model,
            "messages": [
                { "role": "system", "content": SYSTEM_PROMPT },
                { "role": "user", "content": Self::user_prompt(req) },
            ],
        });
        let mut rb = self.http.post(&self.endpoint).json(&body);
        if let Some(k) = &self.key {
            rb = rb.bearer_auth(k);
        }
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                ComposeError::Timeout
            } else {
                // Without the URL: it is the operator's configuration, not the caller's business.
                ComposeError::Transport(e.without_url().to_string())
            }
        };
        let resp = rb.send().await.map_err(transport)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(ComposeError::Status(status.as_u16()));
        }
        let bytes = resp.bytes().await.map_err(transport)?;
        if bytes.len() > MAX_ANSWER_BYTES {
            return Err(ComposeError::BadResponse("answer too large".into()));
        }
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ComposeError::BadResponse(format!("not JSON: {e}")))?;
        let text = v["choices"][0]["message"]["content"]
            .as_str()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ComposeError::BadResponse("no choices[0].message.content".into()))?;
        Ok(text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(json: &str) -> String {
        render_raw_data(&Json::parse(json.as_bytes()).unwrap())
    }

    #[test]
    fn an_object_renders_as_label_lines_in_the_order_given() {
        assert_eq!(
            lines(r#"{"tanggal": "1 Juni 2026", "hadir": 92, "sakit": 5, "izin": 3}"#),
            "Tanggal: 1 Juni 2026\nHadir: 92\nSakit: 5\nIzin: 3"
        );
        assert_eq!(
            lines(
                r#"{"nama": "Budi Santoso", "status": "Pesanan dikonfirmasi", "total": "Rp 250.000"}"#
            ),
            "Nama: Budi Santoso\nStatus: Pesanan dikonfirmasi\nTotal: Rp 250.000"
        );
    }

    #[test]
    fn a_string_renders_as_itself() {
        assert_eq!(
            lines(r#""Pameran Jakarta sukses, pengunjung melebihi target 120%""#),
            "Pameran Jakarta sukses, pengunjung melebihi target 120%"
        );
    }

    #[test]
    fn labels_nested_values_and_literals_are_readable() {
        assert_eq!(
            lines(
                r#"{"total_harga": 5, "lunas": true, "catatan": null, "item": ["a", "b"], "alamat": {"kota": "Bandung", "kode_pos": 40111}}"#
            ),
            "Total harga: 5\nLunas: Ya\nCatatan: -\nItem: a, b\nAlamat: Kota: Bandung, Kode pos: 40111"
        );
        assert_eq!(lines(r#"["satu", 2, false]"#), "- satu\n- 2\n- Tidak");
        assert_eq!(lines("42"), "42");
    }

    #[tokio::test]
    async fn the_plain_composer_puts_text_first_and_ignores_the_context() {
        let req = ComposeRequest {
            raw_data_json: Some(r#"{"a":1}"#),
            raw_data_lines: Some("A: 1"),
            text: Some("Halo"),
            context: Some("Buat laporan yang ramah"),
        };
        assert_eq!(PlainComposer.compose(&req).await.unwrap(), "Halo\n\nA: 1");
        let empty = ComposeRequest::default();
        assert!(matches!(
            PlainComposer.compose(&empty).await,
            Err(ComposeError::Nothing)
        ));
    }

    /// A local completions endpoint answering `status` and `body` after `delay`, recording the
    /// Authorization header and the request body.
    async fn endpoint(
        status: u16,
        body: &'static str,
        delay: Duration,
    ) -> (
        AiConfig,
        std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>,
    ) {
        use axum::http::HeaderMap;
        let seen: std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>> = Default::default();
        let log = seen.clone();
        let app = axum::Router::new().route(
            "/v1/chat/completions",
            axum::routing::post(move |h: HeaderMap, b: axum::Json<Value>| {
                let log = log.clone();
                async move {
                    let auth = h
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    log.lock().unwrap().push((auth, b.0));
                    tokio::time::sleep(delay).await;
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        [("content-type", "application/json")],
                        body,
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let config = AiConfig {
            url,
            model: "model-x".into(),
            key: Some("sk-test".into()),
            timeout: Duration::from_millis(500),
        };
        (config, seen)
    }

    const REQ: ComposeRequest<'static> = ComposeRequest {
        raw_data_json: Some(r#"{"hadir":92}"#),
        raw_data_lines: Some("Hadir: 92"),
        text: None,
        context: Some("Buat laporan"),
    };

    #[tokio::test]
    async fn the_openai_composer_posts_a_chat_completion_and_reads_the_first_choice() {
        let (config, seen) = endpoint(
            200,
            r#"{"choices":[{"message":{"role":"assistant","content":" Laporan: 92 hadir \n"}}]}"#,
            Duration::ZERO,
        )
        .await;
        let text = OpenAiComposer::new(&config)
            .unwrap()
            .compose(&REQ)
            .await
            .unwrap();
        assert_eq!(text, "Laporan: 92 hadir");
        let (auth, body) = seen.lock().unwrap()[0].clone();
        assert_eq!(auth, "Bearer sk-test");
        assert_eq!(body["model"], "model-x");
        assert_eq!(body["messages"][0]["role"], "system");
        assert_eq!(body["messages"][1]["role"], "user");
        let user = body["messages"][1]["content"].as_str().unwrap();
        assert!(
            user.contains("Buat laporan") && user.contains(r#"{"hadir":92}"#),
            "{user}"
        );
    }

    #[tokio::test]
    async fn openai_failures_are_typed() {
        let composer = |c: AiConfig| OpenAiComposer::new(&c).unwrap();
        let (c, _) = endpoint(401, r#"{"error":"bad key"}"#, Duration::ZERO).await;
        assert!(matches!(
            composer(c).compose(&REQ).await,
            Err(ComposeError::Status(401))
        ));
        let (c, _) = endpoint(200, "not json", Duration::ZERO).await;
        assert!(matches!(
            composer(c).compose(&REQ).await,
            Err(ComposeError::BadResponse(_))
        ));
        let (c, _) = endpoint(200, r#"{"choices":[]}"#, Duration::ZERO).await;
        assert!(matches!(
            composer(c).compose(&REQ).await,
            Err(ComposeError::BadResponse(_))
        ));
        let (c, _) = endpoint(200, "{}", Duration::from_secs(3)).await;
        assert!(matches!(
            composer(c).compose(&REQ).await,
            Err(ComposeError::Timeout)
        ));
        let (mut c, _) = endpoint(200, "{}", Duration::ZERO).await;
        c.url = "http://127.0.0.1:1/v1".into();
        let err = composer(c).compose(&REQ).await.unwrap_err();
        assert!(matches!(err, ComposeError::Transport(_)), "{err:?}");
        assert!(!err.to_string().contains("sk-test"));
    }

    #[test]
    fn the_debug_form_of_the_openai_composer_hides_the_key() {
        let c = OpenAiComposer::new(&AiConfig {
            url: "http://127.0.0.1:1/v1/".into(),
            model: "m".into(),
            key: Some("sk-secret-value".into()),
            timeout: Duration::from_secs(1),
        })
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("sk-secret-value"), "{shown}");
        assert!(
            shown.contains("http://127.0.0.1:1/v1/chat/completions"),
            "{shown}"
        );
    }
}
