#!/usr/bin/env python3
"""Migrating from the waapi gateway (and Fonnte's /send) to Wasap: the same calls, a new base URL.

Runs against `wasap serve --demo`:

    WASAP_URL=http://127.0.0.1:8080 WASAP_ADMIN_KEY=wsk_... python3 examples/compat/waapi.py

It sets up what the hosted gateway gave you (a connected device and its token) through the
native API, then makes the seed's calls unchanged: Fonnte-style /send with the bare token,
/api/send-message and /api/send-media with a Bearer token, the group list and /api/status.
Only the standard library is used.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

BASE = os.environ.get("WASAP_URL", "http://127.0.0.1:8080").rstrip("/")
ADMIN = os.environ["WASAP_ADMIN_KEY"]
ECHO = "6281100000001"  # a demo contact that answers every text with the same text


def call(method, path, headers=None, body=None, form=None):
    """One HTTP call; returns (status, parsed JSON)."""
    data = None
    headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
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
        found = check()
        if found:
            return found
        time.sleep(0.2)
    sys.exit(f"timed out waiting for {what}")


# 1. What the hosted gateway's dashboard gave you: a linked device and its token. In demo mode
#    a virtual phone scans the QR code by itself.
device = expect("create device", *admin("POST", "/v1/devices", {"name": "Default Device"}), want=201)
expect("connect", *admin("POST", f"/v1/devices/{device['id']}/connect"), want=202)
wait("the device to come online",
     lambda: admin("GET", f"/v1/devices/{device['id']}")[1]["status"] == "online")
key = expect("create the device token", *admin("POST", "/v1/keys", {
    "name": "waapi migration", "scopes": ["messages:send", "devices:read"],
    "device_id": device["id"]}), want=201)
TOKEN = key["key"]

# 2. Fonnte-style /send: Authorization is the token itself; form or JSON; 0812… becomes 62812….
expect("POST /send", *call("POST", "/send", {"Authorization": TOKEN},
                          form={"target": "0" + ECHO[2:], "message": "Halo dari /send"}))

# 3. The waapi routes: Bearer token, JSON bodies.
bearer = {"Authorization": "Bearer " + TOKEN}
expect("POST /api/send-message", *call("POST", "/api/send-message", bearer,
                                       {"to": ECHO, "message": "Halo dari /api/send-message"}))
expect("POST /api/send-media (unsupported type)",
       *call("POST", "/api/send-media", bearer,
             {"to": ECHO, "url": "https://placehold.co/600x400.png", "type": "sticker"}), want=400)
expect("GET /api/devices/:deviceId/wa-groups",
       *call("GET", f"/api/devices/{device['id']}/wa-groups", bearer))
status = expect("GET /api/status", *call("GET", "/api/status", bearer))
assert status["devices"][0]["status"] == "CONNECTED", status

# 4. The demo contact echoes the texts back: they arrived.
for text in ["Halo dari /send", "Halo dari /api/send-message"]:
    wait(f"the echo of {text!r}", lambda: any(
        m["content"].get("text") == text
        for m in admin("GET", f"/v1/messages?device_id={device['id']}&direction=in")[1]["data"]))
    print(f"echo received: {text}")
