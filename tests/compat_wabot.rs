//! Contract 001 (wabot) against the real `wasap serve --demo`: every curl example of the seed
//! sent as written (only ids and keys replaced), the `{"ok", "data"|"error"}` envelope with
//! every documented code, every scope rule (403 FORBIDDEN), Idempotency-Key on POST, the
//! per-key rate limit (60 rpm by default), and hand-off stopping automated (BOT) replies.

mod common;

use common::contract_gateway::{Answer, ContractGateway, Db};
use reqwest::Method;
use serde_json::{Value, json};

const ALL_SCOPES: [&str; 7] = [
    "conversations:read",
    "conversations:write",
    "messages:send",
    "products:read",
    "products:write",
    "credits:read",
    "usage:read",
];

struct Wabot {
    gw: ContractGateway,
    device: String,
    key: String,
}

async fn start(b: Db, extra: &[&str]) -> Option<Wabot> {
    let gw = ContractGateway::start(b, extra).await?;
    let device = gw.device("toko").await;
    let (_, key) = gw
        .key(json!({ "name": "crm", "scopes": ALL_SCOPES, "device_id": device }))
        .await;
    Some(Wabot { gw, device, key })
}

impl Wabot {
    async fn get(&self, path: &str) -> Answer {
        self.gw
            .request(
                Method::GET,
                &format!("/api/v1{path}"),
                Some(&self.key),
                None,
                &[],
            )
            .await
    }
    async fn post(&self, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Answer {
        self.gw
            .request(
                Method::POST,
                &format!("/api/v1{path}"),
                Some(&self.key),
                body.as_ref(),
                headers,
            )
            .await
    }
    async fn patch(&self, path: &str, body: Value) -> Answer {
        self.gw
            .request(
                Method::PATCH,
                &format!("/api/v1{path}"),
                Some(&self.key),
                Some(&body),
                &[],
            )
            .await
    }
    /// Starts a chat with `to` through the native API; returns the conversation id.
    async fn chat_with(&self, to: &str, text: &str) -> String {
        let a = self
            .gw
            .admin(
                Method::POST,
                &format!("/v1/devices/{}/messages", self.device),
                Some(json!({ "to": to, "text": text })),
            )
            .await;
        assert_eq!(a.status, 202, "{}", a.text);
        let list = self.get("/conversations?limit=100").await;
        let items = data(&list)["items"].as_array().unwrap().clone();
        items
            .iter()
            .find(|c| c["phone"] == to)
            .unwrap_or_else(|| panic!("no conversation with {to}: {}", list.text))["id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// The `data` of a successful envelope.
fn data(a: &Answer) -> &Value {
    assert!(a.status < 300, "{} {}", a.status, a.text);
    assert_eq!(a.body["ok"], true, "{}", a.text);
    assert!(a.body.get("data").is_some(), "{}", a.text);
    &a.body["data"]
}

/// A failure envelope with `code`.
fn assert_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{}", a.text);
    assert_eq!(a.body["ok"], false, "{}", a.text);
    assert_eq!(a.body["error"]["code"], code, "{}", a.text);
    assert!(
        a.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{}",
        a.text
    );
    assert_eq!(a.body.as_object().unwrap().len(), 2, "{}", a.text);
}

fn assert_conversation_fields(c: &Value) {
    for f in [
        "id",
        "device_id",
        "chat",
        "status",
        "last_message_at",
        "created_at",
        "updated_at",
    ] {
        assert!(c[f].is_string(), "{f} in {c}");
    }
    assert!(c["is_group"].is_boolean(), "{c}");
    assert!(
        ["BOT", "HUMAN"].contains(&c["status"].as_str().unwrap()),
        "{c}"
    );
}

async fn ping_needs_a_valid_key_but_no_scope(b: Db) {
    let Some(w) = start(b, &[]).await else { return };
    let (_, narrow) =
        w.gw.key(json!({ "name": "narrow", "scopes": ["devices:read"] }))
            .await;
    // The seed's example, with our key.
    let a =
        w.gw.request(Method::GET, "/api/v1/ping", Some(&narrow), None, &[])
            .await;
    let d = data(&a);
    assert_eq!(d["pong"], true);
    assert_eq!(d["key"]["name"], "narrow");
    assert!(d["server_time"].is_string());
    let a =
        w.gw.request(Method::GET, "/api/v1/ping", None, None, &[])
            .await;
    assert_error(&a, 401, "UNAUTHORIZED");
    let a =
        w.gw.request(
            Method::GET,
            "/api/v1/ping",
            Some("tk_live_xxxxx"),
            None,
            &[],
        )
        .await;
    assert_error(&a, 401, "UNAUTHORIZED");
    let a =
        w.gw.request(
            Method::GET,
            "/api/v1/ping",
            None,
            None,
            &[("authorization", "Basic abc")],
        )
        .await;
    assert_error(&a, 401, "UNAUTHORIZED");
    w.gw.stop().await;
}

async fn every_endpoint_refuses_a_key_without_its_scope(b: Db) {
    let Some(w) = start(b, &[]).await else { return };
    let conv = w.chat_with("6281234567890", "Halo").await;
    let created = w
        .post(
            "/products",
            Some(json!({ "name": "Kemeja Batik", "price": 245000, "stock": 20 })),
            &[],
        )
        .await;
    let product = data(&created)["id"].as_str().unwrap().to_string();
    let routes: Vec<(Method, String, Option<Value>, &str)> = vec![
        (
            Method::GET,
            "/conversations?status=HUMAN".into(),
            None,
            "conversations:read",
        ),
        (
            Method::GET,
            format!("/conversations/{conv}"),
            None,
            "conversations:read",
        ),
        (
            Method::POST,
            format!("/conversations/{conv}/messages"),
            Some(json!({ "text": "Halo dari sistem kami", "as": "HUMAN_AGENT" })),
            "messages:send",
        ),
        (
            Method::POST,
            format!("/conversations/{conv}/handoff"),
            None,
            "conversations:write",
        ),
        (Method::GET, "/products".into(), None, "products:read"),
        (
            Method::POST,
            "/products".into(),
            Some(json!({ "name": "Kemeja Batik", "price": 245000, "stock": 20 })),
            "products:write",
        ),
        (
            Method::PATCH,
            format!("/products/{product}"),
            Some(json!({ "stock": 5 })),
            "products:write",
        ),
        (Method::GET, "/credits".into(), None, "credits:read"),
        (Method::GET, "/usage?days=30".into(), None, "usage:read"),
    ];
    for (method, path, body, scope) in routes {
        // Every other wabot scope, but not this one: 403 FORBIDDEN naming it.
        let others: Vec<&str> = ALL_SCOPES.iter().copied().filter(|s| *s != scope).collect();
        let (_, without) =
            w.gw.key(json!({ "name": "without", "scopes": others, "device_id": w.device }))
                .await;
        let a =
            w.gw.request(
                method.clone(),
                &format!("/api/v1{path}"),
                Some(&without),
                body.as_ref(),
                &[],
            )
            .await;
        assert_error(&a, 403, "FORBIDDEN");
        assert!(
            a.body["error"]["message"].as_str().unwrap().contains(scope),
            "{}",
            a.text
        );
        // Exactly this scope is enough.
        let (_, with) =
            w.gw.key(json!({ "name": "with", "scopes": [scope], "device_id": w.device }))
                .await;
        let a =
            w.gw.request(
                method.clone(),
                &format!("/api/v1{path}"),
                Some(&with),
                body.as_ref(),
                &[],
            )
            .await;
        assert!(a.status < 300, "{method} {path} with {scope}: {}", a.text);
        assert_eq!(a.body["ok"], true);
        // admin:* opens everything.
        let a =
            w.gw.request(
                method.clone(),
                &format!("/api/v1{path}"),
                Some(common::contract_gateway::ADMIN),
                body.as_ref(),
                &[],
            )
            .await;
        assert!(a.status < 300, "{method} {path} as admin: {}", a.text);
    }
    w.gw.stop().await;
}

async fn conversations_filter_by_status_and_page_with_a_cursor(b: Db) {
    let Some(w) = start(b, &[]).await else { return };
    let mut ids = Vec::new();
    for to in ["6281234567891", "6281234567892", "6281234567893"] {
        ids.push(w.chat_with(to, "Halo").await);
    }
    let a = w
        .post(&format!("/conversations/{}/handoff", ids[1]), None, &[])
        .await;
    data(&a);
    // The seed's example: ?status=HUMAN.
    let a = w.get("/conversations?status=HUMAN").await;
    let items = data(&a)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1, "{}", a.text);
    assert_eq!(items[0]["id"], ids[1].as_str());
    assert_conversation_fields(&items[0]);
    let a = w.get("/conversations?status=BOT").await;
    assert_eq!(data(&a)["items"].as_array().unwrap().len(), 2);
    // Pages of one, newest first, until next_cursor is null.
    let mut seen = Vec::new();
    let mut path = "/conversations?limit=1".to_string();
    loop {
        let a = w.get(&path).await;
        let d = data(&a).clone();
        let items = d["items"].as_array().unwrap();
        assert!(items.len() <= 1);
        seen.extend(items.iter().map(|c| c["id"].as_str().unwrap().to_string()));
        match d["next_cursor"].as_str() {
            Some(c) => path = format!("/conversations?limit=1&cursor={c}"),
            None => break,
        }
    }
    let mut expected = ids.clone();
    expected.reverse();
    assert_eq!(seen, expected);
    assert_error(
        &w.get("/conversations?status=CLOSED").await,
        400,
        "VALIDATION_ERROR",
    );
    assert_error(
        &w.get("/conversations?cursor=garbage!").await,
        400,
        "VALIDATION_ERROR",
    );
    assert_error(
        &w.get("/conversations?limit=0").await,
        400,
        "VALIDATION_ERROR",
    );
    w.gw.stop().await;
}

async fn a_conversation_comes_with_its_last_messages(b: Db) {
    let Some(w) = start(b, &[]).await else { return };
    let conv = w.chat_with("6281234567890", "pesan pertama").await;
    w.chat_with("6281234567890", "pesan kedua").await;
    let a = w.get(&format!("/conversations/{conv}")).await;
    let d = data(&a);
    assert_conversation_fields(d);
    assert_eq!(d["phone"], "6281234567890");
    let msgs = d["messages"].as_array().unwrap();
    let texts: Vec<&str> = msgs.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["pesan pertama", "pesan kedua"], "oldest first");
    for m in msgs {
        for f in ["id", "direction", "as", "type", "status", "created_at"] {
            assert!(m[f].is_string(), "{f} in {m}");
        }
        assert_eq!(m["as"], "SYSTEM");
    }
    let a = w.get(&format!("/conversations/{conv}?messages=1")).await;
    assert_eq!(data(&a)["messages"].as_array().unwrap().len(), 1);
    assert_error(
        &w.get("/conversations/conv_000000000000000000000000").await,
        404,
        "NOT_FOUND",
    );
    // A key bound to another device does not see it.
    let other = w.gw.device("lain").await;
    let (_, k) =
        w.gw.key(json!({ "name": "other", "scopes": ["conversations:read"], "device_id": other }))
            .await;
    let a =
        w.gw.request(
            Method::GET,
            &format!("/api/v1/conversations/{conv}"),
            Some(&k),
            None,
            &[],
        )
        .await;
    assert_error(&a, 404, "NOT_FOUND");
    let a =
        w.gw.request(Method::GET, "/api/v1/conversations", Some(&k), None, &[])
            .await;
    assert_eq!(data(&a)["items"], json!([]));
    w.gw.stop().await;
}

async fn sending_as_a_human_agent_is_queued_and_recorded(b: Db) {
    let Some(w) = start(b, &[]).await else { return };
    let conv = w.chat_with("6281234567890", "Halo").await;
    // The seed's example body, as written.
    let body = json!({ "text": "Halo dari sistem kami", "as": "HUMAN_AGENT" });
    let a = w
        .post(
            &format!("/conversations/{conv}/messages"),
            Some(body),
            &[("idempotency-key", "7d1c0d3e-1111-4a4a-9b9b-000000000001")],
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    let d = data(&a);
    assert!(d["id"].is_string());
    assert_eq!(d["conversation_id"], conv.as_str());
    assert_eq!(d["as"], "HUMAN_AGENT");
    assert_eq!(d["status"], "queued");
    let native =
        w.gw.admin(
            Method::GET,
            &format!("/v1/messages/{}", d["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(native.body["content"]["text"], "Halo dari sistem kami");
    assert_eq!(native.body["chat"], "6281234567890@s.whatsapp.net");
    let detail = w.get(&format!("/conversations/{conv}")).await;
    let last = data(&detail)["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["as"], "HUMAN_AGENT");
    for bad in [
        json!({ "as": "HUMAN_AGENT" }),
        json!({ "text": "", "as": "BOT" }),
        json!({ "text": "x", "as": "ROBOT" }),
        json!({ "text": "x", "colour": 1 }),
    ] {
        assert_error(
            &w.post(&format!("/conversations/{conv}/messages"), Some(bad), &[])
                .await,
            400,
            "VALIDATION_ERROR",
        );
    }
    let a = w
        .post(
            "/conversations/conv_000000000000000000000000/messages",
            Some(json!({ "text": "x" })),
            &[],
        )
        .await;
    assert_error(&a, 404, "NOT_FOUND");
    w.gw.stop().await;
}

async fn an_idempotency_key_replays_the_first_answer(b: Db) {
    let Some(w) = start(b, &[]).await else { return };
    let conv = w.chat_with("6281234567890", "Halo").await;
    let path = format!("/conversations/{conv}/messages");
    let body = json!({ "text": "Halo dari sistem kami", "as": "HUMAN_AGENT" });
    let key = [("idempotency-key", "retry-1")];
    let first = w.post(&path, Some(body.clone()), &key).await;
    let again = w.post(&path, Some(body.clone()), &key).await;
    assert_eq!(again.status, first.status);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let outbound =
        w.gw.messages_of(&w.device)
            .await
            .iter()
            .filter(|m| m["content"]["text"] == "Halo dari sistem kami")
            .count();
    assert_eq!(outbound, 1, "sent once");
    let other = w.post(&path, Some(json!({ "text": "lain" })), &key).await;
    assert_error(&other, 409, "CONFLICT");
    // Products and hand-offs too.
    let p = json!({ "name": "Kemeja Batik", "price": 245000, "stock": 20 });
    let a = w
        .post("/products", Some(p.clone()), &[("idempotency-key", "p-1")])
        .await;
    let b2 = w
        .post("/products", Some(p), &[("idempotency-key", "p-1")])
        .await;
    assert_eq!(a.body, b2.body);
    assert_eq!(
        data(&w.get("/products").await)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let h1 = w
        .post(
            &format!("/conversations/{conv}/handoff"),
            None,
            &[("idempotency-key", "h-1")],
        )
        .await;
    let h2 = w
        .post(
            &format!("/conversations/{conv}/handoff"),
            None,
            &[("idempotency-key", "h-1")],
        )
        .await;
    assert_eq!(h1.body, h2.body);
    assert_eq!(h2.headers["idempotent-replayed"], "true");
    w.gw.stop().await;
}

async fn concurrent_retries_with_one_idempotency_key_act_once(b: Db) {
    let Some(w) = start(b, &[]).await else { return };
    let conv = w.chat_with("6281234567890", "Halo").await;
    let body = json!({ "name": "Kemeja Batik", "price": 245000, "stock": 20 });
    let msg = json!({ "text": "Halo dari sistem kami", "as": "HUMAN_AGENT" });
    let path = format!("/conversations/{conv}/messages");
    let products = (0..6).map(|_| {
        w.post(
            "/products",
            Some(body.clone()),
            &[("idempotency-key", "same-product")],
        )
    });
    let sends = (0..6).map(|_| {
        w.post(
            &path,
            Some(msg.clone()),
            &[("idempotency-key", "same-send")],
        )
    });
    let (products, sends) = tokio::join!(
        futures_util::future::join_all(products),
        futures_util::future::join_all(sends)
    );
    for answers in [&products, &sends] {
        for a in answers.iter() {
            assert!(a.status < 300, "{}", a.text);
            assert_eq!(a.body, answers[0].body, "every retry gets the first answer");
        }
    }
    assert_eq!(
        data(&w.get("/products").await)["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let sent =
        w.gw.messages_of(&w.device)
            .await
            .iter()
            .filter(|m| m["content"]["text"] == "Halo dari sistem kami")
            .count();
    assert_eq!(sent, 1);
    w.gw.stop().await;
}

async fn handoff_makes_the_conversation_human_and_stops_bot_replies(b: Db) {
    let Some(w) = start(b, &[]).await else { return };
    let conv = w.chat_with("6281234567890", "Halo").await;
    let path = format!("/conversations/{conv}/messages");
    let bot = json!({ "text": "Balasan otomatis", "as": "BOT" });
    assert_eq!(
        w.post(&path, Some(bot.clone()), &[]).await.status,
        202,
        "BOT may answer before"
    );
    // The seed's example: no body.
    let a = w
        .post(&format!("/conversations/{conv}/handoff"), None, &[])
        .await;
    let d = data(&a);
    assert_eq!(d["status"], "HUMAN");
    assert!(d["handoff_at"].is_string());
    let first = d["handoff_at"].clone();
    assert_error(&w.post(&path, Some(bot), &[]).await, 409, "CONFLICT");
    let human = json!({ "text": "Saya agen, ada yang bisa dibantu?", "as": "HUMAN_AGENT" });
    assert_eq!(w.post(&path, Some(human), &[]).await.status, 202);
    // A second hand-off changes nothing.
    let again = w
        .post(&format!("/conversations/{conv}/handoff"), None, &[])
        .await;
    assert_eq!(data(&again)["handoff_at"], first);
    assert_error(
        &w.post(
            "/conversations/conv_000000000000000000000000/handoff",
            None,
            &[],
        )
        .await,
        404,
        "NOT_FOUND",
    );
    w.gw.stop().await;
}

async fn inbound_messages_join_the_conversation_with_its_status(b: Db) {
    let Some(w) = start(b, &[]).await else { return };
    let device = w.gw.linked_device("live").await;
    let (_, key) = w.gw.key(json!({ "name": "live", "scopes": ["conversations:read", "conversations:write"], "device_id": device })).await;
    let a =
        w.gw.admin(
            Method::POST,
            &format!("/v1/devices/{device}/messages"),
            Some(json!({ "to": "6281100000001", "text": "ping demo" })),
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.text);
    let conv =
        w.gw.poll("the echo in the conversation", async || {
            let a =
                w.gw.request(Method::GET, "/api/v1/conversations", Some(&key), None, &[])
                    .await;
            let id = a.body["data"]["items"][0]["id"].as_str()?.to_string();
            let d =
                w.gw.request(
                    Method::GET,
                    &format!("/api/v1/conversations/{id}"),
                    Some(&key),
                    None,
                    &[],
                )
                .await;
            let msgs = d.body["data"]["messages"].as_array()?.clone();
            msgs.iter()
                .any(|m| m["as"] == "CUSTOMER" && m["text"] == "ping demo")
                .then_some(d.body["data"].clone())
        })
        .await;
    assert_eq!(conv["phone"], "6281100000001");
    let customer = conv["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["as"] == "CUSTOMER")
        .unwrap()
        .clone();
    assert_eq!(customer["direction"], "in");
    assert_eq!(customer["from"], "6281100000001@s.whatsapp.net");
    w.gw.stop().await;
}

async fn products_are_created_listed_and_updated(b: Db) {
    let Some(w) = start(b, &[]).await else { return };
    // The seed's examples, as written.
    let a = w
        .post(
            "/products",
            Some(json!({ "name": "Kemeja Batik", "price": 245000, "stock": 20 })),
            &[("idempotency-key", "3b241101-e2bb-4255-8caf-4136c566a962")],
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let p = data(&a).clone();
    assert!(p["id"].as_str().unwrap().starts_with("prd_"));
    assert_eq!(
        (p["name"].as_str(), p["price"].as_i64(), p["stock"].as_i64()),
        (Some("Kemeja Batik"), Some(245000), Some(20))
    );
    assert_eq!(p["active"], true);
    assert!(p["created_at"].is_string() && p["updated_at"].is_string());
    let id = p["id"].as_str().unwrap();
    let a = w
        .patch(&format!("/products/{id}"), json!({ "stock": 5 }))
        .await;
    let u = data(&a);
    assert_eq!(u["stock"], 5);
    assert_eq!(u["price"], 245000, "untouched fields stay");
    let a = w
        .patch(
            &format!("/products/{id}"),
            json!({ "price": 199000, "description": "Katun", "active": false }),
        )
        .await;
    assert_eq!(data(&a)["description"], "Katun");
    let a = w
        .patch(&format!("/products/{id}"), json!({ "description": null }))
        .await;
    assert_eq!(data(&a)["description"], Value::Null);
    let list = w.get("/products").await;
    let items = data(&list)["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (
            items[0]["price"].as_i64(),
            items[0]["stock"].as_i64(),
            items[0]["active"].as_bool()
        ),
        (Some(199000), Some(5), Some(false))
    );
    assert!(data(&list)["next_cursor"].is_null());
    w.gw.stop().await;
}

async fn invalid_product_bodies_are_validation_errors(b: Db) {
    let Some(w) = start(b, &[]).await else { return };
    let created = w
        .post(
            "/products",
            Some(json!({ "name": "Kemeja Batik", "price": 245000, "stock": 20 })),
            &[],
        )
        .await;
    let id = data(&created)["id"].as_str().unwrap().to_string();
    for bad in [
        json!({ "price": 1 }),
        json!({ "name": "x", "price": -1 }),
        json!({ "name": "", "price": 1 }),
        json!({ "name": "x", "price": 1.5 }),
        json!({ "name": "x", "price": 1, "colour": "red" }),
    ] {
        assert_error(
            &w.post("/products", Some(bad), &[]).await,
            400,
            "VALIDATION_ERROR",
        );
    }
    assert_error(
        &w.patch(&format!("/products/{id}"), json!({ "stock": -3 }))
            .await,
        400,
        "VALIDATION_ERROR",
    );
    assert_error(
        &w.patch("/products/prd_missing", json!({ "stock": 5 }))
            .await,
        404,
        "NOT_FOUND",
    );
    // A body without Content-Type: application/json is refused.
    let raw = reqwest::Client::new()
        .post(format!("{}/api/v1/products", w.gw.base))
        .bearer_auth(&w.key)
        .body(r#"{"name":"x","price":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    w.gw.stop().await;
}

async fn credits_show_the_three_buckets(b: Db) {
    let Some(w) = start(b, &[]).await else { return };
    for (bucket, amount) in [("allowance", 1000), ("rollover", 200), ("topup", 50)] {
        let a =
            w.gw.admin(
                Method::POST,
                "/v1/credits/grants",
                Some(json!({ "amount": amount, "bucket": bucket })),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.text);
    }
    let a = w.get("/credits").await;
    let d = data(&a);
    assert_eq!(d["allowance"], 1000);
    assert_eq!(d["rollover"], 200);
    assert_eq!(d["topup"], 50);
    assert_eq!(d["balance"], 1250);
    assert!(d["price_per_message"].is_i64());
    w.gw.stop().await;
}

async fn usage_counts_credits_and_messages_per_day(b: Db) {
    let Some(w) = start(b, &["--price-per-message", "2"]).await else {
        return;
    };
    w.gw.admin(
        Method::POST,
        "/v1/credits/grants",
        Some(json!({ "amount": 100 })),
    )
    .await;
    w.chat_with("6281234567890", "satu").await;
    w.chat_with("6281234567890", "dua").await;
    // The seed's example: ?days=30.
    let a = w.get("/usage?days=30").await;
    let d = data(&a);
    assert_eq!(d["days"], 30);
    assert_eq!(d["credits"]["spent"], 4);
    assert_eq!(d["credits"]["granted"], 100);
    assert_eq!(d["messages"]["sent"], 2);
    assert_eq!(d["messages"]["received"], 0);
    let daily = d["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 30);
    let today = daily.last().unwrap();
    assert_eq!(today["date"], d["to"]);
    assert_eq!(
        (
            today["credits_spent"].as_i64(),
            today["messages_sent"].as_i64()
        ),
        (Some(4), Some(2))
    );
    assert!(daily[..29].iter().all(|x| x["messages_sent"] == 0));
    let a = w.get("/usage").await;
    assert_eq!(data(&a)["days"], 30, "30 days by default");
    for bad in ["0", "367", "x"] {
        assert_error(
            &w.get(&format!("/usage?days={bad}")).await,
            400,
            "VALIDATION_ERROR",
        );
    }
    w.gw.stop().await;
}

async fn keys_are_rate_limited_at_60_per_minute_by_default(b: Db) {
    let Some(w) = start(b, &[]).await else { return };
    let a =
        w.gw.admin(
            Method::POST,
            "/v1/keys",
            Some(json!({ "name": "default", "scopes": ["products:read"] })),
        )
        .await;
    assert_eq!(a.body["rate_limit_per_minute"], 60, "{}", a.text);
    let (_, slow) = w
        .gw
        .key(json!({ "name": "slow", "scopes": ["products:read"], "rate_limit_per_minute": 2 }))
        .await;
    for _ in 0..2 {
        let a =
            w.gw.request(Method::GET, "/api/v1/products", Some(&slow), None, &[])
                .await;
        assert_eq!(a.status, 200, "{}", a.text);
    }
    let a =
        w.gw.request(Method::GET, "/api/v1/products", Some(&slow), None, &[])
            .await;
    assert_error(&a, 429, "RATE_LIMITED");
    let wait: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // A default key gets its 60 requests at once, then 429: the bucket refills one request
    // a second, so the count may exceed 60 only by the seconds the burst took.
    let (_, key) =
        w.gw.key(json!({ "name": "default", "scopes": ["usage:read"] }))
            .await;
    let started = std::time::Instant::now();
    let mut accepted = 0;
    let refused = loop {
        let a =
            w.gw.request(Method::GET, "/api/v1/ping", Some(&key), None, &[])
                .await;
        if a.status != 200 {
            break a;
        }
        accepted += 1;
        assert!(accepted < 200, "never limited");
    };
    assert_error(&refused, 429, "RATE_LIMITED");
    let slack = started.elapsed().as_secs_f64().ceil() as i32 + 1;
    assert!(
        (60..=60 + slack).contains(&accepted),
        "{accepted} accepted in {:?}",
        started.elapsed()
    );
    w.gw.stop().await;
}

async fn disabled_and_revoked_keys_are_401(b: Db) {
    let Some(w) = start(b, &[]).await else { return };
    let (id, key) =
        w.gw.key(json!({ "name": "k", "scopes": ["products:read"] }))
            .await;
    let path = format!("/v1/keys/{id}");
    w.gw.admin(Method::PATCH, &path, Some(json!({ "enabled": false })))
        .await;
    let a =
        w.gw.request(Method::GET, "/api/v1/products", Some(&key), None, &[])
            .await;
    assert_error(&a, 401, "UNAUTHORIZED");
    // The native API refuses it too.
    let a =
        w.gw.request(Method::GET, "/v1/credits", Some(&key), None, &[])
            .await;
    assert_eq!(a.status, 401);
    w.gw.admin(Method::PATCH, &path, Some(json!({ "enabled": true })))
        .await;
    assert_eq!(
        w.gw.request(Method::GET, "/api/v1/products", Some(&key), None, &[])
            .await
            .status,
        200
    );
    w.gw.admin(Method::DELETE, &path, None).await;
    let a =
        w.gw.request(Method::GET, "/api/v1/products", Some(&key), None, &[])
            .await;
    assert_error(&a, 401, "UNAUTHORIZED");
    // Revoked keys cannot be re-enabled; the built-in admin key cannot be disabled.
    assert_eq!(
        w.gw.admin(Method::PATCH, &path, Some(json!({ "enabled": true })))
            .await
            .status,
        404
    );
    assert_eq!(
        w.gw.admin(
            Method::PATCH,
            "/v1/keys/key_admin",
            Some(json!({ "enabled": false }))
        )
        .await
        .status,
        400
    );
    w.gw.stop().await;
}

async fn unknown_routes_and_methods_answer_in_the_envelope(b: Db) {
    let Some(w) = start(b, &[]).await else { return };
    assert_error(&w.get("/nothing-here").await, 404, "NOT_FOUND");
    let a =
        w.gw.request(Method::DELETE, "/api/v1/products", Some(&w.key), None, &[])
            .await;
    assert_eq!(a.status, 405);
    assert_eq!(a.body["ok"], false);
    w.gw.stop().await;
}

async fn a_server_fault_is_500_internal_without_details(b: Db) {
    let Some(w) = start(b, &[]).await else { return };
    // Break the catalog under the running gateway.
    w.gw.drop_table("products").await;
    let a = w.get("/products").await;
    assert_error(&a, 500, "INTERNAL");
    let msg = a.body["error"]["message"].as_str().unwrap().to_lowercase();
    assert!(!msg.contains("products") && !msg.contains("table"), "{msg}");
    w.gw.stop().await;
}

async fn migration_script_runs_against_the_demo(b: Db) {
    let Some(gw) = ContractGateway::start(b, &[]).await else {
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/compat/wabot.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .env("WASAP_URL", &gw.base)
        .env("WASAP_ADMIN_KEY", common::contract_gateway::ADMIN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.trim_end().ends_with("OK"), "{stdout}");
    gw.stop().await;
}

on_both_databases!(
    ping_needs_a_valid_key_but_no_scope,
    every_endpoint_refuses_a_key_without_its_scope,
    conversations_filter_by_status_and_page_with_a_cursor,
    a_conversation_comes_with_its_last_messages,
    sending_as_a_human_agent_is_queued_and_recorded,
    an_idempotency_key_replays_the_first_answer,
    concurrent_retries_with_one_idempotency_key_act_once,
    handoff_makes_the_conversation_human_and_stops_bot_replies,
    inbound_messages_join_the_conversation_with_its_status,
    products_are_created_listed_and_updated,
    invalid_product_bodies_are_validation_errors,
    credits_show_the_three_buckets,
    usage_counts_credits_and_messages_per_day,
    keys_are_rate_limited_at_60_per_minute_by_default,
    disabled_and_revoked_keys_are_401,
    unknown_routes_and_methods_answer_in_the_envelope,
    a_server_fault_is_500_internal_without_details,
    migration_script_runs_against_the_demo,
);
