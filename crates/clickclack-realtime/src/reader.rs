//! The one task that reads the socket, decodes events and hands them to the consumer.
//!
//! This task owns the read half ([`crate::frames::FrameReader`]) and reads frames one after
//! the other; pings are answered on the shared write half.
//!
//! # Hot path
//!
//! 1. [`run`] reads one frame; its payload borrows the reader's buffer.
//! 2. A whole text frame is checked for UTF-8 and decoded in place
//!    ([`Event::from_slice`]): no copy, no allocation per frame besides the
//!    event itself. Fragments go through the [`Assembler`].
//! 3. Items are collected into a small batch and handed to the consumer's
//!    bounded channel a batch at a time (one task hop per event, not two;
//!    one lock per batch). The consumer is woken once the socket has
//!    nothing more to read for now (the first poll of the next read is
//!    pending) or the channel is half full — one wake-up per burst or per
//!    half channel. Only when the channel is full does the task wait, stop
//!    reading, and let TCP flow control push back on the server.
//! 4. Every hand-over (and the end of a wait for the consumer) stamps
//!    [`Activity`], which the driver reads to decide whether the connection
//!    went silent; the driver never touches the read half. A burst's frames
//!    arrive within microseconds, so one stamp per batch is as good as one
//!    per frame.
//! 5. A close frame, a broken connection, a framing error (answered with
//!    close 1002) or an over-cap message end the task with
//!    [`ReaderEnd::Ended`], which the driver feeds to the state machine.

use std::collections::VecDeque;
use std::future::Future as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use clickclack_proto::event::Event;
use fastwebsockets::{Frame, Payload};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::connect::{WsRead, WsWrite};
use crate::driver::Outgoing;
use crate::error::Error;
use crate::frames::{FrameError, Opcode};
use crate::handoff;
use crate::item::RealtimeItem;
use crate::state::Ended;
use crate::stats::Counters;

/// What the [`Assembler`] makes of a data frame.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// One complete text message (normally one JSON event).
    Text(Bytes),
    /// A message that cannot be an event; it was skipped.
    Malformed(String),
    /// The message outgrew the cap: the connection ends.
    Lost(String),
}

/// How the reader task ended.
#[derive(Debug)]
pub(crate) enum ReaderEnd {
    /// The connection ended (close frame, failure, over-cap message).
    Ended(Ended),
    /// The consumer dropped the stream.
    ConsumerGone,
}

/// When the reader last saw the server, shared with the driver's liveness watch.
#[derive(Debug)]
pub(crate) struct Activity {
    base: Instant,
    /// Nanoseconds after `base` of the last frame.
    last_ns: AtomicU64,
    /// The reader is waiting for room in the consumer's channel (time spent
    /// there is not server silence).
    waiting: AtomicBool,
}

impl Activity {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            base: now,
            last_ns: AtomicU64::new(0),
            waiting: AtomicBool::new(false),
        }
    }

    fn stamp(&self) {
        let ns = Instant::now()
            .saturating_duration_since(self.base)
            .as_nanos();
        self.last_ns
            .store(u64::try_from(ns).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The last time the server was heard from; `now` while the reader
    /// waits for the consumer.
    pub(crate) fn last_seen(&self, now: Instant) -> Instant {
        if self.waiting.load(Ordering::Relaxed) {
            return now;
        }
        self.base + Duration::from_nanos(self.last_ns.load(Ordering::Relaxed))
    }
}

/// Everything the reader task needs besides the socket halves.
pub(crate) struct ReaderCtx {
    /// The consumer's channel.
    pub(crate) tx: handoff::Sender<Outgoing>,
    pub(crate) activity: Arc<Activity>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) max_bytes: usize,
}

/// Reassembles fragmented messages, with a cap on the total size.
///
/// A message over the cap ends the connection (the stream reconnects and the
/// server replays from the committed cursor): skipping it would mean reading
/// an unbounded number of continuation frames.
#[derive(Debug)]
pub(crate) struct Assembler {
    max_bytes: usize,
    partial: Option<Partial>,
}

#[derive(Debug)]
enum Partial {
    Text(BytesMut),
    /// A binary message being skipped until its last fragment; `seen` bytes so far.
    Skipping {
        seen: usize,
    },
}

impl Assembler {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            partial: None,
        }
    }

    /// Feeds one data frame; returns a complete message, a skip notice, or
    /// [`Inbound::Lost`] when the message outgrew the cap.
    pub(crate) fn push(&mut self, opcode: Opcode, fin: bool, payload: Bytes) -> Option<Inbound> {
        match opcode {
            Opcode::Text | Opcode::Binary if payload.len() > self.max_bytes => {
                Some(self.too_large())
            }
            Opcode::Text | Opcode::Binary if self.partial.is_some() => {
                self.partial = (!fin).then_some(Partial::Skipping {
                    seen: payload.len(),
                });
                Some(Inbound::Malformed(
                    "new message started before the previous one ended".into(),
                ))
            }
            Opcode::Text if fin => Some(Inbound::Text(payload)),
            Opcode::Text => {
                self.partial = Some(Partial::Text(BytesMut::from(&payload[..])));
                None
            }
            Opcode::Binary => {
                if !fin {
                    self.partial = Some(Partial::Skipping {
                        seen: payload.len(),
                    });
                }
                Some(Inbound::Malformed(
                    "binary message (events are text)".into(),
                ))
            }
            Opcode::Continuation => match self.partial.take() {
                None => Some(Inbound::Malformed("continuation without a message".into())),
                Some(Partial::Skipping { seen }) => {
                    let seen = seen.saturating_add(payload.len());
                    if seen > self.max_bytes {
                        return Some(self.too_large());
                    }
                    if !fin {
                        self.partial = Some(Partial::Skipping { seen });
                    }
                    None
                }
                Some(Partial::Text(mut buf)) => {
                    if buf.len().saturating_add(payload.len()) > self.max_bytes {
                        return Some(self.too_large());
                    }
                    buf.extend_from_slice(&payload);
                    if fin {
                        Some(Inbound::Text(buf.freeze()))
                    } else {
                        self.partial = Some(Partial::Text(buf));
                        None
                    }
                }
            },
            _ => None,
        }
    }

    /// No fragmented message is in progress.
    pub(crate) fn is_idle(&self) -> bool {
        self.partial.is_none()
    }

    fn too_large(&mut self) -> Inbound {
        self.partial = None;
        Inbound::Lost(too_large(self.max_bytes))
    }
}

/// Why a connection ends when a message outgrew the cap.
fn too_large(max_bytes: usize) -> String {
    format!("message larger than {max_bytes} bytes; reconnecting")
}

/// Parses and checks a close frame's payload into `(code, reason)`
/// (RFC 6455 §5.5.1, §7.4): empty, or a permitted code followed by UTF-8.
pub(crate) fn parse_close(payload: &[u8]) -> Result<(Option<u16>, String), String> {
    match payload {
        [] => Ok((None, String::new())),
        [_] => Err("a one-byte payload".into()),
        [a, b, rest @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !fastwebsockets::CloseCode::from(code).is_allowed() {
                return Err(format!("close code {code} is not allowed"));
            }
            let reason = std::str::from_utf8(rest)
                .map_err(|_| format!("close {code} with a reason that is not UTF-8"))?;
            Ok((Some(code), reason.to_owned()))
        }
    }
}

/// How long the reader tries to answer a close frame before giving up.
const CLOSE_REPLY_TIMEOUT: Duration = Duration::from_secs(1);

/// Decodes one whole text message into the item the consumer gets.
fn decode(bytes: &[u8], counters: &Counters) -> Outgoing {
    let Ok(json) = simdutf8::basic::from_utf8(bytes) else {
        return Err(malformed(
            "text message is not valid UTF-8".into(),
            counters,
        ));
    };
    match Event::from_json_str(json) {
        Ok(event) => Ok(RealtimeItem::Event(event)),
        Err(e) => Err(malformed(e.to_string(), counters)),
    }
}

/// Counts and logs a skipped message.
fn malformed(reason: String, counters: &Counters) -> Error {
    Counters::bump(&counters.malformed_frames);
    tracing::debug!(reason = %reason, "realtime malformed frame skipped");
    Error::MalformedFrame { reason }
}

/// 1.–5.: reads until the connection ends or the stream goes away.
pub(crate) async fn run(read: WsRead, write: Arc<Mutex<WsWrite>>, ctx: ReaderCtx) -> ReaderEnd {
    let ReaderCtx {
        tx,
        activity,
        counters,
        max_bytes,
    } = ctx;
    let mut batch = Batch {
        items: VecDeque::new(),
        max: (tx.capacity() / 2).clamp(1, handoff::BATCH),
        burst: 0,
        tx,
        activity,
    };
    let end = read_loop(read, write, &counters, max_bytes, &mut batch).await;
    // What was read before the end reaches the consumer before the driver's
    // notice of the end (it goes through the same channel).
    match batch.hand_over(true).await {
        Ok(()) => end,
        Err(ConsumerGone) => ReaderEnd::ConsumerGone,
    }
}

/// The consumer dropped the stream.
struct ConsumerGone;

/// Items read but not yet handed to the consumer.
struct Batch {
    items: VecDeque<Outgoing>,
    max: usize,
    /// Items read since the socket was last found empty.
    burst: usize,
    tx: handoff::Sender<Outgoing>,
    activity: Arc<Activity>,
}

impl Batch {
    /// Queues `item` (not async, and inlined: the item is written straight
    /// into the batch instead of being moved into a future first); returns
    /// whether the batch is full and must be handed over.
    #[inline]
    fn push(&mut self, item: Outgoing) -> bool {
        if self.items.capacity() == 0 {
            // One allocation for the whole batch, not one per doubling.
            self.items.reserve_exact(self.max);
        }
        self.items.push_back(item);
        self.burst += 1;
        self.items.len() >= self.max
    }

    /// Hands the batch to the consumer, waking it if `wake` (the end of a
    /// burst) or when its queue is half full; waits while it is full.
    async fn hand_over(&mut self, wake: bool) -> Result<(), ConsumerGone> {
        self.activity.stamp();
        self.activity.waiting.store(true, Ordering::Relaxed);
        let sent = self.tx.send_batch(&mut self.items, wake).await;
        self.activity.stamp();
        self.activity.waiting.store(false, Ordering::Relaxed);
        sent.map_err(|_| ConsumerGone)
    }
}

async fn read_loop(
    mut read: WsRead,
    write: Arc<Mutex<WsWrite>>,
    counters: &Counters,
    max_bytes: usize,
    batch: &mut Batch,
) -> ReaderEnd {
    let mut assembler = Assembler::new(max_bytes);
    loop {
        let frame = {
            let next = read.read_frame();
            tokio::pin!(next);
            match std::future::poll_fn(|cx| Poll::Ready(next.as_mut().poll(cx))).await {
                Poll::Ready(frame) => frame,
                Poll::Pending => {
                    // 3.: nothing more to read for now; the burst ends here.
                    if batch.hand_over(true).await.is_err() {
                        return ReaderEnd::ConsumerGone;
                    }
                    if std::mem::take(&mut batch.burst) < batch.max {
                        // A small burst (a live event, a pong): hold no
                        // buffers while idle. A replay keeps them.
                        batch.items = VecDeque::new();
                        batch.tx.release_spare();
                    }
                    next.await
                }
            }
        };
        // 1.–2.
        let item = match frame {
            Ok(frame) => match frame.opcode {
                Opcode::Close => {
                    let ended = match parse_close(frame.payload) {
                        Ok((code, reason)) => {
                            Box::pin(reply_close(&write, code.map_or(1000, |c| c), &reason)).await;
                            Ended::Closed { code, reason }
                        }
                        Err(problem) => {
                            Box::pin(reply_close(&write, 1002, "invalid close frame")).await;
                            Ended::Lost(format!("invalid close frame: {problem}"))
                        }
                    };
                    return ReaderEnd::Ended(ended);
                }
                Opcode::Ping => {
                    let pong = Frame::pong(Payload::Owned(frame.payload.to_vec()));
                    // Boxed: a write is rare and its future is large.
                    if let Err(e) =
                        Box::pin(async { write.lock().await.write_frame(pong).await }).await
                    {
                        return ReaderEnd::Ended(Ended::Lost(format!("pong failed: {e}")));
                    }
                    continue;
                }
                Opcode::Pong => continue,
                // The common case: decoded where it lies in the read buffer.
                Opcode::Text if frame.fin && assembler.is_idle() => decode(frame.payload, counters),
                opcode => {
                    match assembler.push(opcode, frame.fin, Bytes::copy_from_slice(frame.payload)) {
                        None => continue,
                        Some(Inbound::Text(bytes)) => decode(&bytes, counters),
                        Some(Inbound::Malformed(reason)) => Err(malformed(reason, counters)),
                        Some(Inbound::Lost(reason)) => {
                            return ReaderEnd::Ended(Ended::Lost(reason));
                        }
                    }
                }
            },
            Err(FrameError::Eof) => {
                return ReaderEnd::Ended(Ended::Lost(
                    "connection closed without a close frame".into(),
                ));
            }
            Err(FrameError::Io(e)) => return ReaderEnd::Ended(Ended::Lost(e.to_string())),
            Err(FrameError::Protocol(problem)) => {
                Box::pin(reply_close(&write, 1002, "protocol error")).await;
                return ReaderEnd::Ended(Ended::Lost(format!("protocol error: {problem}")));
            }
            Err(FrameError::TooLarge) => {
                return ReaderEnd::Ended(Ended::Lost(too_large(max_bytes)));
            }
        };
        // 3.
        if batch.push(item) && batch.hand_over(false).await.is_err() {
            return ReaderEnd::ConsumerGone;
        }
    }
}

/// Answers a close frame (best effort, bounded in time).
async fn reply_close(write: &Mutex<WsWrite>, code: u16, reason: &str) {
    let reply = async {
        let _ = write
            .lock()
            .await
            .write_frame(Frame::close(code, reason.as_bytes()))
            .await;
    };
    let _ = tokio::time::timeout(CLOSE_REPLY_TIMEOUT, reply).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn whole_text_message_passes() {
        let mut a = Assembler::new(16);
        assert!(
            matches!(a.push(Opcode::Text, true, text("{}")), Some(Inbound::Text(b)) if b == "{}")
        );
    }

    #[test]
    fn fragments_are_joined() {
        let mut a = Assembler::new(16);
        assert!(a.push(Opcode::Text, false, text("ab")).is_none());
        assert!(a.push(Opcode::Continuation, false, text("cd")).is_none());
        assert!(
            matches!(a.push(Opcode::Continuation, true, text("ef")), Some(Inbound::Text(b)) if b == "abcdef")
        );
    }

    #[test]
    fn oversized_messages_end_the_connection() {
        let mut a = Assembler::new(4);
        assert!(matches!(
            a.push(Opcode::Text, true, text("12345")),
            Some(Inbound::Lost(_))
        ));
        assert!(a.push(Opcode::Text, false, text("123")).is_none());
        assert!(matches!(
            a.push(Opcode::Continuation, false, text("45")),
            Some(Inbound::Lost(_))
        ));
        // Endless fragments of a skipped binary message are capped too.
        assert!(matches!(
            a.push(Opcode::Binary, false, text("12")),
            Some(Inbound::Malformed(_))
        ));
        assert!(a.push(Opcode::Continuation, false, text("12")).is_none());
        assert!(matches!(
            a.push(Opcode::Continuation, false, text("1")),
            Some(Inbound::Lost(_))
        ));
        assert!(matches!(
            a.push(Opcode::Text, true, text("ok")),
            Some(Inbound::Text(_))
        ));
    }

    #[test]
    fn binary_and_stray_continuations_are_malformed() {
        let mut a = Assembler::new(16);
        assert!(matches!(
            a.push(Opcode::Binary, true, text("x")),
            Some(Inbound::Malformed(_))
        ));
        assert!(matches!(
            a.push(Opcode::Continuation, true, text("x")),
            Some(Inbound::Malformed(_))
        ));
        assert!(matches!(
            a.push(Opcode::Binary, false, text("x")),
            Some(Inbound::Malformed(_))
        ));
        assert!(a.push(Opcode::Continuation, true, text("y")).is_none());
    }

    #[test]
    fn close_payloads() {
        assert_eq!(parse_close(&[]), Ok((None, String::new())));
        let mut p = 4001u16.to_be_bytes().to_vec();
        p.extend_from_slice(b"resync");
        assert_eq!(parse_close(&p), Ok((Some(4001), "resync".to_owned())));
        assert!(parse_close(&[3]).is_err());
        assert!(parse_close(&1005u16.to_be_bytes()).is_err());
        assert!(parse_close(&999u16.to_be_bytes()).is_err());
        let mut bad = 1000u16.to_be_bytes().to_vec();
        bad.extend_from_slice(&[0xff, 0xfe]);
        assert!(parse_close(&bad).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn assembler_never_holds_more_than_the_cap(frames in proptest::collection::vec((0u8..4, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..12)), 0..40)) {
            let mut a = Assembler::new(10);
            for (op, fin, data) in frames {
                let opcode = match op { 0 => Opcode::Text, 1 => Opcode::Binary, 2 => Opcode::Continuation, _ => Opcode::Ping };
                let out = a.push(opcode, fin, Bytes::from(data));
                if let Some(Inbound::Text(b)) = &out {
                    prop_assert!(b.len() <= 10);
                }
                match &a.partial {
                    Some(Partial::Text(buf)) => prop_assert!(buf.len() <= 10),
                    Some(Partial::Skipping { seen }) => prop_assert!(*seen <= 10),
                    None => {}
                }
                if matches!(out, Some(Inbound::Lost(_))) {
                    // The connection ends here.
                    break;
                }
            }
        }

        #[test]
        fn parse_close_never_panics(p in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_close(&p);
        }
    }
}
