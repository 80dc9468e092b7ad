//! API keys (`/dashboard/keys`, admin keys only): list, create (the key is shown once) and
//! revoke, through the native key routes. Revoking a key also ends its dashboard sessions.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::html::{button_form, esc, esc_v, options, secret_once, time, url_part};
use super::session::csrf_field;
use super::{Dash, Flash, Form, Session, error_page, notice_of, redirect, render_page};
use crate::auth::SCOPES;
use crate::error::ApiError;

fn admin_only(s: &Session) -> Option<Response> {
    (!s.is_admin()).then(|| {
        error_page(
            s,
            "API keys",
            "/dashboard/keys",
            &ApiError::missing_scope("admin:*"),
        )
    })
}

/// `GET /dashboard/keys`.
pub(crate) async fn page(
    State(d): State<Dash>,
    s: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(r) = admin_only(&s) {
        return r;
    }
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
        let keys = d.list(&s.principal, "/v1/keys").await?;
        let devices = d.list(&s.principal, "/v1/devices").await?;
        Ok::<_, ApiError>((keys, devices))
    }
    .await;
    let (keys, devices) = match data {
        Ok(v) => v,
        Err(e) => return error_page(s, "API keys", "/dashboard/keys", &e),
    };
    let names: HashMap<&str, &str> = devices
        .iter()
        .filter_map(|v| Some((v["id"].as_str()?, v["name"].as_str()?)))
        .collect();
    let rows: String = keys
        .iter()
        .rev()
        .map(|k| {
            let id = k["id"].as_str().unwrap_or_default();
            let revoked = !k["revoked_at"].is_null();
            let scopes: Vec<String> = k["scopes"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|s| format!("<code>{}</code>", esc_v(s)))
                .collect();
            let device = match k["device_id"].as_str() {
                Some(dev) => esc(names.get(dev).copied().unwrap_or(dev)),
                None => r#"<span class="muted">any</span>"#.to_string(),
            };
            let action = if revoked {
                format!("Revoked {}", time(&k["revoked_at"]))
            } else {
                button_form(
                    s,
                    &format!("/dashboard/keys/{}/revoke", url_part(id)),
                    "Revoke",
                    "small danger",
                    Some("Revoke this key? Every program and session using it stops at once."),
                )
            };
            format!(
                r#"<tr class="{cls}"><td data-label="Name">{name}<br><code class="small muted">{eid}</code></td><td data-label="Scopes">{scopes}</td><td data-label="Device">{device}</td><td data-label="Created">{created}</td><td data-label="Action">{action}</td></tr>"#,
                cls = if revoked { "revoked" } else { "" },
                name = esc_v(&k["name"]),
                eid = esc(id),
                scopes = scopes.join(" "),
                created = time(&k["created_at"]),
            )
        })
        .collect();
    let scope_boxes: String = SCOPES
        .iter()
        .map(|sc| {
            format!(
                r#"<label class="check"><input type="checkbox" name="scopes" value="{0}"> <code>{0}</code></label>"#,
                esc(sc)
            )
        })
        .collect();
    let mut dev_opts = vec![(String::new(), "Any device".to_string())];
    dev_opts.extend(devices.iter().map(|v| {
        (
            v["id"].as_str().unwrap_or_default().to_string(),
            v["name"].as_str().unwrap_or_default().to_string(),
        )
    }));
    let body = format!(
        r#"{top}<form class="card grid-form" method="post" action="/dashboard/keys">{csrf}<h2 class="wide">New API key</h2>
<label>Name<input name="name" required maxlength="100" placeholder="e.g. CRM integration"></label>
<label>Bound to device<select name="device_id">{devs}</select></label>
<label>Rate limit per minute (optional)<input name="rate_limit_per_minute" inputmode="numeric" pattern="[0-9]*"></label>
<fieldset class="wide"><legend>Scopes</legend><div class="checks">{scope_boxes}</div><p class="small muted"><code>dashboard</code> opens this dashboard (everything but API keys); <code>admin:*</code> is everything.</p></fieldset>
<div class="wide"><button type="submit">Create key</button></div></form>
<section class="card"><h2>Keys</h2><div class="table-wrap"><table class="responsive"><thead><tr><th>Name</th><th>Scopes</th><th>Device</th><th>Created</th><th>Action</th></tr></thead><tbody>{rows}</tbody></table></div></section>"#,
        csrf = csrf_field(s),
        devs = options(&dev_opts, ""),
    );
    render_page(s, "API keys", "/dashboard/keys", flash, None, status, &body)
}

/// `POST /dashboard/keys`: the new key is shown once.
pub(crate) async fn create(State(d): State<Dash>, s: Session, form: Form) -> Response {
    if let Some(r) = admin_only(&s) {
        return r;
    }
    if let Some(r) = s.csrf_refusal(&form) {
        return r;
    }
    let mut body = json!({ "name": form.text("name"), "scopes": form.all("scopes") });
    if let Some(dev) = form.opt("device_id") {
        body["device_id"] = dev.into();
    }
    if let Some(rate) = form.opt("rate_limit_per_minute") {
        match rate.parse::<u32>() {
            Ok(r) => body["rate_limit_per_minute"] = r.into(),
            Err(_) => {
                let e = Flash::Err("rate_limit_per_minute: must be a whole number".into());
                return render(&d, &s, Some(e), StatusCode::BAD_REQUEST, "").await;
            }
        }
    }
    match d.post(&s.principal, "/v1/keys", body).await {
        Ok(v) => {
            let top = secret_once(
                "New API key",
                v["key"].as_str().unwrap_or_default(),
                "Shown only now: copy it into the program that will use it. Only its hash is stored.",
            );
            render(
                &d,
                &s,
                Some(Flash::Ok("Key created.".into())),
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

/// `POST /dashboard/keys/{id}/revoke`.
pub(crate) async fn revoke(
    State(d): State<Dash>,
    s: Session,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    if let Some(r) = admin_only(&s) {
        return r;
    }
    if let Some(r) = s.csrf_refusal(&form) {
        return r;
    }
    let path = format!("/v1/keys/{}", url_part(&id));
    match d.call(&s.principal, Method::DELETE, &path, None).await {
        Ok(_) => {
            // The session lookup already refuses revoked keys; drop their rows as well.
            if let Err(e) = sqlx::query("DELETE FROM dashboard_sessions WHERE key_id = $1")
                .bind(&id)
                .execute(&d.st.db.pool)
                .await
            {
                tracing::warn!(error = %e, "deleting the sessions of a revoked key failed");
            }
            redirect("/dashboard/keys?done=revoked")
        }
        Err(e) => render(&d, &s, Some(Flash::from_api(&e)), e.status, "").await,
    }
}
