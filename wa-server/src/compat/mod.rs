//! The compatibility APIs: each hosted gateway's REST contract (`docs/compat.md`) as a thin
//! translation onto the native services — keys from `auth`, sends through `sending`, devices
//! and credits from the same tables. This module owns what the contracts share: reading the
//! API key from whichever header a contract uses, resolving the device a key sends through,
//! the contracts' rate limiters, and their route table (mounted outside the native scope
//! guard, because each contract answers errors in its own shape).

pub mod composer;
pub mod ordered;
pub mod satuapps;
pub mod waapi;
pub mod wabot;
pub mod whatshub;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::MethodRouter;
use serde_json::Value;

use crate::auth::{Principal, RateLimiter};
use crate::error::{ApiError, OwnShape};
use crate::state::AppState;

/// Rate limiters of the contracts that document their own limits (beyond the per-key limit
/// every key has).
#[derive(Default)]
pub struct Limits {
    /// SatuApps: per device.
    pub satuapps_device: RateLimiter,
    /// SatuApps: per API key ("user").
    pub satuapps_user: RateLimiter,
}

/// (method, path, scope the handler requires, handler).
pub(crate) type Entry = (
    &'static str,
    &'static str,
    Option<&'static str>,
    MethodRouter<AppState>,
);

fn table() -> Vec<Entry> {
    let mut t = waapi::table();
    t.extend(satuapps::table());
    t.extend(whatshub::table());
    t.extend(wabot::table());
    t
}

/// The compatibility routes (no scope guard: handlers authenticate and check scopes
/// themselves, answering in their contract's shape).
pub fn routes() -> Router<AppState> {
    table()
        .into_iter()
        .fold(Router::new(), |r, (_, path, _, h)| r.route(path, h))
        // Not operations, so not in the table: unknown paths under wabot's base URL.
        .merge(wabot::unknown_routes())
}

/// (method, path, scope) of every compatibility route.
#[cfg(test)]
pub fn route_list() -> Vec<(&'static str, &'static str, Option<&'static str>)> {
    table().into_iter().map(|(m, p, s, _)| (m, p, s)).collect()
}

/// The OpenAPI operations of every contract: (method, path, operation object).
pub fn openapi_ops() -> Vec<(&'static str, &'static str, Value)> {
    let mut ops = waapi::openapi_ops();
    ops.extend(satuapps::openapi_ops());
    ops.extend(whatshub::openapi_ops());
    ops.extend(wabot::openapi_ops());
    ops
}

/// The API key a request presents: `X-Device-Api-Key`, else `Authorization` with or without
/// `Bearer ` (the Fonnte style sends the bare token). One key works in all three places.
pub fn presented_key(headers: &HeaderMap) -> Option<String> {
    let read = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some(k) = read("x-device-api-key") {
        return Some(k.to_string());
    }
    let auth = read(header::AUTHORIZATION.as_str())?;
    if auth.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = match auth.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => auth,
    };
    (!token.is_empty()).then(|| token.to_string())
}

/// Why a request's key was not accepted.
#[derive(Debug)]
pub enum KeyError {
    /// No key in any of the accepted headers.
    Missing,
    /// Unknown or revoked key.
    Invalid,
    /// The key holds neither the scope nor `admin:*`.
    MissingScope(&'static str),
    /// The key is known but may not be used now (e.g. disabled); the reason.
    Refused(String),
    /// The key's own rate limit is exhausted; seconds to wait.
    RateLimited(u64),
    /// The database failed (already logged).
    Internal,
}

/// Authenticates the request's key (applying its per-key rate limit) and checks `scope`.
pub async fn caller(
    st: &AppState,
    headers: &HeaderMap,
    scope: &'static str,
) -> Result<Principal, KeyError> {
    let token = presented_key(headers).ok_or(KeyError::Missing)?;
    let p = crate::auth::authenticate(st, &token)
        .await
        .map_err(|e| match e.status {
            StatusCode::TOO_MANY_REQUESTS => KeyError::RateLimited(e.retry_after.unwrap_or(1)),
            StatusCode::FORBIDDEN => KeyError::Refused(e.message),
            s if s.is_server_error() => KeyError::Internal,
            _ => KeyError::Invalid,
        })?;
    p.require(scope)
        .map_err(|_| KeyError::MissingScope(scope))?;
    Ok(p)
}

/// A device as the contracts see it.
#[derive(Debug, Clone)]
pub struct Device {
    /// Our id (`dev_…`).
    pub id: String,
    /// The stable device number.
    pub number: i64,
    /// Its name.
    pub name: String,
    /// Native status (`online`, `offline`, `qr_waiting`, …).
    pub status: String,
    /// Its WhatsApp number, once linked.
    pub phone: Option<String>,
    /// Its WhatsApp display name, once linked.
    pub push_name: Option<String>,
}

impl Device {
    /// Whether it is connected to WhatsApp now.
    pub fn online(&self) -> bool {
        self.status == "online"
    }
}

type DeviceRow = (
    String,
    Option<i64>,
    String,
    String,
    Option<String>,
    Option<String>,
);

const DEVICE_COLS: &str = "id, number, name, status, phone, push_name";

async fn device_from(st: &AppState, row: DeviceRow) -> Result<Option<Device>, ApiError> {
    let (id, number, name, status, phone, push_name) = row;
    let number = match number {
        Some(n) => n,
        None => match crate::api::devices::number_of(st, &id).await? {
            Some(n) => n,
            None => return Ok(None),
        },
    };
    Ok(Some(Device {
        id,
        number,
        name,
        status,
        phone,
        push_name,
    }))
}

/// The device named by `reference`: our id (`dev_…`) or its number (`12`).
pub async fn device_by_ref(st: &AppState, reference: &str) -> Result<Option<Device>, ApiError> {
    let row: Option<DeviceRow> = match reference.parse::<i64>() {
        Ok(n) => {
            sqlx::query_as(&format!(
                "SELECT {DEVICE_COLS} FROM devices WHERE number = $1"
            ))
            .bind(n)
            .fetch_optional(&st.db.pool)
            .await?
        }
        Err(_) => {
            sqlx::query_as(&format!("SELECT {DEVICE_COLS} FROM devices WHERE id = $1"))
                .bind(reference)
                .fetch_optional(&st.db.pool)
                .await?
        }
    };
    match row {
        Some(r) => device_from(st, r).await,
        None => Ok(None),
    }
}

/// Every device the key may see (only its own when bound), in number order.
pub async fn visible_devices(st: &AppState, p: &Principal) -> Result<Vec<Device>, ApiError> {
    let rows: Vec<DeviceRow> = match &p.device_id {
        Some(d) => {
            sqlx::query_as(&format!("SELECT {DEVICE_COLS} FROM devices WHERE id = $1"))
                .bind(d)
                .fetch_all(&st.db.pool)
                .await?
        }
        None => {
            sqlx::query_as(&format!(
                "SELECT {DEVICE_COLS} FROM devices ORDER BY number, created_at, id"
            ))
            .fetch_all(&st.db.pool)
            .await?
        }
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.extend(device_from(st, r).await?);
    }
    Ok(out)
}

/// The device a key sends through when the contract names none: the key's bound device, or
/// for an unbound key the online device with the lowest number. `None` when there is no such
/// device (or the bound device is gone); the caller reports it as "not connected".
pub async fn sending_device(st: &AppState, p: &Principal) -> Result<Option<Device>, ApiError> {
    let devices = visible_devices(st, p).await?;
    if p.device_id.is_some() {
        return Ok(devices.into_iter().next());
    }
    Ok(devices.into_iter().find(Device::online))
}

/// The request id the gateway assigned (`x-request-id`), for contracts that report it.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Marks a response as being in its contract's shape, so the native error middleware leaves
/// it alone.
pub fn own(mut resp: Response) -> Response {
    resp.extensions_mut().insert(OwnShape);
    resp
}

/// A JSON value that a contract documents as a string but clients also send as a number.
pub fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The bare phone number of a user JID (`628…@s.whatsapp.net` → `628…`); other JIDs as they are.
pub fn display_to(jid: &str) -> String {
    jid.strip_suffix("@s.whatsapp.net")
        .unwrap_or(jid)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_key_is_read_from_any_of_the_three_headers() {
        assert_eq!(
            presented_key(&headers(&[("authorization", "wsk_abc")])).as_deref(),
            Some("wsk_abc")
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "Bearer wsk_abc")])).as_deref(),
            Some("wsk_abc")
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", "bearer  wsk_abc ")])).as_deref(),
            Some("wsk_abc")
        );
        assert_eq!(
            presented_key(&headers(&[("x-device-api-key", "wsk_dev")])).as_deref(),
            Some("wsk_dev")
        );
        assert_eq!(
            presented_key(&headers(&[
                ("x-device-api-key", "wsk_dev"),
                ("authorization", "Bearer other")
            ]))
            .as_deref(),
            Some("wsk_dev")
        );
    }

    #[test]
    fn an_empty_or_absent_key_is_none() {
        assert_eq!(presented_key(&headers(&[])), None);
        assert_eq!(
            presented_key(&headers(&[("authorization", "Bearer ")])),
            None
        );
        assert_eq!(presented_key(&headers(&[("x-device-api-key", "  ")])), None);
    }

    #[test]
    fn user_jids_are_shown_as_bare_numbers() {
        assert_eq!(display_to("628123@s.whatsapp.net"), "628123");
        assert_eq!(display_to("1203630@g.us"), "1203630@g.us");
    }
}
