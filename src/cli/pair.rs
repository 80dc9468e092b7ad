//! `wasap pair`: links the store's device to a phone (QR in the terminal, or a phone code with
//! `--phone`), waits until it is logged in, prints `{"jid": …}`.

use std::process::ExitCode;

use wasap::client::Event;

use super::client_opts::{ClientArgs, runtime};

/// Arguments of `wasap pair`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    client: ClientArgs,
    /// Pair with a code for this phone number (international digits) instead of a QR code.
    #[arg(long)]
    phone: Option<String>,
}

/// Runs `wasap pair`.
pub fn run(args: Args) -> ExitCode {
    let result = runtime().and_then(|rt| rt.block_on(pair(args)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasap pair: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn pair(args: Args) -> Result<(), String> {
    let client = args.client.client(args.phone.as_deref()).await?;
    let mut events = client.events();
    client.connect().await.map_err(|e| e.to_string())?;
    while let Some(event) = events.recv().await {
        match event {
            Event::Qr(qr) => {
                eprintln!("{}\nScan with WhatsApp > Linked devices.", qr.to_terminal())
            }
            Event::PairCode { code } => {
                eprintln!(
                    "Enter this code on the phone: {}-{}",
                    &code[..4],
                    &code[4..]
                )
            }
            Event::Connected { jid } => {
                println!("{}", serde_json::json!({ "jid": jid.to_string() }));
                client.disconnect().await;
                return Ok(());
            }
            Event::PairError { reason } => return Err(reason),
            Event::LoggedOut { reason } => return Err(format!("logged out: {reason}")),
            Event::Disconnected {
                reconnecting: false,
                reason,
            } => return Err(format!("disconnected: {reason:?}")),
            _ => {}
        }
    }
    Err("the client stopped".into())
}
