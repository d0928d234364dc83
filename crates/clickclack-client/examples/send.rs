//! Sends one message to a channel.
//!
//! ```text
//! CLICKCLACK_BASE_URL=http://127.0.0.1:8080 CLICKCLACK_BOT_TOKEN=ccb_... \
//!   cargo run -p clickclack-client --example send -- [channel] [message]
//! ```
//!
//! Works against `clickclack-dev` (from `clickclack-testkit`) or a real server.

use std::process::ExitCode;

use clickclack_client::Client;
use clickclack_client::proto::requests::CreateMessage;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("send: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::var("CLICKCLACK_BASE_URL").map_err(|_| "set CLICKCLACK_BASE_URL")?;
    let token = std::env::var("CLICKCLACK_BOT_TOKEN").map_err(|_| "set CLICKCLACK_BOT_TOKEN")?;
    let mut args = std::env::args().skip(1);
    let channel = args.next().unwrap_or_else(|| "general".to_owned());
    let body = args
        .next()
        .unwrap_or_else(|| "hello from clickclack-rs".to_owned());

    let client = Client::builder(base).token(token).build()?;
    let me = client.me().await?;
    let workspace = client
        .list_workspaces()
        .await?
        .into_iter()
        .next()
        .ok_or("the token sees no workspace")?;
    let channel = client.resolve_channel(&workspace.id, &channel).await?;
    let sent = client
        .send_message(&channel.id, CreateMessage::new(body))
        .await?
        .message()?;
    println!(
        "{} posted {} in #{} (seq {:?}, nonce {:?})",
        me.handle, sent.id, channel.name, sent.channel_seq, sent.nonce
    );
    Ok(())
}
