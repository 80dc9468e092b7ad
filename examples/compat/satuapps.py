#!/usr/bin/env python3
"""Migrating from SatuApps' WhatsApp API to Wasap: the same calls, a new base URL.

Runs against `wasap serve --demo`:

    WASAP_URL=http://127.0.0.1:8080 WASAP_ADMIN_KEY=wsk_... python3 examples/compat/satuapps.py

It sets up what the SatuApps dashboard gave you (a device, its number and its API key)
through the native API, then makes the seed's calls unchanged: POST
/api/wa/{device_id}/send-message with X-Device-Api-Key, and GET /api/profile for the token
balance. Only the standard library is used.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

BASE = os.environ.get("WASAP_URL", "http://127.0.0.1:8080").rstrip("/")
ADMIN = os.environ["WASAP_ADMIN_KEY"]
ECHO = "6281100000001"  # a demo contact that answers every text with the same text


def call(method, path, headers=None, body=None):
    """One HTTP call; returns (status, parsed JSON)."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def admin(method, path, body=None):
    return call(method, path, {"Authorization": "Bearer " + ADMIN}, body)


def expect(what, status, body, want=200):
    print(f"{what}: {status} {json.dumps(body, separators=(',', ':'))}")
    if status != want:
        sys.exit(f"{what}: expected HTTP {want}")
    return body


def wait(what, check, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    sys.exit(f"timed out waiting for {what}")


# 1. What the SatuApps dashboard gave you: a device (its number is SatuApps' device_id) and
#    the device's API key. In demo mode a virtual phone scans the QR code by itself.
device = expect("create device", *admin("POST", "/v1/devices", {"name": "CS"}), want=201)
expect("connect", *admin("POST", f"/v1/devices/{device['id']}/connect"), want=202)
wait("the device to come online",
     lambda: admin("GET", f"/v1/devices/{device['id']}")[1]["status"] == "online")
key = expect("create the device API key", *admin("POST", "/v1/keys", {
    "name": "satuapps migration", "scopes": ["messages:send", "credits:read"],
    "device_id": device["id"]}), want=201)
DEVICE_ID = device["number"]
HEADERS = {"X-Device-Api-Key": key["key"]}

# 2. The SatuApps calls, unchanged.
text = "Halo, ini pesan otomatis."
job = expect("POST /api/wa/{device_id}/send-message",
             *call("POST", f"/api/wa/{DEVICE_ID}/send-message", HEADERS,
                   {"to": ECHO, "message": text, "reference_id": "INV-23001"}))
assert job["status"] == "queued" and job["device_id"] == DEVICE_ID, job
error = expect("the documented invalid_payload error",
               *call("POST", f"/api/wa/{DEVICE_ID}/send-message", HEADERS, {"to": ECHO}),
               want=400)
assert error["error"] == "invalid_payload", error
profile = expect("GET /api/profile",
                 *call("GET", "/api/profile", {"Authorization": "Bearer " + key["key"]}))
print(f"token balance: {profile['token_balance']}")

# 3. The demo contact echoes the text back: it arrived.
wait("the echo", lambda: any(
    m["content"].get("text") == text
    for m in admin("GET", f"/v1/messages?device_id={device['id']}&direction=in")[1]["data"]))
print(f"echo received: {text}")
