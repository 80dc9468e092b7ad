//! The real `wasap serve --demo` binary as a child process: started on a free port with its
//! own data directory, its admin key and URL read from stdout, stopped with SIGTERM or, when
//! dropped, killed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `wasap serve --demo`.
pub struct Gateway {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The admin key, printed at the first start of a data directory only.
    pub admin_key: Option<String>,
}

impl Gateway {
    /// `wasap serve --demo` on `data_dir`.
    pub fn start(data_dir: &Path) -> Gateway {
        Gateway::start_with(data_dir, &[])
    }

    /// `wasap serve --demo` on `data_dir` with `extra` arguments.
    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Gateway {
        let mut child = Command::new(env!("CARGO_BIN_EXE_wasap"))
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra)
            .env_remove("WASAP_ADMIN_KEY")
            .env_remove("WASAP_DATABASE_URL")
            .env("WASAP_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("wasap runs");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut admin_key = None;
        let url = loop {
            let line = lines
                .next()
                .expect("wasap printed its URL")
                .expect("stdout is text");
            if let Some(k) = line.split_whitespace().find(|w| w.starts_with("wsk_")) {
                admin_key = Some(k.to_string());
            }
            if let Some(rest) = line.strip_prefix("Wasap gateway listening on ") {
                break rest.trim().to_string();
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Gateway {
            child,
            url,
            admin_key,
        }
    }

    /// Stops the gateway with SIGTERM and checks that it exits cleanly within 15 s.
    pub fn terminate(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "wasap exited with {status}");
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "wasap did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
