//! The dashboard in a real browser: `wasap serve --demo` driven by headless Chromium through
//! `interop/dashboard.mjs` (playwright-core). Sign in, add a device, see its QR code, the demo
//! phone scans it and the page turns online without a reload, a test message to a demo
//! contact is delivered and its echo shows in the log, a device webhook receives an event and
//! the delivery log's Redeliver button sends it again; every page is visited at desktop and
//! phone width and saved as a screenshot under `<target>/dashboard-screenshots/`.
//!
//! Needs Chromium (`/usr/bin/chromium`, or `CHROMIUM`); without it the test is skipped with a
//! message, unless `WASAP_REQUIRE_BROWSER=1` (set by `scripts/test`) makes that a failure.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::serve::Gateway;
use serde_json::Value;

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    path.is_file().then_some(path)
}

#[test]
fn the_dashboard_links_a_device_and_sends_a_message_in_chromium() {
    let Some(browser) = chromium() else {
        if std::env::var("WASAP_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!(
                "Chromium is required (WASAP_REQUIRE_BROWSER=1) but /usr/bin/chromium is missing; apt-get install chromium"
            );
        }
        eprintln!(
            "SKIPPED: no Chromium at /usr/bin/chromium (apt-get install chromium, or set CHROMIUM); set WASAP_REQUIRE_BROWSER=1 to fail instead"
        );
        return;
    };
    let harness = common::interop::harness_dir();
    let shots = harness
        .parent()
        .expect("the harness lives in the target directory")
        .join("dashboard-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    let data = std::env::temp_dir().join(format!("wasap-dashboard-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    // The demo phone waits before it scans, so the QR code is on screen long enough to see.
    let gw = Gateway::start_with(&data, &["--demo-scan-delay-ms", "3000", "--pacing-ms", "0"]);
    let key = gw
        .admin_key
        .clone()
        .expect("first start prints the admin key");

    let out = Command::new("node")
        .arg("dashboard.mjs")
        .arg(&gw.url)
        .arg(&key)
        .arg(&shots)
        .env("CHROMIUM", &browser)
        .current_dir(harness)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "no report from dashboard.mjs ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert_eq!(
        report["ok"],
        true,
        "{report:#}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success());

    assert_eq!(
        report["problems"],
        serde_json::json!([]),
        "no script errors or CSP violations"
    );
    assert_eq!(report["api_url"], gw.url.as_str());
    assert_eq!(report["device_token_prefix"], "wsk_");
    assert_eq!(report["qr_seen"], true);
    assert_eq!(report["online_without_reload"], true);
    assert!(
        report["linked_phone"]
            .as_str()
            .unwrap()
            .starts_with("+62812"),
        "{report}"
    );
    assert!(
        matches!(report["sent_status"].as_str(), Some("delivered" | "read")),
        "{report}"
    );
    assert_eq!(report["echo"]["chat"], "6281100000001");
    assert_eq!(report["log_updated_without_reload"], true);
    assert_eq!(report["wa_group_listed"], true, "{report}");
    assert_eq!(report["wa_groups"], serde_json::json!(["Pelanggan <VIP>"]));
    assert_eq!(report["import_notice"], "Imported 2 contacts.");
    assert_eq!(report["group_members"], "2");
    assert_eq!(report["overview"]["devices"], "1");
    assert_eq!(report["overview"]["connected"], "1");
    // The test message and the one that fed the webhook.
    assert_eq!(report["overview"]["sent"], "2");
    assert_eq!(report["redeliver_notice"], "Queued for redelivery.");
    assert_eq!(
        report["redelivered"], true,
        "the Redeliver button sent the event again"
    );
    assert_eq!(
        report["phone_overflow"], false,
        "no sideways scrolling on a phone"
    );
    assert_eq!(report["after_logout"], "/dashboard/login");
    let screenshots = report["screenshots"].as_array().unwrap();
    assert_eq!(screenshots.len(), 13, "{report}");
    for s in screenshots {
        let len = std::fs::metadata(s.as_str().unwrap())
            .map(|m| m.len())
            .unwrap_or(0);
        assert!(len > 5_000, "screenshot {s} is missing or empty");
    }
    eprintln!(
        "dashboard in Chromium: online {} ms after the QR code showed; screenshots in {}",
        report["online_after_ms"],
        shots.display()
    );
    gw.terminate();
    let _ = std::fs::remove_dir_all(&data);
}
