//! The overview (`/dashboard`): device and message counts, the API server URL and the
//! gateway's connection status, and the devices table, as on the dashboard of the waapi
//! gateway our users come from.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::html::esc;
use super::{Dash, Session, base_url, error_page, notice_of, render_page};
use crate::error::ApiError;

/// Outbound messages WhatsApp took (sent, delivered or read), of the session's devices.
async fn sent_count(d: &Dash, s: &Session) -> Result<i64, ApiError> {
    let sql = "SELECT COUNT(*) FROM messages WHERE direction = 'out' AND status IN ('sent', 'delivered', 'read')";
    let (n,): (i64,) = match &s.principal.device_id {
        Some(dev) => {
            sqlx::query_as(&format!("{sql} AND device_id = $1"))
                .bind(dev)
                .fetch_one(&d.st.db.pool)
                .await?
        }
        None => sqlx::query_as(sql).fetch_one(&d.st.db.pool).await?,
    };
    Ok(n)
}

/// `GET /dashboard`.
pub(crate) async fn page(
    State(d): State<Dash>,
    s: Session,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let data = async {
        let devices = d.list(&s.principal, "/v1/devices").await?;
        let tokens = super::devices::tokens(&d).await?;
        let hooks = super::devices::device_hooks(&d, &s).await?;
        let contacts = d.list(&s.principal, "/v1/contacts").await?;
        Ok::<_, ApiError>((devices, tokens, hooks, contacts, sent_count(&d, &s).await?))
    }
    .await;
    let (devices, tokens, hooks, contacts, sent) = match data {
        Ok(v) => v,
        Err(e) => return error_page(&s, "Overview", "/dashboard", &e),
    };
    let online = devices.iter().filter(|v| v["status"] == "online").count();
    let db_ok = d.st.db.ping().await;
    let (conn_class, conn_text) = if db_ok {
        ("s-online", "Connected")
    } else {
        ("s-failed", "Database unavailable")
    };
    let body = format!(
        r#"<section class="cards">
<div class="card stat"><p class="label">Devices</p><p class="value" data-stat="devices">{total}</p></div>
<div class="card stat"><p class="label">Connected</p><p class="value" data-stat="connected">{online}</p><p class="small muted">{offline} not connected</p></div>
<div class="card stat"><p class="label">Messages sent</p><p class="value" data-stat="sent">{sent}</p></div>
</section>
<section class="card"><h2>API gateway status</h2><dl class="facts"><div><dt>API server URL</dt><dd><code data-api-url>{url}</code></dd></div><div><dt>Connection status</dt><dd><span class="badge {conn_class}">{conn_text}</span></dd></div><div><dt>API reference</dt><dd><a href="/openapi.json">/openapi.json</a></dd></div></dl></section>
<section class="card"><div class="section-head"><h2>Devices</h2><a class="button small" href="/dashboard/devices">Manage devices</a></div>{table}</section>
{send}"#,
        total = devices.len(),
        offline = devices.len() - online,
        url = esc(&base_url(&headers)),
        table = super::devices::table(&devices, &tokens, &hooks),
        send = super::messages::send_form(&s, &devices, &contacts, &Default::default()),
    );
    render_page(
        &s,
        "Overview",
        "/dashboard",
        notice_of(&q),
        None,
        StatusCode::OK,
        &body,
    )
}
