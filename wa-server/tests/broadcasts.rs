//! Broadcasts to a contact group: one ordinary queued message per member with the template
//! filled from the contact and the request's `vars`, paced by the device's queue.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{Db, Harness, fast_config};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wa_server::OutboundContent;

async fn contact(h: &Harness, name: &str, phone: &str, email: Option<&str>) -> String {
    let (s, v) = h
        .admin(
            Method::POST,
            "/v1/contacts",
            Some(json!({ "name": name, "phone": phone, "email": email })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn group(h: &Harness, ids: &[String]) -> String {
    let (s, v) = h
        .admin(
            Method::POST,
            "/v1/contact-groups",
            Some(json!({ "name": "pelanggan", "contact_ids": ids })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().unwrap().to_string()
}

async fn broadcast(h: &Harness, device: &str, body: Value) -> (StatusCode, Value) {
    h.admin(
        Method::POST,
        &format!("/v1/devices/{device}/broadcasts"),
        Some(body),
    )
    .await
}

async fn each_member_gets_its_own_paced_message_with_its_variables(db: Db) {
    let mut cfg = fast_config();
    cfg.queue.min_delay = Duration::from_millis(100);
    cfg.queue.max_delay = Duration::from_millis(150);
    let Some(h) = Harness::start(db, cfg).await else {
        return;
    };
    let ani = contact(
        &h,
        "Ani Wijaya",
        "+62 811-0000-0001",
        Some("ani@example.com"),
    )
    .await;
    let budi = contact(&h, "Budi", "6281100000002", None).await;
    let citra = contact(&h, "Citra Dewi", "6281100000003", None).await;
    let grp = group(&h, &[ani.clone(), budi.clone(), citra.clone()]).await;
    let dev = h.online_device("d").await;

    let (s, v) = broadcast(
        &h,
        &dev,
        json!({ "contact_group_id": grp, "text": "Halo {{first_name}}, kode {{promo}} ({{email}})", "vars": { "promo": "HEMAT" } }),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["count"], 3);
    assert!(v["id"].as_str().unwrap().starts_with("bc_"), "{v}");
    let messages = v["messages"].as_array().unwrap();
    let by_contact: HashMap<String, String> = messages
        .iter()
        .map(|m| {
            (
                m["contact_id"].as_str().unwrap().to_string(),
                m["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(by_contact.len(), 3);

    h.wait_for(|| async { h.transport.sent().len() == 3 }).await;
    let sent = h.transport.sent();
    let texts: HashMap<String, String> = sent
        .iter()
        .map(|r| match &r.message.content {
            OutboundContent::Text(t) => (r.message.to.clone(), t.clone()),
            other => panic!("not a text: {other:?}"),
        })
        .collect();
    assert_eq!(
        texts["6281100000001@s.whatsapp.net"],
        "Halo Ani, kode HEMAT (ani@example.com)"
    );
    assert_eq!(
        texts["6281100000002@s.whatsapp.net"],
        "Halo Budi, kode HEMAT ()"
    );
    assert_eq!(
        texts["6281100000003@s.whatsapp.net"],
        "Halo Citra, kode HEMAT ()"
    );
    let at: Vec<Instant> = sent.iter().map(|r| r.at).collect();
    for w in at.windows(2) {
        assert!(
            w[1] - w[0] >= Duration::from_millis(100),
            "{:?}",
            w[1] - w[0]
        );
    }
    // Each is an ordinary message: its own status, tagged with the broadcast id.
    for id in by_contact.values() {
        let m = h.wait_status(id, "sent").await;
        assert_eq!(m["reference_id"], v["id"], "{m}");
    }
    h.stop().await;
}

async fn a_broadcast_with_an_unknown_variable_or_no_members_is_refused(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.create_device("d").await;
    let ani = contact(&h, "Ani", "6281100000001", None).await;
    let grp = group(&h, &[ani]).await;
    let empty = group(&h, &[]).await;

    let (s, v) = broadcast(
        &h,
        &dev,
        json!({ "contact_group_id": grp, "text": "Halo {{nmae}}" }),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["field"], "text");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("nmae"),
        "{v}"
    );

    let (s, v) = broadcast(&h, &dev, json!({ "contact_group_id": empty, "text": "hi" })).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["error"]["field"], "contact_group_id");

    let (s, v) = broadcast(
        &h,
        &dev,
        json!({ "contact_group_id": "cg_missing", "text": "hi" }),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");

    let (s, v) = broadcast(
        &h,
        "dev_missing",
        json!({ "contact_group_id": grp, "text": "hi" }),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");

    // Nothing was queued by the refused requests.
    let (_, log) = h.admin(Method::GET, "/v1/messages", None).await;
    assert_eq!(log["data"], json!([]));
    h.stop().await;
}

both_backends!(
    each_member_gets_its_own_paced_message_with_its_variables,
    a_broadcast_with_an_unknown_variable_or_no_members_is_refused,
);
