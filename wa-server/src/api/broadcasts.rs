//! `POST /v1/devices/{id}/broadcasts`: one text to every member of a contact group, with
//! per-recipient template variables. Each recipient gets an ordinary queued message (own id,
//! status, receipts, webhooks), all accepted in one transaction; the queue's per-device pacing
//! spaces them out like any other messages.
//!
//! Templates: `{{name}}`, `{{phone}}`, `{{email}}`, `{{notes}}` come from the contact
//! (`{{first_name}}` is the name's first word), any other `{{key}}` from the request's
//! `vars`; contact fields win. A variable that is neither is refused with 400 (a typo would
//! otherwise reach every recipient); a known contact field that is empty renders as "".

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::check_len;
use crate::auth::Principal;
use crate::error::{ApiError, ApiJson};
use crate::queue::StoredContent;
use crate::state::AppState;
use crate::util::new_id;

/// Variables every contact provides.
const CONTACT_VARS: [&str; 5] = ["name", "first_name", "phone", "email", "notes"];

/// A contact group may be large, but one request must stay bounded.
const MAX_RECIPIENTS: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Broadcast {
    contact_group_id: String,
    text: String,
    #[serde(default)]
    vars: HashMap<String, String>,
}

/// One piece of a parsed template.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Literal(&'a str),
    Var(&'a str),
}

/// Splits `text` at `{{ key }}` markers. A `{{` without a closing `}}`, or with a key that is
/// not `[A-Za-z0-9_]+`, stays literal text.
fn parse(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        let key = after[..end].trim();
        let valid = !key.is_empty()
            && key.len() <= 64
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            if start > 0 {
                out.push(Piece::Literal(&rest[..start]));
            }
            out.push(Piece::Var(key));
            rest = &after[end + 2..];
        } else {
            out.push(Piece::Literal(&rest[..start + 2]));
            rest = after;
        }
    }
    if !rest.is_empty() {
        out.push(Piece::Literal(rest));
    }
    out
}

/// (id, name, phone, email, notes) of a member.
type MemberRow = (String, String, String, Option<String>, Option<String>);

/// A contact's fields, as template variables.
struct Recipient {
    id: String,
    name: String,
    phone: String,
    email: Option<String>,
    notes: Option<String>,
}

impl Recipient {
    fn var(&self, key: &str) -> Option<&str> {
        Some(match key {
            "name" => &self.name,
            "first_name" => self.name.split_whitespace().next().unwrap_or(""),
            "phone" => &self.phone,
            "email" => self.email.as_deref().unwrap_or(""),
            "notes" => self.notes.as_deref().unwrap_or(""),
            _ => return None,
        })
    }
}

fn render(pieces: &[Piece<'_>], r: &Recipient, vars: &HashMap<String, String>) -> String {
    let mut s = String::new();
    for p in pieces {
        match p {
            Piece::Literal(l) => s.push_str(l),
            Piece::Var(k) => s.push_str(
                r.var(k)
                    .or_else(|| vars.get(*k).map(String::as_str))
                    .unwrap_or(""),
            ),
        }
    }
    s
}

pub async fn create(
    State(st): State<AppState>,
    p: Principal,
    Path(device_id): Path<String>,
    body: ApiJson<Broadcast>,
) -> Result<impl IntoResponse, ApiError> {
    p.require("messages:send")?;
    p.check_device(&device_id)?;
    let b = body.value;
    check_len("text", &b.text, 1, 65536)?;
    if b.vars.len() > 100 {
        return Err(ApiError::field("vars", "at most 100 variables"));
    }
    for (k, v) in &b.vars {
        check_len(&format!("vars.{k}"), v, 0, 4096)?;
    }
    let pieces = parse(&b.text);
    if let Some(Piece::Var(unknown)) = pieces.iter().find(|p| match p {
        Piece::Var(k) => !CONTACT_VARS.contains(k) && !b.vars.contains_key(*k),
        Piece::Literal(_) => false,
    }) {
        return Err(ApiError::field(
            "text",
            format!(
                "unknown variable {{{{{unknown}}}}}: use name, first_name, phone, email, notes or a key of `vars`"
            ),
        ));
    }
    let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM devices WHERE id = $1")
        .bind(&device_id)
        .fetch_optional(&st.db.pool)
        .await?;
    if exists.is_none() {
        return Err(ApiError::not_found("device"));
    }
    let group: Option<(String,)> = sqlx::query_as("SELECT id FROM contact_groups WHERE id = $1")
        .bind(&b.contact_group_id)
        .fetch_optional(&st.db.pool)
        .await?;
    if group.is_none() {
        let mut e = ApiError::not_found("contact group");
        e.field = Some("contact_group_id".into());
        return Err(e);
    }
    let rows: Vec<MemberRow> = sqlx::query_as(
        "SELECT c.id, c.name, c.phone, c.email, c.notes FROM contact_group_members m JOIN contacts c ON c.id = m.contact_id WHERE m.group_id = $1 ORDER BY m.added_at, c.id",
    )
    .bind(&b.contact_group_id)
    .fetch_all(&st.db.pool)
    .await?;
    if rows.is_empty() {
        return Err(ApiError::field(
            "contact_group_id",
            "the contact group has no members",
        ));
    }
    if rows.len() > MAX_RECIPIENTS {
        return Err(ApiError::field(
            "contact_group_id",
            format!("a broadcast reaches at most {MAX_RECIPIENTS} contacts"),
        ));
    }
    let broadcast_id = new_id("bc");
    let mut accepted = Vec::with_capacity(rows.len());
    let mut tx = st.db.begin_write().await?;
    for (id, name, phone, email, notes) in rows {
        let r = Recipient {
            id,
            name,
            phone,
            email,
            notes,
        };
        let text = render(&pieces, &r, &b.vars);
        if text.trim().is_empty() {
            return Err(ApiError::field(
                "text",
                format!("renders empty for contact {}", r.id),
            ));
        }
        let to = format!("{}@s.whatsapp.net", r.phone);
        // Normal priority: a broadcast must not starve the device's one-off messages. The
        // broadcast id is each message's reference.
        let queued = crate::sending::insert(
            &st,
            &mut tx,
            crate::sending::NewMessage {
                device_id: device_id.clone(),
                to: to.clone(),
                content: StoredContent::Text { text },
                reply_to: None,
                mentions: Vec::new(),
                priority: crate::sending::Priority::Normal,
                send_at: None,
                reference_id: Some(broadcast_id.clone()),
                api_key_id: Some(p.key_id.clone()),
            },
        )
        .await?;
        let message_id = queued.id;
        accepted
            .push(json!({ "id": message_id, "contact_id": r.id, "to": to, "status": "queued" }));
    }
    tx.commit().await?;
    tracing::info!(%broadcast_id, device_id = %device_id, count = accepted.len(), "broadcast queued");
    crate::queue::wake(&st, &device_id);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "id": broadcast_id,
            "device_id": device_id,
            "contact_group_id": b.contact_group_id,
            "count": accepted.len(),
            "messages": accepted,
        })),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ani() -> Recipient {
        Recipient {
            id: "ct_1".into(),
            name: "Ani Wijaya".into(),
            phone: "6281100000001".into(),
            email: None,
            notes: Some("VIP".into()),
        }
    }

    #[test]
    fn templates_take_contact_fields_then_request_vars() {
        let vars = HashMap::from([
            ("promo".to_string(), "DISKON10".to_string()),
            ("name".to_string(), "ignored".to_string()),
        ]);
        let pieces =
            parse("Halo {{ name }} ({{first_name}}), kode {{promo}} untuk {{phone}}{{email}}!");
        assert_eq!(
            render(&pieces, &ani(), &vars),
            "Halo Ani Wijaya (Ani), kode DISKON10 untuk 6281100000001!"
        );
    }

    #[test]
    fn malformed_markers_stay_literal_text() {
        let pieces = parse("a {{ b c }} {{ d {{notes}} }}");
        assert_eq!(
            render(&pieces, &ani(), &HashMap::new()),
            "a {{ b c }} {{ d VIP }}"
        );
        assert_eq!(parse("{{"), vec![Piece::Literal("{{")]);
        assert_eq!(parse(""), vec![]);
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics_and_keeps_text_without_markers(s in "\\PC{0,60}") {
            let pieces = parse(&s);
            if !s.contains("{{") {
                proptest::prop_assert_eq!(render(&pieces, &ani(), &HashMap::new()), s);
            }
        }
    }
}
