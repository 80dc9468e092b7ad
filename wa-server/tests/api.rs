//! Keys, scopes, rate limits, devices, contacts, the error shape and the service endpoints,
//! over real HTTP on both database backends.

mod common;

use common::{ADMIN, Db, Harness, fast_config};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn start(db: Db) -> Option<Harness> {
    Harness::start(db, fast_config()).await
}

async fn new_key(h: &Harness, body: Value) -> (String, String) {
    let (s, v) = h.admin(Method::POST, "/v1/keys", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    (
        v["id"].as_str().unwrap().to_string(),
        v["key"].as_str().unwrap().to_string(),
    )
}

fn assert_error(v: &Value, code: &str) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    assert!(
        v["error"]["request_id"]
            .as_str()
            .is_some_and(|r| r.starts_with("req_")),
        "{v}"
    );
}

async fn keys_are_shown_once_stored_hashed_and_revocable(db: Db) {
    let Some(h) = start(db).await else { return };
    let (id, key) = new_key(&h, json!({ "name": "ci", "scopes": ["devices:read"] })).await;
    assert!(key.starts_with("wsk_"));
    let (s, _, v) = h.call(Method::GET, "/v1/devices", Some(&key), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, list) = h.admin(Method::GET, "/v1/keys", None).await;
    assert!(!list.to_string().contains(&key), "key listed in clear");
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == id.as_str())
    );
    // At rest: no column holds the key.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&h.database_url).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT prefix, hash FROM api_keys")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(
        rows.iter()
            .all(|(p, hsh)| *p != key && *hsh != key && hsh.len() == 64)
    );
    pool.close().await;
    let (s, v) = h
        .admin(Method::DELETE, &format!("/v1/keys/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, _, v) = h.call(Method::GET, "/v1/devices", Some(&key), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_error(&v, "unauthorized");
    h.stop().await;
}

async fn missing_scope_is_403_naming_it(db: Db) {
    let Some(h) = start(db).await else { return };
    let (_, key) = new_key(&h, json!({ "name": "reader", "scopes": ["devices:read"] })).await;
    let (s, _, v) = h
        .call(
            Method::POST,
            "/v1/devices",
            Some(&key),
            Some(json!({ "name": "x" })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_error(&v, "missing_scope");
    assert_eq!(v["error"]["scope"], "devices:write");
    let (s, _, v) = h
        .call(
            Method::POST,
            "/v1/keys",
            Some(&key),
            Some(json!({ "name": "x", "scopes": ["admin:*"] })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["scope"], "admin:*");
    h.stop().await;
}

async fn missing_or_wrong_credentials_are_401(db: Db) {
    let Some(h) = start(db).await else { return };
    let (s, hd, v) = h.call(Method::GET, "/v1/devices", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(hd["www-authenticate"], "Bearer");
    assert_error(&v, "unauthorized");
    let (s, _, _) = h
        .call(
            Method::GET,
            "/v1/devices",
            Some("wsk_not-a-real-key-at-all-000000000000000000000"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = h
        .call(
            Method::GET,
            "/v1/devices",
            Some(&ADMIN[..ADMIN.len() - 1]),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    h.stop().await;
}

async fn rate_limit_answers_429_with_retry_after(db: Db) {
    let Some(h) = start(db).await else { return };
    let (_, key) = new_key(
        &h,
        json!({ "name": "slow", "scopes": ["devices:read"], "rate_limit_per_minute": 2 }),
    )
    .await;
    for _ in 0..2 {
        let (s, _, _) = h.call(Method::GET, "/v1/devices", Some(&key), None).await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, hd, v) = h.call(Method::GET, "/v1/devices", Some(&key), None).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_error(&v, "rate_limited");
    let wait: u64 = hd["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    h.stop().await;
}

async fn devices_crud_and_device_bound_keys(db: Db) {
    let Some(h) = start(db).await else { return };
    let (s, d) = h
        .admin(
            Method::POST,
            "/v1/devices",
            Some(json!({ "name": "sales" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(d["status"], "created");
    let id = d["id"].as_str().unwrap().to_string();
    let other = h.create_device("support").await;
    let (_, list) = h.admin(Method::GET, "/v1/devices", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    let (_, key) = new_key(
        &h,
        json!({ "name": "bound", "scopes": ["devices:read"], "device_id": id }),
    )
    .await;
    let (_, _, mine) = h.call(Method::GET, "/v1/devices", Some(&key), None).await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    let (s, _, _) = h
        .call(
            Method::GET,
            &format!("/v1/devices/{other}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(h.transport.set_online(&id, "6281234"));
    h.wait_for(|| async {
        h.admin(Method::GET, &format!("/v1/devices/{id}"), None)
            .await
            .1["phone"]
            == "6281234"
    })
    .await;
    let (_, got) = h
        .admin(Method::GET, &format!("/v1/devices/{id}"), None)
        .await;
    assert_eq!(got["status"], "online");
    assert!(got["last_seen_at"].is_string());
    let (s, _) = h
        .admin(Method::DELETE, &format!("/v1/devices/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = h
        .admin(Method::GET, &format!("/v1/devices/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, "not_found");
    h.stop().await;
}

async fn bad_bodies_get_400_naming_the_field(db: Db) {
    let Some(h) = start(db).await else { return };
    let dev = h.create_device("d").await;
    let path = format!("/v1/devices/{dev}/messages");
    let cases = [
        (json!({ "text": "hi" }), "to"),
        (json!({ "to": 628123456, "text": "hi" }), "to"),
        (
            json!({ "to": "628123456", "text": "hi", "colour": "red" }),
            "colour",
        ),
        (json!({ "to": "not a number", "text": "hi" }), "to"),
        (json!({ "to": "628123456" }), "text"),
        (
            json!({ "to": "628123456", "text": "hi", "image": { "url": "https://example.com/a.png" } }),
            "image",
        ),
        (
            json!({ "to": "628123456", "image": { "url": "ftp://example.com/a.png" } }),
            "image.url",
        ),
        (
            json!({ "to": "628123456", "location": { "latitude": 91.0, "longitude": 0.0 } }),
            "location.latitude",
        ),
        (
            json!({ "to": "628123456", "text": "hi", "priority": "urgent" }),
            "priority",
        ),
        (
            json!({ "to": "628123456", "text": "hi", "send_at": "tomorrow" }),
            "send_at",
        ),
    ];
    for (body, field) in cases {
        let (s, v) = h.admin(Method::POST, &path, Some(body.clone())).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_error(&v, "invalid_request");
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
    }
    // Not JSON at all.
    let resp = h
        .http
        .post(format!("{}{path}", h.base))
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = h
        .http
        .post(format!("{}{path}", h.base))
        .bearer_auth(ADMIN)
        .body("text")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (s, v) = h
        .admin(
            Method::POST,
            "/v1/keys",
            Some(json!({ "name": "k", "scopes": ["devices:read", "root"] })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["field"], "scopes[1]");
    h.stop().await;
}

async fn oversized_bodies_get_413_in_the_error_shape(db: Db) {
    let Some(h) = start(db).await else { return };
    let dev = h.create_device("d").await;
    let big = "x".repeat(70 * 1024);
    let (s, hd, v) = h
        .call(
            Method::POST,
            &format!("/v1/devices/{dev}/messages"),
            Some(ADMIN),
            Some(json!({ "to": "628123456", "text": big })),
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&v, "payload_too_large");
    assert!(hd.contains_key("x-request-id"));
    h.stop().await;
}

async fn unknown_routes_and_methods_use_the_error_shape(db: Db) {
    let Some(h) = start(db).await else { return };
    let (s, _, v) = h
        .call(Method::GET, "/v1/nothing-here", Some(ADMIN), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, "not_found");
    let (s, _, v) = h.call(Method::PUT, "/v1/devices", Some(ADMIN), None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&v, "method_not_allowed");
    let (s, _, v) = h
        .call(Method::GET, "/v1/messages?limit=abc", Some(ADMIN), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["field"], "limit", "{v}");
    h.stop().await;
}

async fn every_response_carries_a_request_id_that_errors_repeat(db: Db) {
    let Some(h) = start(db).await else { return };
    let (s, hd, _) = h.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(hd["x-request-id"].to_str().unwrap().starts_with("req_"));
    let (_, hd, v) = h
        .call(Method::GET, "/v1/devices/dev_missing", Some(ADMIN), None)
        .await;
    assert_eq!(
        v["error"]["request_id"],
        hd["x-request-id"].to_str().unwrap()
    );
    // A caller-supplied request id is kept (for tracing across services).
    let resp = h
        .http
        .get(format!("{}/v1/devices/dev_missing", h.base))
        .bearer_auth(ADMIN)
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["request_id"], "abc-123");
    h.stop().await;
}

async fn health_readiness_metrics_and_openapi(db: Db) {
    let Some(h) = start(db).await else { return };
    let (s, _, v) = h.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, _, v) = h.call(Method::GET, "/readyz", None, None).await;
    assert_eq!((s, v["database"].as_str()), (StatusCode::OK, Some("ok")));
    h.create_device("m").await;
    let text = h
        .http
        .get(format!("{}/metrics", h.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("# TYPE wasap_http_responses_total counter"),
        "{text}"
    );
    assert!(
        text.contains("wasap_devices{status=\"created\"} 1"),
        "{text}"
    );
    let (s, _, doc) = h.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for (path, method) in [
        ("/v1/devices/{id}/messages", "post"),
        ("/v1/keys", "post"),
        ("/v1/events", "get"),
        ("/v1/contact-groups/{id}/members/{contact_id}", "put"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    let log_params: Vec<&str> = doc["paths"]["/v1/messages"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "device_id",
        "chat",
        "direction",
        "status",
        "since",
        "until",
        "limit",
        "cursor",
    ] {
        assert!(
            log_params.contains(&name),
            "{name} missing from {log_params:?}"
        );
    }
    h.stop().await;
}

async fn contacts_and_groups_crud(db: Db) {
    let Some(h) = start(db).await else { return };
    let (s, a) = h
        .admin(
            Method::POST,
            "/v1/contacts",
            Some(json!({ "name": "Ani", "phone": "+62 812-3456-789" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!(a["phone"], "628123456789");
    assert_eq!(a["jid"], "628123456789@s.whatsapp.net");
    let (s, v) = h
        .admin(
            Method::POST,
            "/v1/contacts",
            Some(json!({ "name": "Dup", "phone": "628123456789" })),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&v, "conflict");
    let (_, b) = h
        .admin(
            Method::POST,
            "/v1/contacts",
            Some(json!({ "name": "Budi", "phone": "628777777777", "email": "b@example.com" })),
        )
        .await;
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let (s, upd) = h
        .admin(
            Method::PATCH,
            &format!("/v1/contacts/{a_id}"),
            Some(json!({ "notes": "VIP" })),
        )
        .await;
    assert_eq!((s, upd["notes"].as_str()), (StatusCode::OK, Some("VIP")));
    let (s, g) = h
        .admin(
            Method::POST,
            "/v1/contact-groups",
            Some(json!({ "name": "customers", "contact_ids": [a_id] })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    assert_eq!(g["member_count"], 1);
    let g_id = g["id"].as_str().unwrap();
    let (s, _) = h
        .admin(
            Method::PUT,
            &format!("/v1/contact-groups/{g_id}/members/{b_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, g) = h
        .admin(Method::GET, &format!("/v1/contact-groups/{g_id}"), None)
        .await;
    assert_eq!(g["member_count"], 2);
    let (s, _) = h
        .admin(
            Method::DELETE,
            &format!("/v1/contact-groups/{g_id}/members/{a_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = h
        .admin(Method::DELETE, &format!("/v1/contacts/{b_id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, groups) = h.admin(Method::GET, "/v1/contact-groups", None).await;
    assert_eq!(groups["data"][0]["member_count"], 0);
    let (_, contacts) = h.admin(Method::GET, "/v1/contacts", None).await;
    assert_eq!(contacts["data"].as_array().unwrap().len(), 1);
    let (s, v) = h
        .admin(
            Method::POST,
            "/v1/contact-groups",
            Some(json!({ "name": "x", "contact_ids": ["con_missing"] })),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["field"], "contact_ids[0]");
    let (s, _) = h
        .admin(Method::DELETE, &format!("/v1/contact-groups/{g_id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = h
        .admin(Method::GET, &format!("/v1/contact-groups/{g_id}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    h.stop().await;
}

async fn every_scoped_route_refuses_other_scopes_before_reading_the_request(db: Db) {
    let Some(h) = start(db).await else { return };
    let (_, doc) = h.admin(Method::GET, "/openapi.json", None).await;
    let (_, devices_key) = new_key(&h, json!({ "name": "d", "scopes": ["devices:read"] })).await;
    let (_, contacts_key) = new_key(&h, json!({ "name": "c", "scopes": ["contacts:read"] })).await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(scope) = op["x-required-scope"].as_str() else {
                continue;
            };
            // The compatibility routes answer in their contracts' own shapes; the root
            // tests/compat_*.rs check their scope rules.
            if op["tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "compat"))
            {
                continue;
            }
            let key = if scope == "devices:read" {
                &contacts_key
            } else {
                &devices_key
            };
            let concrete = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { "x" } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let m = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            // A body that would fail validation: the scope must be checked first.
            let body = op.get("requestBody").map(|_| json!({ "bogus": true }));
            let (s, _, v) = h.call(m.clone(), &concrete, Some(key), body.clone()).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path}: {v}");
            assert_eq!(v["error"]["scope"], scope, "{method} {path}");
            let (s, _, _) = h.call(m, &concrete, None, body).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{method} {path}");
            checked += 1;
        }
    }
    assert!(checked >= 35, "only {checked} operations checked");
    h.stop().await;
}

both_backends!(
    every_scoped_route_refuses_other_scopes_before_reading_the_request,
    every_response_carries_a_request_id_that_errors_repeat,
    keys_are_shown_once_stored_hashed_and_revocable,
    missing_scope_is_403_naming_it,
    missing_or_wrong_credentials_are_401,
    rate_limit_answers_429_with_retry_after,
    devices_crud_and_device_bound_keys,
    bad_bodies_get_400_naming_the_field,
    oversized_bodies_get_413_in_the_error_shape,
    unknown_routes_and_methods_use_the_error_shape,
    health_readiness_metrics_and_openapi,
    contacts_and_groups_crud,
);
