#!/usr/bin/env python3
"""Moving from wabot (seed 001) to Wasap: the same /api/v1 calls, only the base URL and the
API key change. Runs against `wasap serve --demo` with the Python standard library only:

    WASAP_URL=http://127.0.0.1:8080 WASAP_ADMIN_KEY=<admin key> python3 examples/compat/wabot.py

Steps: link a demo device, create a wabot key (scopes, bound to the device, 60 requests a
minute by default), start a chat with a demo contact that echoes, then use the wabot API:
ping, conversations (filter, detail), reply as a human agent with an Idempotency-Key, hand the
conversation off, products, credits and usage. Exits non-zero when an answer is not as documented.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid

BASE = os.environ.get("WASAP_URL", "http://127.0.0.1:8080").rstrip("/")
ADMIN = os.environ.get("WASAP_ADMIN_KEY") or sys.exit("set WASAP_ADMIN_KEY to the gateway admin key")


def call(method, path, key, body=None, headers=None):
    """Returns (HTTP status, parsed JSON answer, response headers)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + key)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null"), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), e.headers


def wabot(method, path, key, body=None, headers=None, expect=200):
    """A wabot call: checks the status and the {"ok": true, "data"} envelope, returns data."""
    status, answer, hdrs = call(method, "/api/v1" + path, key, body, headers)
    if status != expect or not answer.get("ok"):
        sys.exit(f"{method} {path}: HTTP {status} {answer}")
    print(f"{method} /api/v1{path} -> {status}")
    return answer["data"], hdrs


def wait_for(what, check, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    sys.exit(f"timed out waiting for {what}")


# 1. Gateway setup (admin, native API): a linked device and a wabot key bound to it.
_, device, _ = call("POST", "/v1/devices", ADMIN, {"name": "toko"})
device_id = device["id"]
call("POST", f"/v1/devices/{device_id}/connect", ADMIN)
wait_for("device online", lambda: call("GET", f"/v1/devices/{device_id}", ADMIN)[1]["status"] == "online")
scopes = ["conversations:read", "conversations:write", "messages:send", "products:read",
          "products:write", "credits:read", "usage:read"]
_, created, _ = call("POST", "/v1/keys", ADMIN, {"name": "crm", "scopes": scopes, "device_id": device_id})
KEY = created["key"]  # the tk_live_… of wabot: shown once, keep it secret
print("key", created["id"], "rate limit", created["rate_limit_per_minute"], "per minute")

# A customer chat: the demo contact answers our greeting with the same text.
call("POST", f"/v1/devices/{device_id}/messages", ADMIN, {"to": "6281100000001", "text": "Halo, ada yang bisa dibantu?"})

# 2. The wabot API, as before.
pong, _ = wabot("GET", "/ping", KEY)
assert pong["pong"] is True

def customer_conversation():
    data, _ = wabot("GET", "/conversations?status=BOT", KEY)
    for c in data["items"]:
        if c["phone"] == "6281100000001":
            detail, _ = wabot("GET", f"/conversations/{c['id']}", KEY)
            if any(m["as"] == "CUSTOMER" for m in detail["messages"]):
                return detail
    return None

conv = wait_for("the customer's echo", customer_conversation)
print("conversation", conv["id"], "status", conv["status"], "messages", len(conv["messages"]))

idem = str(uuid.uuid4())
sent, _ = wabot("POST", f"/conversations/{conv['id']}/messages", KEY,
                {"text": "Halo dari sistem kami", "as": "HUMAN_AGENT"}, {"Idempotency-Key": idem}, expect=202)
again, hdrs = wabot("POST", f"/conversations/{conv['id']}/messages", KEY,
                    {"text": "Halo dari sistem kami", "as": "HUMAN_AGENT"}, {"Idempotency-Key": idem}, expect=202)
assert again["id"] == sent["id"] and hdrs.get("Idempotent-Replayed") == "true", "a retry is not sent twice"

handed, _ = wabot("POST", f"/conversations/{conv['id']}/handoff", KEY)
assert handed["status"] == "HUMAN"
status, refused, _ = call("POST", f"/api/v1/conversations/{conv['id']}/messages", KEY, {"text": "Bot di sini", "as": "BOT"})
assert status == 409 and refused["ok"] is False, "automated replies stop after a hand-off"
print("as BOT after hand-off ->", status, refused["error"]["code"])

product, _ = wabot("POST", "/products", KEY, {"name": "Kemeja Batik", "price": 245000, "stock": 20},
                   {"Idempotency-Key": str(uuid.uuid4())}, expect=201)
updated, _ = wabot("PATCH", f"/products/{product['id']}", KEY, {"stock": 5})
assert updated["stock"] == 5
products, _ = wabot("GET", "/products", KEY)
assert any(p["id"] == product["id"] for p in products["items"])

credits, _ = wabot("GET", "/credits", KEY)
print("credits", {k: credits[k] for k in ("allowance", "rollover", "topup")})
usage, _ = wabot("GET", "/usage?days=30", KEY)
print("usage", usage["messages"], "credits spent", usage["credits"]["spent"])
print("OK")
