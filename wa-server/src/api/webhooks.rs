//! `/v1/webhooks`: subscriptions (the secret is shown once), the delivery log and redelivery.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ts;
use crate::auth::Principal;
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::events::EVENT_TYPES;
use crate::state::AppState;
use crate::util::{new_id, now_ms};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    url: String,
    events: Vec<String>,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    headers: Option<Map<String, Value>>,
    #[serde(default)]
    format: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    headers: Option<Map<String, Value>>,
    #[serde(default)]
    enabled: Option<bool>,
}

type HookRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
    i64,
    i64,
);
const HCOLS: &str = "id, url, events, device_id, headers, format, enabled, created_at, updated_at";

fn hview((id, url, events, device, headers, format, enabled, c, u): HookRow) -> Value {
    let headers: Value = serde_json::from_str(&headers).unwrap_or(Value::Null);
    // Header values may carry credentials for the receiver: show names only.
    let names: Vec<String> = headers
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    json!({
        "id": id, "url": url, "events": serde_json::from_str::<Value>(&events).unwrap_or(Value::Null),
        "device_id": device, "header_names": names, "format": format, "enabled": enabled != 0,
        "created_at": ts(Some(c)), "updated_at": ts(Some(u)),
    })
}

fn check_url(st: &AppState, url: &str) -> Result<(), ApiError> {
    let allow: Vec<crate::media::IpNetwork> = if st.config.webhooks.allow_private_targets {
        vec![
            "0.0.0.0/0".parse().expect("static"),
            "::/0".parse().expect("static"),
        ]
    } else {
        st.config.media.allow.clone()
    };
    crate::media::validate_url(&allow, url).map_err(|e| ApiError::field("url", e.to_string()))?;
    Ok(())
}

fn check_events(events: &[String]) -> Result<(), ApiError> {
    if events.is_empty() {
        return Err(ApiError::field(
            "events",
            "at least one event type (or \"*\") is required",
        ));
    }
    for (i, e) in events.iter().enumerate() {
        if e != "*" && !EVENT_TYPES.contains(&e.as_str()) {
            return Err(ApiError::field(
                format!("events[{i}]"),
                format!("unknown event type; known: {}", EVENT_TYPES.join(", ")),
            ));
        }
    }
    Ok(())
}

fn check_headers(h: &Map<String, Value>) -> Result<(), ApiError> {
    for (k, v) in h {
        let valid_name = !k.is_empty()
            && k.len() <= 100
            && k.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
        let lower = k.to_ascii_lowercase();
        if !valid_name
            || lower.starts_with("webhook-")
            || lower == "content-type"
            || lower == "host"
            || lower == "content-length"
        {
            return Err(ApiError::field(
                format!("headers.{k}"),
                "invalid or reserved header name",
            ));
        }
        if !v
            .as_str()
            .is_some_and(|s| s.len() <= 1000 && !s.contains(['\r', '\n']))
        {
            return Err(ApiError::field(
                format!("headers.{k}"),
                "header value must be a string of at most 1000 characters",
            ));
        }
    }
    Ok(())
}

async fn load(st: &AppState, id: &str) -> Result<Value, ApiError> {
    let row: HookRow = sqlx::query_as(&format!("SELECT {HCOLS} FROM webhooks WHERE id = $1"))
        .bind(id)
        .fetch_optional(&st.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(hview(row))
}

pub async fn create(
    State(st): State<AppState>,
    p: Principal,
    body: ApiJson<CreateWebhook>,
) -> Result<impl IntoResponse, ApiError> {
    p.require("webhooks:write")?;
    let b = body.value;
    check_url(&st, &b.url)?;
    check_events(&b.events)?;
    let device = match (&p.device_id, b.device_id) {
        (Some(bound), Some(asked)) if *bound != asked => return Err(ApiError::not_found("device")),
        (Some(bound), _) => Some(bound.clone()),
        (None, d) => d,
    };
    if let Some(d) = &device {
        let found: Option<(String,)> = sqlx::query_as("SELECT id FROM devices WHERE id = $1")
            .bind(d)
            .fetch_optional(&st.db.pool)
            .await?;
        if found.is_none() {
            return Err(ApiError::field("device_id", "no such device"));
        }
    }
    let format = b.format.unwrap_or_else(|| "standard".into());
    match format.as_str() {
        "standard" => {}
        "satuapps" => {
            // SatuApps receivers know two payloads: incoming messages and device status.
            let known = crate::webhooks::SATUAPPS_EVENTS;
            if let Some((i, _)) = b
                .events
                .iter()
                .enumerate()
                .find(|(_, e)| !known.contains(&e.as_str()))
            {
                return Err(ApiError::field(
                    format!("events[{i}]"),
                    format!("the satuapps format carries only {}", known.join(", ")),
                ));
            }
        }
        _ => {
            return Err(ApiError::field(
                "format",
                "must be \"standard\" or \"satuapps\"",
            ));
        }
    }
    let secret = match b.secret {
        Some(s) if s.len() >= 16 && s.len() <= 256 => s,
        Some(_) => return Err(ApiError::field("secret", "must be 16 to 256 characters")),
        None => crate::webhooks::generate_secret(),
    };
    let headers = b.headers.unwrap_or_default();
    check_headers(&headers)?;
    let id = new_id("whk");
    let now = now_ms();
    sqlx::query("INSERT INTO webhooks (id, url, events, device_id, secret, headers, format, enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8)")
        .bind(&id)
        .bind(&b.url)
        .bind(serde_json::to_string(&b.events).expect("strings"))
        .bind(device)
        .bind(&secret)
        .bind(Value::Object(headers).to_string())
        .bind(&format)
        .bind(now)
        .execute(&st.db.pool)
        .await?;
    let mut v = load(&st, &id).await?;
    v["secret"] = secret.into();
    Ok((StatusCode::CREATED, Json(v)))
}

pub async fn list(State(st): State<AppState>, p: Principal) -> Result<Json<Value>, ApiError> {
    p.require("webhooks:write")?;
    let rows: Vec<HookRow> = sqlx::query_as(&format!(
        "SELECT {HCOLS} FROM webhooks ORDER BY created_at, id"
    ))
    .fetch_all(&st.db.pool)
    .await?;
    let data: Vec<Value> = rows
        .into_iter()
        .filter(|r| p.device_id.is_none() || r.3 == p.device_id)
        .map(hview)
        .collect();
    Ok(Json(json!({ "data": data })))
}

async fn owned(st: &AppState, p: &Principal, id: &str) -> Result<Value, ApiError> {
    let v = load(st, id).await?;
    if let Some(bound) = &p.device_id
        && v["device_id"].as_str() != Some(bound)
    {
        return Err(ApiError::not_found("webhook"));
    }
    Ok(v)
}

pub async fn get_one(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require("webhooks:write")?;
    Ok(Json(owned(&st, &p, &id).await?))
}

pub async fn update(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    body: ApiJson<UpdateWebhook>,
) -> Result<Json<Value>, ApiError> {
    p.require("webhooks:write")?;
    owned(&st, &p, &id).await?;
    let b = body.value;
    if let Some(u) = &b.url {
        check_url(&st, u)?;
    }
    if let Some(e) = &b.events {
        check_events(e)?;
    }
    if let Some(h) = &b.headers {
        check_headers(h)?;
    }
    sqlx::query("UPDATE webhooks SET url = COALESCE($2, url), events = COALESCE($3, events), headers = COALESCE($4, headers), enabled = COALESCE($5, enabled), updated_at = $6 WHERE id = $1")
        .bind(&id)
        .bind(b.url)
        .bind(b.events.map(|e| serde_json::to_string(&e).expect("strings")))
        .bind(b.headers.map(|h| Value::Object(h).to_string()))
        .bind(b.enabled.map(i64::from))
        .bind(now_ms())
        .execute(&st.db.pool)
        .await?;
    Ok(Json(load(&st, &id).await?))
}

pub async fn remove(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require("webhooks:write")?;
    owned(&st, &p, &id).await?;
    let mut tx = st.db.begin_write().await?;
    sqlx::query("DELETE FROM webhooks WHERE id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE webhook_deliveries SET status = 'dead', last_error = 'webhook deleted' WHERE webhook_id = $1 AND status = 'pending'")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    status: Option<String>,
    limit: Option<u32>,
}

pub async fn deliveries(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require("webhooks:write")?;
    owned(&st, &p, &id).await?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be 1 to 500"));
    }
    if let Some(s) = &q.status
        && !["pending", "delivered", "dead"].contains(&s.as_str())
    {
        return Err(ApiError::field(
            "status",
            "must be pending, delivered or dead",
        ));
    }
    type Row = (
        String,
        i64,
        String,
        String,
        i64,
        i64,
        Option<i64>,
        Option<String>,
        i64,
        String,
    );
    let sql = format!(
        "SELECT d.id, d.event_pos, d.device_id, d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, e.id FROM webhook_deliveries d JOIN events e ON e.pos = d.event_pos WHERE d.webhook_id = $1 {} ORDER BY d.event_pos DESC LIMIT {limit}",
        if q.status.is_some() {
            "AND d.status = $2"
        } else {
            ""
        }
    );
    let mut query = sqlx::query_as::<_, Row>(&sql).bind(&id);
    if let Some(s) = q.status.clone() {
        query = query.bind(s);
    }
    let rows: Vec<Row> = query.fetch_all(&st.db.pool).await?;
    let mut data = Vec::new();
    for (did, pos, device, status, attempts, next, code, err, created, event_id) in rows {
        let log: Vec<(i64, Option<i64>, i64, Option<String>)> =
            sqlx::query_as("SELECT attempted_at, status_code, latency_ms, error FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempted_at, id")
                .bind(&did)
                .fetch_all(&st.db.pool)
                .await?;
        let log: Vec<Value> = log
            .into_iter()
            .map(|(at, c, l, e)| json!({ "at": ts(Some(at)), "status_code": c, "latency_ms": l, "error": e }))
            .collect();
        data.push(json!({
            "id": did, "event_id": event_id, "event_position": pos, "device_id": device, "status": status,
            "attempts": attempts, "next_attempt_at": if status == "pending" { ts(Some(next)) } else { Value::Null },
            "last_status_code": code, "last_error": err, "created_at": ts(Some(created)), "attempt_log": log,
        }));
    }
    Ok(Json(json!({ "data": data })))
}

pub async fn redeliver_one(
    State(st): State<AppState>,
    p: Principal,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    p.require("webhooks:write")?;
    owned(&st, &p, &id).await?;
    let now = now_ms();
    let done = sqlx::query("UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3, created_at = $3, updated_at = $3 WHERE id = $1 AND webhook_id = $2 AND status <> 'pending'")
        .bind(&delivery)
        .bind(&id)
        .bind(now)
        .execute(&st.db.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("finished delivery"));
    }
    st.webhook_wake.notify_one();
    Ok((StatusCode::ACCEPTED, Json(json!({ "requeued": 1 }))))
}

pub async fn redeliver_dead(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    p.require("webhooks:write")?;
    owned(&st, &p, &id).await?;
    let now = now_ms();
    let done = sqlx::query("UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $2, created_at = $2, updated_at = $2 WHERE webhook_id = $1 AND status = 'dead'")
        .bind(&id)
        .bind(now)
        .execute(&st.db.pool)
        .await?;
    st.webhook_wake.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "requeued": done.rows_affected() })),
    ))
}
