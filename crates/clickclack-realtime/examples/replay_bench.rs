//! Measures how fast the stream takes a replay from the in-process test server.
//!
//! ```text
//! cargo run --release -p clickclack-realtime --example replay_bench [-- <events>]
//! ```
//!
//! The server replays at most 5,000 events per connection (more is a 4001
//! resync), so the replay is split into rounds of 5,000: each round posts the
//! events, then opens a stream after the previous round's cursor and reads
//! and commits every event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clickclack_client::Client;
use clickclack_realtime::{MemoryCursorStore, RealtimeItem, RealtimeStream};
use clickclack_testkit::TestServer;

const ROUND: usize = 5_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let server = TestServer::start().await;
    let seed = server.seed();
    let client = Client::builder(server.base_url())
        .token(seed.bot.token.clone())
        .build()?;
    let store = MemoryCursorStore::new();
    let mut cursor = server
        .latest_cursor(&seed.workspace.id)
        .ok_or("no cursor after seeding")?;
    let mut received = 0usize;
    let mut busy = Duration::ZERO;
    while received < total {
        let n = ROUND.min(total - received);
        for i in 0..n {
            server.post_message(&seed.owner.user.id, &seed.general.id, &format!("bench {i}"));
        }
        let started = Instant::now();
        let mut stream = RealtimeStream::builder(client.clone(), seed.workspace.id.clone())
            .cursor_store(Arc::new(store.clone()))
            .start_after(cursor.clone())
            .start()
            .await?;
        let mut got = 0;
        while got < n {
            match stream.next_event().await {
                Some(Ok(RealtimeItem::Event(event))) => {
                    stream.commit(event.cursor()).await?;
                    cursor = event.cursor().clone();
                    got += 1;
                }
                Some(Ok(RealtimeItem::Resync { .. })) => return Err("unexpected resync".into()),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Err("stream ended".into()),
            }
        }
        busy += started.elapsed();
        received += got;
    }
    let secs = busy.as_secs_f64();
    println!(
        "replayed {received} events in {:.1} ms: {:.0} events/s (connect + replay + commit per event)",
        secs * 1_000.0,
        received as f64 / secs
    );
    Ok(())
}
