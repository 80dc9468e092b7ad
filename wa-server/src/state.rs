//! Shared state handed to every handler and background task.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, broadcast};

use crate::auth::{KeyCache, RateLimiter};
use crate::config::Config;
use crate::db::Db;
use crate::group_commit::GroupCommit;
use crate::media::MediaFetcher;
use crate::transport::DeviceTransport;

/// Counters exported at `/metrics`.
#[derive(Default)]
pub struct Metrics {
    /// HTTP responses by status class index (1xx..5xx → 0..4).
    pub http_responses: [AtomicU64; 5],
    /// Messages handed to WhatsApp.
    pub messages_sent: AtomicU64,
    /// Messages that failed for good.
    pub messages_failed: AtomicU64,
    /// Send attempts that will be retried.
    pub send_retries: AtomicU64,
    /// Inbound messages stored.
    pub messages_received: AtomicU64,
    /// Time to answer HTTP requests (headers ready), as a histogram.
    pub http_latency: LatencyHistogram,
    /// Connections of linked devices that ended and are being re-established.
    pub reconnects: AtomicU64,
    /// Incoming messages that could not be decrypted (a retry receipt was sent for each).
    pub decrypt_failures: AtomicU64,
    /// Webhook attempts answered 2xx.
    pub webhook_ok: AtomicU64,
    /// Webhook attempts that failed.
    pub webhook_failed: AtomicU64,
    /// Deliveries moved to the dead-letter state.
    pub webhook_dead: AtomicU64,
}

/// Upper bounds of the latency buckets, in seconds (Prometheus `le`).
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// A fixed-bucket latency histogram updated without locks.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Observations at or below each bound of [`LATENCY_BUCKETS`] (not cumulative).
    pub buckets: [AtomicU64; 12],
    /// All observations.
    pub count: AtomicU64,
    /// Sum of all observations, in microseconds.
    pub sum_micros: AtomicU64,
}

impl LatencyHistogram {
    /// Records one observation.
    pub fn observe(&self, elapsed: std::time::Duration) {
        let secs = elapsed.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Everything the handlers share.
pub struct Inner {
    /// Database.
    pub db: Db,
    /// Settings.
    pub config: Config,
    /// WhatsApp connection provider.
    pub transport: Arc<dyn DeviceTransport>,
    /// Per-key rate limiting.
    pub limiter: RateLimiter,
    /// Recently verified API keys.
    pub key_cache: KeyCache,
    /// Batches accepted messages into shared transactions.
    pub group_commit: GroupCommit,
    /// Counters.
    pub metrics: Metrics,
    /// Media fetching under the SSRF policy.
    pub media: MediaFetcher,
    /// Per-device queue worker wake-ups.
    pub workers: Mutex<HashMap<String, Arc<Notify>>>,
    /// Latest QR code per device (payload, unix ms), kept in memory only: QR codes rotate
    /// every few seconds and are useless after linking.
    pub qr: Mutex<HashMap<String, (String, i64)>>,
    /// Set once background tasks run; queue workers are only spawned then.
    pub background: AtomicBool,
    /// Set on shutdown.
    pub stopping: AtomicBool,
    /// Position of each newly committed event (for SSE and the webhook worker).
    pub events: broadcast::Sender<i64>,
    /// Wakes the webhook delivery worker.
    pub webhook_wake: Notify,
    /// Wakes every background task at shutdown.
    pub stop: Notify,
    /// The URL the gateway listens on, set once bound (the default public URL).
    pub listen_url: std::sync::OnceLock<String>,
    /// Rate limits of the compatibility APIs.
    pub compat_limits: crate::compat::Limits,
    /// Composes WhatsHub `use_ai` messages.
    pub composer: Arc<dyn crate::compat::composer::Composer>,
}

/// Cheap-to-clone handle on [`Inner`].
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Asks every background task to finish.
    pub fn shut_down(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.stop.notify_waiters();
    }

    /// Resolves once shutdown was requested.
    pub async fn stopped(&self) {
        loop {
            let notified = self.stop.notified();
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            // The flag is re-checked at least every second in case a wake-up was missed.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), notified).await;
        }
    }

    /// Tells listeners that events up to `pos` are committed.
    pub fn events_committed(&self, pos: i64) {
        let _ = self.events.send(pos);
        self.webhook_wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_observations_land_in_the_first_bucket_that_holds_them() {
        let h = LatencyHistogram::default();
        h.observe(std::time::Duration::from_micros(500));
        h.observe(std::time::Duration::from_millis(30));
        h.observe(std::time::Duration::from_secs(9));
        let counts: Vec<u64> = h
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        assert_eq!(counts, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(h.count.load(Ordering::Relaxed), 3, "over 5 s only in +Inf");
        assert_eq!(h.sum_micros.load(Ordering::Relaxed), 9_030_500);
    }
}
