//! `wasap node decode|encode`: line-oriented conversion between WABinary frames (hex) and the
//! JSON form of nodes. Each input line gives exactly one output line; a bad line prints
//! `{"error": "<why>"}` and the exit code is 1 once all lines are done.

use std::io::{self, BufRead, BufWriter, Write};
use std::process::ExitCode;

use clap::Subcommand;
use wasap::core::binary::{self, json};

/// Arguments of `wasap node`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Hex frames on stdin (flags byte first, zlib when flag 0x02) -> JSON nodes on stdout.
    Decode {
        /// Lines hold the bare node, without the leading flags byte.
        #[arg(long)]
        no_flag: bool,
    },
    /// JSON nodes on stdin -> hex frames (0x00 flags byte first) on stdout.
    Encode,
}

/// Runs `wasap node …` over stdin/stdout.
pub fn run(args: Args) -> ExitCode {
    let stdin = io::stdin().lock();
    let stdout = io::stdout().lock();
    let result = match args.action {
        Action::Decode { no_flag } => convert(stdin, stdout, |line| decode_line(line, no_flag)),
        Action::Encode => convert(stdin, stdout, encode_line),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("wasap node: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Applies `f` to every line; returns whether all lines succeeded.
fn convert(
    input: impl BufRead,
    output: impl Write,
    f: impl Fn(&str) -> Result<String, String>,
) -> io::Result<bool> {
    let mut out = BufWriter::new(output);
    let mut all_ok = true;
    for line in input.lines() {
        let line = line?;
        match f(line.trim()) {
            Ok(s) => writeln!(out, "{s}")?,
            Err(why) => {
                all_ok = false;
                writeln!(out, "{}", serde_json::json!({ "error": why }))?;
            }
        }
    }
    out.flush()?;
    Ok(all_ok)
}

fn decode_line(line: &str, no_flag: bool) -> Result<String, String> {
    if line.is_empty() {
        return Err("empty line".into());
    }
    let bytes = hex::decode(line).map_err(|e| format!("invalid hex: {e}"))?;
    let node = if no_flag {
        binary::decode(&bytes).map(|n| n.into_owned())
    } else {
        binary::decode_frame(&bytes)
    }
    .map_err(|e| e.to_string())?;
    Ok(json::to_json(&node))
}

fn encode_line(line: &str) -> Result<String, String> {
    if line.is_empty() {
        return Err("empty line".into());
    }
    let node = json::from_json(line).map_err(|e| format!("invalid node JSON: {e}"))?;
    let frame = binary::encode_frame(&node).map_err(|e| e.to_string())?;
    Ok(hex::encode(frame))
}
