//! Webhooks (`/dashboard/webhooks`): subscriptions (create, enable or disable, delete; the
//! signing secret shown once), each with its delivery log and redelivery of one delivery or
//! of every dead letter, through the native webhook routes.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::html::{badge, button_form, esc, esc_v, options, secret_once, time, url_part};
use super::session::csrf_field;
use super::{Dash, Flash, Form, Session, error_page, notice_of, redirect, render_page};
use crate::error::ApiError;
use crate::events::EVENT_TYPES;

/// `GET /dashboard/webhooks`.
pub(crate) async fn page(
    State(d): State<Dash>,
    s: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    render(&d, &s, notice_of(&q), StatusCode::OK, "").await
}

async fn render(
    d: &Dash,
    s: &Session,
    flash: Option<Flash>,
    status: StatusCode,
    top: &str,
) -> Response {
    let data = async {
        let hooks = d.list(&s.principal, "/v1/webhooks").await?;
        let devices = d.list(&s.principal, "/v1/devices").await?;
        Ok::<_, ApiError>((hooks, devices))
    }
    .await;
    let (hooks, devices) = match data {
        Ok(v) => v,
        Err(e) => return error_page(s, "Webhooks", "/dashboard/webhooks", &e),
    };
    let names: HashMap<&str, &str> = devices
        .iter()
        .filter_map(|v| Some((v["id"].as_str()?, v["name"].as_str()?)))
        .collect();
    let rows: String = hooks
        .iter()
        .map(|h| {
            let id = h["id"].as_str().unwrap_or_default();
            let device = match h["device_id"].as_str() {
                Some(dev) => esc(names.get(dev).copied().unwrap_or(dev)),
                None => "All devices".to_string(),
            };
            let events: Vec<String> = h["events"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(esc_v)
                .collect();
            let state = if h["enabled"] == true { "Enabled" } else { "Disabled" };
            format!(
                r#"<tr><td data-label="URL"><a href="/dashboard/webhooks/{uid}"><code class="clip">{url}</code></a></td><td data-label="Device">{device}</td><td data-label="Events">{events}</td><td data-label="Format">{format}</td><td data-label="State">{state}</td><td data-label="Action"><a class="button small secondary" href="/dashboard/webhooks/{uid}">Deliveries</a></td></tr>"#,
                uid = url_part(id),
                url = esc_v(&h["url"]),
                events = events.join(", "),
                format = esc_v(&h["format"]),
            )
        })
        .collect();
    let table = if rows.is_empty() {
        r#"<p class="empty">No webhooks yet.</p>"#.to_string()
    } else {
        format!(
            r#"<div class="table-wrap"><table class="responsive"><thead><tr><th>URL</th><th>Device</th><th>Events</th><th>Format</th><th>State</th><th>Action</th></tr></thead><tbody>{rows}</tbody></table></div>"#
        )
    };
    let mut dev_opts = Vec::new();
    if s.principal.device_id.is_none() {
        dev_opts.push((String::new(), "All devices".to_string()));
    }
    dev_opts.extend(devices.iter().map(|v| {
        (
            v["id"].as_str().unwrap_or_default().to_string(),
            v["name"].as_str().unwrap_or_default().to_string(),
        )
    }));
    let event_boxes: String = std::iter::once("*")
        .chain(EVENT_TYPES.iter().copied())
        .map(|e| {
            let (label, checked) = if e == "*" {
                ("every event", " checked")
            } else {
                (e, "")
            };
            format!(
                r#"<label class="check"><input type="checkbox" name="events" value="{e}"{checked}> {label}</label>"#
            )
        })
        .collect();
    let body = format!(
        r#"{top}<form class="card grid-form" method="post" action="/dashboard/webhooks">{csrf}<h2 class="wide">New webhook</h2>
<label class="wide">URL<input name="url" type="url" required placeholder="https://example.com/wasap-webhook"></label>
<label>Device<select name="device_id">{devs}</select></label>
<label>Format<select name="format"><option value="standard">Wasap (standard)</option><option value="satuapps">SatuApps</option></select></label>
<fieldset class="wide"><legend>Events</legend><div class="checks">{event_boxes}</div></fieldset>
<div class="wide"><button type="submit">Add webhook</button></div></form>
<section class="card"><h2>Webhooks</h2>{table}</section>"#,
        csrf = csrf_field(s),
        devs = options(&dev_opts, ""),
    );
    render_page(
        s,
        "Webhooks",
        "/dashboard/webhooks",
        flash,
        None,
        status,
        &body,
    )
}

/// `POST /dashboard/webhooks`: creates one; its signing secret is shown once.
pub(crate) async fn create(State(d): State<Dash>, s: Session, form: Form) -> Response {
    if let Some(r) = s.csrf_refusal(&form) {
        return r;
    }
    let mut events = form.all("events");
    if events.iter().any(|e| e == "*") {
        events = vec!["*".into()];
    }
    let mut body =
        json!({ "url": form.text("url"), "events": events, "format": form.text("format") });
    if let Some(dev) = form.opt("device_id") {
        body["device_id"] = dev.into();
    }
    match d.post(&s.principal, "/v1/webhooks", body).await {
        Ok(v) => {
            let top = secret_once(
                "Signing secret",
                v["secret"].as_str().unwrap_or_default(),
                "Shown only now. The receiver checks each delivery's signature with it (see docs/webhooks.md).",
            );
            render(
                &d,
                &s,
                Some(Flash::Ok("Webhook added.".into())),
                StatusCode::OK,
                &top,
            )
            .await
        }
        Err(e) => {
            render(
                &d,
                &s,
                Some(Flash::from_api(&e)),
                StatusCode::BAD_REQUEST,
                "",
            )
            .await
        }
    }
}

/// `GET /dashboard/webhooks/{id}`: settings and the delivery log.
pub(crate) async fn detail(
    State(d): State<Dash>,
    s: Session,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    render_detail(&d, &s, &id, &q, notice_of(&q), StatusCode::OK).await
}

async fn render_detail(
    d: &Dash,
    s: &Session,
    id: &str,
    q: &HashMap<String, String>,
    flash: Option<Flash>,
    status: StatusCode,
) -> Response {
    let uid = url_part(id);
    let filter = q.get("status").map(String::as_str).unwrap_or("");
    let mut flash = flash;
    let hook = match d.get(&s.principal, &format!("/v1/webhooks/{uid}")).await {
        Ok(v) => v,
        Err(e) => return error_page(s, "Webhook", "/dashboard/webhooks", &e),
    };
    let path = if filter.is_empty() {
        format!("/v1/webhooks/{uid}/deliveries?limit=100")
    } else {
        format!(
            "/v1/webhooks/{uid}/deliveries?limit=100&status={}",
            url_part(filter)
        )
    };
    let deliveries = match d.list(&s.principal, &path).await {
        Ok(v) => v,
        Err(e) => {
            flash = Some(Flash::from_api(&e));
            Vec::new()
        }
    };
    let rows: String = deliveries
        .iter()
        .map(|dl| delivery_row(s, &uid, dl))
        .collect();
    let table = if rows.is_empty() {
        r#"<p class="empty">No deliveries yet.</p>"#.to_string()
    } else {
        format!(
            r#"<div class="table-wrap"><table class="responsive"><thead><tr><th>Created</th><th>Event</th><th>Status</th><th>Attempts</th><th>Last answer</th><th>Action</th></tr></thead><tbody>{rows}</tbody></table></div>"#
        )
    };
    let enabled = hook["enabled"] == true;
    let filter_opts: Vec<(String, String)> = [
        ("", "Any status"),
        ("pending", "Pending"),
        ("delivered", "Delivered"),
        ("dead", "Dead letters"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    let body = format!(
        r#"<section class="card"><dl class="facts"><div><dt>URL</dt><dd><code class="clip">{url}</code></dd></div><div><dt>Events</dt><dd>{events}</dd></div><div><dt>Format</dt><dd>{format}</dd></div><div><dt>State</dt><dd>{state}</dd></div></dl>
<div class="actions">{toggle}{dead}{delete}</div></section>
<section class="card"><div class="section-head"><h2>Delivery log</h2><form method="get" class="filters"><label>Status<select name="status">{fopts}</select></label><button type="submit" class="secondary small">Filter</button></form></div>{table}</section>"#,
        url = esc_v(&hook["url"]),
        events = hook["events"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(esc_v)
            .collect::<Vec<_>>()
            .join(", "),
        format = esc_v(&hook["format"]),
        state = if enabled { "Enabled" } else { "Disabled" },
        toggle = button_form(
            s,
            &format!(
                "/dashboard/webhooks/{uid}/{}",
                if enabled { "disable" } else { "enable" }
            ),
            if enabled { "Disable" } else { "Enable" },
            "secondary",
            None
        ),
        dead = button_form(
            s,
            &format!("/dashboard/webhooks/{uid}/redeliver-dead"),
            "Redeliver dead letters",
            "secondary",
            None
        ),
        delete = button_form(
            s,
            &format!("/dashboard/webhooks/{uid}/delete"),
            "Delete",
            "danger",
            Some("Delete this webhook? Pending deliveries are dropped.")
        ),
        fopts = options(&filter_opts, filter),
    );
    render_page(
        s,
        "Webhook",
        "/dashboard/webhooks",
        flash,
        None,
        status,
        &body,
    )
}

fn delivery_row(s: &Session, uid: &str, dl: &Value) -> String {
    let status = dl["status"].as_str().unwrap_or("");
    let answer = match (dl["last_status_code"].as_i64(), dl["last_error"].as_str()) {
        (Some(c), _) => format!("HTTP {c}"),
        (None, Some(e)) => esc(e),
        (None, None) => r#"<span class="muted">—</span>"#.to_string(),
    };
    let action = if status == "pending" {
        r#"<span class="muted small">in progress</span>"#.to_string()
    } else {
        button_form(
            s,
            &format!(
                "/dashboard/webhooks/{uid}/deliveries/{}/redeliver",
                url_part(dl["id"].as_str().unwrap_or_default())
            ),
            "Redeliver",
            "small secondary",
            None,
        )
    };
    format!(
        r#"<tr><td data-label="Created">{created}</td><td data-label="Event"><code>{event}</code></td><td data-label="Status">{badge}</td><td data-label="Attempts">{attempts}</td><td data-label="Last answer">{answer}</td><td data-label="Action">{action}</td></tr>"#,
        created = time(&dl["created_at"]),
        event = esc_v(&dl["event_id"]),
        badge = badge(status, None),
        attempts = dl["attempts"].as_i64().unwrap_or(0),
    )
}

/// `POST /dashboard/webhooks/{id}/{action}`: enable, disable, redeliver-dead, delete.
pub(crate) async fn action(
    State(d): State<Dash>,
    s: Session,
    Path((id, action)): Path<(String, String)>,
    form: Form,
) -> Response {
    if let Some(r) = s.csrf_refusal(&form) {
        return r;
    }
    let uid = url_part(&id);
    let p = &s.principal;
    let path = format!("/v1/webhooks/{uid}");
    let (result, done) = match action.as_str() {
        "enable" | "disable" => (
            d.call(
                p,
                Method::PATCH,
                &path,
                Some(json!({ "enabled": action == "enable" })),
            )
            .await,
            "saved",
        ),
        "redeliver-dead" => (
            d.call(p, Method::POST, &format!("{path}/redeliver"), None)
                .await,
            "requeued",
        ),
        "delete" => {
            return match d.call(p, Method::DELETE, &path, None).await {
                Ok(_) => redirect("/dashboard/webhooks?done=deleted"),
                Err(e) => {
                    render_detail(
                        &d,
                        &s,
                        &id,
                        &HashMap::new(),
                        Some(Flash::from_api(&e)),
                        e.status,
                    )
                    .await
                }
            };
        }
        _ => return super::plain_error(StatusCode::NOT_FOUND, "No such action."),
    };
    match result {
        Ok(_) => redirect(&format!("/dashboard/webhooks/{uid}?done={done}")),
        Err(e) => {
            render_detail(
                &d,
                &s,
                &id,
                &HashMap::new(),
                Some(Flash::from_api(&e)),
                e.status,
            )
            .await
        }
    }
}

/// `POST /dashboard/webhooks/{id}/deliveries/{delivery}/redeliver`.
pub(crate) async fn redeliver_one(
    State(d): State<Dash>,
    s: Session,
    Path((id, delivery)): Path<(String, String)>,
    form: Form,
) -> Response {
    if let Some(r) = s.csrf_refusal(&form) {
        return r;
    }
    let uid = url_part(&id);
    let path = format!(
        "/v1/webhooks/{uid}/deliveries/{}/redeliver",
        url_part(&delivery)
    );
    match d.call(&s.principal, Method::POST, &path, None).await {
        Ok(_) => redirect(&format!("/dashboard/webhooks/{uid}?done=requeued")),
        Err(e) => {
            render_detail(
                &d,
                &s,
                &id,
                &HashMap::new(),
                Some(Flash::from_api(&e)),
                e.status,
            )
            .await
        }
    }
}
