//! Benchmark 2: realtime ingest. Durable `message.created` events replayed
//! by the testkit into a `RealtimeStream` (typed decode, dedup watermark,
//! a commit per event, as a consumer does), against a bare fastwebsockets
//! reader on the same server reading the same frames without decoding.
//!
//! The server closes a socket with 4001 once one drain would exceed 5,000
//! events (protocol.md §7.6, implemented by the testkit), so a long replay
//! is read in pages of at most 5,000 events per connection: each page opens
//! a connection after the previous page's last cursor. Both sides do exactly
//! the same pages; connection setup is inside the timing for both.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clickclack_client::Client;
use clickclack_proto::event::Event;
use clickclack_proto::{Cursor, WorkspaceId};
use clickclack_realtime::{RealtimeItem, RealtimeStream};
use clickclack_testkit::TestServer;
use fastwebsockets::OpCode;
use http::header::{AUTHORIZATION, CONNECTION, HOST, UPGRADE};
use http_body_util::Empty;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpStream;

use super::Options;
use super::harness::per_second;
use super::report::{Goal, Record};

/// The server's per-drain replay cap.
const PAGE: usize = 5_000;

/// A replay page: connect after `after`, read `count` events ending at `last`.
struct Page {
    after: Cursor,
    count: usize,
    last: Cursor,
}

/// The server with its log filled.
struct Fixture {
    server: TestServer,
    workspace: WorkspaceId,
    token: String,
    /// Cursor before the first posted event.
    start: Cursor,
    /// Cursors of the posted events, in order.
    cursors: Vec<Cursor>,
}

impl Fixture {
    async fn new(events: usize) -> Result<Fixture, String> {
        let server = TestServer::start().await;
        let seed = server.seed();
        let start = server
            .latest_cursor(&seed.workspace.id)
            .ok_or("the seeded workspace has no events")?;
        let body = "Replay benchmark message: the quick brown fox jumps over the lazy dog, 0123456789 abcdefghij!";
        for _ in 0..events {
            server.post_message(&seed.owner.user.id, &seed.general.id, body);
        }
        let cursors: Vec<Cursor> = server
            .events(&seed.workspace.id)
            .into_iter()
            .map(|e| e.cursor)
            .filter(|c| *c > start)
            .collect();
        if cursors.len() != events {
            return Err(format!(
                "expected {events} new events, the log has {}",
                cursors.len()
            ));
        }
        Ok(Fixture {
            workspace: seed.workspace.id.clone(),
            token: seed.bot.token.clone(),
            start,
            cursors,
            server,
        })
    }

    /// The first `n` events, in pages of at most [`PAGE`].
    fn pages(&self, n: usize) -> Vec<Page> {
        (0..n)
            .step_by(PAGE)
            .map(|from| {
                let count = PAGE.min(n - from);
                Page {
                    after: if from == 0 {
                        self.start.clone()
                    } else {
                        self.cursors[from - 1].clone()
                    },
                    count,
                    last: self.cursors[from + count - 1].clone(),
                }
            })
            .collect()
    }
}

/// Reads `pages` through `RealtimeStream`, committing every event when `commit`.
async fn ours(f: &Fixture, pages: &[Page], commit: bool) -> Result<Duration, String> {
    let client = Client::builder(f.server.base_url())
        .token(f.token.clone())
        .build()
        .map_err(|e| format!("client: {e}"))?;
    let started = Instant::now();
    for page in pages {
        let mut stream = RealtimeStream::builder(client.clone(), f.workspace.clone())
            .start_after(page.after.clone())
            .start()
            .await
            .map_err(|e| format!("stream start: {e}"))?;
        let mut got = 0;
        let mut last = None;
        while got < page.count {
            match stream.next_event().await {
                Some(Ok(RealtimeItem::Event(event))) => {
                    got += 1;
                    if commit {
                        stream
                            .commit(event.cursor())
                            .await
                            .map_err(|e| format!("commit: {e}"))?;
                    }
                    last = Some(event.cursor);
                }
                Some(Ok(RealtimeItem::Resync { reason, .. })) => {
                    return Err(format!("unexpected resync after {got} events: {reason:?}"));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(format!("stream error after {got} events: {e}")),
                None => return Err(format!("stream ended after {got} events")),
            }
        }
        if last.as_ref() != Some(&page.last) {
            return Err("the stream did not end the page on the expected cursor".to_owned());
        }
    }
    Ok(started.elapsed())
}

/// Reads `pages` with a bare fastwebsockets client: no bookkeeping, and no
/// decode unless `decode` (then each frame goes through `Event::from_slice`).
async fn bare(f: &Fixture, pages: &[Page], decode: bool) -> Result<Duration, String> {
    let addr = f.server.addr();
    let started = Instant::now();
    for page in pages {
        let mut ws = bare_connect(addr, &f.token, &f.workspace, &page.after).await?;
        let mut got = 0;
        while got < page.count {
            let frame = ws
                .read_frame()
                .await
                .map_err(|e| format!("bare read after {got} frames: {e}"))?;
            match frame.opcode {
                OpCode::Text | OpCode::Binary => {
                    got += 1;
                    if decode {
                        std::hint::black_box(Event::from_slice(&frame.payload).ok());
                    }
                }
                OpCode::Close => return Err(format!("bare reader: closed after {got} frames")),
                _ => {}
            }
        }
    }
    Ok(started.elapsed())
}

/// Opens a bare fastwebsockets client socket replaying after `after`.
pub(crate) async fn bare_connect(
    addr: SocketAddr,
    token: &str,
    workspace: &WorkspaceId,
    after: &Cursor,
) -> Result<fastwebsockets::WebSocket<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("bare connect: {e}"))?;
    let req = http::Request::get(format!(
        "http://{addr}/api/realtime/ws?workspace_id={workspace}&after_cursor={after}"
    ))
    .header(HOST, addr.to_string())
    .header(UPGRADE, "websocket")
    .header(CONNECTION, "upgrade")
    .header(
        "Sec-WebSocket-Key",
        fastwebsockets::handshake::generate_key(),
    )
    .header("Sec-WebSocket-Version", "13")
    .header(AUTHORIZATION, format!("Bearer {token}"))
    .body(Empty::<Bytes>::new())
    .map_err(|e| format!("bare request: {e}"))?;
    let (ws, _) = fastwebsockets::handshake::client(&TokioExecutor::new(), req, stream)
        .await
        .map_err(|e| format!("bare upgrade: {e}"))?;
    Ok(ws)
}

/// The measured variants.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Variant {
    /// `RealtimeStream`, commit per event.
    Stream,
    /// `RealtimeStream`, no commit.
    StreamNoCommit,
    /// Bare reader + `Event::from_slice`.
    BareDecode,
}

/// Alternating rounds; the best (shortest) of each side counts.
async fn measure(
    f: &Fixture,
    n: usize,
    rounds: usize,
    variant: Variant,
) -> Result<(f64, f64), String> {
    let pages = f.pages(n);
    let (mut best_ours, mut best_bare) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        best_bare = best_bare.min(bare(f, &pages, false).await?);
        let ours = match variant {
            Variant::Stream => ours(f, &pages, true).await?,
            Variant::StreamNoCommit => ours(f, &pages, false).await?,
            Variant::BareDecode => bare(f, &pages, true).await?,
        };
        best_ours = best_ours.min(ours);
    }
    Ok((per_second(n, best_ours), per_second(n, best_bare)))
}

/// Runs the realtime benchmark.
pub(crate) async fn run(options: &Options) -> Result<Vec<Record>, String> {
    let (ingest, rounds) = if options.quick {
        (5_000, 1)
    } else {
        (50_000, 3)
    };
    let replay = 10_000;
    let filled = Instant::now();
    let f = Fixture::new(ingest.max(replay)).await?;
    let fill_secs = filled.elapsed().as_secs_f64();
    let mut records = Vec::new();
    for (name, n) in [
        (format!("realtime.ingest_{}k", ingest / 1000), ingest),
        ("realtime.replay_10k".to_owned(), replay),
    ] {
        let (ours, bare) = measure(&f, n, rounds, Variant::Stream).await?;
        records.push(
            Record::new(
                name,
                "events/s",
                ours,
                "bare fastwebsockets",
                bare,
                Goal::RatioAtLeast(0.7),
            )
            .param("events", n)
            .param("events_per_connection_max", PAGE)
            .param("connections", n.div_ceil(PAGE))
            .param("rounds_per_side", rounds)
            .param("commit_every_event", true)
            .param("log_fill_seconds", fill_secs),
        );
    }
    // Attribution (informational): where the stream's time goes.
    for (name, variant, what) in [
        (
            "realtime.replay_10k.no_commit",
            Variant::StreamNoCommit,
            "RealtimeStream without commit",
        ),
        (
            "realtime.replay_10k.bare_plus_decode",
            Variant::BareDecode,
            "bare reader + Event::from_slice",
        ),
    ] {
        let (ours, bare) = measure(&f, replay, rounds, variant).await?;
        records.push(
            Record::new(
                name,
                "events/s",
                ours,
                "bare fastwebsockets",
                bare,
                Goal::None,
            )
            .param("events", replay)
            .param("measures", what),
        );
    }
    // The goal of issue 17: the stream against the bare reader that decodes
    // too (both measured above, in this run).
    let replay_rate = records
        .iter()
        .find(|r| r.name == "realtime.replay_10k")
        .and_then(|r| r.value);
    let decode_rate = records
        .iter()
        .find(|r| r.name == "realtime.replay_10k.bare_plus_decode")
        .and_then(|r| r.value);
    if let (Some(ours), Some(decode)) = (replay_rate, decode_rate) {
        records.push(
            Record::new(
                "realtime.replay_10k.vs_bare_plus_decode",
                "events/s",
                ours,
                "bare reader + Event::from_slice",
                decode,
                Goal::RatioAtLeast(0.8),
            )
            .param("events", replay)
            .param("commit_every_event", true),
        );
    }
    if let Some(first) = records.first_mut() {
        first.note = Some(format!(
            "replayed in pages of <= {PAGE} events per connection (the server's 4001 replay cap), same pages for both sides"
        ));
    }
    Ok(records)
}
