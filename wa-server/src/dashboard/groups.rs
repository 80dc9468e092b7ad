//! Contact groups (`/dashboard/groups`): list with member counts, create, edit (name,
//! description, members), delete, through the native contact-group routes.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::html::{button_form, esc, esc_v, url_part};
use super::session::csrf_field;
use super::{Dash, Flash, Form, Session, error_page, notice_of, redirect, render_page};

/// `GET /dashboard/groups`.
pub(crate) async fn page(
    State(d): State<Dash>,
    s: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    render(&d, &s, notice_of(&q), StatusCode::OK).await
}

async fn render(d: &Dash, s: &Session, flash: Option<Flash>, status: StatusCode) -> Response {
    let groups = match d.list(&s.principal, "/v1/contact-groups").await {
        Ok(v) => v,
        Err(e) => return error_page(s, "Groups", "/dashboard/groups", &e),
    };
    let rows: String = groups
        .iter()
        .map(|g| {
            let id = g["id"].as_str().unwrap_or_default();
            format!(
                r#"<tr><td data-label="Name"><a href="/dashboard/groups/{uid}">{name}</a><br><span class="small muted">{desc}</span></td><td data-label="Members">{count}</td><td data-label="Action" class="actions"><a class="button small secondary" href="/dashboard/groups/{uid}">Edit</a>{del}</td></tr>"#,
                uid = url_part(id),
                name = esc_v(&g["name"]),
                desc = esc_v(&g["description"]),
                count = g["member_count"].as_i64().unwrap_or(0),
                del = button_form(
                    s,
                    &format!("/dashboard/groups/{}/delete", url_part(id)),
                    "Delete",
                    "small danger",
                    Some("Delete this group? Its contacts stay.")
                ),
            )
        })
        .collect();
    let table = if rows.is_empty() {
        r#"<p class="empty">No groups yet. Create one to send to many contacts at once.</p>"#
            .to_string()
    } else {
        format!(
            r#"<div class="table-wrap"><table class="responsive"><thead><tr><th>Name</th><th>Members</th><th>Action</th></tr></thead><tbody>{rows}</tbody></table></div>"#
        )
    };
    let body = format!(
        r#"<form class="card grid-form" method="post" action="/dashboard/groups">{csrf}<h2 class="wide">New group</h2>
<label>Name<input name="name" required maxlength="200"></label>
<label>Description (optional)<input name="description" maxlength="2000"></label>
<div class="wide"><button type="submit">Create group</button></div></form>
<section class="card"><h2>Groups</h2>{table}</section>"#,
        csrf = csrf_field(s)
    );
    render_page(s, "Groups", "/dashboard/groups", flash, None, status, &body)
}

/// `POST /dashboard/groups`.
pub(crate) async fn create(State(d): State<Dash>, s: Session, form: Form) -> Response {
    if let Some(r) = s.csrf_refusal(&form) {
        return r;
    }
    let mut body = json!({ "name": form.text("name") });
    if let Some(desc) = form.opt("description") {
        body["description"] = desc.into();
    }
    match d.post(&s.principal, "/v1/contact-groups", body).await {
        Ok(_) => redirect("/dashboard/groups?done=created"),
        Err(e) => render(&d, &s, Some(Flash::from_api(&e)), StatusCode::BAD_REQUEST).await,
    }
}

async fn render_edit(
    d: &Dash,
    s: &Session,
    id: &str,
    flash: Option<Flash>,
    status: StatusCode,
) -> Response {
    let data = async {
        let g = d
            .get(
                &s.principal,
                &format!("/v1/contact-groups/{}", url_part(id)),
            )
            .await?;
        let contacts = d.list(&s.principal, "/v1/contacts").await?;
        Ok::<_, crate::error::ApiError>((g, contacts))
    }
    .await;
    let (g, contacts) = match data {
        Ok(v) => v,
        Err(e) => return error_page(s, "Group", "/dashboard/groups", &e),
    };
    let members: Vec<&str> = g["members"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    let boxes: String = contacts
        .iter()
        .map(|c| {
            let cid = c["id"].as_str().unwrap_or_default();
            let checked = if members.contains(&cid) { " checked" } else { "" };
            format!(
                r#"<label class="check"><input type="checkbox" name="contact_id" value="{}"{checked}> {} <span class="muted">+{}</span></label>"#,
                esc(cid),
                esc_v(&c["name"]),
                esc_v(&c["phone"])
            )
        })
        .collect();
    let boxes = if boxes.is_empty() {
        r#"<p class="empty">No contacts yet.</p>"#.to_string()
    } else {
        format!(r#"<div class="checks">{boxes}</div>"#)
    };
    let body = format!(
        r#"<form class="card grid-form" method="post" action="/dashboard/groups/{uid}">{csrf}
<label>Name<input name="name" required maxlength="200" value="{name}"></label>
<label>Description<input name="description" maxlength="2000" value="{desc}"></label>
<fieldset class="wide"><legend>Members</legend>{boxes}</fieldset>
<div class="wide actions"><button type="submit">Save</button><a class="button secondary" href="/dashboard/groups">Cancel</a></div></form>"#,
        uid = url_part(id),
        csrf = csrf_field(s),
        name = esc_v(&g["name"]),
        desc = esc_v(&g["description"]),
    );
    let title = format!("Group: {}", g["name"].as_str().unwrap_or(""));
    render_page(s, &title, "/dashboard/groups", flash, None, status, &body)
}

/// `GET /dashboard/groups/{id}`.
pub(crate) async fn edit_page(
    State(d): State<Dash>,
    s: Session,
    Path(id): Path<String>,
) -> Response {
    render_edit(&d, &s, &id, None, StatusCode::OK).await
}

/// `POST /dashboard/groups/{id}`: name, description and the whole member list.
pub(crate) async fn update(
    State(d): State<Dash>,
    s: Session,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    if let Some(r) = s.csrf_refusal(&form) {
        return r;
    }
    let body = json!({
        "name": form.text("name"),
        "description": form.text("description"),
        "contact_ids": form.all("contact_id"),
    });
    match d
        .call(
            &s.principal,
            Method::PATCH,
            &format!("/v1/contact-groups/{}", url_part(&id)),
            Some(body),
        )
        .await
    {
        Ok(_) => redirect("/dashboard/groups?done=saved"),
        Err(e) => {
            render_edit(
                &d,
                &s,
                &id,
                Some(Flash::from_api(&e)),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

/// `POST /dashboard/groups/{id}/delete`.
pub(crate) async fn remove(
    State(d): State<Dash>,
    s: Session,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    if let Some(r) = s.csrf_refusal(&form) {
        return r;
    }
    match d
        .call(
            &s.principal,
            Method::DELETE,
            &format!("/v1/contact-groups/{}", url_part(&id)),
            None,
        )
        .await
    {
        Ok(_) => redirect("/dashboard/groups?done=deleted"),
        Err(e) => render(&d, &s, Some(Flash::from_api(&e)), e.status).await,
    }
}
