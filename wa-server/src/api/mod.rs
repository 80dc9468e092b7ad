//! The HTTP surface: the route table (also used to check the OpenAPI document) and shared
//! request helpers.

mod contacts;
mod devices;
mod keys;
mod messages;
mod meta;
mod webhooks;

use axum::Router;
use axum::routing::{MethodRouter, delete, get, patch, post, put};

use crate::error::ApiError;
use crate::state::AppState;

/// Every route: (method, path, handler).
fn table() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    vec![
        ("GET", "/healthz", get(meta::healthz)),
        ("GET", "/readyz", get(meta::readyz)),
        ("GET", "/metrics", get(meta::metrics)),
        ("GET", "/openapi.json", get(meta::openapi)),
        ("POST", "/v1/keys", post(keys::create)),
        ("GET", "/v1/keys", get(keys::list)),
        ("DELETE", "/v1/keys/{id}", delete(keys::revoke)),
        ("POST", "/v1/devices", post(devices::create)),
        ("GET", "/v1/devices", get(devices::list)),
        ("GET", "/v1/devices/{id}", get(devices::get_one)),
        ("DELETE", "/v1/devices/{id}", delete(devices::remove)),
        ("POST", "/v1/devices/{id}/connect", post(devices::connect)),
        (
            "POST",
            "/v1/devices/{id}/reconnect",
            post(devices::reconnect),
        ),
        ("POST", "/v1/devices/{id}/logout", post(devices::logout)),
        ("GET", "/v1/devices/{id}/qr", get(devices::qr)),
        (
            "POST",
            "/v1/devices/{id}/pair-code",
            post(devices::pair_code),
        ),
        ("POST", "/v1/devices/{id}/messages", post(messages::send)),
        ("GET", "/v1/messages", get(messages::list)),
        ("GET", "/v1/messages/{id}", get(messages::get_one)),
        ("POST", "/v1/contacts", post(contacts::create)),
        ("GET", "/v1/contacts", get(contacts::list)),
        ("GET", "/v1/contacts/{id}", get(contacts::get_one)),
        ("PATCH", "/v1/contacts/{id}", patch(contacts::update)),
        ("DELETE", "/v1/contacts/{id}", delete(contacts::remove)),
        ("POST", "/v1/contact-groups", post(contacts::create_group)),
        ("GET", "/v1/contact-groups", get(contacts::list_groups)),
        ("GET", "/v1/contact-groups/{id}", get(contacts::get_group)),
        (
            "PATCH",
            "/v1/contact-groups/{id}",
            patch(contacts::update_group),
        ),
        (
            "DELETE",
            "/v1/contact-groups/{id}",
            delete(contacts::remove_group),
        ),
        (
            "PUT",
            "/v1/contact-groups/{id}/members/{contact_id}",
            put(contacts::add_member),
        ),
        (
            "DELETE",
            "/v1/contact-groups/{id}/members/{contact_id}",
            delete(contacts::remove_member),
        ),
        ("POST", "/v1/webhooks", post(webhooks::create)),
        ("GET", "/v1/webhooks", get(webhooks::list)),
        ("GET", "/v1/webhooks/{id}", get(webhooks::get_one)),
        ("PATCH", "/v1/webhooks/{id}", patch(webhooks::update)),
        ("DELETE", "/v1/webhooks/{id}", delete(webhooks::remove)),
        (
            "GET",
            "/v1/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        ),
        (
            "POST",
            "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            post(webhooks::redeliver_one),
        ),
        (
            "POST",
            "/v1/webhooks/{id}/redeliver",
            post(webhooks::redeliver_dead),
        ),
        ("GET", "/v1/events", get(meta::events)),
    ]
}

/// (method, path) of every route the router serves.
#[cfg(test)]
pub fn route_list() -> Vec<(&'static str, &'static str)> {
    table().into_iter().map(|(m, p, _)| (m, p)).collect()
}

/// The routes, without state or middleware.
pub fn routes() -> Router<AppState> {
    table()
        .into_iter()
        .fold(Router::new(), |r, (_, path, h)| r.route(path, h))
}

/// Normalizes a recipient: digits (with optional `+`, spaces, dashes, parentheses) become a
/// user JID; JIDs of known servers pass through.
pub fn normalize_to(field: &str, to: &str) -> Result<String, ApiError> {
    let t = to.trim();
    if let Some((user, server)) = t.split_once('@') {
        let ok_server = matches!(
            server,
            "s.whatsapp.net" | "g.us" | "lid" | "newsletter" | "broadcast"
        );
        let ok_user = !user.is_empty()
            && user.len() <= 64
            && user
                .chars()
                .all(|c| c.is_ascii_digit() || c == '-' || c == ':' || c == '.');
        if ok_server && ok_user {
            return Ok(t.to_string());
        }
        return Err(ApiError::field(field, "not a valid WhatsApp JID"));
    }
    let digits = normalize_phone(t).ok_or_else(|| {
        ApiError::field(field, "must be a phone number with country code or a JID")
    })?;
    Ok(format!("{digits}@s.whatsapp.net"))
}

/// Digits of a phone number in international form, or None.
pub fn normalize_phone(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')'))
    {
        return None;
    }
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    (6..=15).contains(&digits.len()).then_some(digits)
}

/// Checks a free-text field's length.
pub fn check_len(field: &str, v: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = v.chars().count();
    if n < min || n > max {
        return Err(ApiError::field(
            field,
            format!("must be {min} to {max} characters"),
        ));
    }
    Ok(())
}

/// Optional millisecond timestamp as RFC 3339.
pub fn ts(v: Option<i64>) -> serde_json::Value {
    v.map(|t| crate::util::rfc3339(t).into())
        .unwrap_or(serde_json::Value::Null)
}
