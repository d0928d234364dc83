//! The one task that reads the socket.
//!
//! `fastwebsockets`' `read_frame` is not cancel-safe (a partially read frame is
//! lost if the future is dropped), so it is never raced in a `select!`: this
//! task owns the read half, reads frames one after the other, and hands whole
//! messages to the stream over a bounded channel. When the channel is full the
//! task waits, stops reading, and TCP flow control pushes back on the server.

use std::sync::Arc;

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
#[derive(Debug)]
pub(crate) struct Assembler {
    max_bytes: usize,
    partial: Option<Partial>,
}

#[derive(Debug)]
enum Partial {
    Text(BytesMut),
    /// A message being skipped (binary, or over the cap) until its last fragment.
    Skipping,
}

impl Assembler {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            partial: None,
        }
    }

    /// Feeds one data frame; returns a complete message or a skip notice.
    pub(crate) fn push(&mut self, opcode: OpCode, fin: bool, payload: Bytes) -> Option<Inbound> {
        match opcode {
            OpCode::Text | OpCode::Binary if self.partial.is_some() => {
                self.partial = if fin { None } else { Some(Partial::Skipping) };
                Some(Inbound::Malformed(
                    "new message started before the previous one ended".into(),
                ))
            }
            OpCode::Text if fin => Some(self.check_size(payload)),
            OpCode::Text => {
                if payload.len() > self.max_bytes {
                    self.partial = Some(Partial::Skipping);
                    return Some(too_large(self.max_bytes));
                }
                self.partial = Some(Partial::Text(BytesMut::from(&payload[..])));
                None
            }
            OpCode::Binary => {
                if !fin {
                    self.partial = Some(Partial::Skipping);
                }
                Some(Inbound::Malformed(
                    "binary message (events are text)".into(),
                ))
            }
            OpCode::Continuation => match self.partial.take() {
                None => Some(Inbound::Malformed("continuation without a message".into())),
                Some(Partial::Skipping) => {
                    if !fin {
                        self.partial = Some(Partial::Skipping);
                    }
                    None
                }
                Some(Partial::Text(mut buf)) => {
                    if buf.len() + payload.len() > self.max_bytes {
                        if !fin {
                            self.partial = Some(Partial::Skipping);
                        }
                        return Some(too_large(self.max_bytes));
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

    fn check_size(&self, payload: Bytes) -> Inbound {
        if payload.len() > self.max_bytes {
            too_large(self.max_bytes)
        } else {
            Inbound::Text(payload)
        }
    }
}

fn too_large(max: usize) -> Inbound {
    Inbound::Malformed(format!("message larger than {max} bytes"))
}

fn into_bytes(payload: Payload<'_>) -> Bytes {
    match payload {
        Payload::Bytes(b) => b.freeze(),
        Payload::Owned(v) => Bytes::from(v),
        other => Bytes::copy_from_slice(&other),
    }
}

/// Parses a close frame's payload into `(code, reason)`.
pub(crate) fn parse_close(payload: &[u8]) -> (Option<u16>, String) {
    match payload {
        [a, b, rest @ ..] => (
            Some(u16::from_be_bytes([*a, *b])),
            String::from_utf8_lossy(rest).into_owned(),
        ),
        _ => (None, String::new()),
    }
}

/// Reads until the connection ends or the stream goes away.
pub(crate) async fn run(
    mut read: WsRead,
    write: Arc<Mutex<WsWrite>>,
    tx: mpsc::Sender<Inbound>,
    max_bytes: usize,
) {
    let mut assembler = Assembler::new(max_bytes);
    // Frames the protocol obliges us to send (the close reply) go out on the write half.
    let mut obligated = |frame: Frame<'static>| {
        let write = Arc::clone(&write);
        async move { write.lock().await.write_frame(frame).await }
    };
    loop {
        let msg = match read.read_frame(&mut obligated).await {
            Ok(frame) => match frame.opcode {
                OpCode::Close => {
                    let (code, reason) = parse_close(&frame.payload);
                    let _ = tx.send(Inbound::Close { code, reason }).await;
                    return;
                }
                OpCode::Ping | OpCode::Pong => Some(Inbound::Activity),
                opcode => assembler.push(opcode, frame.fin, into_bytes(frame.payload)),
            },
            // The bad frame's payload was consumed; the next frame is intact.
            Err(WebSocketError::InvalidUTF8) => {
                Some(Inbound::Malformed("text message is not valid UTF-8".into()))
            }
            Err(WebSocketError::UnexpectedEOF) => {
                let _ = tx
                    .send(Inbound::Lost(
                        "connection closed without a close frame".into(),
                    ))
                    .await;
                return;
            }
            Err(e) => {
                let _ = tx.send(Inbound::Lost(e.to_string())).await;
                return;
            }
        };
        if let Some(msg) = msg
            && tx.send(msg).await.is_err()
        {
            return;
        }
    }
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
    fn oversized_messages_are_skipped_to_their_end() {
        let mut a = Assembler::new(4);
        assert!(matches!(
            a.push(OpCode::Text, true, text("12345")),
            Some(Inbound::Malformed(_))
        ));
        assert!(a.push(OpCode::Text, false, text("123")).is_none());
        assert!(matches!(
            a.push(OpCode::Continuation, false, text("45")),
            Some(Inbound::Malformed(_))
        ));
        assert!(a.push(OpCode::Continuation, true, text("6")).is_none());
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
        assert_eq!(parse_close(&[]), (None, String::new()));
        let mut p = 4001u16.to_be_bytes().to_vec();
        p.extend_from_slice(b"resync");
        assert_eq!(parse_close(&p), (Some(4001), "resync".to_owned()));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn assembler_never_exceeds_cap(frames in proptest::collection::vec((0u8..4, any::<bool>(), proptest::collection::vec(any::<u8>(), 0..12)), 0..20)) {
            let mut a = Assembler::new(10);
            for (op, fin, data) in frames {
                let opcode = match op { 0 => OpCode::Text, 1 => OpCode::Binary, 2 => OpCode::Continuation, _ => OpCode::Ping };
                if let Some(Inbound::Text(b)) = a.push(opcode, fin, Bytes::from(data)) {
                    prop_assert!(b.len() <= 10);
                }
            }
        }

        #[test]
        fn parse_close_never_panics(p in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_close(&p);
        }
    }
}
