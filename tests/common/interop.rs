//! Runs the Node harness in `interop/` (pinned npm Baileys and libsignal-node).
//!
//! The harness is installed once per target directory: `interop/package.json`, its lock file
//! and our scripts are copied to `<target>/interop/`, and `npm ci` runs there when the lock
//! file changed. Keeping `node_modules` under the target directory means CI, which keeps its
//! target directory across runs, installs it once.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;

fn repo_interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("interop")
}

/// The Cargo target directory this test binary was built into (`<target>/<profile>/deps/x`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .expect("test binary lives in <target>/<profile>/deps")
        .to_path_buf()
}

fn fingerprint(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    // FNV-1a is enough to notice that the lock file changed.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

/// Installs the harness if needed and returns the directory the scripts run from.
pub fn harness_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let src = repo_interop_dir();
        let dir = target_dir().join("interop");
        fs::create_dir_all(&dir).expect("create harness dir");
        // Serialise installs between test binaries running at once.
        let lock = fs::File::create(dir.join(".install.lock")).expect("lock file");
        lock.lock().expect("lock harness dir");
        for entry in fs::read_dir(&src).expect("read interop/") {
            let path = entry.expect("dir entry").path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_file() && !name.starts_with('.') {
                fs::copy(&path, dir.join(&name)).expect("copy harness file");
            }
        }
        let want = fingerprint(&src.join("package-lock.json"));
        let stamp = dir.join(".installed");
        let have = fs::read_to_string(&stamp).unwrap_or_default();
        if have != want || !dir.join("node_modules").is_dir() {
            let status = Command::new("npm")
                .args([
                    "ci",
                    "--ignore-scripts",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                ])
                .current_dir(&dir)
                .status()
                .expect("run npm (is Node.js installed?)");
            assert!(status.success(), "npm ci failed in {}", dir.display());
            fs::write(&stamp, want).expect("write install stamp");
        }
        lock.unlock().ok();
        dir
    })
}

/// Runs `node <script> <args…>` in the harness with `stdin`, and returns its stdout.
/// Panics with the script's stderr when it exits non-zero.
pub fn run_script(script: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let dir = harness_dir();
    let mut child = Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node");
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait for node");
    writer.join().ok();
    assert!(
        out.status.success(),
        "node {script} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A long-running Node script spoken to in JSON lines: one request line in, one answer out.
pub struct NodePeer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl NodePeer {
    /// Starts `node <script> <args…>` in the harness.
    pub fn start(script: &str, args: &[&str]) -> Self {
        let dir = harness_dir();
        let mut child = Command::new("node")
            .arg(script)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        NodePeer {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one JSON request and returns the JSON answer line.
    pub fn call(&mut self, request: &serde_json::Value) -> serde_json::Value {
        writeln!(self.stdin, "{request}").expect("write to node");
        self.stdin.flush().expect("flush to node");
        self.read()
    }

    /// Reads the next JSON line the script prints.
    pub fn read(&mut self) -> serde_json::Value {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).expect("read from node");
        assert!(n > 0, "node peer exited early");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad JSON from node ({e}): {line}"))
    }
}

impl Drop for NodePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
