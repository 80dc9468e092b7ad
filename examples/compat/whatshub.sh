#!/usr/bin/env bash
# Moving from WhatsHub (seed 003) to Wasap: the same POST /api/v1/messages/send, only the base
# URL and the app credentials change. Runs against `wasap serve --demo`:
#
#   WASAP_URL=http://127.0.0.1:8080 WASAP_ADMIN_KEY=<admin key> ./examples/compat/whatshub.sh
#
# Steps: create a device (WhatsHub's session), create an app (an API key bound to it: app_id
# is the key's id, secret_key the key), send the documented examples, disable the app and see
# the documented 403, enable it again. Needs curl and python3 (for reading JSON answers).
set -euo pipefail
BASE=${WASAP_URL:-http://127.0.0.1:8080}
ADMIN=${WASAP_ADMIN_KEY:?set WASAP_ADMIN_KEY to the gateway admin key}

json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
admin() { # method path [json body]
    curl -sS -X "$1" "$BASE$2" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' ${3:+-d "$3"}
}
send() { # json body; prints the answer and the HTTP status
    curl -sS -X POST "$BASE/api/v1/messages/send" -H 'Content-Type: application/json' -d "$1" -w ' HTTP %{http_code}\n'
}

device=$(admin POST /v1/devices '{"name": "NOEMesenger"}' | json_field id)
app=$(admin POST /v1/keys "{\"name\": \"HRIS System\", \"scopes\": [\"messages:send\"], \"device_id\": \"$device\"}")
APP_ID=$(printf '%s' "$app" | json_field id)
SECRET_KEY=$(printf '%s' "$app" | json_field key)
echo "app_id=$APP_ID (keep secret_key private)"

echo "# text"
send "{\"app_id\": \"$APP_ID\", \"secret_key\": \"$SECRET_KEY\", \"to\": \"6281234567890\",
       \"content\": {\"text\": \"Halo! Ini notifikasi dari sistem kami.\"}}" | tee /tmp/whatshub-$$.out
grep -q '"jobId"' /tmp/whatshub-$$.out && rm -f /tmp/whatshub-$$.out

echo "# raw_data with use_ai (rendered as lines when no AI endpoint is configured)"
send "{\"app_id\": \"$APP_ID\", \"secret_key\": \"$SECRET_KEY\", \"to\": \"6281234567890\", \"use_ai\": true,
       \"ai_context\": \"Ubah data absensi ini menjadi laporan harian yang ramah untuk tim HR.\",
       \"content\": {\"raw_data\": {\"tanggal\": \"1 Juni 2026\", \"hadir\": 92, \"sakit\": 5, \"izin\": 3}}}"

echo "# location"
send "{\"app_id\": \"$APP_ID\", \"secret_key\": \"$SECRET_KEY\", \"to\": \"6281234567890\", \"type\": \"location\",
       \"location\": {\"latitude\": -6.208763, \"longitude\": 106.845599, \"title\": \"Lokasi Tim A\"}}"

echo "# a demo contact that echoes: the message is delivered by the demo sandbox once the device is linked"
send "{\"app_id\": \"$APP_ID\", \"secret_key\": \"$SECRET_KEY\", \"to\": \"6281100000001@c.us\",
       \"priority\": \"high\", \"content\": {\"text\": \"Halo dari WhatsHub lama\"}}"

echo "# disable the app: WhatsHub's 403"
admin PATCH "/v1/keys/$APP_ID" '{"enabled": false}' >/dev/null
send "{\"app_id\": \"$APP_ID\", \"secret_key\": \"$SECRET_KEY\", \"to\": \"6281234567890\", \"content\": {\"text\": \"x\"}}"
admin PATCH "/v1/keys/$APP_ID" '{"enabled": true}' >/dev/null
echo "# enabled again"
send "{\"app_id\": \"$APP_ID\", \"secret_key\": \"$SECRET_KEY\", \"to\": \"6281234567890\", \"content\": {\"text\": \"Aktif lagi\"}}"
