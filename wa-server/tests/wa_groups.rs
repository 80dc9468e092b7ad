//! The device's WhatsApp groups through the native API, end to end: HTTP in front,
//! `ClientTransport` (wa-client) behind, the demo sandbox as WhatsApp (its phones link devices
//! by themselves; its echo contacts are the members). On SQLite and on PostgreSQL.

mod common;

use common::sandbox::SandboxGateway;
use common::{ADMIN, Db};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const ANI: &str = "6281100000001";
const BUDI: &str = "6281100000002";
const CITRA: &str = "6281100000003";

fn user(number: &str) -> String {
    format!("{number}@s.whatsapp.net")
}

fn member_jids(group: &Value) -> Vec<String> {
    let mut v: Vec<String> = group["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["jid"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

async fn groups_are_created_listed_read_changed_and_left(db: Db) {
    let Some(g) = SandboxGateway::start_demo(db).await else {
        return;
    };
    let key = g.key(&["devices:read", "devices:write"]).await;
    let (dev, own) = g.demo_device().await;
    let base = format!("/v1/devices/{dev}/groups");

    let (s, created) = g
        .call(
            &key,
            Method::POST,
            &base,
            Some(json!({ "subject": "Pelanggan setia", "participants": [format!("+{ANI}"), user(BUDI)] })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let jid = created["jid"].as_str().unwrap().to_string();
    assert!(jid.ends_with("@g.us"), "{created}");
    assert_eq!(created["subject"], "Pelanggan setia");
    let mut expected = vec![user(&own), user(ANI), user(BUDI)];
    expected.sort();
    assert_eq!(member_jids(&created), expected);
    let me = created["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["jid"] == user(&own))
        .unwrap();
    assert_eq!(me["is_super_admin"], true, "{created}");

    let (s, list) = g.call(&key, Method::GET, &base, None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let listed: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["jid"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![jid.as_str()]);

    // The bare id works as well as the JID.
    let bare = jid.trim_end_matches("@g.us");
    let (s, one) = g
        .call(&key, Method::GET, &format!("{base}/{bare}"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{one}");
    assert_eq!(one["jid"], jid.as_str());
    assert_eq!(one["participant_count"], 3);

    let (s, added) = g
        .call(
            &key,
            Method::POST,
            &format!("{base}/{jid}/participants"),
            Some(json!({ "add": [CITRA] })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{added}");
    assert_eq!(added["action"], "add");
    assert_eq!(added["data"][0]["jid"], user(CITRA));
    assert!(added["data"][0]["error"].is_null(), "{added}");

    let (s, removed) = g
        .call(
            &key,
            Method::POST,
            &format!("{base}/{jid}/participants"),
            Some(json!({ "remove": [user(ANI)] })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{removed}");
    let (_, one) = g
        .call(&key, Method::GET, &format!("{base}/{jid}"), None)
        .await;
    let mut expected = vec![user(&own), user(BUDI), user(CITRA)];
    expected.sort();
    assert_eq!(member_jids(&one), expected);

    let (s, v) = g
        .call(&key, Method::POST, &format!("{base}/{jid}/leave"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (_, list) = g.call(&key, Method::GET, &base, None).await;
    assert_eq!(list["data"], json!([]));
    // No longer a member: WhatsApp refuses the metadata.
    let (s, v) = g
        .call(&key, Method::GET, &format!("{base}/{jid}"), None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "whatsapp_refused");
    g.stop().await;
}

async fn group_requests_are_checked_before_they_reach_whatsapp(db: Db) {
    let Some(g) = SandboxGateway::start_demo(db).await else {
        return;
    };
    let sender = g.key(&["messages:send"]).await;
    let writer = g.key(&["devices:read", "devices:write"]).await;
    let offline = g.create_device(ADMIN).await;
    let base = format!("/v1/devices/{offline}/groups");

    let (s, v) = g.call(&sender, Method::GET, &base, None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["scope"], "devices:read");
    let (s, v) = g
        .call(
            &sender,
            Method::POST,
            &base,
            Some(json!({ "subject": "x", "participants": [ANI] })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["scope"], "devices:write");

    let (s, v) = g.call(&writer, Method::GET, &base, None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["error"]["code"], "device_offline");

    let (s, v) = g
        .call(
            &writer,
            Method::POST,
            &base,
            Some(json!({ "subject": "x", "participants": ["120363000000000001@g.us"] })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["field"], "participants[0]");
    let (s, v) = g
        .call(
            &writer,
            Method::POST,
            &base,
            Some(json!({ "subject": "", "participants": [ANI] })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["field"], "subject");
    let (s, v) = g
        .call(
            &writer,
            Method::POST,
            &format!("{base}/120363000000000001@g.us/participants"),
            Some(json!({ "add": [ANI], "remove": [BUDI] })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v) = g
        .call(&writer, Method::GET, &format!("{base}/not-a-group!"), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["field"], "jid");
    let (s, v) = g
        .call(&writer, Method::GET, "/v1/devices/dev_missing/groups", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    g.stop().await;
}

both_backends!(
    groups_are_created_listed_read_changed_and_left,
    group_requests_are_checked_before_they_reach_whatsapp,
);
