//! What the compatibility APIs need from the gateway itself, in process with the memory
//! transport (the contracts end to end are in the root `tests/compat_*.rs`): device numbers
//! (migration 0003 on existing rows, concurrent creation), and the waapi `/api/status` fields
//! that depend on transport reports (QR codes, WhatsApp profile names).

mod common;

use common::{Db, Harness, fast_config, fresh_database};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Executor;
use wa_server::{DeviceStatus, TransportEvent};

/// Applies migrations 0001 and 0002 the way the gateway does, as if it ran a version without
/// device numbers.
async fn database_at_version_2(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    pool.execute("CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
        .await
        .unwrap();
    for (version, name, sql) in [
        (1, "init", include_str!("../migrations/0001_init.sql")),
        (2, "credits", include_str!("../migrations/0002_credits.sql")),
    ] {
        for statement in sql.split(';') {
            let statement: String = statement
                .lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            if !statement.trim().is_empty() {
                pool.execute(statement.as_str()).await.unwrap();
            }
        }
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, 0)")
            .bind(version)
            .bind(name)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool
}

async fn migration_0003_numbers_existing_devices_in_creation_order(db: Db) {
    let Some(url) = fresh_database(db).await else {
        return;
    };
    let pool = database_at_version_2(&url).await;
    // Created out of id order; two at the same millisecond (then ordered by id).
    for (id, created) in [
        ("dev_c", 100),
        ("dev_a", 300),
        ("dev_b", 300),
        ("dev_0", 200),
    ] {
        sqlx::query("INSERT INTO devices (id, name, status, event_seq, created_at, updated_at) VALUES ($1, $1, 'created', 0, $2, $2)")
            .bind(id)
            .bind(created as i64)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    let h = Harness::start_on(url, fast_config()).await;
    let new = h.create_device("after the upgrade").await;
    let (s, v) = h.admin(Method::GET, "/v1/devices", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let numbers: Vec<(String, i64)> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_string(),
                d["number"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        numbers,
        [
            ("dev_c".to_string(), 1),
            ("dev_0".to_string(), 2),
            ("dev_a".to_string(), 3),
            ("dev_b".to_string(), 4),
            (new, 5),
        ]
    );
    h.stop().await;
}

async fn devices_created_at_once_get_distinct_numbers(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let created = futures_util::future::join_all((0..16).map(|i| {
        h.admin(
            Method::POST,
            "/v1/devices",
            Some(json!({ "name": format!("d{i}") })),
        )
    }))
    .await;
    let mut numbers: Vec<i64> = created
        .iter()
        .map(|(s, v)| {
            assert_eq!(*s, StatusCode::CREATED, "{v}");
            v["number"].as_i64().unwrap()
        })
        .collect();
    numbers.sort();
    assert_eq!(numbers, (1..=16).collect::<Vec<_>>());
    h.stop().await;
}

async fn status(h: &Harness, key: &str) -> Value {
    let (s, _, v) = h.call(Method::GET, "/api/status", Some(key), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["devices"][0].clone()
}

async fn create_key(h: &Harness, scopes: &[&str]) -> String {
    let (s, v) = h
        .admin(
            Method::POST,
            "/v1/keys",
            Some(json!({ "name": "k", "scopes": scopes })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["key"].as_str().unwrap().to_string()
}

async fn status_shows_the_qr_only_to_keys_that_may_link_devices(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.create_device("shop").await;
    let reader = create_key(&h, &["devices:read"]).await;
    let writer = create_key(&h, &["devices:read", "devices:write"]).await;
    h.transport.emit(TransportEvent::Status {
        device_id: dev.clone(),
        status: DeviceStatus::QrWaiting,
        phone: None,
        push_name: None,
    });
    h.transport.emit(TransportEvent::Qr {
        device_id: dev.clone(),
        code: "2@abc,def,ghi".into(),
    });
    h.wait_for(|| async { status(&h, &writer).await["hasQr"] == true })
        .await;
    let w = status(&h, &writer).await;
    assert_eq!(
        (&w["status"], &w["qr"], &w["authenticated"]),
        (&json!("SCAN_QR"), &json!("2@abc,def,ghi"), &json!(false))
    );
    let r = status(&h, &reader).await;
    assert_eq!((&r["hasQr"], &r["qr"]), (&json!(true), &Value::Null));
    h.stop().await;
}

async fn status_reports_the_whatsapp_profile_name_once_known(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.create_device("shop").await;
    let reader = create_key(&h, &["devices:read"]).await;
    assert_eq!(status(&h, &reader).await["pushName"], Value::Null);
    h.transport.emit(TransportEvent::Status {
        device_id: dev.clone(),
        status: DeviceStatus::Online,
        phone: Some("628123456789".into()),
        push_name: Some("CS WaApi".into()),
    });
    h.wait_for(|| async { status(&h, &reader).await["status"] == "CONNECTED" })
        .await;
    let d = status(&h, &reader).await;
    assert_eq!(
        (&d["pushName"], &d["phoneNumber"], &d["hasQr"]),
        (&json!("CS WaApi"), &json!("628123456789"), &json!(false))
    );
    h.stop().await;
}

both_backends!(
    migration_0003_numbers_existing_devices_in_creation_order,
    devices_created_at_once_get_distinct_numbers,
    status_shows_the_qr_only_to_keys_that_may_link_devices,
    status_reports_the_whatsapp_profile_name_once_known,
);
