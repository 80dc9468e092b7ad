//! The HTTP surface: the route table (also used to check the OpenAPI document) and shared
//! request helpers.

mod broadcasts;
mod contacts;
mod credits;
pub(crate) mod devices;
mod groups;
mod keys;
pub(crate) mod messages;
mod meta;
mod webhooks;

pub use messages::message_view_new;

use axum::Router;
use axum::routing::{MethodRouter, delete, get, patch, post, put};

use crate::error::ApiError;
use crate::state::AppState;

/// Every route: (method, path, required scope, handler). The scope is checked by a route
/// layer before any other extractor runs, so a caller without it learns nothing about the
/// request's validity.
type Entry = (
    &'static str,
    &'static str,
    Option<&'static str>,
    MethodRouter<AppState>,
);

fn table() -> Vec<Entry> {
    const DR: Option<&str> = Some("devices:read");
    const DW: Option<&str> = Some("devices:write");
    const MS: Option<&str> = Some("messages:send");
    const MR: Option<&str> = Some("messages:read");
    const CR: Option<&str> = Some("contacts:read");
    const CW: Option<&str> = Some("contacts:write");
    const WW: Option<&str> = Some("webhooks:write");
    const AD: Option<&str> = Some("admin:*");
    vec![
        ("GET", "/healthz", None, get(meta::healthz)),
        ("GET", "/readyz", None, get(meta::readyz)),
        ("GET", "/metrics", None, get(meta::metrics)),
        ("GET", "/openapi.json", None, get(meta::openapi)),
        ("POST", "/v1/keys", AD, post(keys::create)),
        ("GET", "/v1/keys", AD, get(keys::list)),
        ("DELETE", "/v1/keys/{id}", AD, delete(keys::revoke)),
        ("PATCH", "/v1/keys/{id}", AD, patch(keys::update)),
        ("POST", "/v1/devices", DW, post(devices::create)),
        ("GET", "/v1/devices", DR, get(devices::list)),
        ("GET", "/v1/devices/{id}", DR, get(devices::get_one)),
        ("DELETE", "/v1/devices/{id}", DW, delete(devices::remove)),
        (
            "POST",
            "/v1/devices/{id}/connect",
            DW,
            post(devices::connect),
        ),
        (
            "POST",
            "/v1/devices/{id}/reconnect",
            DW,
            post(devices::reconnect),
        ),
        ("POST", "/v1/devices/{id}/logout", DW, post(devices::logout)),
        ("GET", "/v1/devices/{id}/qr", DW, get(devices::qr)),
        (
            "POST",
            "/v1/devices/{id}/pair-code",
            DW,
            post(devices::pair_code),
        ),
        ("GET", "/v1/devices/{id}/groups", DR, get(groups::list)),
        ("POST", "/v1/devices/{id}/groups", DW, post(groups::create)),
        (
            "GET",
            "/v1/devices/{id}/groups/{jid}",
            DR,
            get(groups::get_one),
        ),
        (
            "POST",
            "/v1/devices/{id}/groups/{jid}/participants",
            DW,
            post(groups::participants),
        ),
        (
            "POST",
            "/v1/devices/{id}/groups/{jid}/leave",
            DW,
            post(groups::leave),
        ),
        (
            "POST",
            "/v1/devices/{id}/messages",
            MS,
            post(messages::send),
        ),
        (
            "POST",
            "/v1/devices/{id}/broadcasts",
            MS,
            post(broadcasts::create),
        ),
        ("GET", "/v1/messages", MR, get(messages::list)),
        ("GET", "/v1/messages/{id}", MR, get(messages::get_one)),
        (
            "GET",
            "/v1/messages/{id}/media",
            MR,
            get(messages::download_media),
        ),
        ("POST", "/v1/contacts", CW, post(contacts::create)),
        ("GET", "/v1/contacts", CR, get(contacts::list)),
        ("GET", "/v1/contacts/{id}", CR, get(contacts::get_one)),
        ("PATCH", "/v1/contacts/{id}", CW, patch(contacts::update)),
        ("DELETE", "/v1/contacts/{id}", CW, delete(contacts::remove)),
        (
            "POST",
            "/v1/contact-groups",
            CW,
            post(contacts::create_group),
        ),
        ("GET", "/v1/contact-groups", CR, get(contacts::list_groups)),
        (
            "GET",
            "/v1/contact-groups/{id}",
            CR,
            get(contacts::get_group),
        ),
        (
            "PATCH",
            "/v1/contact-groups/{id}",
            CW,
            patch(contacts::update_group),
        ),
        (
            "DELETE",
            "/v1/contact-groups/{id}",
            CW,
            delete(contacts::remove_group),
        ),
        (
            "PUT",
            "/v1/contact-groups/{id}/members/{contact_id}",
            CW,
            put(contacts::add_member),
        ),
        (
            "DELETE",
            "/v1/contact-groups/{id}/members/{contact_id}",
            CW,
            delete(contacts::remove_member),
        ),
        ("POST", "/v1/webhooks", WW, post(webhooks::create)),
        ("GET", "/v1/webhooks", WW, get(webhooks::list)),
        ("GET", "/v1/webhooks/{id}", WW, get(webhooks::get_one)),
        ("PATCH", "/v1/webhooks/{id}", WW, patch(webhooks::update)),
        ("DELETE", "/v1/webhooks/{id}", WW, delete(webhooks::remove)),
        (
            "GET",
            "/v1/webhooks/{id}/deliveries",
            WW,
            get(webhooks::deliveries),
        ),
        (
            "POST",
            "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            WW,
            post(webhooks::redeliver_one),
        ),
        (
            "POST",
            "/v1/webhooks/{id}/redeliver",
            WW,
            post(webhooks::redeliver_dead),
        ),
        ("GET", "/v1/events", MR, get(meta::events)),
        (
            "GET",
            "/v1/credits",
            Some("credits:read"),
            get(credits::get),
        ),
        (
            "GET",
            "/v1/credits/ledger",
            Some("credits:read"),
            get(credits::ledger),
        ),
        ("POST", "/v1/credits/grants", AD, post(credits::grant)),
    ]
}

/// (method, path, scope) of every route the router serves.
#[cfg(test)]
pub fn route_list() -> Vec<(&'static str, &'static str, Option<&'static str>)> {
    table().into_iter().map(|(m, p, s, _)| (m, p, s)).collect()
}

/// Authenticates and checks the route's scope before the handler's extractors run; the
/// principal is left in the request extensions for the handler.
async fn guard(
    axum::extract::State((state, scope)): axum::extract::State<(AppState, &'static str)>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<axum::response::Response, ApiError> {
    use axum::extract::FromRequestParts;
    let (mut parts, body) = req.into_parts();
    let principal = crate::auth::Principal::from_request_parts(&mut parts, &state).await?;
    principal.require(scope)?;
    parts.extensions.insert(principal);
    Ok(next
        .run(axum::extract::Request::from_parts(parts, body))
        .await)
}

/// The routes, with their scope guards, without global middleware.
pub fn routes(state: &AppState) -> Router<AppState> {
    table()
        .into_iter()
        .fold(Router::new(), |r, (_, path, scope, h)| {
            let h = match scope {
                Some(scope) => h.route_layer(axum::middleware::from_fn_with_state(
                    (state.clone(), scope),
                    guard,
                )),
                None => h,
            };
            r.route(path, h)
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_to_accepts_numbers_and_known_jids() {
        assert_eq!(
            normalize_to("to", "+62 (812) 3456-789").unwrap(),
            "628123456789@s.whatsapp.net"
        );
        assert_eq!(
            normalize_to("to", "120363000000000001@g.us").unwrap(),
            "120363000000000001@g.us"
        );
        assert_eq!(
            normalize_to("to", "1234567890123@lid").unwrap(),
            "1234567890123@lid"
        );
        for bad in [
            "",
            "12",
            "abc",
            "628@evil.example",
            "@s.whatsapp.net",
            "62 81x",
        ] {
            assert_eq!(
                normalize_to("to", bad).unwrap_err().field.as_deref(),
                Some("to"),
                "{bad}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn normalize_to_never_panics_and_only_yields_jids(s in "\\PC{0,40}") {
            if let Ok(j) = normalize_to("to", &s) {
                proptest::prop_assert!(j.contains('@'));
            }
        }

        #[test]
        fn message_bodies_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = crate::error::parse_json::<messages::SendMessage>(&bytes);
        }

        #[test]
        fn json_errors_name_a_field_for_wrong_types(text in "[a-z]{1,10}") {
            let body = format!(r#"{{"to": "628123456", "text": "hi", "priority": "{text}x"}}"#);
            let Err(err) = crate::error::parse_json::<messages::SendMessage>(body.as_bytes()) else {
                panic!("accepted an unknown priority");
            };
            proptest::prop_assert_eq!(err.field.as_deref(), Some("priority"));
        }
    }
}
