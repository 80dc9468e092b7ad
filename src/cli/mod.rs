//! Command-line interface: one clap (derive) command tree; each subcommand family lives in
//! its own module with an `Args` type and a `run` function returning the exit code.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod client_opts;
mod listen;
mod node;
mod pair;
mod sandbox;
mod send;
#[cfg(feature = "server")]
mod serve;

/// Wasap: WhatsApp Web multi-device protocol SDK and gateway.
#[derive(Debug, Parser)]
#[command(name = "wasap", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Binary nodes (WABinary): decode and encode, one per line.
    Node(node::Args),
    /// A local WhatsApp-protocol server with virtual phones (prints its discovery JSON).
    Sandbox(sandbox::Args),
    /// Link a device to a phone (QR code in the terminal, or a phone code).
    Pair(pair::Args),
    /// Connect (pairing first if needed) and print events; `--json` for one object per line.
    Listen(listen::Args),
    /// Send one message with the stored device and print its id and server timestamp.
    Send(send::Args),
    /// The REST gateway (`--demo`: with an in-process sandbox and echo contacts).
    #[cfg(feature = "server")]
    Serve(serve::Args),
}

/// Parses the command line and runs the chosen subcommand.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Node(args) => node::run(args),
        Command::Sandbox(args) => sandbox::run(args),
        Command::Pair(args) => pair::run(args),
        Command::Listen(args) => listen::run(args),
        Command::Send(args) => send::run(args),
        #[cfg(feature = "server")]
        Command::Serve(args) => serve::run(args),
    }
}
