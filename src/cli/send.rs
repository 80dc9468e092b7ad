//! `wasap send`: connects with the stored device, sends one message, waits for the server's
//! ack and prints `{"id": …, "timestamp": …}`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use wasap::client::message::{Location, MessageContent};
use wasap::client::{Client, Jid, SendResponse};

use super::client_opts::{ClientArgs, runtime};

/// Arguments of `wasap send`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["text", "image", "document", "location"])))]
pub struct Args {
    #[command(flatten)]
    client: ClientArgs,
    /// Recipient: a JID (`6281…@s.whatsapp.net`, `…@g.us`) or a phone number.
    #[arg(long)]
    to: String,
    /// Text to send (the caption with `--image` or `--document`).
    #[arg(long)]
    text: Option<String>,
    /// An image file.
    #[arg(long)]
    image: Option<PathBuf>,
    /// A document file.
    #[arg(long)]
    document: Option<PathBuf>,
    /// A location, `LAT,LON`.
    #[arg(long, allow_hyphen_values = true)]
    location: Option<String>,
}

/// Runs `wasap send`.
pub fn run(args: Args) -> ExitCode {
    let result = runtime().and_then(|rt| rt.block_on(send(args)));
    match result {
        Ok(response) => {
            println!(
                "{}",
                serde_json::json!({ "id": response.id, "timestamp": response.timestamp })
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wasap send: {e}");
            ExitCode::FAILURE
        }
    }
}

fn mimetype(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        Some("pdf") => "application/pdf",
        Some("txt") => "text/plain",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    }
}

fn recipient(to: &str) -> Result<Jid, String> {
    if to.contains('@') {
        to.parse().map_err(|_| format!("bad JID {to}"))
    } else {
        let digits: String = to.chars().filter(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return Err(format!("bad recipient {to}"));
        }
        Ok(Jid::pn(digits))
    }
}

async fn send(args: Args) -> Result<SendResponse, String> {
    let to = recipient(&args.to)?;
    let client: Client = args.client.client(None).await?;
    let paired = client
        .store()
        .load_device()
        .await
        .map_err(|e| e.to_string())?
        .is_some_and(|d| d.is_paired());
    if !paired {
        return Err("the store holds no paired device; run `wasap pair` first".into());
    }
    client.connect().await.map_err(|e| e.to_string())?;
    client
        .wait_connected(Duration::from_secs(60))
        .await
        .map_err(|e| format!("could not log in: {e}"))?;
    let caption = args.text.as_deref();
    let result = if let Some(path) = &args.image {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        client.send_image(&to, &data, mimetype(path), caption).await
    } else if let Some(path) = &args.document {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        client
            .send_document(&to, &data, mimetype(path), &name)
            .await
    } else if let Some(location) = &args.location {
        let (lat, lon) = location
            .split_once(',')
            .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
            .ok_or("--location must be LAT,LON")?;
        client
            .send(
                &to,
                MessageContent::Location(Location {
                    latitude: lat,
                    longitude: lon,
                    ..Default::default()
                }),
            )
            .await
    } else {
        client.send_text(&to, caption.unwrap_or_default()).await
    };
    client.disconnect().await;
    result.map_err(|e| e.to_string())
}
