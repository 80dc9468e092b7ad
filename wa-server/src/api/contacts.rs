//! `/v1/contacts` and `/v1/contact-groups`: the gateway's address book.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{check_len, normalize_phone, ts};
use crate::auth::Principal;
use crate::error::{ApiError, ApiJson};
use crate::state::AppState;
use crate::util::{new_id, now_ms};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    notes: Option<String>,
}

type ContactRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
);
const CCOLS: &str = "id, name, phone, email, notes, created_at, updated_at";

fn cview((id, name, phone, email, notes, c, u): ContactRow) -> Value {
    json!({ "id": id, "name": name, "phone": phone, "jid": format!("{phone}@s.whatsapp.net"), "email": email, "notes": notes, "created_at": ts(Some(c)), "updated_at": ts(Some(u)) })
}

fn check_optional(b: &ContactBody) -> Result<(), ApiError> {
    if let Some(e) = &b.email
        && (!e.contains('@') || e.len() > 254)
    {
        return Err(ApiError::field("email", "not an email address"));
    }
    if let Some(n) = &b.notes {
        check_len("notes", n, 0, 2000)?;
    }
    Ok(())
}

async fn load_contact(st: &AppState, id: &str) -> Result<Value, ApiError> {
    let row: ContactRow = sqlx::query_as(&format!("SELECT {CCOLS} FROM contacts WHERE id = $1"))
        .bind(id)
        .fetch_optional(&st.db.pool)
        .await?
        .ok_or_else(|| ApiError::not_found("contact"))?;
    Ok(cview(row))
}

async fn phone_taken(st: &AppState, phone: &str, except: &str) -> Result<bool, ApiError> {
    let r: Option<(String,)> =
        sqlx::query_as("SELECT id FROM contacts WHERE phone = $1 AND id <> $2")
            .bind(phone)
            .bind(except)
            .fetch_optional(&st.db.pool)
            .await?;
    Ok(r.is_some())
}

pub async fn create(
    State(st): State<AppState>,
    p: Principal,
    body: ApiJson<ContactBody>,
) -> Result<impl IntoResponse, ApiError> {
    p.require("contacts:write")?;
    let b = body.value;
    let name = b
        .name
        .clone()
        .ok_or_else(|| ApiError::field("name", "is required"))?;
    check_len("name", &name, 1, 200)?;
    let phone = b
        .phone
        .as_deref()
        .ok_or_else(|| ApiError::field("phone", "is required"))?;
    let phone = normalize_phone(phone)
        .ok_or_else(|| ApiError::field("phone", "must be a phone number with country code"))?;
    check_optional(&b)?;
    if phone_taken(&st, &phone, "").await? {
        return Err(ApiError::conflict(
            "a contact with this phone number exists",
        ));
    }
    let id = new_id("con");
    let now = now_ms();
    sqlx::query("INSERT INTO contacts (id, name, phone, email, notes, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)")
        .bind(&id)
        .bind(&name)
        .bind(&phone)
        .bind(b.email)
        .bind(b.notes)
        .bind(now)
        .execute(&st.db.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => ApiError::conflict("a contact with this phone number exists"),
            e => e.into(),
        })?;
    Ok((StatusCode::CREATED, Json(load_contact(&st, &id).await?)))
}

pub async fn list(State(st): State<AppState>, p: Principal) -> Result<Json<Value>, ApiError> {
    p.require("contacts:read")?;
    let rows: Vec<ContactRow> =
        sqlx::query_as(&format!("SELECT {CCOLS} FROM contacts ORDER BY name, id"))
            .fetch_all(&st.db.pool)
            .await?;
    Ok(Json(
        json!({ "data": rows.into_iter().map(cview).collect::<Vec<_>>() }),
    ))
}

pub async fn get_one(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require("contacts:read")?;
    Ok(Json(load_contact(&st, &id).await?))
}

pub async fn update(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    body: ApiJson<ContactBody>,
) -> Result<Json<Value>, ApiError> {
    p.require("contacts:write")?;
    load_contact(&st, &id).await?;
    let b = body.value;
    check_optional(&b)?;
    let now = now_ms();
    if let Some(n) = &b.name {
        check_len("name", n, 1, 200)?;
    }
    let phone =
        match &b.phone {
            Some(ph) => Some(normalize_phone(ph).ok_or_else(|| {
                ApiError::field("phone", "must be a phone number with country code")
            })?),
            None => None,
        };
    if let Some(ph) = &phone
        && phone_taken(&st, ph, &id).await?
    {
        return Err(ApiError::conflict(
            "a contact with this phone number exists",
        ));
    }
    sqlx::query("UPDATE contacts SET name = COALESCE($2, name), phone = COALESCE($3, phone), email = COALESCE($4, email), notes = COALESCE($5, notes), updated_at = $6 WHERE id = $1")
        .bind(&id)
        .bind(b.name)
        .bind(phone)
        .bind(b.email)
        .bind(b.notes)
        .bind(now)
        .execute(&st.db.pool)
        .await?;
    Ok(Json(load_contact(&st, &id).await?))
}

pub async fn remove(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require("contacts:write")?;
    let mut tx = st.db.begin_write().await?;
    sqlx::query("DELETE FROM contact_group_members WHERE contact_id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query("DELETE FROM contacts WHERE id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("contact"));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    contact_ids: Option<Vec<String>>,
}

async fn load_group(st: &AppState, id: &str) -> Result<Value, ApiError> {
    let g: (String, String, Option<String>, i64, i64) = sqlx::query_as(
        "SELECT id, name, description, created_at, updated_at FROM contact_groups WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&st.db.pool)
    .await?
    .ok_or_else(|| ApiError::not_found("contact group"))?;
    let members: Vec<ContactRow> = sqlx::query_as(
        "SELECT c.id, c.name, c.phone, c.email, c.notes, c.created_at, c.updated_at FROM contacts c JOIN contact_group_members m ON m.contact_id = c.id WHERE m.group_id = $1 ORDER BY c.name, c.id",
    )
    .bind(id)
    .fetch_all(&st.db.pool)
    .await?;
    Ok(
        json!({ "id": g.0, "name": g.1, "description": g.2, "created_at": ts(Some(g.3)), "updated_at": ts(Some(g.4)), "member_count": members.len(), "members": members.into_iter().map(cview).collect::<Vec<_>>() }),
    )
}

async fn add_members(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    group: &str,
    ids: &[String],
    now: i64,
) -> Result<(), ApiError> {
    for (i, cid) in ids.iter().enumerate() {
        let c: Option<(String,)> = sqlx::query_as("SELECT id FROM contacts WHERE id = $1")
            .bind(cid)
            .fetch_optional(&mut **tx)
            .await?;
        if c.is_none() {
            return Err(ApiError::field(
                format!("contact_ids[{i}]"),
                "no such contact",
            ));
        }
        let there: Option<(String,)> = sqlx::query_as(
            "SELECT contact_id FROM contact_group_members WHERE group_id = $1 AND contact_id = $2",
        )
        .bind(group)
        .bind(cid)
        .fetch_optional(&mut **tx)
        .await?;
        if there.is_none() {
            sqlx::query("INSERT INTO contact_group_members (group_id, contact_id, added_at) VALUES ($1, $2, $3)")
                .bind(group)
                .bind(cid)
                .bind(now)
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

pub async fn create_group(
    State(st): State<AppState>,
    p: Principal,
    body: ApiJson<GroupBody>,
) -> Result<impl IntoResponse, ApiError> {
    p.require("contacts:write")?;
    let b = body.value;
    let name = b
        .name
        .ok_or_else(|| ApiError::field("name", "is required"))?;
    check_len("name", &name, 1, 200)?;
    if let Some(d) = &b.description {
        check_len("description", d, 0, 2000)?;
    }
    let id = new_id("grp");
    let now = now_ms();
    let mut tx = st.db.begin_write().await?;
    sqlx::query("INSERT INTO contact_groups (id, name, description, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)")
        .bind(&id)
        .bind(&name)
        .bind(b.description)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    add_members(&mut tx, &id, &b.contact_ids.unwrap_or_default(), now).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(load_group(&st, &id).await?)))
}

pub async fn list_groups(
    State(st): State<AppState>,
    p: Principal,
) -> Result<Json<Value>, ApiError> {
    p.require("contacts:read")?;
    let rows: Vec<(String, String, Option<String>, i64, i64, i64)> = sqlx::query_as(
        "SELECT g.id, g.name, g.description, g.created_at, g.updated_at, (SELECT COUNT(*) FROM contact_group_members m WHERE m.group_id = g.id) FROM contact_groups g ORDER BY g.name, g.id",
    )
    .fetch_all(&st.db.pool)
    .await?;
    let data: Vec<Value> = rows
        .into_iter()
        .map(|(id, n, d, c, u, count)| json!({ "id": id, "name": n, "description": d, "created_at": ts(Some(c)), "updated_at": ts(Some(u)), "member_count": count }))
        .collect();
    Ok(Json(json!({ "data": data })))
}

pub async fn get_group(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require("contacts:read")?;
    Ok(Json(load_group(&st, &id).await?))
}

pub async fn update_group(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    body: ApiJson<GroupBody>,
) -> Result<Json<Value>, ApiError> {
    p.require("contacts:write")?;
    load_group(&st, &id).await?;
    let b = body.value;
    if let Some(n) = &b.name {
        check_len("name", n, 1, 200)?;
    }
    if let Some(d) = &b.description {
        check_len("description", d, 0, 2000)?;
    }
    let now = now_ms();
    let mut tx = st.db.begin_write().await?;
    sqlx::query("UPDATE contact_groups SET name = COALESCE($2, name), description = COALESCE($3, description), updated_at = $4 WHERE id = $1")
        .bind(&id)
        .bind(b.name)
        .bind(b.description)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if let Some(ids) = b.contact_ids {
        // A given list replaces the membership.
        sqlx::query("DELETE FROM contact_group_members WHERE group_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        add_members(&mut tx, &id, &ids, now).await?;
    }
    tx.commit().await?;
    Ok(Json(load_group(&st, &id).await?))
}

pub async fn remove_group(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require("contacts:write")?;
    let mut tx = st.db.begin_write().await?;
    sqlx::query("DELETE FROM contact_group_members WHERE group_id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    let done = sqlx::query("DELETE FROM contact_groups WHERE id = $1")
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("contact group"));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn add_member(
    State(st): State<AppState>,
    p: Principal,
    Path((id, contact_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    p.require("contacts:write")?;
    load_group(&st, &id).await?;
    load_contact(&st, &contact_id).await?;
    let mut tx = st.db.begin_write().await?;
    add_members(&mut tx, &id, &[contact_id], now_ms()).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn remove_member(
    State(st): State<AppState>,
    p: Principal,
    Path((id, contact_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    p.require("contacts:write")?;
    let done =
        sqlx::query("DELETE FROM contact_group_members WHERE group_id = $1 AND contact_id = $2")
            .bind(&id)
            .bind(&contact_id)
            .execute(&st.db.pool)
            .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found("group member"));
    }
    Ok(StatusCode::NO_CONTENT)
}
