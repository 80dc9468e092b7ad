//! Contacts (`/dashboard/contacts`): the address book with each contact's groups, add, edit,
//! delete, and the CSV import (pasted or read from a file by the page's script), each row
//! created through the native contacts route.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::html::{button_form, esc, esc_v, options, url_part};
use super::session::csrf_field;
use super::{Dash, Flash, Form, Session, error_page, notice_of, redirect, render_page};
use crate::error::ApiError;

/// Most rows one import takes.
const MAX_IMPORT_ROWS: usize = 5000;

/// `GET /dashboard/contacts`.
pub(crate) async fn page(
    State(d): State<Dash>,
    s: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    render(&d, &s, notice_of(&q), StatusCode::OK).await
}

/// Contact groups as (id, name), and each contact's group names.
async fn memberships(
    d: &Dash,
    s: &Session,
) -> Result<(Vec<(String, String)>, HashMap<String, Vec<String>>), ApiError> {
    let groups = d.list(&s.principal, "/v1/contact-groups").await?;
    let mut list = Vec::new();
    let mut of: HashMap<String, Vec<String>> = HashMap::new();
    for g in groups {
        let id = g["id"].as_str().unwrap_or_default().to_string();
        let name = g["name"].as_str().unwrap_or_default().to_string();
        let full = d
            .get(
                &s.principal,
                &format!("/v1/contact-groups/{}", url_part(&id)),
            )
            .await?;
        for m in full["members"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if let Some(cid) = m["id"].as_str() {
                of.entry(cid.to_string()).or_default().push(name.clone());
            }
        }
        list.push((id, name));
    }
    Ok((list, of))
}

async fn render(d: &Dash, s: &Session, flash: Option<Flash>, status: StatusCode) -> Response {
    let data = async {
        let contacts = d.list(&s.principal, "/v1/contacts").await?;
        Ok::<_, ApiError>((contacts, memberships(d, s).await?))
    }
    .await;
    let (contacts, (groups, of)) = match data {
        Ok(v) => v,
        Err(e) => return error_page(s, "Contacts", "/dashboard/contacts", &e),
    };
    let mut group_opts = vec![(String::new(), "No group".to_string())];
    group_opts.extend(groups.iter().cloned());
    let rows: String = contacts
        .iter()
        .map(|c| {
            let id = c["id"].as_str().unwrap_or_default();
            let gs = of
                .get(id)
                .map(|g| g.iter().map(|n| esc(n)).collect::<Vec<_>>().join(", "))
                .filter(|g| !g.is_empty())
                .unwrap_or_else(|| r#"<span class="muted">—</span>"#.to_string());
            format!(
                r#"<tr><td data-label="Name">{name}</td><td data-label="Number"><code>{phone}</code></td><td data-label="Group">{gs}</td><td data-label="Action" class="actions"><a class="button small secondary" href="/dashboard/contacts/{uid}">Edit</a>{del}</td></tr>"#,
                name = esc_v(&c["name"]),
                phone = esc_v(&c["phone"]),
                uid = url_part(id),
                del = button_form(
                    s,
                    &format!("/dashboard/contacts/{}/delete", url_part(id)),
                    "Delete",
                    "small danger",
                    Some("Delete this contact?")
                ),
            )
        })
        .collect();
    let table = if rows.is_empty() {
        r#"<p class="empty">No contacts yet. Add one, or import a CSV file.</p>"#.to_string()
    } else {
        format!(
            r#"<div class="table-wrap"><table class="responsive"><thead><tr><th>Name</th><th>Number</th><th>Group</th><th>Action</th></tr></thead><tbody>{rows}</tbody></table></div>"#
        )
    };
    let csrf = csrf_field(s);
    let gopts = options(&group_opts, "");
    let body = format!(
        r#"<div class="two">
<form class="card grid-form" method="post" action="/dashboard/contacts">{csrf}<h2 class="wide">Add contact</h2>
<label>Name<input name="name" required maxlength="200"></label>
<label>Number<input name="phone" inputmode="tel" required placeholder="628123456789"></label>
<label>Email (optional)<input name="email" type="email"></label>
<label>Group<select name="group_id">{gopts}</select></label>
<div class="wide"><button type="submit">Add contact</button></div></form>
<form class="card stack" method="post" action="/dashboard/contacts/import">{csrf}<h2>Import CSV</h2>
<p class="small muted">Columns: name, phone, email, notes (a header row with these names may come first; commas or semicolons). Numbers need their country code.</p>
<label>CSV file<input type="file" accept=".csv,text/csv,text/plain" data-fill="csv-text"></label>
<label>Or paste<textarea id="csv-text" name="csv" rows="4" placeholder="name,phone&#10;Ani,628111111111"></textarea></label>
<label>Add to group<select name="group_id">{gopts}</select></label>
<button type="submit" class="secondary">Import</button></form></div>
<section class="card"><h2>Contacts</h2>{table}</section>"#
    );
    render_page(
        s,
        "Contacts",
        "/dashboard/contacts",
        flash,
        None,
        status,
        &body,
    )
}

async fn add_to_group(d: &Dash, s: &Session, group: &str, contact: &str) -> Result<(), ApiError> {
    d.call(
        &s.principal,
        Method::PUT,
        &format!(
            "/v1/contact-groups/{}/members/{}",
            url_part(group),
            url_part(contact)
        ),
        None,
    )
    .await
    .map(|_| ())
}

fn contact_body(
    name: String,
    phone: String,
    email: Option<String>,
    notes: Option<String>,
) -> Value {
    let mut b = json!({ "name": name, "phone": phone });
    if let Some(e) = email {
        b["email"] = e.into();
    }
    if let Some(n) = notes {
        b["notes"] = n.into();
    }
    b
}

/// `POST /dashboard/contacts`.
pub(crate) async fn create(State(d): State<Dash>, s: Session, form: Form) -> Response {
    if let Some(r) = s.csrf_refusal(&form) {
        return r;
    }
    let body = contact_body(
        form.text("name"),
        form.text("phone"),
        form.opt("email"),
        None,
    );
    let done = async {
        let c = d.post(&s.principal, "/v1/contacts", body).await?;
        if let (Some(g), Some(cid)) = (form.opt("group_id"), c["id"].as_str()) {
            add_to_group(&d, &s, &g, cid).await?;
        }
        Ok::<_, ApiError>(())
    }
    .await;
    match done {
        Ok(()) => redirect("/dashboard/contacts?done=created"),
        Err(e) => render(&d, &s, Some(Flash::from_api(&e)), StatusCode::BAD_REQUEST).await,
    }
}

/// Which column holds what: from a header row, or name, phone, email, notes in that order.
fn columns(first: &[String]) -> Option<[Option<usize>; 4]> {
    let find = |names: &[&str]| {
        first
            .iter()
            .position(|h| names.contains(&h.to_ascii_lowercase().as_str()))
    };
    let name = find(&["name", "nama", "full name"]);
    let phone = find(&[
        "phone", "number", "nomor", "whatsapp", "telepon", "no hp", "mobile",
    ]);
    (name.is_some() || phone.is_some()).then(|| {
        [
            name,
            phone,
            find(&["email", "e-mail"]),
            find(&["notes", "note", "catatan"]),
        ]
    })
}

/// `POST /dashboard/contacts/import`.
pub(crate) async fn import(State(d): State<Dash>, s: Session, form: Form) -> Response {
    if let Some(r) = s.csrf_refusal(&form) {
        return r;
    }
    let text = form.raw("csv").unwrap_or("");
    let records = match super::csv::parse(text) {
        Ok(r) => r,
        Err(line) => {
            let msg = format!("The CSV has a quote opened on line {line} that never closes.");
            return render(&d, &s, Some(Flash::Err(msg)), StatusCode::BAD_REQUEST).await;
        }
    };
    let (cols, skip) = match records.first().and_then(|r| columns(r)) {
        Some(c) => (c, 1),
        None => ([Some(0), Some(1), Some(2), Some(3)], 0),
    };
    if records.len() <= skip {
        let msg = "The CSV has no rows.".to_string();
        return render(&d, &s, Some(Flash::Err(msg)), StatusCode::BAD_REQUEST).await;
    }
    if records.len() - skip > MAX_IMPORT_ROWS {
        let msg = format!("At most {MAX_IMPORT_ROWS} rows per import.");
        return render(&d, &s, Some(Flash::Err(msg)), StatusCode::BAD_REQUEST).await;
    }
    let group = form.opt("group_id");
    let (mut added, mut existing, mut errors) = (0usize, 0usize, Vec::new());
    for (i, r) in records.iter().enumerate().skip(skip) {
        let cell = |c: Option<usize>| c.and_then(|c| r.get(c)).filter(|v| !v.is_empty()).cloned();
        let body = contact_body(
            cell(cols[0]).unwrap_or_default(),
            cell(cols[1]).unwrap_or_default(),
            cell(cols[2]),
            cell(cols[3]),
        );
        // Rows are numbered as a spreadsheet shows them.
        let row = i + 1;
        match d.post(&s.principal, "/v1/contacts", body).await {
            Ok(c) => {
                added += 1;
                if let (Some(g), Some(cid)) = (&group, c["id"].as_str())
                    && let Err(e) = add_to_group(&d, &s, g, cid).await
                {
                    errors.push(format!("row {row}: {}", e.message));
                }
            }
            Err(e) if e.status == StatusCode::CONFLICT => existing += 1,
            Err(e) if e.status.is_server_error() => {
                errors.push(format!("row {row}: {}", e.message));
                break;
            }
            Err(e) => {
                let field = e.field.map(|f| format!("{f}: ")).unwrap_or_default();
                errors.push(format!("row {row}: {field}{}", e.message));
            }
        }
    }
    let mut msg = format!(
        "Imported {added} contact{}",
        if added == 1 { "" } else { "s" }
    );
    if existing > 0 {
        msg.push_str(&format!("; {existing} already in the address book"));
    }
    let flash = if errors.is_empty() {
        Flash::Ok(format!("{msg}."))
    } else {
        let shown: Vec<&str> = errors.iter().take(10).map(String::as_str).collect();
        let more = errors.len().saturating_sub(10);
        let tail = if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        };
        Flash::Err(format!(
            "{msg}; {} row{} skipped: {}{tail}.",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            shown.join("; ")
        ))
    };
    let status = if added == 0 && !errors.is_empty() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(&d, &s, Some(flash), status).await
}

async fn render_edit(
    d: &Dash,
    s: &Session,
    id: &str,
    flash: Option<Flash>,
    status: StatusCode,
) -> Response {
    let c = match d
        .get(&s.principal, &format!("/v1/contacts/{}", url_part(id)))
        .await
    {
        Ok(v) => v,
        Err(e) => return error_page(s, "Contact", "/dashboard/contacts", &e),
    };
    let body = format!(
        r#"<form class="card grid-form" method="post" action="/dashboard/contacts/{uid}">{csrf}
<label>Name<input name="name" required maxlength="200" value="{name}"></label>
<label>Number<input name="phone" inputmode="tel" required value="{phone}"></label>
<label>Email<input name="email" type="email" value="{email}"></label>
<label class="wide">Notes<textarea name="notes" rows="3" maxlength="2000">{notes}</textarea></label>
<div class="wide actions"><button type="submit">Save</button><a class="button secondary" href="/dashboard/contacts">Cancel</a></div></form>"#,
        uid = url_part(id),
        csrf = csrf_field(s),
        name = esc_v(&c["name"]),
        phone = esc_v(&c["phone"]),
        email = esc_v(&c["email"]),
        notes = esc_v(&c["notes"]),
    );
    let title = format!("Contact: {}", c["name"].as_str().unwrap_or(""));
    render_page(s, &title, "/dashboard/contacts", flash, None, status, &body)
}

/// `GET /dashboard/contacts/{id}`.
pub(crate) async fn edit_page(
    State(d): State<Dash>,
    s: Session,
    Path(id): Path<String>,
) -> Response {
    render_edit(&d, &s, &id, None, StatusCode::OK).await
}

/// `POST /dashboard/contacts/{id}`.
pub(crate) async fn update(
    State(d): State<Dash>,
    s: Session,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    if let Some(r) = s.csrf_refusal(&form) {
        return r;
    }
    let mut body = json!({ "name": form.text("name"), "phone": form.text("phone") });
    if let Some(e) = form.opt("email") {
        body["email"] = e.into();
    }
    body["notes"] = form.text("notes").into();
    match d
        .call(
            &s.principal,
            Method::PATCH,
            &format!("/v1/contacts/{}", url_part(&id)),
            Some(body),
        )
        .await
    {
        Ok(_) => redirect("/dashboard/contacts?done=saved"),
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

/// `POST /dashboard/contacts/{id}/delete`.
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
            &format!("/v1/contacts/{}", url_part(&id)),
            None,
        )
        .await
    {
        Ok(_) => redirect("/dashboard/contacts?done=deleted"),
        Err(e) => render(&d, &s, Some(Flash::from_api(&e)), e.status).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_header_row_maps_columns_by_name_in_any_order() {
        assert_eq!(
            columns(&v(&["Nomor", "Nama", "Catatan"])),
            Some([Some(1), Some(0), None, Some(2)])
        );
    }

    #[test]
    fn a_first_row_of_data_is_not_a_header() {
        assert_eq!(columns(&v(&["Ani", "628111111111"])), None);
    }
}
