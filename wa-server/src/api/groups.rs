//! `/v1/devices/{id}/groups`: the device's WhatsApp groups (list, metadata, create, add or
//! remove members, leave), answered live by WhatsApp through the transport. Nothing is stored:
//! WhatsApp is the source of truth for groups, and a device that is not connected answers
//! 503 `device_offline`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use super::devices::{load, transport_error};
use super::{check_len, normalize_to};
use crate::auth::Principal;
use crate::error::{ApiError, ApiJson};
use crate::state::AppState;
use crate::transport::{GroupMetadata, ParticipantAction};

/// WhatsApp's limit on a group's size; a request naming more members cannot succeed.
const MAX_MEMBERS: usize = 1024;

/// Checks the device exists and the key may use it.
async fn device(st: &AppState, p: &Principal, id: &str) -> Result<(), ApiError> {
    load(st, p, id).await.map(|_| ())
}

/// A group named in a path: `120363…@g.us`, or the bare id before `@g.us`.
fn group_jid(raw: &str) -> Result<String, ApiError> {
    let id = raw.strip_suffix("@g.us").unwrap_or(raw);
    let ok = !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_digit() || c == '-');
    if !ok {
        return Err(ApiError::field("jid", "not a WhatsApp group JID (…@g.us)"));
    }
    Ok(format!("{id}@g.us"))
}

/// Phone numbers or user JIDs, normalized to user JIDs; `field` names the list.
fn member_jids(field: &str, list: &[String], min: usize) -> Result<Vec<String>, ApiError> {
    if list.len() < min || list.len() > MAX_MEMBERS {
        return Err(ApiError::field(
            field,
            format!("must name {min} to {MAX_MEMBERS} members"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for (i, raw) in list.iter().enumerate() {
        let jid = normalize_to(&format!("{field}[{i}]"), raw)?;
        if !(jid.ends_with("@s.whatsapp.net") || jid.ends_with("@lid")) {
            return Err(ApiError::field(
                format!("{field}[{i}]"),
                "must be a phone number or a user JID",
            ));
        }
        if !out.contains(&jid) {
            out.push(jid);
        }
    }
    Ok(out)
}

fn view(g: &GroupMetadata) -> Value {
    json!({
        "jid": g.jid,
        "subject": g.subject,
        "creator": g.creator,
        "created_at": g.created_at.map(|s| crate::util::rfc3339(s as i64 * 1000)),
        "participant_count": g.participants.len(),
        "participants": g.participants,
    })
}

pub async fn list(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require("devices:read")?;
    device(&st, &p, &id).await?;
    let groups = st.transport.groups(&id).await.map_err(transport_error)?;
    Ok(Json(
        json!({ "data": groups.iter().map(view).collect::<Vec<_>>() }),
    ))
}

pub async fn get_one(
    State(st): State<AppState>,
    p: Principal,
    Path((id, jid)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    p.require("devices:read")?;
    device(&st, &p, &id).await?;
    let jid = group_jid(&jid)?;
    let g = st
        .transport
        .group_info(&id, &jid)
        .await
        .map_err(transport_error)?;
    Ok(Json(view(&g)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    subject: String,
    #[serde(default)]
    participants: Vec<String>,
}

pub async fn create(
    State(st): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    body: ApiJson<CreateGroup>,
) -> Result<impl IntoResponse, ApiError> {
    p.require("devices:write")?;
    device(&st, &p, &id).await?;
    let body = body.value;
    check_len("subject", body.subject.trim(), 1, 100)?;
    let members = member_jids("participants", &body.participants, 1)?;
    let g = st
        .transport
        .create_group(&id, body.subject.trim(), &members)
        .await
        .map_err(transport_error)?;
    Ok((StatusCode::CREATED, Json(view(&g))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeParticipants {
    add: Option<Vec<String>>,
    remove: Option<Vec<String>>,
}

pub async fn participants(
    State(st): State<AppState>,
    p: Principal,
    Path((id, jid)): Path<(String, String)>,
    body: ApiJson<ChangeParticipants>,
) -> Result<Json<Value>, ApiError> {
    p.require("devices:write")?;
    device(&st, &p, &id).await?;
    let jid = group_jid(&jid)?;
    let (action, field, list) = match (body.value.add, body.value.remove) {
        (Some(list), None) => (ParticipantAction::Add, "add", list),
        (None, Some(list)) => (ParticipantAction::Remove, "remove", list),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of `add` and `remove`",
            ));
        }
    };
    let members = member_jids(field, &list, 1)?;
    let outcomes = st
        .transport
        .change_participants(&id, &jid, action, &members)
        .await
        .map_err(transport_error)?;
    Ok(Json(json!({ "action": field, "data": outcomes })))
}

pub async fn leave(
    State(st): State<AppState>,
    p: Principal,
    Path((id, jid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    p.require("devices:write")?;
    device(&st, &p, &id).await?;
    let jid = group_jid(&jid)?;
    st.transport
        .leave_group(&id, &jid)
        .await
        .map_err(transport_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_paths_accept_the_jid_or_the_bare_id() {
        assert_eq!(
            group_jid("120363000000000001@g.us").unwrap(),
            "120363000000000001@g.us"
        );
        assert_eq!(
            group_jid("120363000000000001").unwrap(),
            "120363000000000001@g.us"
        );
        for bad in ["", "@g.us", "abc@g.us", "6281@s.whatsapp.net", "../x"] {
            assert!(group_jid(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn members_are_normalized_deduplicated_and_must_be_users() {
        let list = vec![
            "+62 811-0000-0001".to_string(),
            "6281100000001@s.whatsapp.net".to_string(),
            "1234567890123@lid".to_string(),
        ];
        assert_eq!(
            member_jids("add", &list, 1).unwrap(),
            vec![
                "6281100000001@s.whatsapp.net".to_string(),
                "1234567890123@lid".to_string()
            ]
        );
        let err = member_jids("add", &["120363000000000001@g.us".into()], 1).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("add[0]"));
        let err = member_jids("add", &[], 1).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("add"));
    }
}
