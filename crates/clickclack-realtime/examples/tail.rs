//! Prints the events of a workspace live.
//!
//! ```text
//! CLICKCLACK_TOKEN=ccb_… cargo run -p clickclack-realtime --example tail -- http://127.0.0.1:8080 wsp_…
//! ```
//!
//! The committed cursor is kept in `./.clickclack-tail/`, so a restart resumes
//! where the previous run stopped.

use std::sync::Arc;

use clickclack_client::Client;
use clickclack_proto::WorkspaceId;
use clickclack_realtime::{FileCursorStore, RealtimeItem, RealtimeStream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(base_url), Some(workspace)) = (args.next(), args.next()) else {
        eprintln!("usage: tail <base-url> <workspace-id>   (token in CLICKCLACK_TOKEN)");
        std::process::exit(2);
    };
    let token = std::env::var("CLICKCLACK_TOKEN").map_err(|_| "set CLICKCLACK_TOKEN")?;
    let client = Client::builder(base_url).token(token).build()?;
    let mut stream = RealtimeStream::builder(client, WorkspaceId::new(workspace))
        .cursor_store(Arc::new(FileCursorStore::new(".clickclack-tail")))
        .start()
        .await?;

    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            item = stream.next_event() => match item {
                Some(Ok(RealtimeItem::Event(event))) => {
                    println!(
                        "{:<30} {:<24} {}",
                        if event.is_durable() { event.cursor().as_str() } else { "(ephemeral)" },
                        event.event_type(),
                        event.to_json_string(),
                    );
                    stream.commit(event.cursor()).await?;
                }
                Some(Ok(RealtimeItem::Resync { reason, previous, anchor, .. })) => {
                    eprintln!("# resync ({reason}): {previous:?} -> {anchor}");
                }
                Some(Ok(RealtimeItem::Connected { after_cursor, .. })) => {
                    eprintln!("# connected after {after_cursor}");
                }
                Some(Ok(RealtimeItem::Reconnecting { attempt, delay, cause, .. })) => {
                    eprintln!("# reconnecting (attempt {attempt}, in {} ms): {cause}", delay.as_millis());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) if !e.is_terminal() => eprintln!("# skipped: {e}"),
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
        }
    }
    eprintln!("# {:?}", stream.stats());
    Ok(())
}
