//! Build-time code generation:
//! - compiles every `proto/*.proto` with protox (no system `protoc`) and prost-build;
//! - turns the WABinary token dictionaries (`src/binary/tokens.txt`) into Rust arrays plus an
//!   open-addressed lookup table (`$OUT_DIR/tokens.rs`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[path = "src/binary/token_hash.rs"]
#[allow(dead_code)]
mod token_hash;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    generate_tokens()?;
    compile_protos()
}

/// Reads `src/binary/tokens.txt` and writes the token arrays and the lookup table.
fn generate_tokens() -> Result<(), Box<dyn std::error::Error>> {
    let src = Path::new("src/binary/tokens.txt");
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed=src/binary/token_hash.rs");
    let text = std::fs::read_to_string(src)?;
    let mut single: Vec<Option<String>> = vec![None; 236];
    let mut double: Vec<Vec<Option<String>>> = vec![vec![None; 256]; 4];
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let (table, index, token) = match (parts.next(), parts.next(), parts.next()) {
            (Some(t), Some(i), Some(tok)) => (t, i.parse::<usize>()?, tok.to_string()),
            _ => return Err(format!("tokens.txt line {}: malformed", n + 1).into()),
        };
        let slot = match table {
            "s" => single.get_mut(index),
            "d0" | "d1" | "d2" | "d3" => {
                let d = usize::from(table.as_bytes()[1] - b'0');
                double[d].get_mut(index)
            }
            _ => None,
        };
        match slot {
            Some(s @ None) => *s = Some(token),
            _ => return Err(format!("tokens.txt line {}: bad or repeated slot", n + 1).into()),
        }
    }
    let single: Vec<String> = single
        .into_iter()
        .enumerate()
        .map(|(i, t)| t.ok_or(format!("single-byte token {i} missing")))
        .collect::<Result<_, _>>()?;
    let double: Vec<Vec<String>> = double
        .into_iter()
        .enumerate()
        .map(|(d, dict)| {
            dict.into_iter()
                .enumerate()
                .map(|(i, t)| t.ok_or(format!("double-byte token {d}:{i} missing")))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<_, _>>()?;

    // Codes: 1..=235 single-byte index; 0x100 * (dict + 1) + index for double-byte tokens.
    // Insertion order follows Baileys' TOKEN_MAP (single first, then dictionaries 0..3), and a
    // later entry replaces an earlier equal string, as an assignment to a JS object would.
    let mut entries: Vec<(String, u16)> = Vec::new();
    let mut put = |tok: &str, code: u16| {
        if let Some(e) = entries.iter_mut().find(|(t, _)| t == tok) {
            e.1 = code;
        } else {
            entries.push((tok.to_string(), code));
        }
    };
    for (i, t) in single.iter().enumerate().skip(1) {
        put(t, i as u16);
    }
    for (d, dict) in double.iter().enumerate() {
        for (i, t) in dict.iter().enumerate() {
            put(t, 0x100 * (d as u16 + 1) + i as u16);
        }
    }
    let mask = token_hash::TOKEN_SLOTS - 1;
    let mut slots = vec![0u16; token_hash::TOKEN_SLOTS];
    for (tok, code) in &entries {
        let mut h = token_hash::token_hash(tok.as_bytes()) & mask;
        while slots[h] != 0 {
            h = (h + 1) & mask;
        }
        slots[h] = *code;
    }
    let max_len = entries.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
    if max_len >= 64 {
        return Err("tokens longer than 63 bytes do not fit the length filter".into());
    }
    // For each first byte, a bit per length that some token with that first byte has: most
    // non-tokens (ids, JIDs, numbers, text) are rejected before hashing.
    let mut first_byte_lens = [0u64; 256];
    for (tok, _) in &entries {
        first_byte_lens[usize::from(tok.as_bytes()[0])] |= 1u64 << tok.len();
    }

    let mut out = String::new();
    writeln!(
        out,
        "/// Longest token, in bytes.\npub const MAX_TOKEN_LEN: usize = {max_len};"
    )?;
    writeln!(
        out,
        "/// The single-byte tokens; index 0 is an unused placeholder.\npub static SINGLE_BYTE_TOKENS: [&str; 236] = {single:?};"
    )?;
    writeln!(
        out,
        "/// The four double-byte dictionaries.\npub static DOUBLE_BYTE_TOKENS: [[&str; 256]; 4] = {double:?};"
    )?;
    writeln!(out, "static SLOTS: [u16; {}] = {slots:?};", slots.len())?;
    writeln!(
        out,
        "static FIRST_BYTE_LENS: [u64; 256] = {first_byte_lens:?};"
    )?;
    let dest = PathBuf::from(std::env::var("OUT_DIR")?).join("tokens.rs");
    std::fs::write(dest, out)?;
    Ok(())
}

/// Compiles every `proto/*.proto`.
fn compile_protos() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from("proto");
    println!("cargo:rerun-if-changed=proto");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    files.sort();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let descriptors = protox::compile(&files, [&dir])?;
    let mut config = prost_build::Config::new();
    config.bytes(["."]);
    config.compile_fds(descriptors)?;
    Ok(())
}
