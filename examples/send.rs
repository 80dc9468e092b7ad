//! Sends one text with an already paired device (see `echo_bot` or `wasap pair`).
//!
//! `cargo run --example send -- bot.db 6281234567890 "hello"`

use std::time::Duration;

use wasap::client::{Client, Jid, SqliteStore};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(store), Some(to), Some(text)) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: send STORE.db PHONE TEXT");
        std::process::exit(2);
    };
    let mut builder = Client::builder(SqliteStore::open(store).await?);
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
    client.connect().await?;
    client.wait_connected(Duration::from_secs(60)).await?;
    let sent = client.send_text(&Jid::pn(to), &text).await?;
    println!("sent {} at {}", sent.id, sent.timestamp);
    client.disconnect().await;
    Ok(())
}
