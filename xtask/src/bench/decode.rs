//! Benchmark 1: decoding realtime frames into `clickclack_proto::Event`,
//! against `serde_json::from_slice::<serde_json::Value>` of the same bytes.
//!
//! The frames are the testkit's own wire bytes for a channel message (with a
//! nonce and correlation id, as bots send them), a DM, a thread reply, and a
//! `reaction.added` built with the same ids.

use std::hint::black_box;
use std::time::{Duration, Instant};

use clickclack_proto::event::{Event, EventPayload, ReactionPayload};
use clickclack_testkit::TestServer;

use super::Options;
use super::harness::round3;
use super::report::{Goal, Record};

/// One realistic frame.
struct Frame {
    name: &'static str,
    bytes: Vec<u8>,
}

/// A plausible chat message body (about 100 bytes).
const BODY: &str = "Deploy finished for api-gateway v2.14.3 in eu-west-1; 0 errors, p99 latency back to 41 ms. :tada:";

/// Builds the frames from events the testkit itself logged.
async fn frames() -> Result<Vec<Frame>, String> {
    let server = TestServer::start().await;
    let seed = server.seed();
    let ws = &seed.workspace.id;
    let owner = &seed.owner.user.id;
    let alice = server.create_user(ws, "Alice Example");
    let root = server.post_message_with_nonce(
        owner,
        &seed.general.id,
        BODY,
        "ccrs-3f9a2c417be04d21a6c0e8f1d2b7a954-18a2f4c1d2e3",
    );
    server.post_thread_reply(owner, &root.id, BODY);
    let dm = server.open_dm(ws, owner, &alice.user.id);
    server.post_dm(owner, &dm.id, BODY);
    let events = server.events(ws);
    let find = |pred: &dyn Fn(&Event) -> bool| -> Result<Event, String> {
        events
            .iter()
            .rev()
            .find(|e| pred(e))
            .cloned()
            .ok_or_else(|| "the testkit did not log the expected event".to_owned())
    };
    let channel_msg = find(
        &|e| matches!(&e.payload, EventPayload::MessageCreated(p) if p.direct_conversation_id.is_none()),
    )?;
    let dm_msg = find(
        &|e| matches!(&e.payload, EventPayload::MessageCreated(p) if p.direct_conversation_id.is_some()),
    )?;
    let reply = find(&|e| matches!(e.payload, EventPayload::ThreadReplyCreated(_)))?;
    let mut reaction = channel_msg.clone();
    reaction.event_type = "reaction.added".to_owned();
    // Payloads are #[non_exhaustive]: a server (here, the bench) starts from Default.
    let mut added = ReactionPayload::default();
    added.message_id = root.id.clone();
    added.emoji = "\u{1f44d}".to_owned();
    added.user_id = Some(alice.user.id.clone());
    added.count = Some(2);
    reaction.payload = EventPayload::ReactionAdded(added);
    let encode = |name: &'static str, e: &Event| -> Result<Frame, String> {
        let bytes = serde_json::to_vec(e).map_err(|err| format!("encode {name}: {err}"))?;
        Ok(Frame { name, bytes })
    };
    Ok(vec![
        encode("message_created.channel", &channel_msg)?,
        encode("message_created.dm", &dm_msg)?,
        encode("thread.reply_created", &reply)?,
        encode("reaction.added", &reaction)?,
    ])
}

/// Decodes `frame` `iters` times with `f`; returns ns per decode.
fn time_ns<T>(bytes: &[u8], iters: u32, f: fn(&[u8]) -> Option<T>) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(f(black_box(bytes)));
    }
    start.elapsed().as_nanos() as f64 / f64::from(iters)
}

fn typed(bytes: &[u8]) -> Option<Event> {
    Event::from_slice(bytes).ok()
}

fn untyped(bytes: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice(bytes).ok()
}

/// Runs the decode benchmark.
pub(crate) async fn run(options: &Options) -> Result<Vec<Record>, String> {
    let frames = frames().await?;
    for frame in &frames {
        let event = Event::from_slice(&frame.bytes).map_err(|e| format!("{}: {e}", frame.name))?;
        if matches!(event.payload, EventPayload::Unknown { .. }) {
            return Err(format!(
                "{}: decoded as Unknown; the fixture is wrong",
                frame.name
            ));
        }
    }
    // Interleaved rounds, best (lowest) of each side: noise only ever adds time.
    let (rounds, slice) = if options.quick {
        (3, Duration::from_millis(30))
    } else {
        (9, Duration::from_millis(150))
    };
    let mut records = Vec::new();
    let (mut total_bytes, mut total_typed, mut total_untyped) = (0.0, 0.0, 0.0);
    for frame in &frames {
        // Calibrate iterations so one timed slice lasts about `slice`.
        let probe = time_ns(&frame.bytes, 2_000, untyped).max(1.0);
        let iters = ((slice.as_nanos() as f64 / probe) as u32).max(1_000);
        let (mut best_typed, mut best_untyped) = (f64::MAX, f64::MAX);
        for _ in 0..rounds {
            best_typed = best_typed.min(time_ns(&frame.bytes, iters, typed));
            best_untyped = best_untyped.min(time_ns(&frame.bytes, iters, untyped));
        }
        let len = frame.bytes.len() as f64;
        total_bytes += len;
        total_typed += best_typed;
        total_untyped += best_untyped;
        records.push(
            Record::new(
                format!("decode.{}", frame.name),
                "ns/event",
                best_typed,
                "serde_json::Value",
                best_untyped,
                Goal::RatioBelow(1.0),
            )
            .param("frame_bytes", frame.bytes.len())
            .param("iterations_per_round", iters)
            .param("rounds", rounds)
            .param("mb_per_s", round3(len * 1e3 / best_typed))
            .param("baseline_mb_per_s", round3(len * 1e3 / best_untyped)),
        );
    }
    // Bytes per ns × 1000 = MB/s.
    records.push(
        Record::new(
            "decode.all_four",
            "MB/s",
            total_bytes * 1e3 / total_typed,
            "serde_json::Value",
            total_bytes * 1e3 / total_untyped,
            Goal::RatioAtLeast(1.0),
        )
        .param("frames", frames.len())
        .param("bytes", total_bytes)
        .param("ns_per_event", round3(total_typed / frames.len() as f64))
        .param(
            "baseline_ns_per_event",
            round3(total_untyped / frames.len() as f64),
        ),
    );
    Ok(records)
}
