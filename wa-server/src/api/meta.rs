//! Liveness, readiness, Prometheus metrics, the OpenAPI document and the SSE event stream.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::{ApiError, ApiQuery};
use crate::state::AppState;

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(st): State<AppState>) -> Result<Json<Value>, ApiError> {
    if st.db.ping().await {
        Ok(Json(json!({ "status": "ready", "database": "ok" })))
    } else {
        Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "database unavailable",
        ))
    }
}

pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

pub async fn metrics(State(st): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let m = &st.metrics;
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, samples: &[(String, u64)]| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} counter\n"));
        for (labels, v) in samples {
            out.push_str(&format!("{name}{labels} {v}\n"));
        }
    };
    let classes: Vec<(String, u64)> = (0..5)
        .map(|i| {
            (
                format!("{{class=\"{}xx\"}}", i + 1),
                m.http_responses[i].load(Ordering::Relaxed),
            )
        })
        .collect();
    counter(
        "wasap_http_responses_total",
        "HTTP responses by status class.",
        &classes,
    );
    counter(
        "wasap_messages_sent_total",
        "Messages accepted by WhatsApp.",
        &[(String::new(), m.messages_sent.load(Ordering::Relaxed))],
    );
    counter(
        "wasap_messages_failed_total",
        "Messages that failed for good.",
        &[(String::new(), m.messages_failed.load(Ordering::Relaxed))],
    );
    counter(
        "wasap_send_retries_total",
        "Send attempts scheduled for retry.",
        &[(String::new(), m.send_retries.load(Ordering::Relaxed))],
    );
    counter(
        "wasap_messages_received_total",
        "Inbound messages stored.",
        &[(String::new(), m.messages_received.load(Ordering::Relaxed))],
    );
    counter(
        "wasap_reconnects_total",
        "Connections of linked devices that dropped and are being re-established.",
        &[(String::new(), m.reconnects.load(Ordering::Relaxed))],
    );
    counter(
        "wasap_decrypt_failures_total",
        "Incoming messages that could not be decrypted (a retry receipt asks for them again).",
        &[(String::new(), m.decrypt_failures.load(Ordering::Relaxed))],
    );
    counter(
        "wasap_webhook_attempts_total",
        "Webhook delivery attempts by result.",
        &[
            (
                "{result=\"ok\"}".into(),
                m.webhook_ok.load(Ordering::Relaxed),
            ),
            (
                "{result=\"failed\"}".into(),
                m.webhook_failed.load(Ordering::Relaxed),
            ),
        ],
    );
    counter(
        "wasap_webhook_dead_letters_total",
        "Deliveries moved to dead letters.",
        &[(String::new(), m.webhook_dead.load(Ordering::Relaxed))],
    );
    let h = &m.http_latency;
    out.push_str("# HELP wasap_http_request_duration_seconds Time to answer HTTP requests (until the response headers).\n# TYPE wasap_http_request_duration_seconds histogram\n");
    let mut cumulative = 0;
    for (i, bound) in crate::state::LATENCY_BUCKETS.iter().enumerate() {
        cumulative += h.buckets[i].load(Ordering::Relaxed);
        out.push_str(&format!(
            "wasap_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}\n"
        ));
    }
    let count = h.count.load(Ordering::Relaxed);
    out.push_str(&format!(
        "wasap_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}\nwasap_http_request_duration_seconds_sum {}\nwasap_http_request_duration_seconds_count {count}\n",
        h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    ));
    let by_status: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT direction, status, COUNT(*) FROM messages GROUP BY direction, status ORDER BY direction, status",
    )
    .fetch_all(&st.db.pool)
    .await?;
    out.push_str("# HELP wasap_messages Messages in the log by direction and status.\n# TYPE wasap_messages gauge\n");
    for (d, s, n) in by_status {
        out.push_str(&format!(
            "wasap_messages{{direction=\"{d}\",status=\"{s}\"}} {n}\n"
        ));
    }
    let queued: Vec<(String, i64)> =
        sqlx::query_as("SELECT device_id, COUNT(*) FROM messages WHERE status = 'queued' GROUP BY device_id ORDER BY device_id")
            .fetch_all(&st.db.pool)
            .await?;
    out.push_str("# HELP wasap_queue_depth Messages waiting to be sent, per device.\n# TYPE wasap_queue_depth gauge\n");
    for (d, n) in queued {
        out.push_str(&format!("wasap_queue_depth{{device=\"{d}\"}} {n}\n"));
    }
    let deliveries: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM webhook_deliveries WHERE status <> 'delivered' GROUP BY status ORDER BY status")
            .fetch_all(&st.db.pool)
            .await?;
    out.push_str("# HELP wasap_webhook_deliveries Undelivered webhook deliveries by state.\n# TYPE wasap_webhook_deliveries gauge\n");
    for (s, n) in deliveries {
        out.push_str(&format!("wasap_webhook_deliveries{{status=\"{s}\"}} {n}\n"));
    }
    let devices: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM devices GROUP BY status ORDER BY status")
            .fetch_all(&st.db.pool)
            .await?;
    out.push_str("# HELP wasap_devices Devices by status.\n# TYPE wasap_devices gauge\n");
    for (s, n) in devices {
        out.push_str(&format!("wasap_devices{{status=\"{s}\"}} {n}\n"));
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    device_id: Option<String>,
    after: Option<i64>,
}

struct SseState {
    st: AppState,
    rx: tokio::sync::broadcast::Receiver<i64>,
    last: i64,
    device: Option<String>,
    buffer: VecDeque<(i64, String, String)>,
}

/// `GET /v1/events`: committed events in order, as SSE with `id` = global position; resumes
/// after `Last-Event-ID` (or `?after=`).
pub async fn events(
    State(st): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    p.require("messages:read")?;
    let device = match (&p.device_id, q.device_id) {
        (Some(bound), Some(asked)) if *bound != asked => return Err(ApiError::not_found("device")),
        (Some(bound), _) => Some(bound.clone()),
        (None, d) => d,
    };
    let last = match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .ok_or_else(|| {
                ApiError::field(
                    "Last-Event-ID",
                    "must be an event position from this stream",
                )
            })?,
        None => q.after.unwrap_or(0),
    };
    let rx = st.events.subscribe();
    let init = SseState {
        st: st.clone(),
        rx,
        last,
        device,
        buffer: VecDeque::new(),
    };
    let stream = futures_util::stream::unfold(init, |mut s| async move {
        loop {
            if let Some((pos, ty, payload)) = s.buffer.pop_front() {
                return Some((
                    Ok(Event::default().id(pos.to_string()).event(ty).data(payload)),
                    s,
                ));
            }
            let rows: Result<Vec<(i64, String, String, String)>, _> = sqlx::query_as(
                "SELECT pos, event_type, payload, device_id FROM events WHERE pos > $1 ORDER BY pos LIMIT 200",
            )
            .bind(s.last)
            .fetch_all(&s.st.db.pool)
            .await;
            match rows {
                Ok(rows) if !rows.is_empty() => {
                    for (pos, ty, payload, dev) in rows {
                        s.last = pos;
                        if s.device.as_ref().is_none_or(|d| *d == dev) {
                            s.buffer.push_back((pos, ty, payload));
                        }
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "SSE query failed"),
            }
            tokio::select! {
                r = s.rx.recv() => {
                    if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) { return None; }
                }
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                // End open streams at shutdown, so graceful shutdown does not wait on them.
                _ = s.st.stopped() => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
