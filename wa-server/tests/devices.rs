//! Device linking and lifecycle through the transport seam, restart behaviour, and first-start
//! provisioning of the admin key.

mod common;

use std::time::Duration;

use common::{Db, Harness, fast_config};
use reqwest::{Method, StatusCode};
use serde_json::json;
use wa_server::{DeviceStatus, Server, TransportEvent};

async fn linking_by_qr_and_pair_code_goes_through_the_transport(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let dev = h.create_device("shop").await;
    let (s, v) = h
        .admin(Method::GET, &format!("/v1/devices/{dev}/qr"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v) = h
        .admin(Method::POST, &format!("/v1/devices/{dev}/connect"), None)
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    assert!(
        h.transport
            .calls()
            .contains(&("connect".to_string(), dev.clone()))
    );
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
    h.wait_for(|| async {
        h.admin(Method::GET, &format!("/v1/devices/{dev}/qr"), None)
            .await
            .0
            == StatusCode::OK
    })
    .await;
    let (_, qr) = h
        .admin(Method::GET, &format!("/v1/devices/{dev}/qr"), None)
        .await;
    assert_eq!(qr["qr"], "2@abc,def,ghi");
    assert_eq!(qr["status"], "qr_waiting");
    let (s, code) = h
        .admin(
            Method::POST,
            &format!("/v1/devices/{dev}/pair-code"),
            Some(json!({ "phone": "+62 812 3456 7890" })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{code}");
    assert_eq!(code["code"].as_str().unwrap().len(), 8);
    assert_eq!(code["phone"], "6281234567890");
    let (s, v) = h
        .admin(
            Method::POST,
            &format!("/v1/devices/{dev}/pair-code"),
            Some(json!({ "phone": "abc" })),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("phone"))
    );
    assert!(h.transport.set_online(&dev, "6281234567890"));
    h.wait_for(|| async {
        h.admin(Method::GET, &format!("/v1/devices/{dev}"), None)
            .await
            .1["status"]
            == "online"
    })
    .await;
    let (s, _) = h
        .admin(Method::GET, &format!("/v1/devices/{dev}/qr"), None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "QR is gone once linked");
    let (s, _) = h
        .admin(Method::POST, &format!("/v1/devices/{dev}/reconnect"), None)
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let ops: Vec<String> = h.transport.calls().into_iter().map(|(op, _)| op).collect();
    assert!(
        ops.ends_with(&["disconnect".to_string(), "connect".to_string()]),
        "{ops:?}"
    );
    let (s, _) = h
        .admin(Method::POST, &format!("/v1/devices/{dev}/logout"), None)
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    h.wait_for(|| async {
        h.admin(Method::GET, &format!("/v1/devices/{dev}"), None)
            .await
            .1["status"]
            == "logged_out"
    })
    .await;
    h.stop().await;
}

async fn restart_resumes_linked_devices_and_keeps_their_queue(db: Db) {
    let Some(h) = Harness::start(db, fast_config()).await else {
        return;
    };
    let linked = h.online_device("linked").await;
    let fresh = h.create_device("fresh").await;
    let waiting = h.create_device("waiting").await;
    h.transport.emit(TransportEvent::Status {
        device_id: waiting.clone(),
        status: DeviceStatus::QrWaiting,
        phone: None,
        push_name: None,
    });
    h.wait_for(|| async {
        h.admin(Method::GET, &format!("/v1/devices/{waiting}"), None)
            .await
            .1["status"]
            == "qr_waiting"
    })
    .await;
    let url = h.stop_keep_db().await;
    let h = Harness::start_on(url, fast_config()).await;
    let (_, d) = h
        .admin(Method::GET, &format!("/v1/devices/{waiting}"), None)
        .await;
    assert_eq!(d["status"], "created", "its QR code died with the process");
    h.wait_for(|| async {
        h.transport
            .calls()
            .contains(&("connect".to_string(), linked.clone()))
    })
    .await;
    assert!(
        !h.transport.calls().iter().any(|(_, d)| *d == fresh),
        "never-linked devices are not connected"
    );
    let (_, d) = h
        .admin(Method::GET, &format!("/v1/devices/{linked}"), None)
        .await;
    assert_eq!(
        d["status"], "offline",
        "nothing is connected right after a restart"
    );
    let m = h
        .send(
            &linked,
            json!({ "to": "628111222333", "text": "after restart" }),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        h.message(m["id"].as_str().unwrap()).await["status"],
        "queued"
    );
    assert!(h.transport.set_online(&linked, "62811"));
    h.wait_status(m["id"].as_str().unwrap(), "sent").await;
    h.stop().await;
}

both_backends!(
    linking_by_qr_and_pair_code_goes_through_the_transport,
    restart_resumes_linked_devices_and_keeps_their_queue
);

#[tokio::test]
async fn first_start_generates_an_admin_key_once_and_uses_wal() {
    let dir = std::env::temp_dir().join(format!("wasap-first-start-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let server = Server::builder()
        .data_dir(&dir)
        .listen("127.0.0.1:0".parse().unwrap())
        .build()
        .await
        .unwrap();
    let key = server
        .initial_admin_key()
        .expect("generated on first start")
        .to_string();
    let running = server.spawn().await.unwrap();
    let resp = reqwest::Client::new()
        .get(format!("{}/v1/keys", running.url()))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    running.shutdown().await;
    let again = Server::builder().data_dir(&dir).build().await.unwrap();
    assert!(again.initial_admin_key().is_none(), "shown only once");
    drop(again);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", dir.join("wasap.db").display()))
        .await
        .unwrap();
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    pool.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn gateway_without_transport_answers_501_for_linking() {
    let dir = std::env::temp_dir().join(format!("wasap-null-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let running = Server::builder()
        .data_dir(&dir)
        .admin_key(common::ADMIN)
        .listen("127.0.0.1:0".parse().unwrap())
        .build()
        .await
        .unwrap()
        .spawn()
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let dev: serde_json::Value = http
        .post(format!("{}/v1/devices", running.url()))
        .bearer_auth(common::ADMIN)
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = http
        .post(format!(
            "{}/v1/devices/{}/connect",
            running.url(),
            dev["id"].as_str().unwrap()
        ))
        .bearer_auth(common::ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_IMPLEMENTED);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_implemented");
    running.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
