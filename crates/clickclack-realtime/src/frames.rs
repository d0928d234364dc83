//! Reading WebSocket frames sent by the server (RFC 6455 §5.2).
//!
//! The stream reads its own frames (writes still go through
//! `fastwebsockets`): an idle connection then holds no read buffer at all, a
//! frame's payload is decoded where it lies, and reading is cancel-safe.
//!
//! # How a frame is read
//!
//! 1. [`FrameReader::read_frame`] parses a header from the bytes already
//!    buffered; when the header or the payload is incomplete it reads more.
//! 2. While bytes keep coming (a replay), reads go straight into the heap
//!    buffer. When the socket is found empty after a small burst (a live
//!    event, a pong) and every byte was consumed, the buffer is released, so
//!    an idle connection holds no read buffer; the next read goes into a
//!    stack buffer and allocates only what arrived.
//! 3. Bytes are consumed only when a whole frame is returned: dropping the
//!    future between reads loses nothing.
//! 4. What the server may not send — a masked frame, reserved bits or
//!    opcodes, a fragmented or long control frame — is a [`FrameError::Protocol`];
//!    a payload over the cap is [`FrameError::TooLarge`] as soon as its header
//!    announces it, before any of it is read.

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::io::poll_read_buf;

/// The bytes read from the socket at once while a burst lasts; a burst
/// smaller than this does not keep its buffer once the socket is empty.
const READ_CHUNK: usize = 16 * 1024;

/// The least room offered to one read.
const MIN_READ: usize = 4 * 1024;

/// The longest frame header: 2 bytes, an 8-byte length, a 4-byte mask.
const MAX_HEADER: usize = 14;

/// A frame's opcode (RFC 6455 §5.2, §11.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Opcode {
    fn from_bits(bits: u8) -> Option<Opcode> {
        Some(match bits {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// One frame; its payload borrows the reader's buffer until the next read.
#[derive(Debug)]
pub(crate) struct Frame<'a> {
    pub(crate) fin: bool,
    pub(crate) opcode: Opcode,
    pub(crate) payload: &'a [u8],
}

/// Why no frame could be read.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// The socket failed.
    Io(io::Error),
    /// The connection ended between frames or inside one.
    Eof,
    /// The server broke the framing rules (the connection must be failed with 1002).
    Protocol(String),
    /// A frame's header announced more payload than the cap.
    TooLarge,
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    fin: bool,
    opcode: Opcode,
    header_len: usize,
    payload_len: usize,
}

/// Parses the header at the start of `bytes`: `Ok(None)` when more bytes
/// are needed, `Err` when the header is not allowed from a server.
fn parse_head(bytes: &[u8], max_payload: usize) -> Result<Option<Head>, FrameError> {
    let [b0, b1, rest @ ..] = bytes else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(FrameError::Protocol(
            "reserved bits set (no extension was negotiated)".into(),
        ));
    }
    let Some(opcode) = Opcode::from_bits(b0 & 0x0F) else {
        return Err(FrameError::Protocol(format!(
            "reserved opcode {:#x}",
            b0 & 0x0F
        )));
    };
    let fin = b0 & 0x80 != 0;
    if b1 & 0x80 != 0 {
        return Err(FrameError::Protocol("masked frame from the server".into()));
    }
    let (payload_len, header_len) = match b1 & 0x7F {
        126 => match rest {
            [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 4),
            _ => return Ok(None),
        },
        127 => match rest.first_chunk::<8>() {
            Some(len) if len[0] & 0x80 != 0 => {
                return Err(FrameError::Protocol(
                    "64-bit payload length with the top bit set".into(),
                ));
            }
            Some(len) => (u64::from_be_bytes(*len), 10),
            None => return Ok(None),
        },
        short => (u64::from(short), 2),
    };
    if opcode.is_control() && !fin {
        return Err(FrameError::Protocol("fragmented control frame".into()));
    }
    if opcode.is_control() && payload_len > 125 {
        return Err(FrameError::Protocol(
            "control frame longer than 125 bytes".into(),
        ));
    }
    let payload_len = match usize::try_from(payload_len) {
        Ok(len) if len <= max_payload => len,
        _ => return Err(FrameError::TooLarge),
    };
    Ok(Some(Head {
        fin,
        opcode,
        header_len,
        payload_len,
    }))
}

/// Reads server frames from `io` with a payload cap.
#[derive(Debug)]
pub(crate) struct FrameReader<R> {
    io: R,
    /// Bytes read and not yet consumed; no allocation while idle.
    buf: BytesMut,
    /// The length of the frame last returned: dropped at the next read.
    consumed: usize,
    /// Bytes read since the socket was last found empty.
    burst: usize,
    /// A burst of at least [`READ_CHUNK`] bytes came since the last small
    /// one: reads go straight into the kept buffer.
    large: bool,
    max_payload: usize,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub(crate) fn new(io: R, max_payload: usize) -> Self {
        Self {
            io,
            buf: BytesMut::new(),
            consumed: 0,
            burst: 0,
            large: false,
            max_payload,
        }
    }

    /// 1.–4.: the next frame. Cancel-safe.
    pub(crate) async fn read_frame(&mut self) -> Result<Frame<'_>, FrameError> {
        self.buf.advance(std::mem::take(&mut self.consumed));
        let head = loop {
            let buffered = self.buf.len();
            match parse_head(&self.buf, self.max_payload)? {
                Some(head) if buffered >= head.header_len + head.payload_len => break head,
                Some(head) => self.fill(head.header_len + head.payload_len).await?,
                None => self.fill(MAX_HEADER.min(buffered + 1)).await?,
            }
        };
        self.consumed = head.header_len + head.payload_len;
        Ok(Frame {
            fin: head.fin,
            opcode: head.opcode,
            payload: &self.buf[head.header_len..self.consumed],
        })
    }

    /// Reads until at least `need` unconsumed bytes are buffered.
    async fn fill(&mut self, need: usize) -> Result<(), FrameError> {
        poll_fn(|cx| self.poll_fill(cx, need)).await
    }

    /// 2.: one read at a time; an unallocated buffer is allocated for what
    /// arrived, a small burst's buffer is released when the socket is empty.
    fn poll_fill(&mut self, cx: &mut Context<'_>, need: usize) -> Poll<Result<(), FrameError>> {
        while self.buf.len() < need {
            let before = self.buf.len();
            if before == 0 && !self.large && self.buf.capacity() > 0 {
                // Between small frames: read into the stack, not a grown buffer.
                self.buf = BytesMut::new();
            }
            let polled = if self.buf.capacity() == 0 {
                let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
                let mut read = ReadBuf::uninit(&mut chunk);
                let polled = Pin::new(&mut self.io).poll_read(cx, &mut read);
                if let Poll::Ready(Ok(())) = polled {
                    let filled = read.filled();
                    self.buf = BytesMut::with_capacity(filled.len().max(need));
                    self.buf.extend_from_slice(filled);
                }
                polled
            } else {
                let want = (need - before).max(MIN_READ);
                if self.buf.capacity() - before < want {
                    self.buf.reserve(want.max(READ_CHUNK));
                }
                poll_read_buf(Pin::new(&mut self.io), cx, &mut self.buf).map_ok(drop)
            };
            match polled {
                Poll::Pending => {
                    if self.buf.is_empty() && self.burst < READ_CHUNK {
                        self.buf = BytesMut::new();
                        self.large = false;
                    }
                    self.burst = 0;
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(FrameError::Io(e))),
                Poll::Ready(Ok(())) if self.buf.len() == before => {
                    return Poll::Ready(Err(FrameError::Eof));
                }
                Poll::Ready(Ok(())) => {
                    self.burst = self.burst.saturating_add(self.buf.len() - before);
                    self.large |= self.burst >= READ_CHUNK;
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::task::Waker;

    use proptest::prelude::*;

    /// Delivers `chunks` in order, answering `Pending` before each one (a
    /// chunk larger than a read is one burst).
    struct Chunks {
        chunks: VecDeque<Vec<u8>>,
        pending_next: bool,
    }

    impl Chunks {
        fn new(chunks: Vec<Vec<u8>>) -> Self {
            Self {
                chunks: chunks.into(),
                pending_next: true,
            }
        }
    }

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if std::mem::replace(&mut self.pending_next, false) {
                return Poll::Pending;
            }
            let Some(mut chunk) = self.chunks.pop_front() else {
                return Poll::Ready(Ok(()));
            };
            let n = chunk.len().min(buf.remaining());
            buf.put_slice(&chunk[..n]);
            if n < chunk.len() {
                self.chunks.push_front(chunk.split_off(n));
            } else {
                self.pending_next = true;
            }
            Poll::Ready(Ok(()))
        }
    }

    fn encode(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![(u8::from(fin) << 7) | opcode];
        match payload.len() {
            n @ 0..=125 => out.push(n as u8),
            n @ 126..=0xFFFF => {
                out.push(126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
        out
    }

    type Owned = (bool, Opcode, Vec<u8>);

    /// Reads every frame, dropping the read future after each `Pending`
    /// (the caller's `select!` losing a race); stops at the first error.
    fn read_all(reader: &mut FrameReader<Chunks>) -> (Vec<Owned>, FrameError) {
        let mut cx = Context::from_waker(Waker::noop());
        let mut frames = Vec::new();
        loop {
            let mut next = Box::pin(reader.read_frame());
            match next.as_mut().poll(&mut cx) {
                Poll::Pending => continue,
                Poll::Ready(Ok(f)) => frames.push((f.fin, f.opcode, f.payload.to_vec())),
                Poll::Ready(Err(e)) => return (frames, e),
            }
        }
    }

    fn opcode_bits(opcode: Opcode) -> u8 {
        match opcode {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    fn frame() -> impl Strategy<Value = Owned> {
        prop_oneof![
            (
                any::<bool>(),
                prop_oneof![
                    Just(Opcode::Continuation),
                    Just(Opcode::Text),
                    Just(Opcode::Binary)
                ],
                prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..300),
                    // The 64-bit length form (cheap to generate).
                    (any::<u8>(), 65_530usize..65_560).prop_map(|(b, n)| vec![b; n]),
                ],
            ),
            (
                Just(true),
                prop_oneof![Just(Opcode::Close), Just(Opcode::Ping), Just(Opcode::Pong)],
                proptest::collection::vec(any::<u8>(), 0..=125),
            ),
        ]
    }

    /// Splits `bytes` at the given cut points.
    fn split(bytes: Vec<u8>, cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        at.sort_unstable();
        at.dedup();
        let mut chunks = Vec::new();
        let mut from = 0;
        for cut in at.into_iter().chain([bytes.len()]) {
            if cut > from {
                chunks.push(bytes[from..cut].to_vec());
                from = cut;
            }
        }
        chunks
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn frames_split_anywhere_read_back_whole_and_nothing_is_lost_on_cancel(
            frames in proptest::collection::vec(frame(), 0..12),
            cuts in proptest::collection::vec(any::<usize>(), 0..40),
        ) {
            let wire: Vec<u8> = frames.iter().flat_map(|(fin, op, p)| encode(*fin, opcode_bits(*op), p)).collect();
            let mut reader = FrameReader::new(Chunks::new(split(wire, &cuts)), 1 << 20);
            let (read, end) = read_all(&mut reader);
            prop_assert_eq!(read, frames);
            prop_assert!(matches!(end, FrameError::Eof));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
            let mut reader = FrameReader::new(Chunks::new(split(bytes, &cuts)), 200);
            let _ = read_all(&mut reader);
        }
    }

    fn first_error(wire: Vec<u8>, max_payload: usize) -> FrameError {
        let mut reader = FrameReader::new(Chunks::new(vec![wire]), max_payload);
        read_all(&mut reader).1
    }

    #[test]
    fn what_a_server_may_not_send_is_a_protocol_error() {
        let cases: [(&str, Vec<u8>); 6] = [
            ("masked", vec![0x81, 0x80, 1, 2, 3, 4]),
            ("reserved bits", vec![0xC1, 0x00]),
            ("reserved opcode", vec![0x83, 0x00]),
            ("fragmented control", vec![0x09, 0x00]),
            ("long control", encode(true, 0x9, &[0; 126])),
            ("top length bit", {
                let mut w = vec![0x81, 127];
                w.extend_from_slice(&u64::MAX.to_be_bytes());
                w
            }),
        ];
        for (name, wire) in cases {
            assert!(
                matches!(first_error(wire, 1 << 20), FrameError::Protocol(_)),
                "{name}"
            );
        }
    }

    #[test]
    fn an_announced_oversized_payload_fails_before_it_is_read() {
        // Only the header arrives: the reader must not wait for the payload.
        let mut wire = vec![0x81, 127];
        wire.extend_from_slice(&(17u64 << 20).to_be_bytes());
        assert!(matches!(first_error(wire, 16 << 20), FrameError::TooLarge));
        assert!(matches!(
            first_error(encode(true, 0x1, &[b'x'; 11]), 10),
            FrameError::TooLarge
        ));
    }

    #[test]
    fn an_idle_reader_holds_no_buffer() {
        let wire = [encode(true, 0x1, b"{}"), encode(true, 0x1, b"[]")].concat();
        let mut reader = FrameReader::new(Chunks::new(vec![wire, b"\x81".to_vec()]), 1 << 10);
        let mut cx = Context::from_waker(Waker::noop());
        let mut got = 0;
        while got < 2 {
            if let Poll::Ready(frame) = Box::pin(reader.read_frame()).as_mut().poll(&mut cx) {
                assert!(frame.is_ok());
                got += 1;
            }
            assert!(
                reader.buf.capacity() < READ_CHUNK,
                "small frames never grow a read-sized buffer"
            );
        }
        // The next read finds the socket empty: the buffer is released.
        assert!(
            Box::pin(reader.read_frame())
                .as_mut()
                .poll(&mut cx)
                .is_pending()
        );
        assert_eq!(reader.buf.capacity(), 0);
        // Half a header keeps its bytes (and so its buffer) while waiting.
        let mut polls = 0;
        while Box::pin(reader.read_frame())
            .as_mut()
            .poll(&mut cx)
            .is_pending()
            && polls < 4
        {
            polls += 1;
        }
        assert_eq!(&reader.buf[..], b"\x81");
    }

    #[test]
    fn a_large_burst_keeps_its_buffer_until_a_small_one() {
        let frame = encode(true, 0x1, &[b'x'; 1000]);
        let large = frame.repeat(20);
        let mut reader = FrameReader::new(Chunks::new(vec![large, frame]), 1 << 20);
        let mut cx = Context::from_waker(Waker::noop());
        let mut read = |reader: &mut FrameReader<Chunks>, frames: usize| {
            let mut got = 0;
            while got < frames {
                if let Poll::Ready(frame) = Box::pin(reader.read_frame()).as_mut().poll(&mut cx) {
                    assert_eq!(frame.expect("a frame").payload.len(), 1000);
                    got += 1;
                }
            }
            Box::pin(reader.read_frame())
                .as_mut()
                .poll(&mut cx)
                .is_pending()
        };
        assert!(read(&mut reader, 20));
        assert!(reader.buf.capacity() > 0, "a replay keeps its buffer");
        assert!(read(&mut reader, 1));
        assert_eq!(reader.buf.capacity(), 0, "a trickle does not");
    }
}
