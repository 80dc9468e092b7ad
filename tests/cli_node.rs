//! `wasap node decode|encode` end to end, through the built binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn wasap(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasap"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wasap");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or(serde_json::Value::String(l.to_string())))
        .collect()
}

const PING_HEX: &str = "00f8081911fa000304291657f801f80156";

#[test]
fn decode_prints_one_json_node_per_line() {
    let out = wasap(&["node", "decode"], &format!("{PING_HEX}\n"));
    assert!(out.status.success());
    assert_eq!(
        lines(&out),
        [serde_json::json!({
            "tag": "iq",
            "attrs": {"to": "@s.whatsapp.net", "type": "get", "xmlns": "w:p"},
            "content": [{"tag": "ping", "attrs": {}, "content": null}]
        })]
    );
}

#[test]
fn decode_keeps_attribute_wire_order() {
    let out = wasap(&["node", "decode"], "00f8051f048889fc03426f62\n");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.trim(),
        r#"{"tag":"presence","attrs":{"type":"available","name":"Bob"},"content":null}"#
    );
}

#[test]
fn decode_without_flag_byte() {
    let out = wasap(
        &["node", "decode", "--no-flag"],
        "f8061d51450453fc03010203\n",
    );
    assert!(out.status.success());
    assert_eq!(
        lines(&out)[0]["content"],
        serde_json::json!({"bytes": "010203"})
    );
}

#[test]
fn encode_prints_hex_with_flags_byte() {
    let input = r#"{"tag":"receipt","attrs":{"id":"ABCDEF0123","to":"123456789@s.whatsapp.net"},"content":null}"#;
    let out = wasap(&["node", "encode"], &format!("{input}\n"));
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "00f8050708fb05abcdef012311faff85123456789f03\n"
    );
}

#[test]
fn a_bad_line_reports_an_error_and_the_rest_still_run() {
    let input = format!("zz\n{PING_HEX}\n0001\n");
    let out = wasap(&["node", "decode"], &input);
    assert_eq!(out.status.code(), Some(1));
    let l = lines(&out);
    assert_eq!(l.len(), 3);
    assert!(l[0]["error"].as_str().unwrap().contains("hex"));
    assert_eq!(l[1]["tag"], "iq");
    assert!(l[2]["error"].is_string());
}

#[test]
fn encode_reports_malformed_json_per_line() {
    let out = wasap(
        &["node", "encode"],
        "{\"tag\":\"iq\",\"attrs\":{}}\nnot json\n{\"tag\":\"\",\"attrs\":{}}\n",
    );
    assert_eq!(out.status.code(), Some(1));
    let l = lines(&out);
    assert_eq!(l[0], serde_json::Value::String("00f80119".into()));
    assert!(l[1]["error"].as_str().unwrap().contains("JSON"));
    assert!(l[2]["error"].as_str().unwrap().contains("empty tag"));
}

#[test]
fn encode_then_decode_round_trips() {
    let node = r#"{"tag":"message","attrs":{"id":"3EB0C0FFEE","to":"120363021033254949@g.us","type":"text"},"content":[{"tag":"enc","attrs":{"v":"2","type":"skmsg"},"content":{"bytes":"00ff10"}}]}"#;
    let hex = wasap(&["node", "encode"], &format!("{node}\n"));
    let back = wasap(&["node", "decode"], &String::from_utf8(hex.stdout).unwrap());
    assert_eq!(String::from_utf8(back.stdout).unwrap().trim(), node);
}
