//! Gateway settings with production defaults; tests shrink the delays.

use std::time::Duration;

use crate::media::MediaPolicy;

/// Outbound queue behaviour.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// Minimum pause between two sends on one device.
    pub min_delay: Duration,
    /// Maximum pause; the actual pause is uniform in `[min_delay, max_delay]`.
    pub max_delay: Duration,
    /// How often idle workers look for due messages (scheduled sends, retries).
    pub poll_interval: Duration,
    /// First retry delay; doubled on each attempt, with jitter.
    pub retry_base: Duration,
    /// Cap on the retry delay.
    pub retry_max: Duration,
    /// Attempts before a message fails.
    pub max_attempts: u32,
    /// How long a message may wait for an offline device before it fails as expired.
    pub offline_expiry: Duration,
    /// How long one transport send may take before it counts as a temporary failure (the
    /// retry keeps the WhatsApp message id, so a late success is not duplicated by WhatsApp).
    pub send_timeout: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            min_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(3),
            poll_interval: Duration::from_millis(500),
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(300),
            max_attempts: 8,
            offline_expiry: Duration::from_secs(7 * 24 * 3600),
            send_timeout: Duration::from_secs(60),
        }
    }
}

/// Webhook delivery behaviour.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Receiver timeout per attempt.
    pub timeout: Duration,
    /// First retry delay; doubled per attempt with jitter.
    pub retry_base: Duration,
    /// Cap on the retry delay.
    pub retry_max: Duration,
    /// After this long since the event, a failing delivery becomes a dead letter.
    pub retry_window: Duration,
    /// How often the delivery worker looks for due deliveries.
    pub poll_interval: Duration,
    /// Let webhook URLs point at private/loopback addresses (off by default).
    pub allow_private_targets: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            timeout: Duration::from_secs(2),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            retry_window: Duration::from_secs(3 * 24 * 3600),
            poll_interval: Duration::from_millis(500),
            allow_private_targets: false,
        }
    }
}

/// Settings of the compatibility APIs (the hosted gateways' contracts, `docs/compat.md`).
#[derive(Debug, Clone)]
pub struct CompatConfig {
    /// The gateway's public base URL, reported as `publicUrl` by the waapi `/api/status`;
    /// `None` reports the address the gateway listens on.
    pub public_url: Option<String>,
    /// SatuApps: requests per minute per device on `/api/wa/{device_id}/…` (the seed's 60).
    pub satuapps_device_per_minute: u32,
    /// SatuApps: requests per minute per API key on `/api/profile` (the seed's 20).
    pub satuapps_user_per_minute: u32,
    /// WhatsHub: the AI composer of `use_ai` messages; `None` (the default) renders
    /// `raw_data` deterministically instead.
    pub ai: Option<AiConfig>,
}

impl Default for CompatConfig {
    fn default() -> Self {
        CompatConfig {
            public_url: None,
            satuapps_device_per_minute: 60,
            satuapps_user_per_minute: 20,
            ai: None,
        }
    }
}

/// The OpenAI-compatible chat-completions endpoint that composes WhatsHub `use_ai` messages.
#[derive(Clone)]
pub struct AiConfig {
    /// Base URL; requests go to `{url}/chat/completions` (e.g. `https://api.openai.com/v1`).
    pub url: String,
    /// Model name sent with every request.
    pub model: String,
    /// Bearer key, when the endpoint wants one. Never logged.
    pub key: Option<String>,
    /// How long one completion may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for AiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiConfig")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Everything tunable.
#[derive(Debug, Clone)]
pub struct Config {
    /// Outbound queue.
    pub queue: QueueConfig,
    /// Webhooks.
    pub webhooks: WebhookConfig,
    /// Media fetching.
    pub media: MediaPolicy,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Rate limit for keys created without one (requests per minute); `None` = unlimited.
    pub default_rate_limit_per_minute: Option<u32>,
    /// How long an Idempotency-Key is remembered.
    pub idempotency_ttl: Duration,
    /// How long events, finished webhook deliveries and their attempt logs are kept (SSE can
    /// resume and dead letters can be redelivered within this window).
    pub event_retention: Duration,
    /// How often expired rows are deleted.
    pub janitor_interval: Duration,
    /// Credits debited per accepted outbound message; 0 (the default) makes sends free.
    pub price_per_message: i64,
    /// The compatibility APIs.
    pub compat: CompatConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            queue: QueueConfig::default(),
            webhooks: WebhookConfig::default(),
            media: MediaPolicy::default(),
            body_limit: 1024 * 1024,
            default_rate_limit_per_minute: Some(600),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            event_retention: Duration::from_secs(30 * 24 * 3600),
            janitor_interval: Duration::from_secs(3600),
            price_per_message: 0,
            compat: CompatConfig::default(),
        }
    }
}
