//! Client configuration, built with [`ClientBuilder`](crate::ClientBuilder).

use std::time::Duration;

use wa_core::noise::WA_CERT_PUB_KEY;
use wa_core::pair::ClientConfig;

/// WhatsApp's websocket URL.
pub const WHATSAPP_WS_URL: &str = "wss://web.whatsapp.com/ws/chat";

/// A proxy for the websocket and media connections.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Proxy {
    /// An HTTP proxy, used with `CONNECT` (`host:port`, optional basic-auth credentials).
    Http {
        /// `host:port`.
        addr: String,
        /// Optional `(user, password)`.
        auth: Option<(String, String)>,
    },
    /// A SOCKS5 proxy (`host:port`, optional username/password).
    Socks5 {
        /// `host:port`.
        addr: String,
        /// Optional `(user, password)`.
        auth: Option<(String, String)>,
    },
}

impl Proxy {
    /// Parses `http://[user:pass@]host:port` or `socks5://[user:pass@]host:port`.
    pub fn parse(url: &str) -> Option<Proxy> {
        let (scheme, rest) = url.split_once("://")?;
        let (auth, addr) = match rest.trim_end_matches('/').rsplit_once('@') {
            Some((creds, addr)) => {
                let (u, p) = creds.split_once(':').unwrap_or((creds, ""));
                (Some((u.to_owned(), p.to_owned())), addr.to_owned())
            }
            None => (None, rest.trim_end_matches('/').to_owned()),
        };
        match scheme {
            "http" => Some(Proxy::Http { addr, auth }),
            "socks5" | "socks5h" => Some(Proxy::Socks5 { addr, auth }),
            _ => None,
        }
    }

    pub(crate) fn url(&self) -> String {
        let (scheme, addr, auth) = match self {
            Proxy::Http { addr, auth } => ("http", addr, auth),
            Proxy::Socks5 { addr, auth } => ("socks5h", addr, auth),
        };
        match auth {
            Some((u, p)) => format!("{scheme}://{u}:{p}@{addr}"),
            None => format!("{scheme}://{addr}"),
        }
    }
}

/// How the client reconnects after losing the connection: exponential backoff with jitter.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    /// Reconnect at all.
    pub enabled: bool,
    /// The first delay.
    pub initial_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
    /// Growth per failed attempt.
    pub multiplier: f64,
    /// Random spread, as a fraction of the delay (0.2 = ±20 %).
    pub jitter: f64,
    /// Give up after this many consecutive failures (`None`: never).
    pub max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            enabled: true,
            initial_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
            multiplier: 2.0,
            jitter: 0.2,
            max_attempts: None,
        }
    }
}

impl ReconnectPolicy {
    /// Never reconnect.
    pub fn never() -> Self {
        ReconnectPolicy {
            enabled: false,
            ..Default::default()
        }
    }

    /// The delay before attempt `attempt` (0-based), before jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let factor = self.multiplier.powi(attempt.min(64) as i32);
        let secs = self.initial_delay.as_secs_f64() * factor;
        Duration::from_secs_f64(secs.min(self.max_delay.as_secs_f64()))
    }

    /// The delay before attempt `attempt` with jitter drawn from `unit` (in `[0, 1)`).
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let base = self.base_delay(attempt).as_secs_f64();
        let spread = base * self.jitter * (2.0 * unit - 1.0);
        Duration::from_secs_f64((base + spread).max(0.0))
    }
}

/// Everything the client is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Websocket URL.
    pub ws_url: String,
    /// The Noise certificate root the server's chain must lead to.
    pub root_key: [u8; 32],
    /// Proxy for the websocket and media.
    pub proxy: Option<Proxy>,
    /// Reconnect behaviour.
    pub reconnect: ReconnectPolicy,
    /// How we describe ourselves (device name shown on the phone, version, …).
    pub client: ClientConfig,
    /// When set, pair with a phone code for this number instead of a QR code.
    pub pair_phone: Option<String>,
    /// How many one-time prekeys to upload when the server has none.
    pub initial_pre_keys: u32,
    /// How many to upload when the server says it runs low.
    pub refill_pre_keys: u32,
    /// Keepalive ping interval.
    pub keepalive_interval: Duration,
    /// How long to wait for IQ answers and message acks.
    pub request_timeout: Duration,
    /// Use `http://` for media hosts (otherwise only hosts with an explicit port use it).
    pub media_http: bool,
    /// Send `available` presence after login (needs a push name).
    pub send_presence_on_connect: bool,
    /// How long the first QR code is shown before the next ref replaces it.
    pub qr_first_timeout: Duration,
    /// How long each later QR code is shown.
    pub qr_next_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ws_url: WHATSAPP_WS_URL.into(),
            root_key: WA_CERT_PUB_KEY,
            proxy: None,
            reconnect: ReconnectPolicy::default(),
            client: ClientConfig::default(),
            pair_phone: None,
            initial_pre_keys: 812,
            refill_pre_keys: 50,
            keepalive_interval: Duration::from_secs(25),
            request_timeout: Duration::from_secs(30),
            media_http: false,
            send_presence_on_connect: true,
            qr_first_timeout: Duration::from_secs(60),
            qr_next_timeout: Duration::from_secs(20),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let p = ReconnectPolicy::default();
        assert_eq!(p.base_delay(0), Duration::from_millis(500));
        assert_eq!(p.base_delay(1), Duration::from_secs(1));
        assert_eq!(p.base_delay(20), Duration::from_secs(60));
    }

    #[test]
    fn jitter_stays_within_the_spread() {
        let p = ReconnectPolicy::default();
        assert_eq!(p.delay(1, 0.0), Duration::from_millis(800));
        assert_eq!(p.delay(1, 0.5), Duration::from_secs(1));
        assert!(p.delay(1, 0.999) <= Duration::from_millis(1200));
    }

    #[test]
    fn proxy_urls_parse_with_and_without_credentials() {
        assert_eq!(
            Proxy::parse("socks5://u:p@127.0.0.1:1080"),
            Some(Proxy::Socks5 {
                addr: "127.0.0.1:1080".into(),
                auth: Some(("u".into(), "p".into()))
            })
        );
        assert_eq!(
            Proxy::parse("http://proxy:3128/"),
            Some(Proxy::Http {
                addr: "proxy:3128".into(),
                auth: None
            })
        );
        assert_eq!(Proxy::parse("ftp://x"), None);
    }
}
