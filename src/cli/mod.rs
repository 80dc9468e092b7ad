//! Command-line interface: one clap (derive) command tree; each subcommand family lives in
//! its own module with an `Args` type and a `run` function returning the exit code.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod node;
mod sandbox;

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
}

/// Parses the command line and runs the chosen subcommand.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Node(args) => node::run(args),
        Command::Sandbox(args) => sandbox::run(args),
    }
}
