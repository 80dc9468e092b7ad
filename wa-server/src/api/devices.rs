//! `/v1/devices`: create, list, get, delete. Connecting and pairing arrive with wa-client.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{check_len, ts};
use crate::auth::Principal;
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::state::AppState;
use crate::util::{new_id, now_ms};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDevice {
    name: String,
}

const COLS: &str =
    "id, number, name, status, phone, push_name, last_seen_at, created_at, updated_at";

fn view(r: &AnyRow) -> Result<Value, sqlx::Error> {
    Ok(json!({
        "id": r.try_get::<String, _>("id")?,
        "number": r.try_get::<Option<i64>, _>("number")?,
        "name": r.try_get::<String, _>("name")?,
        "status": r.try_get::<String, _>("status")?,
        "phone": r.try_get::<Option<String>, _>("phone")?,
        "push_name": r.try_get::<Option<String>, _>("push_name")?,
        "last_seen_at": ts(r.try_get("last_seen_at")?),
        "created_at": ts(Some(r.try_get("created_at")?)),
        "updated_at": ts(Some(r.try_get("updated_at")?)),
    }))
}

/// Loads one device as JSON, or 404 (also when the key is bound to another device).
pub async fn load(st: &AppState, p: &Principal, id: &str) -> Result<Value, ApiError> {
    p.check_device(id)?;
    let row = sqlx::query(&format!("SELECT {COLS} FROM devices WHERE id = $1"))
        .bind(id)
        .fetch_optional(&st.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("device"))?;
    Ok(view(&row)?)
}

pub async fn create(
    State(st): State<AppState>,
    p: Principal,
    body: ApiJson<CreateDevice>,
) -> Result<impl IntoResponse, ApiError> {
    p.require("devices:write")?;
    if p.device_id.is_some() {
        return Err(ApiError::forbidden(
            "a device-bound key cannot create devices",
        ));
    }
    check_len("name", &body.value.name, 1, 100)?;
    let id = new_id("dev");
    let now = now_ms();
    let mut tx = st.db.begin_write().await?;
    let number = next_number(&mut tx).await?;
    sqlx::query("INSERT INTO devices (id, number, name, status, event_seq, created_at, updated_at) VALUES ($1, $2, $3, 'created', 0, $4, $4)")
        .bind(&id)
        .bind(number)
        .bind(&body.value.name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    crate::queue::wake(&st, &id);
    Ok((StatusCode::CREATED, Json(load(&st, &p, &id).await?)))
}

/// The next device number (1, 2, …; never reused), taken inside `tx` from the `devices`
/// counter: its row lock serializes concurrent creations until `tx` ends.
pub(crate) async fn next_number(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "UPDATE counters SET value = value + 1 WHERE name = 'devices' RETURNING value",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(n)
}

/// The number of `device_id`, assigning one now if the row has none (a device inserted by a
/// path that does not number devices); `None` when the device does not exist.
pub(crate) async fn number_of(st: &AppState, device_id: &str) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(Option<i64>,)> = sqlx::query_as("SELECT number FROM devices WHERE id = $1")
        .bind(device_id)
        .fetch_optional(&st.db.pool)
        .await?;
    match row {
        None => Ok(None),
        Some((Some(n),)) => Ok(Some(n)),
        Some((None,)) => {
            let mut tx = st.db.begin_write().await?;
            let n = next_number(&mut tx).await?;
            sqlx::query("UPDATE devices SET number = $2 WHERE id = $1 AND number IS NULL")
                .bind(device_id)
                .bind(n)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            // Re-read: a concurrent caller may have numbered it first.
            let (n,): (Option<i64>,) = sqlx::query_as("SELECT number FROM devices WHERE id = $1")
                .bind(device_id)
                .fetch_one(&st.db.pool)
                .await?;
            Ok(n)
        }
    }
}

pub async fn list(State(st): State<AppState>, p: Principal) -> Result<Json<Value>, ApiError> {
    p.require("devices:read")?;
    let rows = match &p.device_id {
        Some(d) => {
            sqlx::query(&format!("SELECT {COLS} FROM devices WHERE id = $1"))
                .bind(d)
                .fetch_all(&st.db.pool)
                .await?
        }
        None => {
            sqlx::query(&format!(
                "SELECT {COLS} FROM devices ORDER BY created_at, id"
            ))
            .fetch_all(&st.db.pool)
            .await?
        }
    };
    let data = rows.iter().map(view).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(json!({ "data": data })))
}

pub async fn get_one(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require("devices:read")?;
    Ok(Json(load(&st, &p, &id).await?))
}

pub async fn remove(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require("devices:write")?;
    p.check_device(&id)?;
    // Unlink from the phone first; a transport that cannot (or a device never linked) is fine.
    if let Err(e) = st.transport.logout(&id).await {
        tracing::debug!(device_id = %id, error = %e, "logout before delete");
    }
    let done = sqlx::query("DELETE FROM devices WHERE id = $1")
        .bind(&id)
        .execute(&st.db.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("device"));
    }
    crate::queue::wake(&st, &id);
    Ok(StatusCode::NO_CONTENT)
}

/// A transport failure as the API reports it.
pub(super) fn transport_error(e: crate::transport::TransportError) -> ApiError {
    use crate::transport::TransportError as E;
    match e {
        E::Unsupported => ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
            "the configured transport cannot do this",
        ),
        E::InvalidState(m) => ApiError::conflict(m),
        E::Offline => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "device_offline",
            "the device is not connected to WhatsApp; connect it and retry",
        ),
        E::Refused { code: 404, .. } => ApiError::not_found("group"),
        E::Refused { code, text } => ApiError::new(
            StatusCode::CONFLICT,
            "whatsapp_refused",
            format!("WhatsApp refused the request ({code} {text})"),
        ),
        E::Failed(m) => ApiError::new(StatusCode::BAD_GATEWAY, "transport_failed", m),
        // A variant added later without its own mapping.
        #[allow(unreachable_patterns)]
        other => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "transport_failed",
            other.to_string(),
        ),
    }
}

async fn device_status(st: &AppState, p: &Principal, id: &str) -> Result<String, ApiError> {
    let v = load(st, p, id).await?;
    Ok(v["status"].as_str().unwrap_or_default().to_string())
}

pub async fn connect(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    p.require("devices:write")?;
    let status = device_status(&st, &p, &id).await?;
    if status == "banned" {
        return Err(ApiError::conflict("the device is banned"));
    }
    st.transport.connect(&id).await.map_err(transport_error)?;
    Ok((StatusCode::ACCEPTED, Json(load(&st, &p, &id).await?)))
}

pub async fn reconnect(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    p.require("devices:write")?;
    device_status(&st, &p, &id).await?;
    st.transport
        .disconnect(&id)
        .await
        .map_err(transport_error)?;
    st.transport.connect(&id).await.map_err(transport_error)?;
    Ok((StatusCode::ACCEPTED, Json(load(&st, &p, &id).await?)))
}

pub async fn logout(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    p.require("devices:write")?;
    device_status(&st, &p, &id).await?;
    st.transport.logout(&id).await.map_err(transport_error)?;
    Ok((StatusCode::ACCEPTED, Json(load(&st, &p, &id).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QrQuery {
    #[serde(default)]
    format: Option<String>,
}

/// `GET /v1/devices/{id}/qr`: the latest QR code as JSON (`format=json`, the default), or as
/// an image to show as is (`format=svg` or `format=png`).
pub async fn qr(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<QrQuery>,
) -> Result<Response, ApiError> {
    p.require("devices:write")?;
    let format = q.format.unwrap_or_else(|| "json".into());
    if !["json", "svg", "png"].contains(&format.as_str()) {
        return Err(ApiError::field("format", "must be json, svg or png"));
    }
    let status = device_status(&st, &p, &id).await?;
    let qr = st
        .qr
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .cloned();
    let Some((code, at)) = qr else {
        return Err(if status == "online" {
            ApiError::conflict("the device is already linked and online")
        } else {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no QR code yet; connect the device first",
            )
        });
    };
    let image = |kind: &'static str, bytes: Option<Vec<u8>>| {
        let bytes =
            bytes.ok_or_else(|| ApiError::internal("the QR payload does not fit a QR code"))?;
        // A QR code is valid for seconds: never cache it.
        Ok::<_, ApiError>(
            (
                [
                    (header::CONTENT_TYPE, kind),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                bytes,
            )
                .into_response(),
        )
    };
    match format.as_str() {
        "svg" => image(
            "image/svg+xml",
            crate::qr_image::svg(&code).map(String::into_bytes),
        ),
        "png" => image("image/png", crate::qr_image::png(&code)),
        _ => Ok(
            Json(json!({ "qr": code, "created_at": ts(Some(at)), "status": status }))
                .into_response(),
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairCode {
    phone: String,
}

pub async fn pair_code(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    body: ApiJson<PairCode>,
) -> Result<Json<Value>, ApiError> {
    p.require("devices:write")?;
    let status = device_status(&st, &p, &id).await?;
    if status == "online" {
        return Err(ApiError::conflict(
            "the device is already linked and online",
        ));
    }
    let phone = super::normalize_phone(&body.value.phone)
        .ok_or_else(|| ApiError::field("phone", "must be a phone number with country code"))?;
    let code = st
        .transport
        .pairing_code(&id, &phone)
        .await
        .map_err(transport_error)?;
    Ok(Json(json!({ "code": code, "phone": phone })))
}
