//! wabot's operations in `/openapi.json`.

use serde_json::{Value, json};

/// The contract's OpenAPI operations.
pub(in crate::compat) fn openapi_ops() -> Vec<(&'static str, &'static str, Value)> {
    let s = |t: &str| json!({ "type": t });
    let ts = json!({ "type": ["string", "null"], "format": "date-time" });
    let ok = |data: Value| json!({ "type": "object", "properties": { "ok": { "const": true }, "data": data }, "required": ["ok", "data"] });
    let fail = json!({ "type": "object", "properties": { "ok": { "const": false }, "error": { "type": "object", "properties": {
        "code": { "type": "string", "enum": ["VALIDATION_ERROR", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "CONFLICT", "INSUFFICIENT_CREDITS", "METHOD_NOT_ALLOWED", "RATE_LIMITED", "INTERNAL"] },
        "message": s("string") }, "required": ["code", "message"] } }, "required": ["ok", "error"] });
    let err = |d: &str| json!({ "description": d, "content": { "application/json": { "schema": fail } } });
    let answer = |status: &str, data: Value| json!({ status: { "description": "ok", "content": { "application/json": { "schema": ok(data) } } } });
    let conversation = json!({ "type": "object", "properties": {
        "id": s("string"), "device_id": s("string"), "chat": s("string"), "phone": { "type": ["string", "null"] },
        "name": { "type": ["string", "null"] }, "is_group": s("boolean"), "status": { "type": "string", "enum": ["BOT", "HUMAN"] },
        "last_message_at": ts, "handoff_at": ts, "created_at": ts, "updated_at": ts,
    }, "required": ["id", "status"] });
    let message = json!({ "type": "object", "properties": {
        "id": s("string"), "direction": { "type": "string", "enum": ["in", "out"] },
        "as": { "type": "string", "enum": ["CUSTOMER", "HUMAN_AGENT", "BOT", "SYSTEM"] },
        "from": { "type": ["string", "null"] }, "type": s("string"), "text": { "type": ["string", "null"] },
        "status": s("string"), "created_at": ts,
    }, "required": ["id", "direction", "as"] });
    let product = json!({ "type": "object", "properties": {
        "id": s("string"), "name": s("string"), "description": { "type": ["string", "null"] }, "sku": { "type": ["string", "null"] },
        "price": s("integer"), "stock": s("integer"), "image_url": { "type": ["string", "null"] }, "active": s("boolean"),
        "created_at": ts, "updated_at": ts,
    }, "required": ["id", "name", "price", "stock"] });
    let page = |item: &Value| json!({ "type": "object", "properties": { "items": { "type": "array", "items": item }, "next_cursor": { "type": ["string", "null"] } }, "required": ["items", "next_cursor"] });
    let q = |name: &str, schema: Value, d: &str| json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": d });
    let id = |d: &str| json!({ "name": "id", "in": "path", "required": true, "schema": s("string"), "description": d });
    let idem = json!({ "name": "Idempotency-Key", "in": "header", "required": false, "schema": s("string"), "description": "a retry with the same key and body gets the first answer (Idempotent-Replayed: true)" });
    let body = |schema: Value| json!({ "required": true, "content": { "application/json": { "schema": schema } } });
    let product_fields = json!({ "name": s("string"), "price": { "type": "integer", "minimum": 0 }, "stock": { "type": "integer", "minimum": 0 },
        "description": { "type": ["string", "null"] }, "sku": { "type": ["string", "null"] }, "image_url": { "type": ["string", "null"], "format": "uri" }, "active": s("boolean") });
    let op = |op_id: &str,
              summary: &str,
              scope: Option<&str>,
              mut responses: Value,
              extra: Value| {
        let r = responses.as_object_mut().expect("object");
        r.insert(
            "401".into(),
            err("UNAUTHORIZED: no key, or an unknown, revoked or disabled key"),
        );
        if scope.is_some() {
            r.insert("403".into(), err("FORBIDDEN: the key lacks the scope"));
        }
        r.insert("429".into(), err("RATE_LIMITED (see Retry-After)"));
        r.insert("500".into(), err("INTERNAL"));
        let mut o = json!({
            "operationId": op_id, "summary": format!("wabot: {summary} (seed 001)"), "tags": ["compat"],
            "security": [{ "bearer": [] }], "responses": responses,
        });
        if let Some(sc) = scope {
            o["x-required-scope"] = sc.into();
        }
        if let Value::Object(m) = extra {
            for (k, v) in m {
                o[k] = v;
            }
        }
        o
    };
    let with = |mut a: Value, extra: &[(&str, Value)]| {
        for (k, v) in extra {
            a[*k] = v.clone();
        }
        a
    };
    let e400 = err("VALIDATION_ERROR");
    let e404 = err("NOT_FOUND");
    let e409 = err(
        "CONFLICT: as BOT into a HUMAN conversation, or an Idempotency-Key reused with another body",
    );
    vec![
        (
            "GET",
            "/api/v1/ping",
            op(
                "compatWabotPing",
                "check the connection and the key",
                None,
                answer(
                    "200",
                    json!({ "type": "object", "properties": { "pong": s("boolean"), "key": s("object"), "server_time": ts } }),
                ),
                json!({}),
            ),
        ),
        (
            "GET",
            "/api/v1/conversations",
            op(
                "compatWabotListConversations",
                "conversations, most recent first",
                Some("conversations:read"),
                with(answer("200", page(&conversation)), &[("400", e400.clone())]),
                json!({ "parameters": [
                q("status", json!({ "type": "string", "enum": ["BOT", "HUMAN"] }), "only this status"),
                q("limit", json!({ "type": "integer", "minimum": 1, "maximum": 100, "default": 20 }), "page size"),
                q("cursor", s("string"), "next_cursor of the previous page"),
            ] }),
            ),
        ),
        (
            "GET",
            "/api/v1/conversations/{id}",
            op(
                "compatWabotGetConversation",
                "a conversation with its last messages",
                Some("conversations:read"),
                with(
                    answer(
                        "200",
                        with(
                            conversation.clone(),
                            &[(
                                "properties",
                                with(
                                    conversation["properties"].clone(),
                                    &[("messages", json!({ "type": "array", "items": message }))],
                                ),
                            )],
                        ),
                    ),
                    &[("400", e400.clone()), ("404", e404.clone())],
                ),
                json!({ "parameters": [id("conversation id"), q("messages", json!({ "type": "integer", "minimum": 1, "maximum": 100, "default": 20 }), "how many of the last messages")] }),
            ),
        ),
        (
            "POST",
            "/api/v1/conversations/{id}/messages",
            op(
                "compatWabotSendMessage",
                "send a text into a conversation",
                Some("messages:send"),
                with(
                    answer(
                        "202",
                        json!({ "type": "object", "properties": { "id": s("string"), "conversation_id": s("string"), "as": s("string"), "text": s("string"), "status": { "const": "queued" }, "created_at": ts } }),
                    ),
                    &[
                        ("400", e400.clone()),
                        ("402", err("INSUFFICIENT_CREDITS")),
                        ("404", e404.clone()),
                        ("409", e409.clone()),
                    ],
                ),
                json!({ "parameters": [id("conversation id"), idem.clone()], "requestBody": body(json!({ "type": "object", "properties": { "text": s("string"), "as": { "type": "string", "enum": ["HUMAN_AGENT", "BOT", "SYSTEM"], "default": "SYSTEM" } }, "required": ["text"] })) }),
            ),
        ),
        (
            "POST",
            "/api/v1/conversations/{id}/handoff",
            op(
                "compatWabotHandoff",
                "hand a conversation to a human agent (status HUMAN)",
                Some("conversations:write"),
                with(
                    answer("200", conversation.clone()),
                    &[("404", e404.clone()), ("409", e409.clone())],
                ),
                json!({ "parameters": [id("conversation id"), idem.clone()] }),
            ),
        ),
        (
            "GET",
            "/api/v1/products",
            op(
                "compatWabotListProducts",
                "the product catalog, newest first",
                Some("products:read"),
                with(answer("200", page(&product)), &[("400", e400.clone())]),
                json!({ "parameters": [
                q("limit", json!({ "type": "integer", "minimum": 1, "maximum": 200, "default": 50 }), "page size"),
                q("cursor", s("string"), "next_cursor of the previous page"),
            ] }),
            ),
        ),
        (
            "POST",
            "/api/v1/products",
            op(
                "compatWabotCreateProduct",
                "create a product",
                Some("products:write"),
                with(
                    answer("201", product.clone()),
                    &[("400", e400.clone()), ("409", e409.clone())],
                ),
                json!({ "parameters": [idem], "requestBody": body(json!({ "type": "object", "properties": product_fields, "required": ["name", "price"] })) }),
            ),
        ),
        (
            "PATCH",
            "/api/v1/products/{id}",
            op(
                "compatWabotUpdateProduct",
                "update a product (price, stock, …)",
                Some("products:write"),
                with(
                    answer("200", product),
                    &[("400", e400.clone()), ("404", e404)],
                ),
                json!({ "parameters": [id("product id")], "requestBody": body(json!({ "type": "object", "properties": product_fields })) }),
            ),
        ),
        (
            "GET",
            "/api/v1/credits",
            op(
                "compatWabotCredits",
                "the credit balance (allowance, rollover, top-up)",
                Some("credits:read"),
                answer(
                    "200",
                    json!({ "type": "object", "properties": { "balance": s("integer"), "allowance": s("integer"), "rollover": s("integer"), "topup": s("integer"), "price_per_message": s("integer") } }),
                ),
                json!({}),
            ),
        ),
        (
            "GET",
            "/api/v1/usage",
            op(
                "compatWabotUsage",
                "credits and messages per UTC day",
                Some("usage:read"),
                with(
                    answer(
                        "200",
                        json!({ "type": "object", "properties": {
                "days": s("integer"), "from": s("string"), "to": s("string"), "timezone": s("string"),
                "credits": s("object"), "messages": s("object"), "daily": { "type": "array", "items": s("object") } } }),
                    ),
                    &[("400", e400)],
                ),
                json!({ "parameters": [q("days", json!({ "type": "integer", "minimum": 1, "maximum": 366, "default": 30 }), "how many days, today included")] }),
            ),
        ),
    ]
}
