//! Credits: a price per message debited in the send's transaction, refused sends when the
//! balance is short, the bucket order, the ledger, and broadcasts charged all or nothing.

mod common;

use common::{Db, Harness, fast_config};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn priced(price: i64) -> wa_server::Config {
    let mut c = fast_config();
    c.price_per_message = price;
    c
}

async fn grant(h: &Harness, bucket: &str, amount: i64) -> Value {
    let (s, v) = h
        .admin(
            Method::POST,
            "/v1/credits/grants",
            Some(json!({ "amount": amount, "bucket": bucket, "note": "test" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

async fn sends_are_free_and_not_ledgered_without_a_price(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.create_device("d").await;
    h.send(&dev, json!({ "to": "628111222333", "text": "free" }))
        .await;
    let (s, v) = h.admin(Method::GET, "/v1/credits", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v,
        json!({ "balance": 0, "allowance": 0, "rollover": 0, "topup": 0, "price_per_message": 0 })
    );
    let (_, ledger) = h.admin(Method::GET, "/v1/credits/ledger", None).await;
    assert_eq!(ledger["data"], json!([]));
    h.stop().await;
}

async fn a_send_spends_allowance_then_rollover_then_topup(db: Db) {
    let Some(h) = Harness::start(db, priced(3)).await else {
        return;
    };
    grant(&h, "allowance", 2).await;
    grant(&h, "rollover", 2).await;
    let v = grant(&h, "topup", 10).await;
    assert_eq!(v["balance"], 14);
    let dev = h.create_device("d").await;
    let m = h
        .send(&dev, json!({ "to": "628111222333", "text": "paid" }))
        .await;
    let (_, v) = h.admin(Method::GET, "/v1/credits", None).await;
    assert_eq!(
        (&v["allowance"], &v["rollover"], &v["topup"], &v["balance"]),
        (&json!(0), &json!(1), &json!(10), &json!(11))
    );
    let (_, ledger) = h.admin(Method::GET, "/v1/credits/ledger", None).await;
    let debits: Vec<(String, i64)> = ledger["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "debit")
        .map(|e| {
            assert_eq!(e["message_id"], m["id"]);
            (
                e["bucket"].as_str().unwrap().to_string(),
                e["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut debits = debits;
    debits.sort();
    assert_eq!(
        debits,
        [("allowance".to_string(), -2), ("rollover".to_string(), -1)]
    );
    h.stop().await;
}

async fn a_send_the_balance_does_not_cover_is_refused_and_not_queued(db: Db) {
    let Some(h) = Harness::start(db, priced(5)).await else {
        return;
    };
    grant(&h, "topup", 4).await;
    let dev = h.create_device("d").await;
    let (s, v) = h
        .admin(
            Method::POST,
            &format!("/v1/devices/{dev}/messages"),
            Some(json!({ "to": "628111222333", "text": "too dear" })),
        )
        .await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{v}");
    assert_eq!(v["error"]["code"], "insufficient_credits");
    let (_, log) = h.admin(Method::GET, "/v1/messages", None).await;
    assert_eq!(log["data"], json!([]), "nothing may be queued");
    let (_, c) = h.admin(Method::GET, "/v1/credits", None).await;
    assert_eq!(c["balance"], 4);
    h.stop().await;
}

async fn a_broadcast_is_charged_per_recipient_all_or_nothing(db: Db) {
    let Some(h) = Harness::start(db, priced(1)).await else {
        return;
    };
    let dev = h.create_device("d").await;
    let mut ids = Vec::new();
    for (i, phone) in ["628111000001", "628111000002", "628111000003"]
        .iter()
        .enumerate()
    {
        let (s, v) = h
            .admin(
                Method::POST,
                "/v1/contacts",
                Some(json!({ "name": format!("c{i}"), "phone": phone })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let (s, g) = h
        .admin(
            Method::POST,
            "/v1/contact-groups",
            Some(json!({ "name": "all", "contact_ids": ids })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let body = json!({ "contact_group_id": g["id"], "text": "hi {{name}}" });
    grant(&h, "topup", 2).await;
    let (s, v) = h
        .admin(
            Method::POST,
            &format!("/v1/devices/{dev}/broadcasts"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{v}");
    let (_, log) = h.admin(Method::GET, "/v1/messages", None).await;
    assert_eq!(log["data"], json!([]), "no partial broadcast");
    grant(&h, "topup", 1).await;
    let (s, v) = h
        .admin(
            Method::POST,
            &format!("/v1/devices/{dev}/broadcasts"),
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (_, c) = h.admin(Method::GET, "/v1/credits", None).await;
    assert_eq!(c["balance"], 0);
    h.stop().await;
}

async fn grants_are_admin_only_and_validated(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let (s, k) = h
        .admin(
            Method::POST,
            "/v1/keys",
            Some(json!({ "name": "reader", "scopes": ["credits:read"] })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    let key = k["key"].as_str().unwrap();
    let (s, _, _) = h.call(Method::GET, "/v1/credits", Some(key), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, v) = h
        .call(
            Method::POST,
            "/v1/credits/grants",
            Some(key),
            Some(json!({ "amount": 5 })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    for (body, field) in [
        (json!({ "amount": 0 }), "amount"),
        (json!({ "amount": 5, "bucket": "gold" }), "bucket"),
        (json!({ "amount": -1, "bucket": "topup" }), "amount"),
    ] {
        let (s, v) = h
            .admin(Method::POST, "/v1/credits/grants", Some(body))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(v["error"]["field"], field, "{v}");
    }
    h.stop().await;
}

both_backends!(
    sends_are_free_and_not_ledgered_without_a_price,
    a_send_spends_allowance_then_rollover_then_topup,
    a_send_the_balance_does_not_cover_is_refused_and_not_queued,
    a_broadcast_is_charged_per_recipient_all_or_nothing,
    grants_are_admin_only_and_validated,
);
