//! `wasap sandbox`: the discovery line, the control API behind it, and `--state` across a
//! SIGTERM restart.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

fn start(args: &[&str]) -> (Child, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasap"))
        .arg("sandbox")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start wasap sandbox");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (
        child,
        serde_json::from_str(&line).expect("first line is JSON"),
    )
}

fn http(control: &Value, method: &str, path: &str, body: &str) -> Value {
    let addr = control["control_url"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    serde_json::from_str(out.split_once("\r\n\r\n").unwrap().1).unwrap()
}

fn terminate(mut child: Child) {
    let status = Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful exit on SIGTERM: {exit}");
}

#[test]
fn sandbox_prints_discovery_json_and_serves_the_control_api() {
    let (child, discovery) = start(&["--listen", "127.0.0.1:0"]);
    let ws = discovery["ws_url"].as_str().unwrap();
    assert!(
        ws.starts_with("ws://127.0.0.1:") && ws.ends_with("/ws/chat"),
        "{ws}"
    );
    let root = discovery["root_key"].as_str().unwrap();
    assert_eq!(root.len(), 64);
    assert!(root.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(http(&discovery, "GET", "/", ""), discovery);
    terminate(child);
}

#[test]
fn state_file_survives_a_restart() {
    let path = std::env::temp_dir().join(format!("wasap-cli-state-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let state = path.to_str().unwrap();
    let (child, first) = start(&["--state", state]);
    http(&first, "POST", "/phones", r#"{"number":"6281800000001"}"#);
    terminate(child);
    assert!(path.exists());
    let (child, second) = start(&["--state", state]);
    assert_eq!(second["root_key"], first["root_key"]);
    let accounts = http(&second, "GET", "/accounts", "");
    assert_eq!(accounts[0]["number"], "6281800000001");
    terminate(child);
    let _ = std::fs::remove_file(&path);
}
