//! The OpenAPI 3.1 document served at `/openapi.json`, written by hand. A test checks that it
//! names every route the router serves, and nothing else.

use serde_json::{Map, Value, json};

/// (method, path, operationId, summary, scope, request schema, success status, response schema)
type Op = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    u16,
    &'static str,
);

const OPS: &[Op] = &[
    (
        "GET",
        "/healthz",
        "healthz",
        "Liveness probe",
        None,
        None,
        200,
        "Status",
    ),
    (
        "GET",
        "/readyz",
        "readyz",
        "Readiness probe (database reachable)",
        None,
        None,
        200,
        "Status",
    ),
    (
        "GET",
        "/metrics",
        "metrics",
        "Prometheus metrics (text format)",
        None,
        None,
        200,
        "Text",
    ),
    (
        "GET",
        "/openapi.json",
        "openapi",
        "This document",
        None,
        None,
        200,
        "Any",
    ),
    (
        "POST",
        "/v1/keys",
        "createKey",
        "Create an API key; the key is returned only here",
        Some("admin:*"),
        Some("CreateKey"),
        201,
        "CreatedKey",
    ),
    (
        "GET",
        "/v1/keys",
        "listKeys",
        "List API keys (never the keys themselves)",
        Some("admin:*"),
        None,
        200,
        "KeyList",
    ),
    (
        "DELETE",
        "/v1/keys/{id}",
        "revokeKey",
        "Revoke an API key",
        Some("admin:*"),
        None,
        204,
        "Empty",
    ),
    (
        "PATCH",
        "/v1/keys/{id}",
        "updateKey",
        "Disable or re-enable an API key without revoking it",
        Some("admin:*"),
        Some("UpdateKey"),
        200,
        "Key",
    ),
    (
        "POST",
        "/v1/devices",
        "createDevice",
        "Create a device (a WhatsApp account slot)",
        Some("devices:write"),
        Some("CreateDevice"),
        201,
        "Device",
    ),
    (
        "GET",
        "/v1/devices",
        "listDevices",
        "List devices",
        Some("devices:read"),
        None,
        200,
        "DeviceList",
    ),
    (
        "GET",
        "/v1/devices/{id}",
        "getDevice",
        "Get a device",
        Some("devices:read"),
        None,
        200,
        "Device",
    ),
    (
        "DELETE",
        "/v1/devices/{id}",
        "deleteDevice",
        "Delete a device; its queued messages fail",
        Some("devices:write"),
        None,
        204,
        "Empty",
    ),
    (
        "POST",
        "/v1/devices/{id}/connect",
        "connectDevice",
        "Start or resume the device's connection; QR codes and status follow",
        Some("devices:write"),
        None,
        202,
        "Device",
    ),
    (
        "POST",
        "/v1/devices/{id}/reconnect",
        "reconnectDevice",
        "Drop and re-open the device's connection",
        Some("devices:write"),
        None,
        202,
        "Device",
    ),
    (
        "POST",
        "/v1/devices/{id}/logout",
        "logoutDevice",
        "Unlink the device from the phone",
        Some("devices:write"),
        None,
        202,
        "Device",
    ),
    (
        "GET",
        "/v1/devices/{id}/qr",
        "deviceQr",
        "The latest QR code to scan for linking: JSON, or an SVG or PNG image (`format`)",
        Some("devices:write"),
        None,
        200,
        "Qr",
    ),
    (
        "POST",
        "/v1/devices/{id}/pair-code",
        "devicePairCode",
        "Request a pairing code for linking by phone number",
        Some("devices:write"),
        Some("PairCodeRequest"),
        200,
        "PairCode",
    ),
    (
        "GET",
        "/v1/devices/{id}/groups",
        "listDeviceGroups",
        "The WhatsApp groups the device is a member of (asked live; 503 when offline)",
        Some("devices:read"),
        None,
        200,
        "WaGroupList",
    ),
    (
        "POST",
        "/v1/devices/{id}/groups",
        "createDeviceGroup",
        "Create a WhatsApp group with the device as admin",
        Some("devices:write"),
        Some("CreateWaGroup"),
        201,
        "WaGroup",
    ),
    (
        "GET",
        "/v1/devices/{id}/groups/{jid}",
        "getDeviceGroup",
        "A WhatsApp group's metadata and members (jid: `…@g.us` or the bare id)",
        Some("devices:read"),
        None,
        200,
        "WaGroup",
    ),
    (
        "POST",
        "/v1/devices/{id}/groups/{jid}/participants",
        "changeDeviceGroupParticipants",
        "Add or remove members of a WhatsApp group (the device must be an admin)",
        Some("devices:write"),
        Some("ChangeWaGroupParticipants"),
        200,
        "WaGroupParticipantChanges",
    ),
    (
        "POST",
        "/v1/devices/{id}/groups/{jid}/leave",
        "leaveDeviceGroup",
        "Leave a WhatsApp group",
        Some("devices:write"),
        None,
        204,
        "Empty",
    ),
    (
        "POST",
        "/v1/devices/{id}/messages",
        "sendMessage",
        "Queue a message (persisted before the 202); honours Idempotency-Key",
        Some("messages:send"),
        Some("SendMessage"),
        202,
        "Message",
    ),
    (
        "POST",
        "/v1/devices/{id}/broadcasts",
        "sendBroadcast",
        "Queue one templated text per member of a contact group (paced by the queue)",
        Some("messages:send"),
        Some("SendBroadcast"),
        202,
        "Broadcast",
    ),
    (
        "GET",
        "/v1/messages",
        "listMessages",
        "Message log, newest first, cursor-paginated, filterable",
        Some("messages:read"),
        None,
        200,
        "MessageList",
    ),
    (
        "GET",
        "/v1/messages/{id}",
        "getMessage",
        "Get a message and its status",
        Some("messages:read"),
        None,
        200,
        "Message",
    ),
    (
        "GET",
        "/v1/messages/{id}/media",
        "getMessageMedia",
        "The decrypted media of a received message (downloaded through the device on request)",
        Some("messages:read"),
        None,
        200,
        "Binary",
    ),
    (
        "POST",
        "/v1/contacts",
        "createContact",
        "Create a contact",
        Some("contacts:write"),
        Some("Contact"),
        201,
        "Contact",
    ),
    (
        "GET",
        "/v1/contacts",
        "listContacts",
        "List contacts",
        Some("contacts:read"),
        None,
        200,
        "ContactList",
    ),
    (
        "GET",
        "/v1/contacts/{id}",
        "getContact",
        "Get a contact",
        Some("contacts:read"),
        None,
        200,
        "Contact",
    ),
    (
        "PATCH",
        "/v1/contacts/{id}",
        "updateContact",
        "Update a contact",
        Some("contacts:write"),
        Some("Contact"),
        200,
        "Contact",
    ),
    (
        "DELETE",
        "/v1/contacts/{id}",
        "deleteContact",
        "Delete a contact",
        Some("contacts:write"),
        None,
        204,
        "Empty",
    ),
    (
        "POST",
        "/v1/contact-groups",
        "createContactGroup",
        "Create a contact group",
        Some("contacts:write"),
        Some("ContactGroupInput"),
        201,
        "ContactGroup",
    ),
    (
        "GET",
        "/v1/contact-groups",
        "listContactGroups",
        "List contact groups",
        Some("contacts:read"),
        None,
        200,
        "ContactGroupList",
    ),
    (
        "GET",
        "/v1/contact-groups/{id}",
        "getContactGroup",
        "Get a contact group with members",
        Some("contacts:read"),
        None,
        200,
        "ContactGroup",
    ),
    (
        "PATCH",
        "/v1/contact-groups/{id}",
        "updateContactGroup",
        "Update a group; contact_ids replaces the membership",
        Some("contacts:write"),
        Some("ContactGroupInput"),
        200,
        "ContactGroup",
    ),
    (
        "DELETE",
        "/v1/contact-groups/{id}",
        "deleteContactGroup",
        "Delete a contact group",
        Some("contacts:write"),
        None,
        204,
        "Empty",
    ),
    (
        "PUT",
        "/v1/contact-groups/{id}/members/{contact_id}",
        "addContactGroupMember",
        "Add a contact to a group",
        Some("contacts:write"),
        None,
        204,
        "Empty",
    ),
    (
        "DELETE",
        "/v1/contact-groups/{id}/members/{contact_id}",
        "removeContactGroupMember",
        "Remove a contact from a group",
        Some("contacts:write"),
        None,
        204,
        "Empty",
    ),
    (
        "POST",
        "/v1/webhooks",
        "createWebhook",
        "Subscribe a URL to events; the secret is returned only here",
        Some("webhooks:write"),
        Some("CreateWebhook"),
        201,
        "CreatedWebhook",
    ),
    (
        "GET",
        "/v1/webhooks",
        "listWebhooks",
        "List webhooks",
        Some("webhooks:write"),
        None,
        200,
        "WebhookList",
    ),
    (
        "GET",
        "/v1/webhooks/{id}",
        "getWebhook",
        "Get a webhook",
        Some("webhooks:write"),
        None,
        200,
        "Webhook",
    ),
    (
        "PATCH",
        "/v1/webhooks/{id}",
        "updateWebhook",
        "Update a webhook",
        Some("webhooks:write"),
        Some("UpdateWebhook"),
        200,
        "Webhook",
    ),
    (
        "DELETE",
        "/v1/webhooks/{id}",
        "deleteWebhook",
        "Delete a webhook",
        Some("webhooks:write"),
        None,
        204,
        "Empty",
    ),
    (
        "GET",
        "/v1/webhooks/{id}/deliveries",
        "listDeliveries",
        "Delivery log with every attempt",
        Some("webhooks:write"),
        None,
        200,
        "DeliveryList",
    ),
    (
        "POST",
        "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
        "redeliver",
        "Deliver one finished delivery again",
        Some("webhooks:write"),
        None,
        202,
        "Requeued",
    ),
    (
        "POST",
        "/v1/webhooks/{id}/redeliver",
        "redeliverDead",
        "Deliver every dead letter again",
        Some("webhooks:write"),
        None,
        202,
        "Requeued",
    ),
    (
        "GET",
        "/v1/events",
        "events",
        "Server-sent event stream, resumable with Last-Event-ID",
        Some("messages:read"),
        None,
        200,
        "EventStream",
    ),
    (
        "GET",
        "/v1/credits",
        "getCredits",
        "Credit balance by bucket and the price per message",
        Some("credits:read"),
        None,
        200,
        "Credits",
    ),
    (
        "GET",
        "/v1/credits/ledger",
        "listCreditLedger",
        "Credit ledger, newest first (cursor pagination)",
        Some("credits:read"),
        None,
        200,
        "CreditLedger",
    ),
    (
        "POST",
        "/v1/credits/grants",
        "grantCredits",
        "Add credit to a bucket (or correct it with a negative amount)",
        Some("admin:*"),
        Some("CreditGrant"),
        201,
        "Credits",
    ),
];

/// (method, path) of every documented operation.
#[cfg(test)]
pub fn documented_routes() -> Vec<(&'static str, &'static str)> {
    OPS.iter()
        .map(|o| (o.0, o.1))
        .chain(
            crate::compat::openapi_ops()
                .into_iter()
                .map(|(m, p, _)| (m, p)),
        )
        .collect()
}

fn obj(props: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": props, "required": required })
}

fn schemas() -> Value {
    let s = |t: &str| json!({ "type": t });
    let ns = json!({ "type": ["string", "null"] });
    let ts = json!({ "type": ["string", "null"], "format": "date-time" });
    let media = obj(
        json!({ "url": {"type": "string", "format": "uri"}, "caption": s("string"), "filename": s("string"), "mime_type": s("string") }),
        &["url"],
    );
    let list = |item: &str| {
        obj(
            json!({ "data": { "type": "array", "items": { "$ref": format!("#/components/schemas/{item}") } } }),
            &["data"],
        )
    };
    let scopes =
        json!({ "type": "array", "items": { "type": "string", "enum": crate::auth::SCOPES } });
    json!({
        "Error": obj(json!({ "error": obj(json!({ "code": s("string"), "message": s("string"), "request_id": s("string"), "field": s("string"), "scope": s("string") }), &["code", "message", "request_id"]) }), &["error"]),
        "Status": obj(json!({ "status": s("string") }), &["status"]),
        "Credits": obj(json!({ "balance": s("integer"), "allowance": s("integer"), "rollover": s("integer"), "topup": s("integer"), "price_per_message": s("integer") }), &["balance", "allowance", "rollover", "topup", "price_per_message"]),
        "CreditGrant": obj(json!({ "amount": s("integer"), "bucket": { "type": "string", "enum": ["allowance", "rollover", "topup"] }, "note": s("string") }), &["amount"]),
        "CreditLedger": obj(json!({ "data": { "type": "array", "items": obj(json!({ "id": s("string"), "kind": { "type": "string", "enum": ["grant", "adjust", "debit"] }, "bucket": s("string"), "amount": s("integer"), "balance_after": s("integer"), "message_id": ns, "api_key_id": ns, "note": ns, "created_at": ts }), &["id", "kind", "bucket", "amount", "balance_after", "created_at"]) }, "next_cursor": ns }), &["data", "next_cursor"]),
        "Text": s("string"),
        "Binary": { "type": "string", "format": "binary" },
        "Any": {},
        "Empty": {},
        "CreateKey": obj(json!({ "name": s("string"), "scopes": scopes, "device_id": s("string"), "rate_limit_per_minute": { "type": "integer", "minimum": 1 } }), &["name", "scopes"]),
        "Key": obj(json!({ "id": s("string"), "name": s("string"), "scopes": scopes, "device_id": ns, "rate_limit_per_minute": { "type": ["integer", "null"] }, "enabled": s("boolean"), "created_at": ts, "revoked_at": ts, "disabled_at": ts }), &["id", "name", "scopes", "enabled"]),
        "UpdateKey": obj(json!({ "enabled": { "type": "boolean", "description": "false: every request with the key is refused (401; WhatsHub 403) until it is enabled again" } }), &["enabled"]),
        "CreatedKey": { "allOf": [ { "$ref": "#/components/schemas/Key" }, obj(json!({ "key": s("string") }), &["key"]) ] },
        "KeyList": list("Key"),
        "CreateDevice": obj(json!({ "name": s("string") }), &["name"]),
        "Device": obj(json!({ "id": s("string"), "number": { "type": ["integer", "null"], "description": "stable device number (1, 2, …), the `device_id` of the SatuApps contract" }, "name": s("string"), "status": { "type": "string", "enum": ["created", "qr_waiting", "online", "offline", "logged_out", "banned"] }, "phone": ns, "push_name": ns, "last_seen_at": ts, "created_at": ts, "updated_at": ts }), &["id", "name", "status"]),
        "DeviceList": list("Device"),
        "Qr": obj(json!({ "qr": s("string"), "created_at": ts, "status": s("string") }), &["qr"]),
        "PairCodeRequest": obj(json!({ "phone": s("string") }), &["phone"]),
        "PairCode": obj(json!({ "code": s("string"), "phone": s("string") }), &["code"]),
        "WaGroupMember": obj(json!({ "jid": s("string"), "is_admin": s("boolean"), "is_super_admin": s("boolean") }), &["jid", "is_admin", "is_super_admin"]),
        "WaGroup": obj(json!({ "jid": s("string"), "subject": s("string"), "creator": ns, "created_at": ts, "participant_count": s("integer"), "participants": { "type": "array", "items": { "$ref": "#/components/schemas/WaGroupMember" } } }), &["jid", "subject", "participants"]),
        "WaGroupList": list("WaGroup"),
        "CreateWaGroup": obj(json!({ "subject": { "type": "string", "minLength": 1, "maxLength": 100 }, "participants": { "type": "array", "minItems": 1, "maxItems": 1024, "items": { "type": "string", "description": "phone number with country code or user JID" } } }), &["subject", "participants"]),
        "ChangeWaGroupParticipants": { "description": "exactly one of add and remove", "oneOf": [
            obj(json!({ "add": { "type": "array", "minItems": 1, "items": s("string") } }), &["add"]),
            obj(json!({ "remove": { "type": "array", "minItems": 1, "items": s("string") } }), &["remove"]),
        ] },
        "WaGroupParticipantChanges": obj(json!({ "action": { "type": "string", "enum": ["add", "remove"] }, "data": { "type": "array", "items": obj(json!({ "jid": s("string"), "error": { "type": ["integer", "null"], "description": "WhatsApp's code when it refused this member (403 privacy, 404 not on WhatsApp, 409 already a member)" } }), &["jid", "error"]) } }), &["action", "data"]),
        "SendBroadcast": obj(json!({
            "contact_group_id": s("string"),
            "text": { "type": "string", "minLength": 1, "maxLength": 65536, "description": "template: {{name}}, {{first_name}}, {{phone}}, {{email}}, {{notes}} from the contact, any other {{key}} from vars; an unknown variable is a 400" },
            "vars": { "type": "object", "additionalProperties": s("string") },
        }), &["contact_group_id", "text"]),
        "Broadcast": obj(json!({ "id": s("string"), "device_id": s("string"), "contact_group_id": s("string"), "count": s("integer"), "messages": { "type": "array", "items": obj(json!({ "id": s("string"), "contact_id": s("string"), "to": s("string"), "status": s("string") }), &["id", "contact_id", "to"]) } }), &["id", "count", "messages"]),
        "SendMessage": obj(json!({
            "to": { "type": "string", "description": "phone number with country code, user JID or group JID" },
            "text": s("string"), "image": media, "video": media, "audio": media, "document": media,
            "location": obj(json!({ "latitude": s("number"), "longitude": s("number"), "name": s("string"), "address": s("string") }), &["latitude", "longitude"]),
            "contact": obj(json!({ "name": s("string"), "phone": s("string") }), &["name", "phone"]),
            "reaction": obj(json!({ "message_id": s("string"), "emoji": s("string") }), &["message_id", "emoji"]),
            "reply_to": s("string"), "mentions": { "type": "array", "items": s("string") },
            "priority": { "type": "string", "enum": ["high", "normal", "low"] },
            "send_at": { "oneOf": [ { "type": "string", "format": "date-time" }, { "type": "integer", "description": "unix seconds" } ] },
            "reference_id": s("string"),
        }), &["to"]),
        "Message": obj(json!({
            "id": s("string"), "device_id": s("string"), "direction": { "type": "string", "enum": ["in", "out"] }, "chat": s("string"), "from": ns, "push_name": ns,
            "type": s("string"), "content": s("object"), "reply_to": ns,
            "status": { "type": "string", "enum": ["queued", "sent", "delivered", "read", "failed", "received"] }, "failure_reason": ns,
            "wa_message_id": s("string"), "priority": s("string"), "send_at": ts, "reference_id": ns, "attempts": s("integer"),
            "job_no": { "type": ["integer", "null"], "description": "job number of an outbound message (WhatsHub's jobId); null for inbound" },
            "created_at": ts, "updated_at": ts, "sent_at": ts, "delivered_at": ts, "read_at": ts,
        }), &["id", "status"]),
        "MessageList": obj(json!({ "data": { "type": "array", "items": { "$ref": "#/components/schemas/Message" } }, "next_cursor": ns }), &["data", "next_cursor"]),
        "Contact": obj(json!({ "id": s("string"), "name": s("string"), "phone": s("string"), "jid": s("string"), "email": ns, "notes": ns, "created_at": ts, "updated_at": ts }), &[]),
        "ContactList": list("Contact"),
        "ContactGroupInput": obj(json!({ "name": s("string"), "description": s("string"), "contact_ids": { "type": "array", "items": s("string") } }), &[]),
        "ContactGroup": obj(json!({ "id": s("string"), "name": s("string"), "description": ns, "member_count": s("integer"), "members": { "type": "array", "items": { "$ref": "#/components/schemas/Contact" } } }), &["id", "name"]),
        "ContactGroupList": list("ContactGroup"),
        "CreateWebhook": obj(json!({ "url": s("string"), "events": { "type": "array", "items": { "type": "string", "enum": crate::events::EVENT_TYPES.iter().chain(["*"].iter()).collect::<Vec<_>>() } }, "device_id": s("string"), "secret": s("string"), "headers": { "type": "object", "additionalProperties": s("string") }, "format": { "type": "string", "enum": ["standard", "satuapps"] } }), &["url", "events"]),
        "UpdateWebhook": obj(json!({ "url": s("string"), "events": { "type": "array", "items": s("string") }, "headers": { "type": "object", "additionalProperties": s("string") }, "enabled": s("boolean") }), &[]),
        "Webhook": obj(json!({ "id": s("string"), "url": s("string"), "events": { "type": "array", "items": s("string") }, "device_id": ns, "header_names": { "type": "array", "items": s("string") }, "format": s("string"), "enabled": s("boolean"), "created_at": ts, "updated_at": ts }), &["id", "url", "events"]),
        "CreatedWebhook": { "allOf": [ { "$ref": "#/components/schemas/Webhook" }, obj(json!({ "secret": s("string") }), &["secret"]) ] },
        "WebhookList": list("Webhook"),
        "Delivery": obj(json!({ "id": s("string"), "event_id": s("string"), "event_position": s("integer"), "device_id": s("string"), "status": { "type": "string", "enum": ["pending", "delivered", "dead"] }, "attempts": s("integer"), "next_attempt_at": ts, "last_status_code": { "type": ["integer", "null"] }, "last_error": ns, "created_at": ts, "attempt_log": { "type": "array", "items": obj(json!({ "at": ts, "status_code": { "type": ["integer", "null"] }, "latency_ms": s("integer"), "error": ns }), &[]) } }), &["id", "status"]),
        "DeliveryList": list("Delivery"),
        "Requeued": obj(json!({ "requeued": s("integer") }), &["requeued"]),
        "EventStream": { "type": "string", "description": "text/event-stream; each event has id = global position, event = type, data = the event JSON (id, type, device_id, sequence, timestamp, data)" },
    })
}

fn q(name: &str, schema: Value, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "schema": schema, "description": description })
}

/// Query and header parameters beyond the path parameters.
fn extra_parameters(op_id: &str) -> Vec<Value> {
    let s = json!({ "type": "string" });
    let t = json!({ "type": "string", "format": "date-time" });
    match op_id {
        "deviceQr" => vec![q(
            "format",
            json!({ "type": "string", "enum": ["json", "svg", "png"], "default": "json" }),
            "json: the payload as JSON; svg or png: the code drawn as an image",
        )],
        "listMessages" => vec![
            q(
                "device_id",
                s.clone(),
                "only this device (forced for device-bound keys)",
            ),
            q("chat", s.clone(), "phone number or JID of the chat"),
            q(
                "direction",
                json!({ "type": "string", "enum": ["in", "out"] }),
                "inbound or outbound",
            ),
            q(
                "status",
                json!({ "type": "string", "enum": ["queued", "sent", "delivered", "read", "failed", "received"] }),
                "message status",
            ),
            q(
                "job_no",
                json!({ "type": "integer" }),
                "the message with this job number (WhatsHub's jobId)",
            ),
            q("since", t.clone(), "created at or after"),
            q("until", t, "created before"),
            q(
                "limit",
                json!({ "type": "integer", "minimum": 1, "maximum": 200, "default": 50 }),
                "page size",
            ),
            q("cursor", s, "next_cursor of the previous page"),
        ],
        "listDeliveries" => vec![
            q(
                "status",
                json!({ "type": "string", "enum": ["pending", "delivered", "dead"] }),
                "delivery state",
            ),
            q(
                "limit",
                json!({ "type": "integer", "minimum": 1, "maximum": 500, "default": 100 }),
                "page size",
            ),
        ],
        "events" => vec![
            q(
                "device_id",
                s,
                "only this device (forced for device-bound keys)",
            ),
            q(
                "after",
                json!({ "type": "integer" }),
                "start after this event position (Last-Event-ID wins)",
            ),
            json!({ "name": "Last-Event-ID", "in": "header", "required": false, "schema": { "type": "string" }, "description": "resume after this event id" }),
        ],
        _ => vec![],
    }
}

/// Builds the document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    let err = |d: &str| json!({ "description": d, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    for (method, path, op_id, summary, scope, req, status, resp) in OPS {
        let mut op = json!({ "operationId": op_id, "summary": summary, "responses": {} });
        let mut params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        params.extend(extra_parameters(op_id));
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        let responses = op["responses"].as_object_mut().expect("object");
        let body = match *resp {
            "Empty" => json!({ "description": "done" }),
            "Text" => {
                json!({ "description": "ok", "content": { "text/plain": { "schema": { "type": "string" } } } })
            }
            "EventStream" => {
                json!({ "description": "event stream", "content": { "text/event-stream": { "schema": { "$ref": "#/components/schemas/EventStream" } } } })
            }
            r => {
                json!({ "description": "ok", "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{r}") } } } })
            }
        };
        responses.insert(status.to_string(), body);
        if *op_id == "deviceQr" {
            // `format=svg|png` answers the code as an image instead of JSON.
            let binary = json!({ "schema": { "type": "string", "format": "binary" } });
            let content = &mut responses[&status.to_string()]["content"];
            content["image/svg+xml"] = binary.clone();
            content["image/png"] = binary;
        }
        if let Some(sc) = scope {
            op["security"] = json!([{ "bearer": [] }]);
            op["x-required-scope"] = json!(sc);
            let responses = op["responses"].as_object_mut().expect("object");
            responses.insert(
                "400".into(),
                err("invalid request; `field` names the field at fault"),
            );
            responses.insert("401".into(), err("missing or invalid API key"));
            responses.insert(
                "403".into(),
                err("the key lacks the scope named in `scope`"),
            );
            responses.insert("404".into(), err("not found"));
            responses.insert("429".into(), err("rate limited; see Retry-After"));
            if req.is_some() {
                responses.insert("413".into(), err("request body too large"));
            }
            if *op_id == "sendMessage" {
                responses.insert(
                    "409".into(),
                    err("Idempotency-Key reused with a different body"),
                );
                op["parameters"].as_array_mut().expect("has path params").push(json!({ "name": "Idempotency-Key", "in": "header", "required": false, "schema": { "type": "string", "maxLength": 255 } }));
            }
            if req.is_some() {
                op["responses"]
                    .as_object_mut()
                    .expect("object")
                    .insert("415".into(), err("Content-Type must be application/json"));
            }
            if matches!(
                *op_id,
                "connectDevice"
                    | "reconnectDevice"
                    | "logoutDevice"
                    | "devicePairCode"
                    | "deviceQr"
            ) {
                let r = op["responses"].as_object_mut().expect("object");
                r.insert("409".into(), err("the device's state does not allow this"));
                if *op_id != "deviceQr" {
                    r.insert("501".into(), err("the configured transport cannot do this"));
                    r.insert("502".into(), err("the transport failed"));
                }
            }

            if op_id.ends_with("DeviceGroup")
                || *op_id == "listDeviceGroups"
                || *op_id == "changeDeviceGroupParticipants"
            {
                let r = op["responses"].as_object_mut().expect("object");
                r.insert(
                    "409".into(),
                    err("WhatsApp refused (e.g. not an admin, not a member)"),
                );
                r.insert("501".into(), err("the configured transport cannot do this"));
                r.insert("502".into(), err("the transport failed"));
                r.insert(
                    "503".into(),
                    err("`device_offline`: the device is not connected"),
                );
            }

            if *op_id == "createContact" || *op_id == "updateContact" {
                op["responses"].as_object_mut().expect("object").insert(
                    "409".into(),
                    err("phone number already used by another contact"),
                );
            }
        }
        if let Some(r) = req {
            op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{r}") } } } });
        }
        paths.entry(path.to_string()).or_insert_with(|| json!({}))[method.to_ascii_lowercase()] =
            op;
    }
    // The hosted gateways' contracts (docs/compat.md), each with its own error shape.
    for (method, path, op) in crate::compat::openapi_ops() {
        paths.entry(path.to_string()).or_insert_with(|| json!({}))[method.to_ascii_lowercase()] =
            op;
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Wasap gateway API", "version": env!("CARGO_PKG_VERSION") },
        "tags": [{ "name": "compat", "description": "Compatibility APIs of hosted gateways (docs/compat.md); outside /v1, with their own error shapes" }],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "rawToken": { "type": "apiKey", "in": "header", "name": "Authorization", "description": "the API key without `Bearer` (Fonnte style)" },
                "deviceApiKey": { "type": "apiKey", "in": "header", "name": "X-Device-Api-Key" },
            },
            "schemas": schemas(),
        },
    })
}
