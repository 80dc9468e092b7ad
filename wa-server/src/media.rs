//! The SSRF-safe media fetcher. A URL from an API request is fetched only if it is http(s),
//! every address its host resolves to (and every redirect hop) is public or on the configured
//! allow-list, the body fits the size limit and the transfer ends within the timeout.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// An IP network such as `127.0.0.0/8` or `::1/128`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// True when `ip` lies inside the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - self.prefix)
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - self.prefix)
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpNetwork {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| format!("bad address in {s:?}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("bad prefix in {s:?}"))?,
            None => max,
        };
        Ok(IpNetwork {
            addr: canonical(addr),
            prefix,
        })
    }
}

/// Limits for fetching media named by URL.
#[derive(Debug, Clone)]
pub struct MediaPolicy {
    /// Largest body accepted.
    pub max_bytes: usize,
    /// Whole-transfer timeout.
    pub timeout: Duration,
    /// Networks allowed even though they are private, loopback or link-local.
    pub allow: Vec<IpNetwork>,
}

impl Default for MediaPolicy {
    fn default() -> Self {
        MediaPolicy {
            max_bytes: 16 * 1024 * 1024,
            timeout: Duration::from_secs(30),
            allow: Vec::new(),
        }
    }
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Not an absolute http(s) URL.
    #[error("invalid media URL: {0}")]
    InvalidUrl(String),
    /// The host resolves to an address that is not allowed.
    #[error("media URL points to a forbidden address")]
    ForbiddenAddress,
    /// The body exceeds the limit.
    #[error("media larger than {0} bytes")]
    TooLarge(usize),
    /// No complete answer within the timeout.
    #[error("media fetch timed out")]
    Timeout,
    /// The server answered with a non-success status.
    #[error("media server answered {0}")]
    Status(u16),
    /// Connection or protocol failure.
    #[error("media fetch failed: {0}")]
    Network(String),
}

impl FetchError {
    /// Whether a retry could succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, FetchError::Timeout | FetchError::Network(_))
            || matches!(self, FetchError::Status(s) if *s >= 500)
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// True for addresses no public URL should reach: loopback, private, link-local, CGNAT,
/// unspecified, broadcast, multicast, documentation, unique-local.
pub fn is_internal(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.is_multicast()
                || a.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || a == Ipv4Addr::LOCALHOST.to_ipv6_compatible()
        }
    }
}

/// Whether the policy lets a connection go to `ip`.
pub fn address_allowed(allow: &[IpNetwork], ip: IpAddr) -> bool {
    !is_internal(ip) || allow.iter().any(|n| n.contains(ip))
}

struct GuardedResolver {
    allow: Arc<Vec<IpNetwork>>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ok: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| address_allowed(&allow, a.ip()))
                .collect();
            if ok.is_empty() {
                return Err(Box::new(FetchError::ForbiddenAddress)
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(ok.into_iter()) as Addrs)
        })
    }
}

/// Checks scheme, host and (for literal IPs) the address, before any network traffic.
pub fn validate_url(allow: &[IpNetwork], url: &str) -> Result<reqwest::Url, FetchError> {
    let u = reqwest::Url::parse(url).map_err(|e| FetchError::InvalidUrl(e.to_string()))?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return Err(FetchError::InvalidUrl(
            "only http and https are allowed".into(),
        ));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(FetchError::InvalidUrl(
            "credentials in URLs are not allowed".into(),
        ));
    }
    match u.host() {
        None => return Err(FetchError::InvalidUrl("URL has no host".into())),
        Some(url::Host::Ipv4(a)) if !address_allowed(allow, IpAddr::V4(a)) => {
            return Err(FetchError::ForbiddenAddress);
        }
        Some(url::Host::Ipv6(a)) if !address_allowed(allow, IpAddr::V6(a)) => {
            return Err(FetchError::ForbiddenAddress);
        }
        _ => {}
    }
    Ok(u)
}

/// An HTTP client that connects only to allowed addresses, also across redirects.
pub fn guarded_client(allow: Arc<Vec<IpNetwork>>, timeout: Duration) -> reqwest::Client {
    let redirect_allow = allow.clone();
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver { allow }))
        .timeout(timeout)
        .connect_timeout(timeout)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                return attempt.error("too many redirects");
            }
            match validate_url(&redirect_allow, attempt.url().as_str()) {
                Ok(_) => attempt.follow(),
                Err(e) => attempt.error(e),
            }
        }))
        .build()
        .expect("reqwest client with static configuration")
}

/// Fetches media under a [`MediaPolicy`].
#[derive(Clone)]
pub struct MediaFetcher {
    client: reqwest::Client,
    policy: MediaPolicy,
}

/// A fetched body with its declared type.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Body.
    pub data: Bytes,
    /// Content-Type from the response, if any.
    pub content_type: Option<String>,
}

impl MediaFetcher {
    /// Builds a fetcher whose DNS resolution and redirects obey `policy`.
    pub fn new(policy: MediaPolicy) -> Self {
        let client = guarded_client(Arc::new(policy.allow.clone()), policy.timeout);
        MediaFetcher { client, policy }
    }

    /// Fetches `url`, enforcing the policy.
    pub async fn fetch(&self, url: &str) -> Result<Fetched, FetchError> {
        let u = validate_url(&self.policy.allow, url)?;
        let limit = self.policy.max_bytes;
        let work = async {
            let resp = self.client.get(u).send().await.map_err(map_reqwest)?;
            if !resp.status().is_success() {
                return Err(FetchError::Status(resp.status().as_u16()));
            }
            if resp.content_length().is_some_and(|n| n > limit as u64) {
                return Err(FetchError::TooLarge(limit));
            }
            let content_type = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let mut body = BytesMut::new();
            let mut stream = resp.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(map_reqwest)?;
                if body.len() + chunk.len() > limit {
                    return Err(FetchError::TooLarge(limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Fetched {
                data: body.freeze(),
                content_type,
            })
        };
        tokio::time::timeout(self.policy.timeout, work)
            .await
            .map_err(|_| FetchError::Timeout)?
    }
}

fn map_reqwest(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = src {
        if let Some(FetchError::ForbiddenAddress) = s.downcast_ref::<FetchError>() {
            return FetchError::ForbiddenAddress;
        }
        if s.to_string().contains("forbidden address") {
            return FetchError::ForbiddenAddress;
        }
        src = s.source();
    }
    FetchError::Network(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_refused_without_allow_list() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "100.64.0.1",
        ] {
            assert!(!address_allowed(&[], ip.parse().unwrap()), "{ip}");
        }
        assert!(address_allowed(&[], "93.184.216.34".parse().unwrap()));
    }

    #[test]
    fn allow_list_admits_named_networks_only() {
        let allow = vec!["127.0.0.0/8".parse::<IpNetwork>().unwrap()];
        assert!(address_allowed(&allow, "127.0.0.1".parse().unwrap()));
        assert!(address_allowed(&allow, "::ffff:127.0.0.2".parse().unwrap()));
        assert!(!address_allowed(&allow, "10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn validate_url_rejects_other_schemes_and_literal_internal_ips() {
        assert!(matches!(
            validate_url(&[], "file:///etc/passwd"),
            Err(FetchError::InvalidUrl(_))
        ));
        assert!(matches!(
            validate_url(&[], "http://[::1]:80/x"),
            Err(FetchError::ForbiddenAddress)
        ));
        assert!(matches!(
            validate_url(&[], "http://169.254.169.254/latest"),
            Err(FetchError::ForbiddenAddress)
        ));
        assert!(matches!(
            validate_url(&[], "http://user:pw@example.com/"),
            Err(FetchError::InvalidUrl(_))
        ));
        assert!(validate_url(&[], "https://example.com/a.jpg").is_ok());
    }

    #[test]
    fn ip_network_parse_rejects_bad_prefix() {
        assert!("10.0.0.0/33".parse::<IpNetwork>().is_err());
        assert!("nonsense".parse::<IpNetwork>().is_err());
    }
}
