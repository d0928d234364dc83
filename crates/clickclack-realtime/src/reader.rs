//! The one task that reads the socket.
//!
//! `fastwebsockets`' `read_frame` is not cancel-safe (a partially read frame is
//! lost if the future is dropped), so it is never raced in a `select!`: this
//! task owns the read half, reads frames one after the other, and hands whole
//! messages to the stream over a bounded channel. When the channel is full the
//! task waits, stops reading, and TCP flow control pushes back on the server.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use fastwebsockets::{Frame, OpCode, Payload, WebSocketError};
use tokio::sync::{Mutex, mpsc};

use crate::connect::{WsRead, WsWrite};

/// What the reader hands to the stream.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// One complete text message (normally one JSON event).
    Text(Bytes),
    /// A message that cannot be an event; it was skipped.
    Malformed(String),
    /// A control frame (pong) arrived: the connection is alive.
    Activity,
    /// The server closed the connection with a close frame.
    Close { code: Option<u16>, reason: String },
    /// The connection ended without a close frame, or broke the protocol.
    Lost(String),
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
    pub(crate) fn push(&mut self, opcode: OpCode, fin: bool, payload: Bytes) -> Option<Inbound> {
        match opcode {
            OpCode::Text | OpCode::Binary if payload.len() > self.max_bytes => {
                Some(self.too_large())
            }
            OpCode::Text | OpCode::Binary if self.partial.is_some() => {
                self.partial = (!fin).then_some(Partial::Skipping {
                    seen: payload.len(),
                });
                Some(Inbound::Malformed(
                    "new message started before the previous one ended".into(),
                ))
            }
            OpCode::Text if fin => Some(Inbound::Text(payload)),
            OpCode::Text => {
                self.partial = Some(Partial::Text(BytesMut::from(&payload[..])));
                None
            }
            OpCode::Binary => {
                if !fin {
                    self.partial = Some(Partial::Skipping {
                        seen: payload.len(),
                    });
                }
                Some(Inbound::Malformed(
                    "binary message (events are text)".into(),
                ))
            }
            OpCode::Continuation => match self.partial.take() {
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

    fn too_large(&mut self) -> Inbound {
        self.partial = None;
        Inbound::Lost(format!(
            "message larger than {} bytes; reconnecting",
            self.max_bytes
        ))
    }
}

fn into_bytes(payload: Payload<'_>) -> Bytes {
    match payload {
        Payload::Bytes(b) => b.freeze(),
        Payload::Owned(v) => Bytes::from(v),
        other => Bytes::copy_from_slice(&other),
    }
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

/// Reads until the connection ends or the stream goes away.
pub(crate) async fn run(
    mut read: WsRead,
    write: Arc<Mutex<WsWrite>>,
    tx: mpsc::Sender<Inbound>,
    max_bytes: usize,
) {
    let mut assembler = Assembler::new(max_bytes);
    // Frames the protocol obliges us to send (pongs) go out on the write half.
    let mut obligated = |frame: Frame<'static>| {
        let write = Arc::clone(&write);
        async move { write.lock().await.write_frame(frame).await }
    };
    loop {
        let msg = match read.read_frame(&mut obligated).await {
            Ok(frame) => match frame.opcode {
                OpCode::Close => {
                    let last = match parse_close(&frame.payload) {
                        Ok((code, reason)) => {
                            reply_close(&write, code.map_or(1000, |c| c), &reason).await;
                            Inbound::Close { code, reason }
                        }
                        Err(problem) => {
                            reply_close(&write, 1002, "invalid close frame").await;
                            Inbound::Lost(format!("invalid close frame: {problem}"))
                        }
                    };
                    let _ = tx.send(last).await;
                    return;
                }
                OpCode::Ping | OpCode::Pong => Some(Inbound::Activity),
                opcode => assembler.push(opcode, frame.fin, into_bytes(frame.payload)),
            },
            // The bad frame's payload was consumed; the next frame is intact.
            Err(WebSocketError::InvalidUTF8) => {
                Some(Inbound::Malformed("text message is not valid UTF-8".into()))
            }
            Err(WebSocketError::UnexpectedEOF) => Some(Inbound::Lost(
                "connection closed without a close frame".into(),
            )),
            Err(e) => Some(Inbound::Lost(e.to_string())),
        };
        let Some(msg) = msg else { continue };
        let ends = matches!(msg, Inbound::Lost(_));
        if tx.send(msg).await.is_err() || ends {
            return;
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
            matches!(a.push(OpCode::Text, true, text("{}")), Some(Inbound::Text(b)) if b == "{}")
        );
    }

    #[test]
    fn fragments_are_joined() {
        let mut a = Assembler::new(16);
        assert!(a.push(OpCode::Text, false, text("ab")).is_none());
        assert!(a.push(OpCode::Continuation, false, text("cd")).is_none());
        assert!(
            matches!(a.push(OpCode::Continuation, true, text("ef")), Some(Inbound::Text(b)) if b == "abcdef")
        );
    }

    #[test]
    fn oversized_messages_end_the_connection() {
        let mut a = Assembler::new(4);
        assert!(matches!(
            a.push(OpCode::Text, true, text("12345")),
            Some(Inbound::Lost(_))
        ));
        assert!(a.push(OpCode::Text, false, text("123")).is_none());
        assert!(matches!(
            a.push(OpCode::Continuation, false, text("45")),
            Some(Inbound::Lost(_))
        ));
        // Endless fragments of a skipped binary message are capped too.
        assert!(matches!(
            a.push(OpCode::Binary, false, text("12")),
            Some(Inbound::Malformed(_))
        ));
        assert!(a.push(OpCode::Continuation, false, text("12")).is_none());
        assert!(matches!(
            a.push(OpCode::Continuation, false, text("1")),
            Some(Inbound::Lost(_))
        ));
        assert!(matches!(
            a.push(OpCode::Text, true, text("ok")),
            Some(Inbound::Text(_))
        ));
    }

    #[test]
    fn binary_and_stray_continuations_are_malformed() {
        let mut a = Assembler::new(16);
        assert!(matches!(
            a.push(OpCode::Binary, true, text("x")),
            Some(Inbound::Malformed(_))
        ));
        assert!(matches!(
            a.push(OpCode::Continuation, true, text("x")),
            Some(Inbound::Malformed(_))
        ));
        assert!(matches!(
            a.push(OpCode::Binary, false, text("x")),
            Some(Inbound::Malformed(_))
        ));
        assert!(a.push(OpCode::Continuation, true, text("y")).is_none());
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
                let opcode = match op { 0 => OpCode::Text, 1 => OpCode::Binary, 2 => OpCode::Continuation, _ => OpCode::Ping };
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
