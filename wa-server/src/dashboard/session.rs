//! Dashboard sessions: the login with an API key, the session cookie, the per-session CSRF
//! token, logout. A session is a row of `dashboard_sessions` whose id is the SHA-256 of the
//! random token in the browser's cookie, so a database leak opens no session. A session ends
//! at logout, after [`LIFETIME_MS`], or as soon as its key is revoked or given a new value
//! (the admin key is re-provisioned from `WASAP_ADMIN_KEY` under the same id).

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use super::html::{self, esc};
use super::{Dash, Flash, Form, html_response, redirect};
use crate::auth::Principal;
use crate::util::{ct_eq, now_ms, sha256_hex};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "wasap_session";

/// How long a session lasts from login, in milliseconds (12 hours).
pub(crate) const LIFETIME_MS: i64 = 12 * 60 * 60 * 1000;

/// Failed logins accepted per minute across the gateway before the form answers 429. Keys
/// are 256-bit random, so this only keeps guessing noisy and slow.
const FAILED_LOGINS_PER_MINUTE: u32 = 30;

/// Scopes a `dashboard` key acts with inside the dashboard: everything but `admin:*`.
const OPERATOR_SCOPES: &[&str] = &[
    "devices:read",
    "devices:write",
    "messages:send",
    "messages:read",
    "webhooks:write",
    "contacts:read",
    "contacts:write",
    "credits:read",
];

/// A signed-in person.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// SHA-256 of the cookie token (the row id).
    id: String,
    /// The key's name, shown in the header.
    pub(crate) key_name: String,
    /// The token every POST form must carry.
    pub(crate) csrf: String,
    /// Who the API calls run as.
    pub(crate) principal: Principal,
}

impl Session {
    /// Whether the key is an admin key (the API keys page needs one).
    pub(crate) fn is_admin(&self) -> bool {
        self.principal.is_admin()
    }

    /// The 403 page for a form without this session's CSRF token; `None` when it has it.
    pub(crate) fn csrf_refusal(&self, form: &Form) -> Option<Response> {
        let sent = form.raw("csrf").unwrap_or("");
        if !sent.is_empty() && ct_eq(sent.as_bytes(), self.csrf.as_bytes()) {
            None
        } else {
            Some(super::plain_error(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this dashboard. Go back, reload the page and try again.",
            ))
        }
    }
}

/// The principal a key acts as in the dashboard, or `None` when it may not sign in.
pub(crate) fn dashboard_principal(p: &Principal) -> Option<Principal> {
    if p.is_admin() {
        return Some(p.clone());
    }
    if !p.scopes.iter().any(|s| s == "dashboard") {
        return None;
    }
    Some(Principal {
        key_id: p.key_id.clone(),
        scopes: OPERATOR_SCOPES.iter().map(|s| s.to_string()).collect(),
        device_id: p.device_id.clone(),
    })
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// True when the browser reached us over https (directly or through a proxy that says so).
pub(crate) fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

fn set_cookie(headers: &HeaderMap, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if is_https(headers) { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&cookie).expect("the cookie is ASCII without control characters")
}

type SessionRow = (String, String, i64, String, String, Option<String>);

/// The session the request's cookie names, when it is live and its key is not revoked.
pub(crate) async fn current(d: &Dash, headers: &HeaderMap) -> Result<Option<Session>, sqlx::Error> {
    let Some(token) = cookie_token(headers) else {
        return Ok(None);
    };
    let id = sha256_hex(token.as_bytes());
    let row: Option<SessionRow> = sqlx::query_as(
        "SELECT s.csrf, s.key_id, s.expires_at, k.name, k.scopes, k.device_id FROM dashboard_sessions s JOIN api_keys k ON k.id = s.key_id AND k.hash = s.key_hash WHERE s.id = $1 AND k.revoked_at IS NULL AND k.disabled_at IS NULL",
    )
    .bind(&id)
    .fetch_optional(&d.st.db.pool)
    .await?;
    let Some((csrf, key_id, expires_at, key_name, scopes, device_id)) = row else {
        return Ok(None);
    };
    if expires_at <= now_ms() {
        return Ok(None);
    }
    let key = Principal {
        key_id,
        scopes: serde_json::from_str(&scopes).unwrap_or_default(),
        device_id,
    };
    Ok(dashboard_principal(&key).map(|principal| Session {
        id,
        key_name,
        csrf,
        principal,
    }))
}

/// Pages need a session: without one, the browser is sent to the login form.
impl FromRequestParts<Dash> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, d: &Dash) -> Result<Self, Response> {
        match current(d, &parts.headers).await {
            Ok(Some(s)) => Ok(s),
            Ok(None) => Err(redirect("/dashboard/login")),
            Err(e) => {
                tracing::error!(error = %e, "dashboard session lookup failed");
                Err(super::plain_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The database did not answer. Try again in a moment.",
                ))
            }
        }
    }
}

fn login_form(flash: Option<Flash>) -> String {
    let body = format!(
        r#"<form class="card login" method="post" action="/dashboard/login">
<h1>Sign in to Wasap</h1>
<p class="muted">Paste an API key with the <code>dashboard</code> or <code>admin:*</code> scope. The admin key is printed once when the gateway first starts.</p>
{flash}
<label>API key<input type="password" name="key" autocomplete="current-password" required autofocus spellcheck="false"></label>
<button type="submit">Sign in</button>
</form>"#,
        flash = html::flash(flash.as_ref()),
    );
    html::bare_page("Sign in · Wasap", &body)
}

/// `GET /dashboard/login`.
pub(crate) async fn login_page(State(d): State<Dash>, headers: HeaderMap) -> Response {
    if let Ok(Some(_)) = current(&d, &headers).await {
        return redirect("/dashboard");
    }
    html_response(StatusCode::OK, login_form(None))
}

/// `POST /dashboard/login`: checks the key, opens a session, sets the cookie.
pub(crate) async fn login(State(d): State<Dash>, headers: HeaderMap, form: Form) -> Response {
    let key = form.text("key");
    let refuse = |status: StatusCode, msg: &str| {
        html_response(status, login_form(Some(Flash::Err(msg.to_string()))))
    };
    let principal = match crate::auth::authenticate(&d.st, &key).await {
        Ok(p) if !key.is_empty() => p,
        Err(e) if e.status == StatusCode::TOO_MANY_REQUESTS => {
            return refuse(e.status, "This key is over its rate limit; wait a minute.");
        }
        Err(e) if e.status.is_server_error() => {
            return refuse(e.status, "The gateway could not check the key right now.");
        }
        _ => {
            if let Err(wait) =
                d.st.limiter
                    .check("dashboard:failed-logins", FAILED_LOGINS_PER_MINUTE)
            {
                return refuse(
                    StatusCode::TOO_MANY_REQUESTS,
                    &format!("Too many failed sign-ins; wait {wait} s."),
                );
            }
            return refuse(StatusCode::UNAUTHORIZED, "That key is not valid.");
        }
    };
    if dashboard_principal(&principal).is_none() {
        return refuse(
            StatusCode::FORBIDDEN,
            "This key may not open the dashboard: it needs the dashboard or admin:* scope.",
        );
    }
    let token = random_token();
    let now = now_ms();
    let pool = &d.st.db.pool;
    // Expired rows are swept here rather than by a timer: logins are rare.
    let swept = sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(pool)
        .await;
    let opened = match swept {
        Ok(_) => sqlx::query("INSERT INTO dashboard_sessions (id, key_id, key_hash, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(sha256_hex(token.as_bytes()))
            .bind(&principal.key_id)
            .bind(sha256_hex(key.as_bytes()))
            .bind(random_token())
            .bind(now)
            .bind(now + LIFETIME_MS)
            .execute(pool)
            .await,
        Err(e) => Err(e),
    };
    if let Err(e) = opened {
        tracing::error!(error = %e, "opening a dashboard session failed");
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The gateway could not open a session right now.",
        );
    }
    tracing::info!(key_id = %principal.key_id, "dashboard sign-in");
    let mut r = redirect("/dashboard");
    r.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(&headers, &token, LIFETIME_MS / 1000),
    );
    r
}

/// `POST /dashboard/logout`: deletes the session and the cookie.
pub(crate) async fn logout(State(d): State<Dash>, headers: HeaderMap, form: Form) -> Response {
    if let Ok(Some(s)) = current(&d, &headers).await {
        if let Some(r) = s.csrf_refusal(&form) {
            return r;
        }
        if let Err(e) = sqlx::query("DELETE FROM dashboard_sessions WHERE id = $1")
            .bind(&s.id)
            .execute(&d.st.db.pool)
            .await
        {
            tracing::error!(error = %e, "closing a dashboard session failed");
            return super::plain_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The session could not be closed; try again.",
            );
        }
    }
    let mut r = redirect("/dashboard/login");
    r.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&headers, "", 0));
    r
}

/// The hidden CSRF field every POST form of a page carries.
pub(crate) fn csrf_field(s: &Session) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(&s.csrf)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(scopes: &[&str]) -> Principal {
        Principal {
            key_id: "key_1".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            device_id: None,
        }
    }

    #[test]
    fn only_admin_and_dashboard_keys_may_sign_in() {
        assert!(dashboard_principal(&key(&["admin:*"])).is_some());
        assert!(dashboard_principal(&key(&["dashboard"])).is_some());
        assert!(dashboard_principal(&key(&["devices:write", "messages:send"])).is_none());
    }

    #[test]
    fn a_dashboard_key_acts_with_every_scope_but_admin() {
        let p = dashboard_principal(&key(&["dashboard"])).unwrap();
        assert!(p.require("devices:write").is_ok());
        assert!(p.require("webhooks:write").is_ok());
        assert!(p.require("admin:*").is_err());
    }

    #[test]
    fn the_cookie_is_found_among_others_and_is_strict_and_http_only() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; wasap_session=tok; b=2"),
        );
        assert_eq!(cookie_token(&h).as_deref(), Some("tok"));
        let c = set_cookie(&h, "tok", 60);
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict"));
        assert!(!c.contains("Secure"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(
            set_cookie(&h, "tok", 60)
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
    }
}
