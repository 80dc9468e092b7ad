//! The dashboard over plain HTTP (no browser), on both database backends: who may sign in,
//! what a session is, CSRF and origin checks, escaping, security headers, device tokens, the
//! CSV import.

mod common;

use common::{ADMIN, Db, Harness, fast_config};
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wa_server::{DeviceStatus, TransportEvent};

/// A browser-like client that does not follow redirects and keeps one session cookie.
struct Browser<'a> {
    h: &'a Harness,
    http: reqwest::Client,
    cookie: Option<String>,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The CSRF token the page's forms carry.
    fn csrf(&self) -> String {
        let start = self
            .body
            .find(r#"name="csrf" value=""#)
            .expect("the page has a form with the CSRF token")
            + r#"name="csrf" value=""#.len();
        let len = self.body[start..].find('"').unwrap();
        self.body[start..start + len].to_string()
    }
}

impl<'a> Browser<'a> {
    fn new(h: &'a Harness) -> Self {
        Browser {
            h,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookie: None,
        }
    }

    async fn request(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.h.base, path));
        if let Some(c) = &self.cookie {
            rb = rb.header("cookie", c.clone());
        }
        if let Some(f) = form {
            rb = rb.form(f);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        if let Some(set) = headers.get(SET_COOKIE).and_then(|v| v.to_str().ok()) {
            let pair = set.split(';').next().unwrap().to_string();
            self.cookie = (!pair.ends_with('=')).then_some(pair);
        }
        Page {
            status,
            headers,
            body: resp.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.request(Method::GET, path, None).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.request(Method::POST, path, Some(form)).await
    }

    /// Signs in with `key`; returns the login answer.
    async fn login(&mut self, key: &str) -> Page {
        self.post("/dashboard/login", &[("key", key)]).await
    }

    /// The CSRF token of the session (read from the overview).
    async fn csrf(&mut self) -> String {
        let p = self.get("/dashboard").await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        p.csrf()
    }
}

async fn new_key(h: &Harness, name: &str, scopes: &[&str]) -> (String, String) {
    let (s, v) = h
        .admin(
            Method::POST,
            "/v1/keys",
            Some(json!({ "name": name, "scopes": scopes })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    (
        v["id"].as_str().unwrap().to_string(),
        v["key"].as_str().unwrap().to_string(),
    )
}

async fn pages_lead_to_the_login_form_without_a_session(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let mut b = Browser::new(&h);
    let root = b.get("/").await;
    assert_eq!(root.status, StatusCode::SEE_OTHER);
    assert_eq!(root.location(), "/dashboard");
    for path in [
        "/dashboard",
        "/dashboard/devices",
        "/dashboard/messages",
        "/dashboard/contacts",
        "/dashboard/keys",
        "/dashboard/live",
    ] {
        let p = b.get(path).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(p.location(), "/dashboard/login", "{path}");
    }
    // A made-up session cookie is no session either.
    b.cookie = Some("wasap_session=forged".into());
    assert_eq!(b.get("/dashboard").await.location(), "/dashboard/login");
    let login = b.get("/dashboard/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains(r#"name="key""#));
    h.stop().await;
}

async fn login_refuses_unknown_keys_and_keys_without_the_dashboard_scope(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let mut b = Browser::new(&h);
    let p = b
        .login("wsk_unknown_key_000000000000000000000000000000")
        .await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.body.contains("not valid"), "{}", p.body);
    assert!(p.headers.get(SET_COOKIE).is_none());
    let (_, sender) = new_key(&h, "sender", &["messages:send", "devices:write"]).await;
    let p = b.login(&sender).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("dashboard or admin:*"), "{}", p.body);
    assert!(p.headers.get(SET_COOKIE).is_none());
    assert_eq!(b.get("/dashboard").await.location(), "/dashboard/login");
    // The refusal is a page for people, not the API's JSON error.
    assert!(
        p.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    h.stop().await;
}

async fn a_dashboard_key_opens_a_strict_http_only_session_without_the_keys_page(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let (_, key) = new_key(&h, "operator", &["dashboard"]).await;
    let mut b = Browser::new(&h);
    let p = b.login(&key).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location(), "/dashboard");
    let cookie = p.headers[SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("wasap_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let overview = b.get("/dashboard").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.body.contains("Overview"));
    assert!(!overview.body.contains(r#"href="/dashboard/keys""#));
    assert_eq!(b.get("/dashboard/keys").await.status, StatusCode::FORBIDDEN);
    // The operator can work with devices through the dashboard...
    let csrf = overview.csrf();
    let created = b
        .post("/dashboard/devices", &[("csrf", &csrf), ("name", "till")])
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    // ...but the key itself gains nothing on the API.
    let (s, _, _) = h.call(Method::GET, "/v1/devices", Some(&key), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    h.stop().await;
}

async fn sessions_over_https_get_a_secure_cookie(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/dashboard/login", h.base))
        .header("x-forwarded-proto", "https")
        .form(&[("key", ADMIN)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let cookie = resp.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    h.stop().await;
}

async fn forms_without_the_session_csrf_token_or_from_another_origin_are_refused(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let mut b = Browser::new(&h);
    b.login(ADMIN).await;
    let csrf = b.csrf().await;
    for form in [
        vec![("name", "no token")],
        vec![("name", "wrong token"), ("csrf", "x")],
    ] {
        let p = b.post("/dashboard/devices", &form).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{}", p.body);
    }
    // The right token from a page of another site.
    let foreign = b
        .http
        .post(format!("{}/dashboard/devices", h.base))
        .header("cookie", b.cookie.clone().unwrap())
        .header("origin", "https://evil.example")
        .form(&[("name", "cross-site"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    // Behind a proxy that rewrites Host, the public host arrives as X-Forwarded-Host.
    let proxied = b
        .http
        .post(format!("{}/dashboard/devices", h.base))
        .header("cookie", b.cookie.clone().unwrap())
        .header("origin", "https://wasap.example.com")
        .header("x-forwarded-host", "wasap.example.com")
        .form(&[("name", "via proxy"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), StatusCode::OK);
    let (_, list) = h.admin(Method::GET, "/v1/devices", None).await;
    let first = list["data"][0]["id"].as_str().unwrap().to_string();
    let (s, _) = h
        .admin(Method::DELETE, &format!("/v1/devices/{first}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, list) = h.admin(Method::GET, "/v1/devices", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "{list}");
    // Logging out needs the token too.
    assert_eq!(
        b.post("/dashboard/logout", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let ok = b
        .post("/dashboard/devices", &[("name", "fine"), ("csrf", &csrf)])
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let (_, list) = h.admin(Method::GET, "/v1/devices", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    h.stop().await;
}

async fn hostile_names_are_shown_as_text(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let hostile = r#"<script>alert(1)</script>"'><img src=x onerror=alert(2)>"#;
    let (s, v) = h
        .admin(
            Method::POST,
            "/v1/devices",
            Some(json!({ "name": hostile })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let (s, v) = h
        .admin(
            Method::POST,
            "/v1/contacts",
            Some(json!({ "name": hostile, "phone": "628111111111" })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let mut b = Browser::new(&h);
    b.login(ADMIN).await;
    for path in [
        "/dashboard".to_string(),
        "/dashboard/devices".to_string(),
        format!("/dashboard/devices/{id}"),
        "/dashboard/messages".to_string(),
        "/dashboard/contacts".to_string(),
    ] {
        let p = b.get(&path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}");
        assert!(!p.body.contains("<script>alert"), "{path}");
        assert!(!p.body.contains("<img src=x"), "{path}");
        assert!(
            p.body
                .contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;&lt;img"),
            "{path}"
        );
    }
    h.stop().await;
}

async fn pages_forbid_framing_and_inline_script(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let mut b = Browser::new(&h);
    b.login(ADMIN).await;
    let p = b.get("/dashboard/devices").await;
    let csp = p.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(p.headers["x-frame-options"], "DENY");
    assert_eq!(p.headers["cache-control"], "no-store");
    assert!(!p.body.contains("<script>"), "no inline script");
    assert!(!p.body.contains(" onclick="));
    // Assets are fingerprinted and cached for long.
    let start = p.body.find("/dashboard/assets/dashboard-").unwrap();
    let end = start + p.body[start..].find('"').unwrap();
    let asset = b.get(&p.body[start..end]).await;
    assert_eq!(asset.status, StatusCode::OK);
    assert!(
        asset.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(
        b.get("/dashboard/assets/dashboard-000000000000.css")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    h.stop().await;
}

async fn revoking_the_key_or_logging_out_ends_the_session(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let (key_id, key) = new_key(&h, "operator", &["dashboard"]).await;
    let mut b = Browser::new(&h);
    b.login(&key).await;
    assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
    let (s, _) = h
        .admin(Method::DELETE, &format!("/v1/keys/{key_id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(b.get("/dashboard").await.location(), "/dashboard/login");

    let mut b = Browser::new(&h);
    b.login(ADMIN).await;
    let csrf = b.csrf().await;
    let kept = b.cookie.clone();
    let out = b.post("/dashboard/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.location(), "/dashboard/login");
    assert!(
        out.headers[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    // The old cookie, replayed, no longer opens anything.
    b.cookie = kept;
    assert_eq!(b.get("/dashboard").await.location(), "/dashboard/login");
    h.stop().await;
}

async fn disabling_the_key_ends_its_sessions_until_it_is_enabled_again(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let (key_id, key) = new_key(&h, "operator", &["dashboard"]).await;
    let mut b = Browser::new(&h);
    b.login(&key).await;
    assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
    let (s, v) = h
        .admin(
            Method::PATCH,
            &format!("/v1/keys/{key_id}"),
            Some(serde_json::json!({ "enabled": false })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(b.get("/dashboard").await.location(), "/dashboard/login");
    let (s, v) = h
        .admin(
            Method::PATCH,
            &format!("/v1/keys/{key_id}"),
            Some(serde_json::json!({ "enabled": true })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
    h.stop().await;
}

fn secret_on(page: &str) -> String {
    let start = page.find("data-secret>").expect("a secret is shown") + "data-secret>".len();
    let len = page[start..].find('<').unwrap();
    page[start..start + len].to_string()
}

async fn device_tokens_are_shown_once_bound_to_their_device_and_rotated(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let other = h.create_device("other").await;
    let mut b = Browser::new(&h);
    b.login(ADMIN).await;
    let csrf = b.csrf().await;
    let created = b
        .post("/dashboard/devices", &[("csrf", &csrf), ("name", "shop")])
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let first = secret_on(&created.body);
    let (_, list) = h.admin(Method::GET, "/v1/devices", None).await;
    let shop = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "shop")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let device = |id: &str| format!("/v1/devices/{id}");
    let (s, _, _) = h
        .call(Method::GET, &device(&shop), Some(&first), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = h
        .call(Method::GET, &device(&other), Some(&first), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "bound to its device");
    // Shown once: the device page shows only its prefix from now on.
    let again = b.get(&format!("/dashboard/devices/{shop}")).await;
    assert!(!again.body.contains(&first));
    assert!(again.body.contains(&first[..12]));

    let rotated = b
        .post(
            &format!("/dashboard/devices/{shop}/token"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let second = secret_on(&rotated.body);
    assert_ne!(first, second);
    let (s, _, _) = h
        .call(Method::GET, &device(&shop), Some(&first), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the old token is revoked");
    let (s, _, _) = h
        .call(Method::GET, &device(&shop), Some(&second), None)
        .await;
    assert_eq!(s, StatusCode::OK);

    // Deleting the device revokes its token.
    let gone = b
        .post(
            &format!("/dashboard/devices/{shop}/delete"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(gone.location(), "/dashboard/devices?done=deleted");
    let (s, _, _) = h
        .call(Method::GET, "/v1/messages", Some(&second), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    h.stop().await;
}

async fn csv_import_creates_contacts_and_reports_bad_rows(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let (_, group) = h
        .admin(
            Method::POST,
            "/v1/contact-groups",
            Some(json!({ "name": "customers" })),
        )
        .await;
    let group = group["id"].as_str().unwrap().to_string();
    let mut b = Browser::new(&h);
    b.login(ADMIN).await;
    let csrf = b.csrf().await;
    let csv = "nama;nomor;email\nAni;+62 811-1111-1111;ani@example.com\n\"Budi; Jr\";628122222222;\nCici;12;\n";
    let p = b
        .post(
            "/dashboard/contacts/import",
            &[("csrf", &csrf), ("csv", csv), ("group_id", &group)],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("Imported 2 contacts"), "{}", p.body);
    assert!(p.body.contains("row 4: phone"), "{}", p.body);
    let (_, list) = h.admin(Method::GET, "/v1/contacts", None).await;
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ani", "Budi; Jr"]);
    let (_, g) = h
        .admin(Method::GET, &format!("/v1/contact-groups/{group}"), None)
        .await;
    assert_eq!(g["member_count"], 2, "{g}");
    // The same file again: nothing new, and said so.
    let p = b
        .post(
            "/dashboard/contacts/import",
            &[("csrf", &csrf), ("csv", csv)],
        )
        .await;
    assert!(
        p.body.contains("Imported 0 contacts; 2 already"),
        "{}",
        p.body
    );
    h.stop().await;
}

async fn a_test_message_is_queued_through_the_send_route(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.online_device("desk").await;
    let mut b = Browser::new(&h);
    b.login(ADMIN).await;
    let csrf = b.csrf().await;
    let p = b
        .post(
            "/dashboard/messages",
            &[
                ("csrf", &csrf),
                ("device_id", &dev),
                ("to", "6281100000001"),
                ("text", "hello <b>there</b>"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let (_, log) = h.admin(Method::GET, "/v1/messages", None).await;
    let m: &Value = &log["data"][0];
    assert_eq!(m["content"]["text"], "hello <b>there</b>");
    assert_eq!(m["chat"], "6281100000001@s.whatsapp.net");
    let page = b.get(p.location()).await;
    assert!(page.body.contains("hello &lt;b&gt;there&lt;/b&gt;"));
    // A bad number comes back as the field's error with the draft kept.
    let bad = b
        .post(
            "/dashboard/messages",
            &[
                ("csrf", &csrf),
                ("device_id", &dev),
                ("to", "12"),
                ("text", "keep me"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.body.contains("to: must be a phone number"),
        "{}",
        bad.body
    );
    assert!(bad.body.contains("keep me"));
    h.stop().await;
}

/// The device's entry in `/dashboard/live`.
async fn live(b: &mut Browser<'_>, id: &str) -> Value {
    let p = b.get("/dashboard/live").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let v: Value = serde_json::from_str(&p.body).unwrap();
    v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

async fn live_until(
    b: &mut Browser<'_>,
    id: &str,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let d = live(b, id).await;
        if ok(&d) {
            return d;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {d}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn the_device_page_follows_the_rotating_qr_code_and_its_buttons_reach_whatsapp(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let mut b = Browser::new(&h);
    b.login(ADMIN).await;
    let csrf = b.csrf().await;
    b.post("/dashboard/devices", &[("csrf", &csrf), ("name", "desk")])
        .await;
    let (_, list) = h.admin(Method::GET, "/v1/devices", None).await;
    let id = list["data"][0]["id"].as_str().unwrap().to_string();
    assert!(
        h.transport
            .calls()
            .contains(&("connect".into(), id.clone()))
    );
    let qr = |code: &str| TransportEvent::Qr {
        device_id: id.clone(),
        code: code.to_string(),
    };
    h.transport.emit(TransportEvent::Status {
        device_id: id.clone(),
        status: DeviceStatus::QrWaiting,
        phone: None,
        push_name: None,
    });
    h.transport.emit(qr("2@first-ref,noise,identity,adv"));
    let first = live_until(&mut b, &id, "first QR", |d| d["qr"].is_string()).await;
    assert_eq!(first["label"], "Waiting for scan");
    let svg_path = format!("/dashboard/devices/{id}/qr.svg");
    let img1 = b.get(&svg_path).await;
    assert_eq!(img1.status, StatusCode::OK);
    assert_eq!(img1.headers["content-type"], "image/svg+xml");
    assert!(img1.body.starts_with("<svg"));
    let page = b.get(&format!("/dashboard/devices/{id}")).await;
    let stamp = first["qr"].as_str().unwrap();
    assert!(
        page.body.contains(&format!("qr.svg?v={stamp}")),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("first-ref"),
        "the page names the code, never shows it"
    );

    h.transport.emit(qr("2@second-ref,noise,identity,adv"));
    let second = live_until(&mut b, &id, "rotated QR", |d| {
        d["qr"].is_string() && d["qr"] != first["qr"]
    })
    .await;
    assert_ne!(
        b.get(&svg_path).await.body,
        img1.body,
        "the image follows the rotation"
    );

    assert!(h.transport.set_online(&id, "628555"));
    let online = live_until(&mut b, &id, "online", |d| d["status"] == "online").await;
    assert_eq!(online["label"], "Online");
    assert_eq!(online["phone"], "628555");
    assert!(
        online["qr"].is_null() && online["last_seen_at"].is_string(),
        "{online} after {second}"
    );
    assert_eq!(b.get(&svg_path).await.status, StatusCode::NOT_FOUND);

    for (action, expect) in [("reconnect", "disconnect"), ("logout", "logout")] {
        let p = b
            .post(
                &format!("/dashboard/devices/{id}/{action}"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{action}: {}", p.body);
        assert!(
            h.transport.calls().contains(&(expect.into(), id.clone())),
            "{action}"
        );
    }
    live_until(&mut b, &id, "logged out", |d| d["status"] == "logged_out").await;
    let p = b
        .post(
            &format!("/dashboard/devices/{id}/pair-code"),
            &[("csrf", &csrf), ("phone", "+62 812-3456-789")],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(
        h.transport
            .calls()
            .contains(&("pairing_code".into(), id.clone()))
    );
    assert!(p.body.contains("data-pair-code>JIHGFEDC<"), "{}", p.body);
    h.stop().await;
}

async fn a_webhook_delivery_is_redelivered_from_its_log(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    // A receiver that answers 200 to everything.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { "ok" });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dev = h.create_device("desk").await;
    let mut b = Browser::new(&h);
    b.login(ADMIN).await;
    let csrf = b.csrf().await;
    let url = format!("http://{addr}/hook");
    let p = b
        .post(
            &format!("/dashboard/devices/{dev}/webhook"),
            &[("csrf", &csrf), ("url", &url)],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("Webhook signing secret"));
    let (_, hooks) = h.admin(Method::GET, "/v1/webhooks", None).await;
    let hook = hooks["data"][0].clone();
    assert_eq!(hook["device_id"], dev.as_str());
    assert_eq!(hook["url"], url.as_str());
    let hid = hook["id"].as_str().unwrap().to_string();
    assert!(h.transport.set_online(&dev, "628555"));
    let deliveries = format!("/v1/webhooks/{hid}/deliveries");
    h.wait_for(|| async {
        h.admin(Method::GET, &deliveries, None).await.1["data"][0]["status"] == "delivered"
    })
    .await;
    let log = b.get(&format!("/dashboard/webhooks/{hid}")).await;
    assert!(
        log.body.contains("Delivered") && log.body.contains("HTTP 200"),
        "{}",
        log.body
    );
    let (_, v) = h.admin(Method::GET, &deliveries, None).await;
    let did = v["data"][0]["id"].as_str().unwrap().to_string();
    assert!(log.body.contains(&format!("/deliveries/{did}/redeliver")));
    let p = b
        .post(
            &format!("/dashboard/webhooks/{hid}/deliveries/{did}/redeliver"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        p.location(),
        format!("/dashboard/webhooks/{hid}?done=requeued")
    );
    h.wait_for(|| async {
        let v = h.admin(Method::GET, &deliveries, None).await.1;
        v["data"][0]["status"] == "delivered" && v["data"][0]["attempts"].as_i64() == Some(2)
    })
    .await;
    h.stop().await;
}

async fn failed_sign_ins_are_limited_but_a_valid_key_still_gets_in(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let mut b = Browser::new(&h);
    for i in 0..30 {
        let p = b.login(&format!("wsk_guess_{i:040}")).await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let p = b
        .login("wsk_guess_one_too_many_000000000000000000000")
        .await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(p.body.contains("Too many failed sign-ins"), "{}", p.body);
    assert_eq!(b.login(ADMIN).await.status, StatusCode::SEE_OTHER);
    h.stop().await;
}

async fn a_new_admin_key_value_ends_the_sessions_of_the_old_one(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let mut b = Browser::new(&h);
    b.login(ADMIN).await;
    let cookie = b.cookie.clone();
    let url = h.stop_keep_db().await;
    // A restart with the same admin key keeps the session.
    let h = Harness::start_on(url, fast_config()).await;
    let mut b = Browser::new(&h);
    b.cookie = cookie.clone();
    assert_eq!(b.get("/dashboard").await.status, StatusCode::OK);
    let url = h.stop_keep_db().await;
    // The operator changes WASAP_ADMIN_KEY (say it leaked): the old value's sessions end.
    let server = wa_server::Server::builder()
        .database_url(url.clone())
        .listen("127.0.0.1:0".parse().unwrap())
        .admin_key("a-brand-new-admin-key-0123456789")
        .config(fast_config())
        .build()
        .await
        .unwrap()
        .spawn()
        .await
        .unwrap();
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/dashboard", server.url()))
        .header("cookie", cookie.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/dashboard/login");
    server.shutdown().await;
    Harness::start_on(url, fast_config()).await.stop().await;
}

both_backends!(
    a_new_admin_key_value_ends_the_sessions_of_the_old_one,
    failed_sign_ins_are_limited_but_a_valid_key_still_gets_in,
    the_device_page_follows_the_rotating_qr_code_and_its_buttons_reach_whatsapp,
    a_webhook_delivery_is_redelivered_from_its_log,
    pages_lead_to_the_login_form_without_a_session,
    login_refuses_unknown_keys_and_keys_without_the_dashboard_scope,
    a_dashboard_key_opens_a_strict_http_only_session_without_the_keys_page,
    sessions_over_https_get_a_secure_cookie,
    forms_without_the_session_csrf_token_or_from_another_origin_are_refused,
    hostile_names_are_shown_as_text,
    pages_forbid_framing_and_inline_script,
    revoking_the_key_or_logging_out_ends_the_session,
    disabling_the_key_ends_its_sessions_until_it_is_enabled_again,
    device_tokens_are_shown_once_bound_to_their_device_and_rotated,
    csv_import_creates_contacts_and_reports_bad_rows,
    a_test_message_is_queued_through_the_send_route,
);
