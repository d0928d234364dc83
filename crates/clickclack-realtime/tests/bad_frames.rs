//! Bad input into the realtime reader, from a tiny hand-written WebSocket
//! server: property-generated mixes of garbage text/binary frames, events
//! with bad payloads, fragmented events and pings (the stream continues and
//! every event keeps its cursor, in order), plus an oversized frame (the
//! connection is replaced and the stream resumes from its cursor).
//!
//! Case count: `PROPTEST_CASES` (default 24); `cargo xtask fuzz` raises it.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clickclack_proto::{Cursor, WorkspaceId};
use clickclack_realtime::{Error, RealtimeItem};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use support::raw_ws::{Accept, event_json, frame, handshake, header};
use support::*;

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        "\\PC{0,12}".prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// One thing the server sends.
#[derive(Debug, Clone)]
enum Step {
    /// A text (or binary) frame of arbitrary bytes.
    Garbage { binary: bool, bytes: Vec<u8> },
    /// The next durable event; `payload` replaces the good payload (a bad
    /// payload must not lose the cursor); sent in `fragments` frames.
    Event {
        payload: Option<serde_json::Value>,
        fragments: usize,
    },
    /// A server ping (the client answers and carries on).
    Ping(Vec<u8>),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (any::<bool>(), prop::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(binary, bytes)| Step::Garbage { binary, bytes }),
        1 => "\\PC{0,200}".prop_map(|s| Step::Garbage { binary: false, bytes: s.into_bytes() }),
        4 => (proptest::option::weighted(0.5, json_value()), 1usize..5)
            .prop_map(|(payload, fragments)| Step::Event { payload, fragments }),
        1 => prop::collection::vec(any::<u8>(), 0..125).prop_map(Step::Ping),
    ]
}

/// Encodes the steps; returns the bytes and the cursors of the events in order.
fn encode(steps: &[Step]) -> (Vec<u8>, Vec<String>) {
    let mut out = Vec::new();
    let mut cursors = Vec::new();
    let mut n = 0;
    for s in steps {
        match s {
            Step::Garbage { binary, bytes } => {
                // A garbage text frame that happens to be a valid event would
                // be delivered; keep the expectation exact by skipping those.
                if !*binary && clickclack_proto::Event::from_slice(bytes).is_ok() {
                    continue;
                }
                out.extend(frame(true, if *binary { 0x2 } else { 0x1 }, bytes));
            }
            Step::Ping(payload) => out.extend(frame(true, 0x9, payload)),
            Step::Event { payload, fragments } => {
                n += 1;
                let json = event_json(n, payload.as_ref());
                cursors.push(format!("cur_{n:010}"));
                let bytes = json.as_bytes();
                let size = bytes.len().div_ceil(*fragments).max(1);
                let parts: Vec<&[u8]> = bytes.chunks(size).collect();
                for (i, part) in parts.iter().enumerate() {
                    let fin = i + 1 == parts.len();
                    let opcode = if i == 0 { 0x1 } else { 0x0 };
                    out.extend(frame(fin, opcode, part));
                }
            }
        }
    }
    (out, cursors)
}

/// Serves `bytes` on the first connection, then holds it open.
async fn serve_once(bytes: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        handshake(&mut sock, Accept::Correct).await;
        let _ = sock.write_all(&bytes).await;
        let mut buf = [0u8; 256];
        while sock.read(&mut buf).await.unwrap_or(0) > 0 {}
    });
    url
}

async fn run_case(steps: Vec<Step>) -> Result<(u64, usize), String> {
    let (bytes, cursors) = encode(&steps);
    let url = serve_once(bytes).await;
    let mut stream = builder(client(&url, "ccb_test"), WorkspaceId::new("wsp_raw"))
        .start_after(Cursor::new(format!("cur_{:010}", 0)))
        .start()
        .await
        .map_err(|e| format!("start: {e}"))?;
    let mut got = Vec::new();
    let mut malformed = 0u64;
    while got.len() < cursors.len() {
        let item = tokio::time::timeout(Duration::from_secs(10), stream.next_event())
            .await
            .map_err(|_| format!("stalled after {got:?} (expected {cursors:?})"))?;
        match item {
            Some(Ok(RealtimeItem::Event(e))) => got.push(e.cursor().as_str().to_owned()),
            Some(Ok(RealtimeItem::Connected { .. })) => {}
            Some(Ok(other)) => return Err(format!("unexpected item {other:?}")),
            Some(Err(Error::MalformedFrame { .. })) => malformed += 1,
            Some(Err(e)) => return Err(format!("unexpected error {e}")),
            None => return Err("stream ended".to_owned()),
        }
    }
    if got != cursors {
        return Err(format!("cursors {got:?} != {cursors:?}"));
    }
    let stats = stream.stats();
    if stats.reconnects != 0 {
        return Err(format!("reconnected {} times", stats.reconnects));
    }
    Ok((malformed, cursors.len()))
}

#[test]
fn garbage_bad_payloads_fragments_and_pings_never_stop_the_stream() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let n = cases(24);
    let mut runner = TestRunner::new(Config::with_cases(n));
    let tried = Arc::new(AtomicU64::new(0));
    let frames = Arc::new(AtomicU64::new(0));
    let result = runner.run(&prop::collection::vec(step(), 1..40), |steps| {
        tried.fetch_add(1, Ordering::Relaxed);
        frames.fetch_add(steps.len() as u64, Ordering::Relaxed);
        let out = rt.block_on(run_case(steps));
        prop_assert!(out.is_ok(), "{}", out.err().unwrap_or_default());
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    println!(
        "realtime reader: {} cases, {} frames tried",
        tried.load(Ordering::Relaxed),
        frames.load(Ordering::Relaxed)
    );
}

#[tokio::test]
async fn an_oversized_frame_replaces_the_connection_and_resumes_from_the_cursor() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (heads_tx, mut heads) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut conn = 0u64;
        while let Ok((mut sock, _)) = listener.accept().await {
            conn += 1;
            let head = handshake(&mut sock, Accept::Correct).await;
            let _ = heads_tx.send(head);
            let mut out = Vec::new();
            if conn == 1 {
                out.extend(frame(true, 0x1, event_json(1, None).as_bytes()));
                // 17 MiB announced (the cap is 16 MiB), 64 KiB actually sent.
                out.extend(header(true, 0x1, 17 << 20));
                out.extend(vec![b'x'; 64 << 10]);
            } else {
                out.extend(frame(true, 0x1, event_json(2, None).as_bytes()));
            }
            let _ = sock.write_all(&out).await;
            tokio::spawn(async move {
                let mut buf = [0u8; 256];
                while sock.read(&mut buf).await.unwrap_or(0) > 0 {}
            });
        }
    });
    let mut stream = builder(client(&url, "ccb_test"), WorkspaceId::new("wsp_raw"))
        .start_after(Cursor::new(format!("cur_{:010}", 0)))
        .start()
        .await
        .expect("start");
    let first = next_event(&mut stream).await;
    assert_eq!(first.cursor().as_str(), "cur_0000000001");
    stream.commit(first.cursor()).await.expect("commit");
    let second = next_event(&mut stream).await;
    assert_eq!(second.cursor().as_str(), "cur_0000000002");
    let _first_head = heads.recv().await.expect("first connection");
    let head = heads.recv().await.expect("second connection");
    assert!(
        head.contains("after_cursor=cur_0000000001"),
        "resumed from the committed cursor: {head}"
    );
    assert!(stream.stats().reconnects >= 1);
}

#[tokio::test]
async fn hostile_upgrade_responses_are_retried_and_redirects_not_followed() {
    use clickclack_testkit::{RawResponse, TestServer};
    // A listener that records whether anyone ever connects to it.
    let trap = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let trap_url = format!("http://{}", trap.local_addr().expect("addr"));
    let (hit_tx, mut hits) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = trap.accept().await {
            let mut buf = vec![0u8; 4096];
            let n = sock.read(&mut buf).await.unwrap_or(0);
            let _ = hit_tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    });
    let server = TestServer::start().await;
    let seed = server.seed();
    let faults = server.faults();
    faults.respond_next_n(
        "GET",
        "/api/realtime/ws",
        1,
        RawResponse::json(200, r#"{"not":"an upgrade"}"#),
    );
    faults.respond_next_n(
        "GET",
        "/api/realtime/ws",
        1,
        RawResponse::redirect(307, &format!("{trap_url}/api/realtime/ws")),
    );
    faults.respond_next_n(
        "GET",
        "/api/realtime/ws",
        1,
        RawResponse::new(101).header("upgrade", "websocket"),
    );
    let mut stream = builder(
        client(&server.base_url(), &seed.bot.token),
        seed.workspace.id.clone(),
    )
    .start()
    .await
    .expect("start");
    next_connected(&mut stream).await;
    let msg = server.post_message(
        &seed.owner.user.id,
        &seed.general.id,
        "after the hostile upgrades",
    );
    let event = next_event(&mut stream).await;
    assert_eq!(message_id(&event), msg.id.as_str());
    assert!(faults.realtime_connection_attempts() >= 4);
    assert!(
        hits.try_recv().is_err(),
        "the redirect target was contacted"
    );
}

/// A server whose first connection runs `first` and every later one sends
/// event 1; returns the base URL.
async fn first_connection_then_event_1<F, Fut>(first: F) -> String
where
    F: FnOnce(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut first = Some(first);
        while let Ok((mut sock, _)) = listener.accept().await {
            handshake(&mut sock, Accept::Correct).await;
            if let Some(run) = first.take() {
                tokio::spawn(run(sock));
                continue;
            }
            let _ = sock
                .write_all(&frame(true, 0x1, event_json(1, None).as_bytes()))
                .await;
            tokio::spawn(async move {
                let mut buf = [0u8; 256];
                while sock.read(&mut buf).await.unwrap_or(0) > 0 {}
            });
        }
    });
    url
}

/// Reads the stream until event 1; returns the `Reconnecting` causes seen.
async fn causes_until_event_1(url: &str, max_frame_bytes: usize) -> Vec<String> {
    let mut stream = builder(client(url, "ccb_test"), WorkspaceId::new("wsp_raw"))
        .max_frame_bytes(max_frame_bytes)
        .start_after(Cursor::new(format!("cur_{:010}", 0)))
        .start()
        .await
        .expect("start");
    let mut causes = Vec::new();
    loop {
        match next_item(&mut stream).await {
            Some(Ok(RealtimeItem::Event(e))) => {
                assert_eq!(e.cursor().as_str(), "cur_0000000001");
                return causes;
            }
            Some(Ok(RealtimeItem::Reconnecting { cause, .. })) => causes.push(cause.to_string()),
            Some(Ok(_)) | Some(Err(Error::MalformedFrame { .. })) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn invalid_close_frames_end_the_connection_and_the_stream_reconnects() {
    let mut bad_utf8 = 1000u16.to_be_bytes().to_vec();
    bad_utf8.extend_from_slice(b"bye \xff");
    let cases: [(&str, Vec<u8>); 3] = [
        ("not UTF-8", bad_utf8),
        ("one-byte payload", vec![0x03]),
        (
            "code 1005 is not allowed on the wire",
            1005u16.to_be_bytes().to_vec(),
        ),
    ];
    for (name, payload) in cases {
        let url = first_connection_then_event_1(move |mut sock| async move {
            let _ = sock.write_all(&frame(true, 0x8, &payload)).await;
            // Keep the socket open: only the client can end this connection.
            let mut buf = [0u8; 256];
            while sock.read(&mut buf).await.unwrap_or(0) > 0 {}
        })
        .await;
        let causes = causes_until_event_1(&url, 1 << 20).await;
        assert!(
            causes.iter().any(|c| c.contains("invalid close frame")),
            "{name}: {causes:?}"
        );
    }
}

#[tokio::test]
async fn endless_fragments_end_the_connection_with_bounded_reading() {
    const CAP: usize = 64 * 1024;
    for binary in [false, true] {
        let written = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&written);
        let url = first_connection_then_event_1(move |mut sock| async move {
            let opcode = if binary { 0x2 } else { 0x1 };
            let chunk = vec![b'x'; 4096];
            let mut out = frame(false, opcode, &chunk);
            // Continuations forever (bounded here at 256 MiB so a broken
            // client fails the test instead of hanging it).
            while counter.load(Ordering::Relaxed) < 256 << 20 {
                if sock.write_all(&out).await.is_err() {
                    return;
                }
                counter.fetch_add(out.len() as u64, Ordering::Relaxed);
                out = frame(false, 0x0, &chunk);
            }
        })
        .await;
        let causes = causes_until_event_1(&url, CAP).await;
        assert!(
            causes.iter().any(|c| c.contains("larger than")),
            "binary={binary}: {causes:?}"
        );
        // The client stopped reading right after the cap; what the server
        // wrote beyond it sat in socket buffers.
        let total = written.load(Ordering::Relaxed);
        assert!(
            total < 64 << 20,
            "binary={binary}: server wrote {total} bytes"
        );
    }
}

/// Reads one masked client frame with a short payload: `(opcode, payload)`.
async fn read_client_frame(sock: &mut tokio::net::TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    sock.read_exact(&mut head).await.ok()?;
    assert!(head[1] & 0x80 != 0, "client frames are masked");
    let len = usize::from(head[1] & 0x7F);
    assert!(len <= 125, "short frames only");
    let mut mask = [0u8; 4];
    sock.read_exact(&mut mask).await.ok()?;
    let mut payload = vec![0u8; len];
    sock.read_exact(&mut payload).await.ok()?;
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
    Some((head[0] & 0x0F, payload))
}

#[tokio::test]
async fn framing_errors_are_answered_with_1002_and_the_stream_reconnects() {
    let cases: [(&str, Vec<u8>); 4] = [
        (
            "masked frame",
            vec![0x81, 0x82, 1, 2, 3, 4, b'{' ^ 1, b'}' ^ 2],
        ),
        ("reserved bits", vec![0xC1, 0x02, b'{', b'}']),
        ("reserved opcode", vec![0x83, 0x00]),
        ("fragmented ping", vec![0x09, 0x00]),
    ];
    for (name, wire) in cases {
        let (closes_tx, mut closes) = tokio::sync::mpsc::unbounded_channel();
        let url = first_connection_then_event_1(move |mut sock| async move {
            let _ = sock.write_all(&wire).await;
            while let Some((opcode, payload)) = read_client_frame(&mut sock).await {
                if opcode == 0x8 {
                    let _ = closes_tx.send(payload);
                }
            }
        })
        .await;
        let causes = causes_until_event_1(&url, 1 << 20).await;
        assert!(
            causes.iter().any(|c| c.contains("protocol error")),
            "{name}: {causes:?}"
        );
        let close = closes.recv().await.expect("a close frame");
        assert_eq!(close[..2], 1002u16.to_be_bytes(), "{name}");
    }
}

#[tokio::test]
async fn a_server_ping_is_answered_with_its_payload() {
    let (pongs_tx, mut pongs) = tokio::sync::mpsc::unbounded_channel();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.expect("accept");
        handshake(&mut sock, Accept::Correct).await;
        let _ = sock.write_all(&frame(true, 0x9, b"are you there")).await;
        while let Some((opcode, payload)) = read_client_frame(&mut sock).await {
            if opcode == 0xA {
                let _ = pongs_tx.send(payload);
                let _ = sock
                    .write_all(&frame(true, 0x1, event_json(1, None).as_bytes()))
                    .await;
            }
        }
    });
    let mut stream = builder(client(&url, "ccb_test"), WorkspaceId::new("wsp_raw"))
        .start_after(Cursor::new(format!("cur_{:010}", 0)))
        .start()
        .await
        .expect("start");
    let event = next_event(&mut stream).await;
    assert_eq!(event.cursor().as_str(), "cur_0000000001");
    assert_eq!(pongs.recv().await.expect("a pong"), b"are you there");
}
