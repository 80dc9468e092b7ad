//! The web dashboard at `/dashboard` (and `/`, which leads there): server-rendered HTML pages
//! over the gateway's own API, behind a login with an `admin:*` or `dashboard` API key.
//!
//! This module owns the routes, the security headers, the form extractor and the static
//! assets. Sessions and CSRF tokens live in [`session`]; every page reads and writes through
//! the `/v1` routes called in-process with the session's principal ([`inproc`]), so the
//! dashboard has no second implementation of anything the API does.

mod contacts;
mod csv;
mod devices;
mod groups;
mod html;
mod inproc;
mod keys;
mod messages;
mod overview;
// Also draws the API's `GET /v1/devices/{id}/qr?format=svg`.
pub(crate) mod qr;
mod session;
mod webhooks;

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{FromRequest, Path, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;

use crate::error::{ApiError, HumanPage};
use crate::state::AppState;

pub(crate) use session::Session;

/// What every dashboard handler shares: the gateway state and the API router it calls
/// in-process.
#[derive(Clone)]
pub(crate) struct Dash {
    st: AppState,
    api: Router,
}

/// The stylesheet, script and icon, named by a hash of their content so they can be cached forever.
pub(crate) struct Assets {
    css_name: String,
    js_name: String,
    icon_name: String,
}

const CSS: &str = include_str!("assets/dashboard.css");
const JS: &str = include_str!("assets/dashboard.js");
const ICON: &str = include_str!("assets/icon.svg");

/// The asset names, computed once.
pub(crate) fn assets() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let short = |s: &str| crate::util::sha256_hex(s.as_bytes())[..12].to_string();
        Assets {
            css_name: format!("dashboard-{}.css", short(CSS)),
            js_name: format!("dashboard-{}.js", short(JS)),
            icon_name: format!("icon-{}.svg", short(ICON)),
        }
    })
}

/// The dashboard routes with their state applied, ready to merge into the gateway's router.
pub fn routes(st: &AppState) -> Router<AppState> {
    let dash = Dash {
        st: st.clone(),
        api: crate::api::routes(st).with_state(st.clone()),
    };
    Router::new()
        .route("/", get(|| async { redirect("/dashboard") }))
        .route("/dashboard", get(overview::page))
        .route(
            "/dashboard/login",
            get(session::login_page).post(session::login),
        )
        .route("/dashboard/logout", post(session::logout))
        .route("/dashboard/live", get(devices::live))
        .route(
            "/dashboard/devices",
            get(devices::list_page).post(devices::create),
        )
        .route("/dashboard/devices/{id}", get(devices::page))
        .route("/dashboard/devices/{id}/qr.svg", get(devices::qr_svg))
        .route("/dashboard/devices/{id}/{action}", post(devices::action))
        .route(
            "/dashboard/messages",
            get(messages::page).post(messages::send),
        )
        .route(
            "/dashboard/contacts",
            get(contacts::page).post(contacts::create),
        )
        .route("/dashboard/contacts/import", post(contacts::import))
        .route(
            "/dashboard/contacts/{id}",
            get(contacts::edit_page).post(contacts::update),
        )
        .route("/dashboard/contacts/{id}/delete", post(contacts::remove))
        .route("/dashboard/groups", get(groups::page).post(groups::create))
        .route(
            "/dashboard/groups/{id}",
            get(groups::edit_page).post(groups::update),
        )
        .route("/dashboard/groups/{id}/delete", post(groups::remove))
        .route(
            "/dashboard/webhooks",
            get(webhooks::page).post(webhooks::create),
        )
        .route("/dashboard/webhooks/{id}", get(webhooks::detail))
        .route("/dashboard/webhooks/{id}/{action}", post(webhooks::action))
        .route(
            "/dashboard/webhooks/{id}/deliveries/{delivery}/redeliver",
            post(webhooks::redeliver_one),
        )
        .route("/dashboard/keys", get(keys::page).post(keys::create))
        .route("/dashboard/keys/{id}/revoke", post(keys::revoke))
        .route("/dashboard/assets/{name}", get(asset))
        .layer(middleware::from_fn(same_origin_posts))
        .layer(middleware::from_fn(security_headers))
        .with_state(dash)
}

/// Headers on every dashboard response: a strict content security policy (our own script
/// and style only, nothing inline), no framing, no MIME sniffing, no referrer to elsewhere.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// Refuses a POST sent by another site's page: when the browser names the origin, its host
/// must be ours (the `Host` header, or `X-Forwarded-Host` behind a proxy that rewrites
/// `Host`). The session cookie is SameSite=Strict and every form carries the session's CSRF
/// token as well; this also covers the login form, which has no session yet.
async fn same_origin_posts(req: Request, next: Next) -> Response {
    if req.method() == Method::POST
        && let Some(origin) = req.headers().get(header::ORIGIN)
    {
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .map(|(_, rest)| rest.trim_end_matches('/'))
            .unwrap_or("");
        let ours = [header::HOST.as_str(), "x-forwarded-host"]
            .iter()
            .filter_map(|h| req.headers().get(*h))
            .filter_map(|v| v.to_str().ok())
            .any(|host| !origin_host.is_empty() && origin_host.eq_ignore_ascii_case(host.trim()));
        if !ours {
            return plain_error(
                StatusCode::FORBIDDEN,
                "This form was sent from another site.",
            );
        }
    }
    next.run(req).await
}

async fn asset(Path(name): Path<String>) -> Response {
    let (body, ctype) = if name == assets().css_name {
        (CSS, "text/css; charset=utf-8")
    } else if name == assets().js_name {
        (JS, "text/javascript; charset=utf-8")
    } else if name == assets().icon_name {
        (ICON, "image/svg+xml")
    } else {
        return plain_error(StatusCode::NOT_FOUND, "No such file.");
    };
    (
        [
            (header::CONTENT_TYPE, ctype),
            // The name changes with the content.
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}

/// An HTML page response (never cached: pages show live state and secrets shown once).
pub(crate) fn html_response(status: StatusCode, body: String) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    r.extensions_mut().insert(HumanPage);
    r
}

/// A bare error page, for failures before any page can be drawn.
pub(crate) fn plain_error(status: StatusCode, message: &str) -> Response {
    html_response(status, html::bare_page("Wasap", message))
}

/// 303 to `to` (a path of ours).
pub(crate) fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// A message shown at the top of a page.
#[derive(Debug, Clone)]
pub(crate) enum Flash {
    /// Something worked.
    Ok(String),
    /// Something failed.
    Err(String),
}

impl Flash {
    /// The failure of an API call, in words for a person.
    pub(crate) fn from_api(e: &ApiError) -> Flash {
        let mut m = e.message.clone();
        if let Some(f) = &e.field {
            m = format!("{f}: {m}");
        }
        Flash::Err(m)
    }
}

/// The notices a redirect after a successful form may ask for (`?done=<code>`): a fixed
/// list, so a link cannot make the page say something of its choosing.
pub(crate) fn done_notice(code: Option<&str>) -> Option<Flash> {
    let text = match code? {
        "created" => "Created.",
        "saved" => "Saved.",
        "deleted" => "Deleted.",
        "queued" => "Message queued. Its status updates below as WhatsApp reports it.",
        "connecting" => "Connecting…",
        "reconnecting" => "Reconnecting…",
        "logged_out" => "Logged out from WhatsApp.",
        "revoked" => "Key revoked.",
        "requeued" => "Queued for redelivery.",
        "webhook_removed" => "Webhook removed.",
        _ => return None,
    };
    Some(Flash::Ok(text.to_string()))
}

/// A urlencoded form body (`application/x-www-form-urlencoded`), kept as ordered pairs so
/// repeated fields (checkboxes) survive.
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    /// The first value of `name`, trimmed; empty when absent.
    pub(crate) fn text(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    }
    /// The first value of `name` as given, `None` when absent.
    pub(crate) fn raw(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// Every value of `name`.
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
    /// The non-empty trimmed value of `name`.
    pub(crate) fn opt(&self, name: &str) -> Option<String> {
        Some(self.text(name)).filter(|s| !s.is_empty())
    }
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Err(plain_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expected a form.",
            ));
        }
        let body = Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                plain_error(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.")
            } else {
                plain_error(StatusCode::BAD_REQUEST, "The form could not be read.")
            }
        })?;
        Ok(Form(
            url::form_urlencoded::parse(&body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

/// The API server's base URL as the browser reached it (shown on the overview).
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if session::is_https(headers) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// A complete dashboard page with `body` (markup) in the frame.
pub(crate) fn render_page(
    s: &Session,
    title: &str,
    nav: &str,
    flash: Option<Flash>,
    canonical: Option<String>,
    status: StatusCode,
    body: &str,
) -> Response {
    html_response(
        status,
        html::page(
            html::Frame {
                s,
                title,
                nav,
                flash,
                canonical,
            },
            body,
        ),
    )
}

/// A page that could not load its data: the frame with the failure.
pub(crate) fn error_page(s: &Session, title: &str, nav: &str, e: &ApiError) -> Response {
    render_page(s, title, nav, Some(Flash::from_api(e)), None, e.status, "")
}

/// The `?done=` notice of a query.
pub(crate) fn notice_of(q: &std::collections::HashMap<String, String>) -> Option<Flash> {
    done_notice(q.get("done").map(String::as_str))
}
