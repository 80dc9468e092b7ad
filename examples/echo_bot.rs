//! Echo bot: shows a QR code in the terminal on first run, then answers every text with the
//! same text. The device is kept in `echo_bot.db`.
//!
//! `cargo run --example echo_bot` (WhatsApp), or against a local sandbox:
//! `WASAP_WA_URL=ws://127.0.0.1:PORT/ws/chat WASAP_WA_ROOT_KEY=HEX cargo run --example echo_bot`.

use futures_util::StreamExt;
use wasap::client::{Client, Event, SqliteStore};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = Client::builder(SqliteStore::open("echo_bot.db").await?);
    if let (Ok(url), Ok(key)) = (
        std::env::var("WASAP_WA_URL"),
        std::env::var("WASAP_WA_ROOT_KEY"),
    ) {
        let key: [u8; 32] = hex::decode(key)?
            .try_into()
            .map_err(|_| "root key: 32 bytes")?;
        builder = builder.ws_url(url).root_key(key);
    }
    let client = builder.build();
    let mut events = client.events();
    client.connect().await?;
    while let Some(event) = events.next().await {
        match event {
            Event::Qr(qr) => println!("{}", qr.to_terminal()),
            Event::Connected { jid } => println!("connected as {jid}"),
            Event::Message(m) if !m.info.from_me => {
                if let Some(text) = m.text() {
                    client.send_text(m.chat(), text).await?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}
