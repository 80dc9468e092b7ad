//! Devices: the list with create, one device's page (live QR, pairing by phone code, status
//! and last seen, device token, webhook URL, reconnect, logout, delete, its WhatsApp groups),
//! the QR image and the small JSON document the script polls for live status.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::html::{self, badge, button_form, esc, esc_v, secret_once, time, url_part};
use super::session::csrf_field;
use super::{Dash, Flash, Form, Session, done_notice, error_page, redirect, render_page};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::util::now_ms;

/// Scopes of a device token: send and read messages of its device, read the device.
const TOKEN_SCOPES: &[&str] = &["messages:send", "messages:read", "devices:read"];

/// The dashboard itself, for the few API calls a session may cause but not make with its own
/// key: issuing and revoking device tokens (the person holds `devices:write` on the device).
fn system() -> Principal {
    Principal {
        key_id: "dashboard".into(),
        scopes: vec!["admin:*".into()],
        device_id: None,
    }
}

/// A device's live token: its key's clear prefix and when it was issued.
pub(crate) struct TokenInfo {
    prefix: String,
    created_at: i64,
}

/// The live device tokens by device id.
pub(crate) async fn tokens(d: &Dash) -> Result<HashMap<String, TokenInfo>, ApiError> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT t.device_id, k.prefix, t.created_at FROM device_tokens t JOIN api_keys k ON k.id = t.key_id WHERE k.revoked_at IS NULL",
    )
    .fetch_all(&d.st.db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(dev, prefix, created_at)| (dev, TokenInfo { prefix, created_at }))
        .collect())
}

/// The first webhook bound to each device (the device's "webhook URL").
pub(crate) async fn device_hooks(
    d: &Dash,
    s: &Session,
) -> Result<HashMap<String, Value>, ApiError> {
    let mut out = HashMap::new();
    for h in d.list(&s.principal, "/v1/webhooks").await? {
        if let Some(dev) = h["device_id"].as_str() {
            out.entry(dev.to_string()).or_insert(h);
        }
    }
    Ok(out)
}

/// Issues a new token for the device and revokes the one it had; returns the new key.
async fn rotate_token(d: &Dash, s: &Session, device: &Value) -> Result<String, ApiError> {
    s.principal.require("devices:write")?;
    let id = device["id"].as_str().unwrap_or_default();
    let name: String = format!("Device token: {}", device["name"].as_str().unwrap_or(id))
        .chars()
        .take(100)
        .collect();
    let created = d
        .post(
            &system(),
            "/v1/keys",
            json!({ "name": name, "scopes": TOKEN_SCOPES, "device_id": id }),
        )
        .await?;
    let (Some(new_id), Some(key)) = (created["id"].as_str(), created["key"].as_str()) else {
        return Err(ApiError::internal("key creation answered without a key"));
    };
    let mut tx = d.st.db.begin_write().await?;
    let old: Option<(String,)> =
        sqlx::query_as("SELECT key_id FROM device_tokens WHERE device_id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    sqlx::query("DELETE FROM device_tokens WHERE device_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO device_tokens (device_id, key_id, created_at) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(new_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if let Some((old,)) = old {
        revoke_key(d, &old).await?;
    }
    Ok(key.to_string())
}

async fn revoke_key(d: &Dash, key_id: &str) -> Result<(), ApiError> {
    match d
        .call(
            &system(),
            Method::DELETE,
            &format!("/v1/keys/{}", url_part(key_id)),
            None,
        )
        .await
    {
        Ok(_) => Ok(()),
        // Already revoked (e.g. on the API keys page).
        Err(e) if e.status == StatusCode::NOT_FOUND => Ok(()),
        Err(e) => Err(e),
    }
}

/// The devices table of the overview and the devices page.
pub(crate) fn table(
    devices: &[Value],
    tokens: &HashMap<String, TokenInfo>,
    hooks: &HashMap<String, Value>,
) -> String {
    if devices.is_empty() {
        return r#"<p class="empty">No devices yet. Add one to link a WhatsApp account.</p>"#
            .to_string();
    }
    let rows: String = devices
        .iter()
        .map(|dev| {
            let id = dev["id"].as_str().unwrap_or_default();
            let profile = match (dev["push_name"].as_str(), dev["phone"].as_str()) {
                (Some(n), Some(p)) => format!("{} · +{}", esc(n), esc(p)),
                (None, Some(p)) => format!("+{}", esc(p)),
                _ => r#"<span class="muted">not linked</span>"#.to_string(),
            };
            let hook = hooks
                .get(id)
                .map(|h| format!(r#"<code class="clip">{}</code>"#, esc_v(&h["url"])))
                .unwrap_or_else(|| r#"<span class="muted">none</span>"#.to_string());
            let token = tokens
                .get(id)
                .map(|t| format!("<code>{}…</code>", esc(&t.prefix)))
                .unwrap_or_else(|| r#"<span class="muted">none</span>"#.to_string());
            format!(
                r#"<tr><td data-label="Device"><a href="/dashboard/devices/{uid}"><strong>{name}</strong></a><br><span class="small" data-device-phone="{eid}">{profile}</span></td><td data-label="Webhook URL">{hook}</td><td data-label="Security token">{token}</td><td data-label="Status">{badge}<br><span class="small muted" data-device-seen="{eid}">{seen}</span></td><td data-label="Action"><a class="button small" href="/dashboard/devices/{uid}">Open</a></td></tr>"#,
                uid = url_part(id),
                eid = esc(id),
                name = esc_v(&dev["name"]),
                badge = badge(dev["status"].as_str().unwrap_or(""), Some(id)),
                seen = time(&dev["last_seen_at"]),
            )
        })
        .collect();
    format!(
        r#"<div class="table-wrap"><table class="responsive"><thead><tr><th>Device / profile</th><th>Webhook URL</th><th>Security token</th><th>Status</th><th>Action</th></tr></thead><tbody>{rows}</tbody></table></div>"#
    )
}

/// `GET /dashboard/devices`.
pub(crate) async fn list_page(
    State(d): State<Dash>,
    s: Session,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    render_list(
        &d,
        &s,
        done_notice(q.get("done").map(String::as_str)),
        StatusCode::OK,
    )
    .await
}

async fn render_list(d: &Dash, s: &Session, flash: Option<Flash>, status: StatusCode) -> Response {
    let data = async {
        let devices = d.list(&s.principal, "/v1/devices").await?;
        Ok::<_, ApiError>((devices, tokens(d).await?, device_hooks(d, s).await?))
    }
    .await;
    let (devices, tokens, hooks) = match data {
        Ok(v) => v,
        Err(e) => return error_page(s, "Devices", "/dashboard/devices", &e),
    };
    let create = if s.principal.device_id.is_none() {
        format!(
            r#"<form class="card row-form" method="post" action="/dashboard/devices">{}<label>New device name<input name="name" required maxlength="100" placeholder="e.g. Shop front desk"></label><button type="submit">Add device</button></form>"#,
            csrf_field(s)
        )
    } else {
        String::new()
    };
    let body = format!(
        "{create}<section class=\"card\">{}</section>",
        table(&devices, &tokens, &hooks)
    );
    render_page(
        s,
        "Devices",
        "/dashboard/devices",
        flash,
        None,
        status,
        &body,
    )
}

/// `POST /dashboard/devices`: creates the device, issues its token (shown once) and connects
/// it, then shows its page with the QR code.
pub(crate) async fn create(State(d): State<Dash>, s: Session, form: Form) -> Response {
    if let Some(r) = s.csrf_refusal(&form) {
        return r;
    }
    let created = d
        .post(
            &s.principal,
            "/v1/devices",
            json!({ "name": form.text("name") }),
        )
        .await;
    let dev = match created {
        Ok(v) => v,
        Err(e) => return render_list(&d, &s, Some(Flash::from_api(&e)), e.status).await,
    };
    let id = dev["id"].as_str().unwrap_or_default().to_string();
    let mut top = String::new();
    let mut flash = Some(Flash::Ok(
        "Device added. Scan the QR code to link it.".into(),
    ));
    match rotate_token(&d, &s, &dev).await {
        Ok(key) => top = token_box(&key),
        Err(e) => flash = Some(Flash::from_api(&e)),
    }
    if let Err(e) = d
        .call(
            &s.principal,
            Method::POST,
            &format!("/v1/devices/{}/connect", url_part(&id)),
            None,
        )
        .await
    {
        flash = Some(Flash::from_api(&e));
    }
    render_device(&d, &s, &id, flash, &top, StatusCode::CREATED).await
}

fn token_box(key: &str) -> String {
    secret_once(
        "Device token",
        key,
        "Shown only now. Use it as the Bearer token (or Fonnte-style token) of this device: it can send and read this device's messages. Rotating it revokes this one.",
    )
}

/// `GET /dashboard/devices/{id}`.
pub(crate) async fn page(
    State(d): State<Dash>,
    s: Session,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let flash = done_notice(q.get("done").map(String::as_str));
    render_device(&d, &s, &id, flash, "", StatusCode::OK).await
}

async fn render_device(
    d: &Dash,
    s: &Session,
    id: &str,
    flash: Option<Flash>,
    top: &str,
    status: StatusCode,
) -> Response {
    let path = format!("/v1/devices/{}", url_part(id));
    let dev = match d.get(&s.principal, &path).await {
        Ok(v) => v,
        Err(e) => return error_page(s, "Device", "/dashboard/devices", &e),
    };
    let extra = async { Ok::<_, ApiError>((tokens(d).await?, device_hooks(d, s).await?)) }.await;
    let (tokens, hooks) = match extra {
        Ok(v) => v,
        Err(e) => return error_page(s, "Device", "/dashboard/devices", &e),
    };
    let uid = url_part(id);
    let eid = esc(id);
    let dev_status = dev["status"].as_str().unwrap_or("");
    let online = dev_status == "online";
    let stamp = if dev_status == "qr_waiting" {
        d.get(&s.principal, &format!("{path}/qr"))
            .await
            .ok()
            .and_then(|q| q["qr"].as_str().map(qr_stamp))
    } else {
        None
    };
    let hidden = |h: bool| if h { " hidden" } else { "" };
    let phone = dev["phone"]
        .as_str()
        .map(|p| format!("+{}", esc(p)))
        .unwrap_or_default();
    let summary = format!(
        r#"<section class="card device-head"><div><p class="muted small">Device <code>{eid}</code></p><p>{badge}</p></div><dl class="facts"><div><dt>Phone</dt><dd data-device-phone="{eid}">{phone_or_dash}</dd></div><div><dt>Last seen</dt><dd data-device-seen="{eid}">{seen}</dd></div><div><dt>Created</dt><dd>{created}</dd></div></dl>
<div class="actions">{connect}{reconnect}{logout}{delete}</div></section>"#,
        badge = badge(dev_status, Some(id)),
        phone_or_dash = if phone.is_empty() {
            "—".to_string()
        } else {
            phone.clone()
        },
        seen = time(&dev["last_seen_at"]),
        created = time(&dev["created_at"]),
        // Connecting is what a device that is neither linked nor showing a QR code needs.
        connect = if online || dev_status == "qr_waiting" {
            String::new()
        } else {
            button_form(
                s,
                &format!("/dashboard/devices/{uid}/connect"),
                "Connect",
                "",
                None,
            )
        },
        reconnect = button_form(
            s,
            &format!("/dashboard/devices/{uid}/reconnect"),
            "Reconnect",
            "secondary",
            None
        ),
        logout = button_form(
            s,
            &format!("/dashboard/devices/{uid}/logout"),
            "Log out",
            "secondary",
            Some("Log this device out of WhatsApp? It must be linked again with a new QR code.")
        ),
        delete = button_form(
            s,
            &format!("/dashboard/devices/{uid}/delete"),
            "Delete",
            "danger",
            Some("Delete this device, its token and its link to WhatsApp?")
        ),
    );
    let qr_src = stamp
        .as_deref()
        .map(|t| format!("/dashboard/devices/{uid}/qr.svg?v={}", url_part(t)))
        .unwrap_or_default();
    let link = format!(
        r#"<section class="card link-panel" id="link-panel" data-device-id="{eid}" data-qr="{stamp}"{hide_link}>
<h2>Link WhatsApp</h2>
<div class="link-grid"><div class="qr-box"><img id="qr" src="{qr_src}" alt="QR code to scan with WhatsApp" width="264" height="264"{hide_qr}><p id="qr-none" class="muted"{hide_none}>No QR code right now. Press Connect to get one.</p></div>
<div><ol class="steps"><li>Open WhatsApp on the phone.</li><li>Tap <strong>Settings → Linked devices → Link a device</strong>.</li><li>Point the phone at this code. It changes every few seconds; this page keeps up.</li></ol>
<form method="post" action="/dashboard/devices/{uid}/pair-code" class="stack">{csrf}<label>Or link with a code: phone number<input name="phone" inputmode="tel" placeholder="628123456789" required></label><button type="submit" class="secondary">Get pairing code</button></form></div></div></section>
<section class="card linked" id="linked-panel"{hide_linked}><h2>Linked</h2><p>This device is online as <strong data-device-phone="{eid}">{phone}</strong>. Send a <a href="/dashboard/messages?device_id={uid}">test message</a>.</p></section>"#,
        stamp = esc(stamp.as_deref().unwrap_or("")),
        hide_link = hidden(online),
        hide_qr = hidden(stamp.is_none()),
        hide_none = hidden(stamp.is_some()),
        hide_linked = hidden(!online),
        csrf = csrf_field(s),
    );
    let token = match tokens.get(id) {
        Some(t) => format!(
            r#"<p>Current token: <code>{}…</code>, issued {}.</p>"#,
            esc(&t.prefix),
            time(&Value::from(crate::util::rfc3339(t.created_at)))
        ),
        None => r#"<p class="muted">This device has no token.</p>"#.to_string(),
    };
    let token = format!(
        r#"<section class="card"><h2>Device token</h2>{token}<p class="small muted">An API key bound to this device (send and read its messages). It is shown once when issued.</p>{}</section>"#,
        button_form(
            s,
            &format!("/dashboard/devices/{uid}/token"),
            if tokens.contains_key(id) {
                "Rotate token"
            } else {
                "Issue token"
            },
            "secondary",
            tokens
                .contains_key(id)
                .then_some("Issue a new token? The current one stops working at once."),
        )
    );
    let hook = hooks.get(id);
    let hook_url = hook.map(|h| esc_v(&h["url"])).unwrap_or_default();
    let remove_hook = match hook {
        Some(_) => button_form(
            s,
            &format!("/dashboard/devices/{uid}/webhook-remove"),
            "Remove",
            "secondary",
            Some("Stop sending this device's events to the webhook?"),
        ),
        None => String::new(),
    };
    let hook_more = hook
        .and_then(|h| h["id"].as_str())
        .map(|hid| {
            format!(
                r#" <a href="/dashboard/webhooks/{}">Delivery log</a>"#,
                url_part(hid)
            )
        })
        .unwrap_or_default();
    let webhook = format!(
        r#"<section class="card"><h2>Webhook URL</h2><p class="small muted">Every event of this device (messages received, sent, delivered, read, status changes) is posted here, signed.{hook_more}</p>
<form method="post" action="/dashboard/devices/{uid}/webhook" class="row-form">{csrf}<label>URL<input name="url" type="url" value="{hook_url}" placeholder="https://example.com/wasap-webhook" required></label><button type="submit">Save</button></form>{remove_hook}</section>"#,
        csrf = csrf_field(s),
    );
    let groups = if online {
        match d.get(&s.principal, &format!("{path}/groups")).await {
            Ok(v) => {
                let rows: String = v["data"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|g| {
                        format!(
                            r#"<tr><td data-label="Id"><code>{}</code></td><td data-label="Name">{}</td><td data-label="Members">{}</td></tr>"#,
                            esc_v(&g["jid"]),
                            esc_v(&g["subject"]),
                            g["participant_count"].as_u64().unwrap_or(0)
                        )
                    })
                    .collect();
                if rows.is_empty() {
                    r#"<p class="empty">This account is in no WhatsApp groups.</p>"#.to_string()
                } else {
                    format!(
                        r#"<div class="table-wrap"><table class="responsive"><thead><tr><th>Id</th><th>Name</th><th>Members</th></tr></thead><tbody>{rows}</tbody></table></div>"#
                    )
                }
            }
            Err(e) => format!(r#"<p class="muted">{}</p>"#, esc(&e.message)),
        }
    } else {
        r#"<p class="empty">Link the device to see its groups.</p>"#.to_string()
    };
    let groups = format!(r#"<section class="card"><h2>WhatsApp groups</h2>{groups}</section>"#);
    let name = dev["name"].as_str().unwrap_or("Device").to_string();
    let body = format!("{top}{summary}{link}{token}{webhook}{groups}");
    let canonical = (status != StatusCode::OK).then(|| format!("/dashboard/devices/{uid}"));
    let status = if status == StatusCode::CREATED {
        StatusCode::OK
    } else {
        status
    };
    render_page(
        s,
        &name,
        "/dashboard/devices",
        flash,
        canonical,
        status,
        &body,
    )
}

/// `POST /dashboard/devices/{id}/{action}`: connect, reconnect, logout, delete, pair-code,
/// token, webhook, webhook-remove.
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
    let base = format!("/v1/devices/{uid}");
    let p = &s.principal;
    let back = |done: &str| redirect(&format!("/dashboard/devices/{uid}?done={done}"));
    match action.as_str() {
        "connect" | "reconnect" | "logout" => {
            match d
                .call(p, Method::POST, &format!("{base}/{action}"), None)
                .await
            {
                Ok(_) => back(match action.as_str() {
                    "connect" => "connecting",
                    "reconnect" => "reconnecting",
                    _ => "logged_out",
                }),
                Err(e) => fail(&d, &s, &id, e).await,
            }
        }
        "delete" => {
            if let Err(e) = d.call(p, Method::DELETE, &base, None).await {
                return fail(&d, &s, &id, e).await;
            }
            let token: Result<Option<(String,)>, sqlx::Error> =
                sqlx::query_as("DELETE FROM device_tokens WHERE device_id = $1 RETURNING key_id")
                    .bind(&id)
                    .fetch_optional(&d.st.db.pool)
                    .await;
            let revoked = match token {
                Ok(Some((key,))) => revoke_key(&d, &key).await,
                Ok(None) => Ok(()),
                Err(e) => Err(e.into()),
            };
            match revoked {
                Ok(()) => redirect("/dashboard/devices?done=deleted"),
                Err(e) => render_list(&d, &s, Some(Flash::from_api(&e)), e.status).await,
            }
        }
        "pair-code" => {
            match d
                .post(
                    p,
                    &format!("{base}/pair-code"),
                    json!({ "phone": form.text("phone") }),
                )
                .await
            {
                Ok(v) => {
                    let top = format!(
                        r#"<div class="card secret" role="status"><h2>Pairing code</h2><p class="muted">On the phone with number +{}: WhatsApp → Linked devices → Link a device → Link with phone number instead, then type:</p><p class="pair-code" data-pair-code>{}</p></div>"#,
                        esc_v(&v["phone"]),
                        esc_v(&v["code"])
                    );
                    render_device(&d, &s, &id, None, &top, StatusCode::CREATED).await
                }
                Err(e) => fail(&d, &s, &id, e).await,
            }
        }
        "token" => {
            let dev = match d.get(p, &base).await {
                Ok(v) => v,
                Err(e) => return fail(&d, &s, &id, e).await,
            };
            match rotate_token(&d, &s, &dev).await {
                Ok(key) => {
                    render_device(
                        &d,
                        &s,
                        &id,
                        Some(Flash::Ok(
                            "New token issued; the previous one is revoked.".into(),
                        )),
                        &token_box(&key),
                        StatusCode::CREATED,
                    )
                    .await
                }
                Err(e) => fail(&d, &s, &id, e).await,
            }
        }
        "webhook" => {
            let hooks = match device_hooks(&d, &s).await {
                Ok(h) => h,
                Err(e) => return fail(&d, &s, &id, e).await,
            };
            let url = form.text("url");
            let saved = match hooks.get(&id).and_then(|h| h["id"].as_str()) {
                Some(hid) => d
                    .call(
                        p,
                        Method::PATCH,
                        &format!("/v1/webhooks/{}", url_part(hid)),
                        Some(json!({ "url": url })),
                    )
                    .await
                    .map(|_| None),
                None => d
                    .post(
                        p,
                        "/v1/webhooks",
                        json!({ "url": url, "events": ["*"], "device_id": id }),
                    )
                    .await
                    .map(|v| v["secret"].as_str().map(str::to_string)),
            };
            match saved {
                Ok(None) => back("saved"),
                Ok(Some(secret)) => {
                    let top = secret_once(
                        "Webhook signing secret",
                        &secret,
                        "Shown only now. The receiver checks each delivery's signature with it (see docs/webhooks.md).",
                    );
                    render_device(
                        &d,
                        &s,
                        &id,
                        Some(Flash::Ok("Webhook saved.".into())),
                        &top,
                        StatusCode::CREATED,
                    )
                    .await
                }
                Err(e) => fail(&d, &s, &id, e).await,
            }
        }
        "webhook-remove" => {
            let hooks = match device_hooks(&d, &s).await {
                Ok(h) => h,
                Err(e) => return fail(&d, &s, &id, e).await,
            };
            let Some(hid) = hooks.get(&id).and_then(|h| h["id"].as_str()) else {
                return back("webhook_removed");
            };
            match d
                .call(
                    p,
                    Method::DELETE,
                    &format!("/v1/webhooks/{}", url_part(hid)),
                    None,
                )
                .await
            {
                Ok(_) => back("webhook_removed"),
                Err(e) => fail(&d, &s, &id, e).await,
            }
        }
        _ => super::plain_error(StatusCode::NOT_FOUND, "No such action."),
    }
}

/// Names a QR code without showing it: the script swaps the image when this changes.
fn qr_stamp(code: &str) -> String {
    crate::util::sha256_hex(code.as_bytes())[..16].to_string()
}

/// The device page with the failure of a form on top.
async fn fail(d: &Dash, s: &Session, id: &str, e: ApiError) -> Response {
    let status = if e.status.is_server_error() {
        e.status
    } else {
        StatusCode::BAD_REQUEST
    };
    render_device(d, s, id, Some(Flash::from_api(&e)), "", status).await
}

/// `GET /dashboard/devices/{id}/qr.svg`: the device's current QR code.
pub(crate) async fn qr_svg(State(d): State<Dash>, s: Session, Path(id): Path<String>) -> Response {
    let qr = d
        .get(&s.principal, &format!("/v1/devices/{}/qr", url_part(&id)))
        .await;
    let svg = qr
        .ok()
        .and_then(|v| v["qr"].as_str().and_then(super::qr::svg));
    match svg {
        Some(svg) => (
            [
                (header::CONTENT_TYPE, "image/svg+xml"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            svg,
        )
            .into_response(),
        None => super::plain_error(StatusCode::NOT_FOUND, "No QR code right now."),
    }
}

/// `GET /dashboard/live`: every visible device's status, last seen time, phone and current
/// QR code stamp, polled by the script every 1.5 s.
pub(crate) async fn live(State(d): State<Dash>, s: Session) -> Response {
    let devices = match d.list(&s.principal, "/v1/devices").await {
        Ok(v) => v,
        Err(e) => {
            return (e.status, Json(json!({ "error": e.message }))).into_response();
        }
    };
    let mut out = Vec::with_capacity(devices.len());
    for dev in devices {
        let id = dev["id"].as_str().unwrap_or_default().to_string();
        let status = dev["status"].as_str().unwrap_or_default().to_string();
        let qr = if status == "qr_waiting" {
            d.get(&s.principal, &format!("/v1/devices/{}/qr", url_part(&id)))
                .await
                .ok()
                .and_then(|q| q["qr"].as_str().map(qr_stamp))
        } else {
            None
        };
        out.push(json!({
            "id": id,
            "status": status,
            "label": html::status_label(&status),
            "last_seen_at": dev["last_seen_at"],
            "phone": dev["phone"],
            "qr": qr,
        }));
    }
    Json(json!({ "devices": out })).into_response()
}
