//! Contract 003 (WhatsHub) against the real `wasap serve --demo`: every request example of the
//! seed sent as written (only `app_id` and `secret_key` replaced), every documented response
//! field with its type, every documented error with its status and message, the app rules
//! (bound device, disabled app), and the AI composer (deterministic and OpenAI-compatible).

mod common;

use std::sync::{Arc, Mutex};

use common::contract_gateway::{Answer, ContractGateway, Db};
use reqwest::Method;
use serde_json::{Value, json};

const SEND: &str = "/api/v1/messages/send";

/// A gateway with a device named like the seed's session and an app bound to it.
struct App {
    gw: ContractGateway,
    device: String,
    app_id: String,
    secret: String,
}

async fn app(backend: Db, extra: &[&str]) -> Option<App> {
    let gw = ContractGateway::start(backend, extra).await?;
    let device = gw.device("NOEMesenger").await;
    let (app_id, secret) = gw
        .key(json!({ "name": "HRIS System", "scopes": ["messages:send"], "device_id": device }))
        .await;
    Some(App {
        gw,
        device,
        app_id,
        secret,
    })
}

impl App {
    /// Sends a seed example as written, with this app's credentials in place of the seed's.
    async fn send_seed(&self, example: &str) -> Answer {
        let body = example
            .replace("app_abc123", &self.app_id)
            .replace("secretkeyanda...", &self.secret);
        self.gw.post_raw(SEND, &body).await
    }
    /// The newest message of the app's device in the native log.
    async fn last_message(&self) -> Value {
        self.gw.messages_of(&self.device).await[0].clone()
    }
}

fn assert_queued(a: &Answer, app: &str, session: &str, recipient: &str, kind: &str) {
    assert_eq!(a.status, 200, "{}", a.text);
    let b = &a.body;
    assert_eq!(b["success"], true, "{b}");
    assert_eq!(b["message"], "Pesan berhasil dimasukkan ke antrean");
    let job = b["jobId"].as_str().expect("jobId is a string");
    assert!(
        !job.is_empty() && job.chars().all(|c| c.is_ascii_digit()),
        "{job}"
    );
    assert_eq!(b["app"], app);
    assert_eq!(b["session"], session);
    assert_eq!(b["recipient"], recipient);
    assert_eq!(b["type"], kind);
}

fn assert_error(a: &Answer, status: u16, message: &str) {
    assert_eq!(a.status, status, "{}", a.text);
    assert_eq!(a.body, json!({ "error": message }), "{}", a.text);
}

const TEXT_EXAMPLE: &str = r#"{
"app_id": "app_abc123",
"secret_key": "secretkeyanda...",
"to": "6281234567890",
"content": {
"text": "Halo! Ini notifikasi dari sistem kami."
}
}"#;

const GROUP_EXAMPLE: &str = r#"{
"app_id": "app_abc123",
"secret_key": "secretkeyanda...",
"to": "6281234567890-1600000000@g.us",
"content": {
"text": "Pengumuman: Meeting pukul 15.00 WIB hari ini."
}
}"#;

const AI_EXAMPLE: &str = r#"{
"app_id": "app_abc123",
"secret_key": "secretkeyanda...",
"to": "6281234567890",
"use_ai": true,
"ai_context": "Ubah data absensi ini menjadi laporan harian yang ramah untuk tim HR.",
"content": {
"raw_data": {
"tanggal": "1 Juni 2026",
"hadir": 92,
"sakit": 5,
"izin": 3
}
}
}"#;

const IMAGE_EXAMPLE: &str = r#"{
"app_id": "app_abc123",
"secret_key": "secretkeyanda...",
"to": "6281234567890",
"type": "image",
"content": {
"text": "Dokumentasi kegiatan lapangan hari ini.",
"file": {
"url": "https://domain.com/uploads/foto.jpg",
"mimetype": "image/jpeg",
"filename": "foto-lapangan.jpg"
}
}
}"#;

const FILE_EXAMPLE: &str = r#"{
"app_id": "app_abc123",
"secret_key": "secretkeyanda...",
"to": "6281234567890",
"type": "file",
"content": {
"text": "Terlampir laporan keuangan bulan Mei 2026.",
"file": {
"url": "https://domain.com/files/laporan.pdf",
"mimetype": "application/pdf",
"filename": "laporan-mei-2026.pdf"
}
}
}"#;

const LOCATION_EXAMPLE: &str = r#"{
"app_id": "app_abc123",
"secret_key": "secretkeyanda...",
"to": "6281234567890",
"type": "location",
"location": {
"latitude": -6.208763,
"longitude": 106.845599,
"title": "Lokasi Tim A — Proyek Sudirman"
}
}"#;

const GROUP_IMAGE_AI_EXAMPLE: &str = r#"{
"app_id": "app_abc123",
"secret_key": "secretkeyanda...",
"to": "6281234567890-1600000000@g.us",
"type": "image",
"use_ai": true,
"ai_context": "Buatkan caption foto kegiatan yang semangat untuk tim sales.",
"content": {
"raw_data": "Pameran Jakarta sukses, pengunjung melebihi target 120%",
"file": {
"url": "https://domain.com/pameran.jpg",
"mimetype": "image/jpeg",
"filename": "pameran-jkt.jpg"
}
}
}"#;

/// The Laravel example's body, as `Http::post` encodes the PHP array.
const PHP_EXAMPLE: &str = r#"{"app_id":"app_abc123","secret_key":"secretkeyanda...","to":"6281234567890","use_ai":true,"ai_context":"Buat notifikasi yang ramah untuk pengguna.","content":{"raw_data":{"nama":"Budi Santoso","status":"Pesanan dikonfirmasi","total":"Rp 250.000"}}}"#;

async fn text_example_is_queued_with_the_documented_answer(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    let a = app.send_seed(TEXT_EXAMPLE).await;
    assert_queued(
        &a,
        "HRIS System",
        "NOEMesenger",
        "6281234567890@c.us",
        "text",
    );
    let m = app.last_message().await;
    assert_eq!(m["chat"], "6281234567890@s.whatsapp.net");
    assert_eq!(
        m["content"]["text"],
        "Halo! Ini notifikasi dari sistem kami."
    );
    assert_eq!(m["status"], "queued");
    assert_eq!(m["priority"], "normal");
    // The jobId tracks the message in the native log.
    let job = a.body["jobId"].as_str().unwrap();
    assert_eq!(m["job_no"].to_string(), job);
    let found = app
        .gw
        .admin(Method::GET, &format!("/v1/messages?job_no={job}"), None)
        .await;
    assert_eq!(found.body["data"][0]["id"], m["id"], "{}", found.text);
    assert_eq!(found.body["data"].as_array().unwrap().len(), 1);
    app.gw.stop().await;
}

async fn group_example_goes_to_the_group_jid(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    let a = app.send_seed(GROUP_EXAMPLE).await;
    assert_queued(
        &a,
        "HRIS System",
        "NOEMesenger",
        "6281234567890-1600000000@g.us",
        "text",
    );
    assert_eq!(
        app.last_message().await["chat"],
        "6281234567890-1600000000@g.us"
    );
    app.gw.stop().await;
}

async fn ai_example_without_a_model_renders_raw_data_as_lines_in_order(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    let a = app.send_seed(AI_EXAMPLE).await;
    assert_queued(
        &a,
        "HRIS System",
        "NOEMesenger",
        "6281234567890@c.us",
        "text",
    );
    let text = app.last_message().await["content"]["text"].clone();
    assert_eq!(text, "Tanggal: 1 Juni 2026\nHadir: 92\nSakit: 5\nIzin: 3");
    app.gw.stop().await;
}

async fn php_example_renders_the_order_as_given(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    let a = app.send_seed(PHP_EXAMPLE).await;
    assert_queued(
        &a,
        "HRIS System",
        "NOEMesenger",
        "6281234567890@c.us",
        "text",
    );
    assert_eq!(
        app.last_message().await["content"]["text"],
        "Nama: Budi Santoso\nStatus: Pesanan dikonfirmasi\nTotal: Rp 250.000"
    );
    app.gw.stop().await;
}

async fn image_example_queues_an_image_with_caption(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    let a = app.send_seed(IMAGE_EXAMPLE).await;
    assert_queued(
        &a,
        "HRIS System",
        "NOEMesenger",
        "6281234567890@c.us",
        "image",
    );
    let m = app.last_message().await;
    assert_eq!(m["type"], "image");
    let c = &m["content"];
    assert_eq!(c["url"], "https://domain.com/uploads/foto.jpg");
    assert_eq!(c["caption"], "Dokumentasi kegiatan lapangan hari ini.");
    assert_eq!(c["mime_type"], "image/jpeg");
    assert_eq!(c["filename"], "foto-lapangan.jpg");
    app.gw.stop().await;
}

async fn file_example_queues_a_document(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    let a = app.send_seed(FILE_EXAMPLE).await;
    assert_queued(
        &a,
        "HRIS System",
        "NOEMesenger",
        "6281234567890@c.us",
        "file",
    );
    let m = app.last_message().await;
    assert_eq!(m["type"], "document");
    assert_eq!(m["content"]["filename"], "laporan-mei-2026.pdf");
    assert_eq!(m["content"]["mime_type"], "application/pdf");
    assert_eq!(
        m["content"]["caption"],
        "Terlampir laporan keuangan bulan Mei 2026."
    );
    // `document` is the same kind under another name.
    let doc = FILE_EXAMPLE.replace(r#""type": "file""#, r#""type": "document""#);
    let a = app.send_seed(&doc).await;
    assert_queued(
        &a,
        "HRIS System",
        "NOEMesenger",
        "6281234567890@c.us",
        "document",
    );
    app.gw.stop().await;
}

async fn location_example_echoes_the_location(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    let a = app.send_seed(LOCATION_EXAMPLE).await;
    assert_queued(
        &a,
        "HRIS System",
        "NOEMesenger",
        "6281234567890@c.us",
        "location",
    );
    let l = &a.body["location"];
    assert_eq!(l["latitude"].as_f64(), Some(-6.208763));
    assert_eq!(l["longitude"].as_f64(), Some(106.845599));
    assert_eq!(l["title"], "Lokasi Tim A — Proyek Sudirman");
    let m = app.last_message().await;
    assert_eq!(m["type"], "location");
    assert_eq!(m["content"]["name"], "Lokasi Tim A — Proyek Sudirman");
    app.gw.stop().await;
}

async fn group_image_ai_example_captions_with_the_raw_string(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    let a = app.send_seed(GROUP_IMAGE_AI_EXAMPLE).await;
    assert_queued(
        &a,
        "HRIS System",
        "NOEMesenger",
        "6281234567890-1600000000@g.us",
        "image",
    );
    let m = app.last_message().await;
    assert_eq!(
        m["content"]["caption"],
        "Pameran Jakarta sukses, pengunjung melebihi target 120%"
    );
    assert_eq!(m["content"]["filename"], "pameran-jkt.jpg");
    app.gw.stop().await;
}

async fn job_ids_are_distinct_increasing_numbers(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    let mut last = 0u64;
    for _ in 0..3 {
        let a = app.send_seed(TEXT_EXAMPLE).await;
        let job: u64 = a.body["jobId"].as_str().unwrap().parse().unwrap();
        assert!(job > last, "{job} after {last}");
        last = job;
    }
    app.gw.stop().await;
}

async fn priority_and_c_us_recipients_map_onto_the_queue(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    for (priority, to) in [("high", "6281234567890@c.us"), ("low", "6281234567890")] {
        let body = json!({ "app_id": app.app_id, "secret_key": app.secret, "to": to, "priority": priority, "content": { "text": "x" } });
        let a = app.gw.post_raw(SEND, &body.to_string()).await;
        assert_queued(
            &a,
            "HRIS System",
            "NOEMesenger",
            "6281234567890@c.us",
            "text",
        );
        assert_eq!(app.last_message().await["priority"], priority);
    }
    // `to` as a JSON number is read as its digits.
    let body = json!({ "app_id": app.app_id, "secret_key": app.secret, "to": 6281234567890u64, "content": { "text": "x" } });
    let a = app.gw.post_raw(SEND, &body.to_string()).await;
    assert_queued(
        &a,
        "HRIS System",
        "NOEMesenger",
        "6281234567890@c.us",
        "text",
    );
    let body = json!({ "app_id": app.app_id, "secret_key": app.secret, "to": "6281234567890", "priority": "urgent", "content": { "text": "x" } });
    assert_error(
        &app.gw.post_raw(SEND, &body.to_string()).await,
        400,
        "priority harus high, normal, atau low",
    );
    app.gw.stop().await;
}

async fn missing_credentials_are_401(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    let msg = "app_id dan secret_key wajib disertakan";
    let cases = [
        json!({ "to": "6281234567890", "content": { "text": "x" } }),
        json!({ "app_id": app.app_id, "to": "6281234567890", "content": { "text": "x" } }),
        json!({ "secret_key": app.secret, "to": "6281234567890", "content": { "text": "x" } }),
        json!({ "app_id": "", "secret_key": app.secret, "to": "6281234567890" }),
        json!({ "app_id": app.app_id, "secret_key": 5 }),
    ];
    for body in cases {
        assert_error(&app.gw.post_raw(SEND, &body.to_string()).await, 401, msg);
    }
    app.gw.stop().await;
}

async fn a_wrong_secret_or_another_apps_secret_is_401(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    let (_, other_secret) = app
        .gw
        .key(json!({ "name": "Other", "scopes": ["messages:send"], "device_id": app.device }))
        .await;
    for secret in ["wsk_not-a-real-key", other_secret.as_str()] {
        let body = json!({ "app_id": app.app_id, "secret_key": secret, "to": "6281234567890", "content": { "text": "x" } });
        assert_error(
            &app.gw.post_raw(SEND, &body.to_string()).await,
            401,
            "secret_key tidak valid",
        );
    }
    // A revoked app is no app at all.
    app.gw
        .admin(Method::DELETE, &format!("/v1/keys/{}", app.app_id), None)
        .await;
    assert_error(
        &app.send_seed(TEXT_EXAMPLE).await,
        401,
        "secret_key tidak valid",
    );
    app.gw.stop().await;
}

async fn a_disabled_app_is_403_until_enabled_again(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    let path = format!("/v1/keys/{}", app.app_id);
    let off = app
        .gw
        .admin(Method::PATCH, &path, Some(json!({ "enabled": false })))
        .await;
    assert_eq!(off.status, 200, "{}", off.text);
    assert_eq!(off.body["enabled"], false);
    assert!(off.body["disabled_at"].is_string());
    assert_error(
        &app.send_seed(TEXT_EXAMPLE).await,
        403,
        "Aplikasi ini sedang dinonaktifkan",
    );
    let on = app
        .gw
        .admin(Method::PATCH, &path, Some(json!({ "enabled": true })))
        .await;
    assert_eq!(on.body["enabled"], true, "{}", on.text);
    assert_eq!(app.send_seed(TEXT_EXAMPLE).await.status, 200);
    app.gw.stop().await;
}

async fn content_without_text_raw_data_or_file_is_400(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    let msg = "content harus memiliki minimal salah satu: text, raw_data, atau file";
    for content in [None, Some(json!({})), Some(json!({ "text": "" }))] {
        let mut body =
            json!({ "app_id": app.app_id, "secret_key": app.secret, "to": "6281234567890" });
        if let Some(c) = content {
            body["content"] = c;
        }
        assert_error(&app.gw.post_raw(SEND, &body.to_string()).await, 400, msg);
    }
    app.gw.stop().await;
}

async fn an_app_without_a_device_is_400(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    let (id, secret) = app
        .gw
        .key(json!({ "name": "Unbound", "scopes": ["messages:send"] }))
        .await;
    let body = TEXT_EXAMPLE
        .replace("app_abc123", &id)
        .replace("secretkeyanda...", &secret);
    assert_error(
        &app.gw.post_raw(SEND, &body).await,
        400,
        "Aplikasi belum memiliki device/session",
    );
    // A bound device that was deleted leaves the app without a session too.
    app.gw
        .admin(Method::DELETE, &format!("/v1/devices/{}", app.device), None)
        .await;
    assert_error(
        &app.send_seed(TEXT_EXAMPLE).await,
        400,
        "Aplikasi belum memiliki device/session",
    );
    app.gw.stop().await;
}

async fn an_app_without_the_send_scope_is_403(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    let (id, secret) = app
        .gw
        .key(json!({ "name": "Reader", "scopes": ["messages:read"], "device_id": app.device }))
        .await;
    let body = TEXT_EXAMPLE
        .replace("app_abc123", &id)
        .replace("secretkeyanda...", &secret);
    let a = app.gw.post_raw(SEND, &body).await;
    assert_eq!(a.status, 403, "{}", a.text);
    assert!(a.body["error"].as_str().unwrap().contains("messages:send"));
    app.gw.stop().await;
}

async fn malformed_requests_get_the_error_shape(b: Db) {
    let Some(app) = app(b, &[]).await else { return };
    let base = json!({ "app_id": app.app_id, "secret_key": app.secret, "to": "6281234567890", "content": { "text": "x" } });
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b.to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        (
            "{not json".into(),
            "Body request harus berupa objek JSON yang valid",
        ),
        (
            "[1]".into(),
            "Body request harus berupa objek JSON yang valid",
        ),
        (
            with("to", json!("12")),
            "Format nomor tujuan (to) tidak valid: gunakan 628xxx, 628xxx@c.us, atau ID grup @g.us",
        ),
        (with("to", Value::Null), "to wajib diisi"),
        (
            with("type", json!("video")),
            "type tidak valid: gunakan text, image, file, document, atau location",
        ),
        (
            with("type", json!("image")),
            "content.file (url, mimetype, filename) wajib diisi untuk type image",
        ),
        (
            with("type", json!("location")),
            "location wajib diisi (latitude, longitude) untuk type location",
        ),
        (with("use_ai", json!("yes")), "use_ai harus berupa boolean"),
        (with("content", json!("teks")), "content harus berupa objek"),
    ];
    for (body, msg) in cases {
        assert_error(&app.gw.post_raw(SEND, &body).await, 400, msg);
    }
    let bad_url = with("type", json!("image")).replace(
        r#""content":{"text":"x"}"#,
        r#""content":{"file":{"url":"ftp://x/y.jpg"}}"#,
    );
    let a = app.gw.post_raw(SEND, &bad_url).await;
    assert_eq!(a.status, 400, "{}", a.text);
    assert!(
        a.body["error"]
            .as_str()
            .unwrap()
            .starts_with("content.file.url tidak valid")
    );
    let far = with("type", json!("location")).replace(
        r#""content":{"text":"x"}"#,
        r#""location":{"latitude":91,"longitude":0}"#,
    );
    assert_error(
        &app.gw.post_raw(SEND, &far).await,
        400,
        "location.latitude wajib berupa angka antara -90 dan 90",
    );
    // Other methods answer in the same shape.
    let a = app.gw.request(Method::GET, SEND, None, None, &[]).await;
    assert_eq!(a.status, 405);
    assert!(a.body["error"].is_string(), "{}", a.text);
    app.gw.stop().await;
}

/// A local OpenAI-compatible endpoint that records requests and answers a fixed completion
/// (or `status` when it is not 200).
async fn fake_completions(status: u16) -> (String, Arc<Mutex<Vec<(String, String, Value)>>>) {
    use axum::http::HeaderMap;
    let seen: Arc<Mutex<Vec<(String, String, Value)>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |headers: HeaderMap, body: axum::Json<Value>| {
            let log = log.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                log.lock()
                    .unwrap()
                    .push(("/v1/chat/completions".into(), auth, body.0));
                let answer = json!({
                    "id": "chatcmpl-1", "object": "chat.completion",
                    "choices": [{ "index": 0, "finish_reason": "stop",
                        "message": { "role": "assistant", "content": "  Laporan harian: 92 hadir, 5 sakit, 3 izin.  " } }]
                });
                (axum::http::StatusCode::from_u16(status).unwrap(), axum::Json(answer))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

async fn use_ai_goes_through_the_configured_completions_endpoint(b: Db) {
    let (url, seen) = fake_completions(200).await;
    let args = [
        "--ai-url",
        &url,
        "--ai-model",
        "gpt-test",
        "--ai-key",
        "sk-test-secret",
    ];
    let Some(app) = app(b, &args).await else {
        return;
    };
    let a = app.send_seed(AI_EXAMPLE).await;
    assert_queued(
        &a,
        "HRIS System",
        "NOEMesenger",
        "6281234567890@c.us",
        "text",
    );
    assert_eq!(
        app.last_message().await["content"]["text"],
        "Laporan harian: 92 hadir, 5 sakit, 3 izin."
    );
    let (path, auth, req) = seen.lock().unwrap()[0].clone();
    assert_eq!(path, "/v1/chat/completions");
    assert_eq!(auth, "Bearer sk-test-secret");
    assert_eq!(req["model"], "gpt-test");
    let msgs = req["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["role"], "system");
    assert_eq!(msgs[1]["role"], "user");
    let user = msgs[1]["content"].as_str().unwrap();
    assert!(
        user.contains("Ubah data absensi ini menjadi laporan harian yang ramah untuk tim HR."),
        "{user}"
    );
    assert!(
        user.contains(r#"{"tanggal":"1 Juni 2026","hadir":92,"sakit":5,"izin":3}"#),
        "{user}"
    );
    // Without use_ai the endpoint is not asked.
    app.send_seed(TEXT_EXAMPLE).await;
    assert_eq!(seen.lock().unwrap().len(), 1);
    app.gw.stop().await;
}

async fn a_failing_completions_endpoint_is_502_and_queues_nothing(b: Db) {
    let (url, _) = fake_completions(500).await;
    let Some(app) = app(b, &["--ai-url", &url, "--ai-model", "m"]).await else {
        return;
    };
    assert_error(
        &app.send_seed(AI_EXAMPLE).await,
        502,
        "Gagal menyusun pesan dengan AI, coba lagi nanti",
    );
    assert!(app.gw.messages_of(&app.device).await.is_empty());
    app.gw.stop().await;
}

async fn migration_script_runs_against_the_demo(b: Db) {
    let Some(gw) = ContractGateway::start(b, &[]).await else {
        return;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/compat/whatshub.sh");
    let out = std::process::Command::new("bash")
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
    assert!(stdout.contains("\"jobId\""), "{stdout}");
    assert!(
        stdout.contains("Aplikasi ini sedang dinonaktifkan"),
        "{stdout}"
    );
    gw.stop().await;
}

on_both_databases!(
    text_example_is_queued_with_the_documented_answer,
    group_example_goes_to_the_group_jid,
    ai_example_without_a_model_renders_raw_data_as_lines_in_order,
    php_example_renders_the_order_as_given,
    image_example_queues_an_image_with_caption,
    file_example_queues_a_document,
    location_example_echoes_the_location,
    group_image_ai_example_captions_with_the_raw_string,
    job_ids_are_distinct_increasing_numbers,
    priority_and_c_us_recipients_map_onto_the_queue,
    missing_credentials_are_401,
    a_wrong_secret_or_another_apps_secret_is_401,
    a_disabled_app_is_403_until_enabled_again,
    content_without_text_raw_data_or_file_is_400,
    an_app_without_a_device_is_400,
    an_app_without_the_send_scope_is_403,
    malformed_requests_get_the_error_shape,
    use_ai_goes_through_the_configured_completions_endpoint,
    a_failing_completions_endpoint_is_502_and_queues_nothing,
    migration_script_runs_against_the_demo,
);
