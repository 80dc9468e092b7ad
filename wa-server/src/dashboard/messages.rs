//! Messages (`/dashboard/messages`): send a test text from a device, and the message log with
//! its statuses, filtered by device, direction, status and chat, paged with the API's cursor.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::html::{badge, esc, esc_v, options, time, url_part};
use super::session::csrf_field;
use super::{Dash, Flash, Form, Session, error_page, notice_of, redirect, render_page};
use crate::demo::DEMO_CONTACTS;
use crate::error::ApiError;

const FILTERS: &[&str] = &["device_id", "direction", "status", "chat"];

/// `GET /dashboard/messages`.
pub(crate) async fn page(
    State(d): State<Dash>,
    s: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    render(&d, &s, &q, notice_of(&q), StatusCode::OK, None).await
}

/// What the send form held, to show it again after a failure.
#[derive(Default)]
pub(crate) struct Draft {
    device: String,
    to: String,
    text: String,
}

fn device_options(devices: &[Value]) -> Vec<(String, String)> {
    devices
        .iter()
        .map(|v| {
            let id = v["id"].as_str().unwrap_or_default().to_string();
            let label = format!(
                "{} ({})",
                v["name"].as_str().unwrap_or(&id),
                super::html::status_label(v["status"].as_str().unwrap_or(""))
            );
            (id, label)
        })
        .collect()
}

/// The "send a test message" card (also on the overview).
pub(crate) fn send_form(
    s: &Session,
    devices: &[Value],
    contacts: &[Value],
    draft: &Draft,
) -> String {
    if devices.is_empty() {
        return r#"<section class="card"><h2>Send a test message</h2><p class="empty">Add and link a device first.</p></section>"#.to_string();
    }
    // Preselect the device named, else the first one online.
    let picked = if draft.device.is_empty() {
        devices
            .iter()
            .find(|v| v["status"] == "online")
            .and_then(|v| v["id"].as_str())
            .unwrap_or("")
    } else {
        draft.device.as_str()
    };
    let mut suggestions: Vec<(String, String)> = contacts
        .iter()
        .map(|c| (esc_v(&c["phone"]), esc_v(&c["name"])))
        .collect();
    for n in DEMO_CONTACTS {
        suggestions.push((n.to_string(), "demo contact (echoes every text)".into()));
    }
    let datalist: String = suggestions
        .iter()
        .map(|(v, l)| format!(r#"<option value="{v}">{l}</option>"#))
        .collect();
    format!(
        r#"<section class="card"><h2>Send a test message</h2><form method="post" action="/dashboard/messages" class="grid-form">{csrf}
<label>From device<select name="device_id" required>{opts}</select></label>
<label>To (phone number with country code)<input name="to" list="recipients" inputmode="tel" required value="{to}" placeholder="6281100000001"></label><datalist id="recipients">{datalist}</datalist>
<label class="wide">Message<textarea name="text" rows="3" required maxlength="4096">{text}</textarea></label>
<div class="wide"><button type="submit">Send</button></div></form></section>"#,
        csrf = csrf_field(s),
        opts = options(&device_options(devices), picked),
        to = esc(&draft.to),
        text = esc(&draft.text),
    )
}

async fn render(
    d: &Dash,
    s: &Session,
    q: &HashMap<String, String>,
    flash: Option<Flash>,
    status: StatusCode,
    draft: Option<Draft>,
) -> Response {
    // The serializer is not Send; keep it out of the awaits below.
    let query = {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for f in FILTERS {
            if let Some(v) = q.get(*f).filter(|v| !v.is_empty()) {
                query.append_pair(f, v);
            }
        }
        if let Some(c) = q.get("cursor").filter(|v| !v.is_empty()) {
            query.append_pair("cursor", c);
        }
        query.append_pair("limit", "50");
        query.finish()
    };
    let mut flash = flash;
    let mut status = status;
    let data = async {
        let devices = d.list(&s.principal, "/v1/devices").await?;
        let contacts = d.list(&s.principal, "/v1/contacts").await?;
        Ok::<_, ApiError>((devices, contacts))
    }
    .await;
    let (devices, contacts) = match data {
        Ok(v) => v,
        Err(e) => return error_page(s, "Messages", "/dashboard/messages", &e),
    };
    let log = match d.get(&s.principal, &format!("/v1/messages?{query}")).await {
        Ok(v) => v,
        // A bad filter is the person's doing: show the page with the reason instead of a log.
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            flash = Some(Flash::from_api(&e));
            status = e.status;
            json!({ "data": [] })
        }
        Err(e) => return error_page(s, "Messages", "/dashboard/messages", &e),
    };
    let filter = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let device_opts = device_options(&devices);
    let draft = draft.unwrap_or(Draft {
        device: filter("device_id").to_string(),
        to: String::new(),
        text: String::new(),
    });
    let send = send_form(s, &devices, &contacts, &draft);
    let mut dev_filter = vec![(String::new(), "All devices".to_string())];
    dev_filter.extend(device_opts.iter().cloned());
    let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
        items
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let filters = format!(
        r#"<form method="get" action="/dashboard/messages" class="filters">
<label>Device<select name="device_id">{devs}</select></label>
<label>Direction<select name="direction">{dirs}</select></label>
<label>Status<select name="status">{stats}</select></label>
<label>Chat<input name="chat" value="{chat}" placeholder="number or JID"></label>
<button type="submit" class="secondary">Filter</button></form>"#,
        devs = options(&dev_filter, filter("device_id")),
        dirs = options(
            &pairs(&[("", "Both"), ("out", "Outgoing"), ("in", "Incoming")]),
            filter("direction")
        ),
        stats = options(
            &pairs(&[
                ("", "Any"),
                ("queued", "Queued"),
                ("sent", "Sent"),
                ("delivered", "Delivered"),
                ("read", "Read"),
                ("failed", "Failed"),
                ("received", "Received"),
            ]),
            filter("status")
        ),
        chat = esc(filter("chat")),
    );
    let names: HashMap<&str, &str> = devices
        .iter()
        .filter_map(|v| Some((v["id"].as_str()?, v["name"].as_str()?)))
        .collect();
    let rows: String = log["data"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|m| row(m, &names))
        .collect();
    let table = if rows.is_empty() {
        r#"<p class="empty">No messages match.</p>"#.to_string()
    } else {
        format!(
            r#"<div class="table-wrap"><table class="responsive log"><thead><tr><th>Time</th><th>Device</th><th>Direction</th><th>Chat</th><th>Content</th><th>Status</th></tr></thead><tbody>{rows}</tbody></table></div>"#
        )
    };
    let older = match log["next_cursor"].as_str() {
        Some(c) => {
            let more = {
                let mut more = url::form_urlencoded::Serializer::new(String::new());
                for f in FILTERS {
                    if let Some(v) = q.get(*f).filter(|v| !v.is_empty()) {
                        more.append_pair(f, v);
                    }
                }
                more.append_pair("cursor", c);
                more.finish()
            };
            format!(
                r#"<p class="pager"><a class="button secondary small" href="/dashboard/messages?{}">Older messages</a></p>"#,
                esc(&more)
            )
        }
        None => String::new(),
    };
    let body = format!(
        r#"{send}<section class="card" id="message-log"><div class="section-head"><h2>Message log</h2><a class="button small secondary" href="/dashboard/messages?{again}">Refresh</a></div>{filters}{table}{older}</section>"#,
        again = esc(&query.replace("&limit=50", "").replace("limit=50", "")),
    );
    render_page(
        s,
        "Messages",
        "/dashboard/messages",
        flash,
        None,
        status,
        &body,
    )
}

fn row(m: &Value, names: &HashMap<&str, &str>) -> String {
    let device = m["device_id"].as_str().unwrap_or_default();
    let out = m["direction"] == "out";
    let chat = m["chat"]
        .as_str()
        .map(|c| c.trim_end_matches("@s.whatsapp.net"))
        .unwrap_or_default();
    let content = match m["content"]["text"].as_str() {
        Some(t) => esc(t),
        None => format!(
            r#"<span class="muted">{}</span>"#,
            esc(m["type"].as_str().unwrap_or("message"))
        ),
    };
    let failure = m["failure_reason"]
        .as_str()
        .map(|r| format!(r#"<br><span class="small muted">{}</span>"#, esc(r)))
        .unwrap_or_default();
    format!(
        r#"<tr data-message-id="{id}" data-direction="{dir}" data-status="{status_raw}"><td data-label="Time">{time}</td><td data-label="Device"><a href="/dashboard/devices/{uid}">{dname}</a></td><td data-label="Direction">{arrow}</td><td data-label="Chat"><code>{chat}</code></td><td data-label="Content" class="content">{content}</td><td data-label="Status">{badge}{failure}</td></tr>"#,
        id = esc_v(&m["id"]),
        dir = if out { "out" } else { "in" },
        status_raw = esc_v(&m["status"]),
        time = time(&m["created_at"]),
        uid = url_part(device),
        dname = esc(names.get(device).copied().unwrap_or(device)),
        arrow = if out { "↑ Outgoing" } else { "↓ Incoming" },
        chat = esc(chat),
        badge = badge(m["status"].as_str().unwrap_or(""), None),
    )
}

/// `POST /dashboard/messages`: queues a text through the native send route.
pub(crate) async fn send(State(d): State<Dash>, s: Session, form: Form) -> Response {
    if let Some(r) = s.csrf_refusal(&form) {
        return r;
    }
    let device = form.text("device_id");
    let to = form.text("to");
    let text = form.raw("text").unwrap_or("").to_string();
    let sent = d
        .post(
            &s.principal,
            &format!("/v1/devices/{}/messages", url_part(&device)),
            json!({ "to": to, "text": text }),
        )
        .await;
    match sent {
        Ok(_) => redirect(&format!(
            "/dashboard/messages?device_id={}&done=queued",
            url_part(&device)
        )),
        Err(e) => {
            let q = HashMap::from([("device_id".to_string(), device.clone())]);
            let status = if e.status.is_server_error() {
                e.status
            } else {
                StatusCode::BAD_REQUEST
            };
            render(
                &d,
                &s,
                &q,
                Some(Flash::from_api(&e)),
                status,
                Some(Draft { device, to, text }),
            )
            .await
        }
    }
}
