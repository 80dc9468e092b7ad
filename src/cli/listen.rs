//! `wasap listen`: connects (pairing first if the store holds no device) and prints every
//! event; with `--json` one JSON object per line.

use std::process::ExitCode;

use wasap::client::Event;

use super::client_opts::{ClientArgs, event_json, runtime};

/// Arguments of `wasap listen`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    client: ClientArgs,
    /// Print one JSON object per event and line.
    #[arg(long)]
    json: bool,
    /// When pairing is needed: use a code for this phone number instead of a QR code.
    #[arg(long)]
    phone: Option<String>,
}

/// Runs `wasap listen` until interrupted or logged out.
pub fn run(args: Args) -> ExitCode {
    let result = runtime().and_then(|rt| rt.block_on(listen(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasap listen: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn listen(args: Args) -> Result<(), String> {
    let client = args.client.client(args.phone.as_deref()).await?;
    let mut events = client.events();
    client.connect().await.map_err(|e| e.to_string())?;
    loop {
        let event = tokio::select! {
            e = events.recv() => match e { Some(e) => e, None => return Ok(()) },
            _ = tokio::signal::ctrl_c() => {
                client.disconnect().await;
                return Ok(());
            }
        };
        if let Event::Qr(qr) = &event {
            eprintln!("{}", qr.to_terminal());
        }
        if args.json {
            if let Some(line) = event_json(&event) {
                println!("{line}");
            }
        } else {
            match &event {
                Event::Qr(_) => eprintln!("Scan the QR code with WhatsApp > Linked devices."),
                Event::PairCode { code } => println!("pair code: {code}"),
                Event::Message(m) => println!(
                    "[{}] {}: {}",
                    m.info.chat,
                    m.info.sender,
                    m.text().unwrap_or("<non-text message>")
                ),
                other => println!("{other:?}"),
            }
        }
        match event {
            Event::LoggedOut { .. }
            | Event::Disconnected {
                reconnecting: false,
                ..
            } => {
                return Ok(());
            }
            _ => {}
        }
    }
}
