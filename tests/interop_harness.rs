//! The Node harness installs and runs.
mod common;

#[test]
fn harness_runs_node_with_baileys_and_libsignal_importable() {
    let out = common::interop::run_script("selfcheck.mjs", &[], b"");
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["baileys"], "7.0.0-rc14");
    assert_eq!(v["libsignal"], "6.0.0");
}
