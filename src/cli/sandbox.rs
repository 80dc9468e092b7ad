//! `wasap sandbox`: runs the local WhatsApp-protocol server until interrupted. The first
//! stdout line is the discovery JSON (`ws_url`, `root_key`, `control_url`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use wasap::sandbox::{Sandbox, SandboxConfig};

/// Arguments of `wasap sandbox`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Keep accounts, devices, keys and groups in this JSON file across restarts.
    #[arg(long)]
    state: Option<PathBuf>,
}

/// Starts the sandbox and serves until Ctrl-C (or SIGTERM).
pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wasap sandbox: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let config = SandboxConfig {
            listen: args.listen,
            state_file: args.state,
            ..SandboxConfig::default()
        };
        let sandbox = match Sandbox::start(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("wasap sandbox: {e}");
                return ExitCode::FAILURE;
            }
        };
        // Listen for signals before announcing readiness, so an immediate SIGTERM after the
        // discovery line still shuts down cleanly.
        let stop = Stop::install();
        println!("{}", sandbox.discovery_json());
        use std::io::Write;
        let _ = std::io::stdout().flush();
        stop.wait().await;
        sandbox.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// Ctrl-C or (on Unix) SIGTERM, registered up front.
struct Stop {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Stop {
    fn install() -> Stop {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signals = signal(SignalKind::interrupt())
                .and_then(|i| Ok((i, signal(SignalKind::terminate())?)))
                .ok();
            Stop { signals }
        }
        #[cfg(not(unix))]
        Stop {}
    }

    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut interrupt, mut terminate)) = self.signals {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
