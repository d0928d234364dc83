//! The stream against tiny hand-written WebSocket servers, for the behaviours
//! the test server cannot show: a silent peer, garbage frames, a wrong
//! `Sec-WebSocket-Accept`, and a firehose against a slow consumer.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clickclack_client::Client;
use clickclack_proto::{Cursor, WorkspaceId};
use clickclack_realtime::{Error, RealtimeItem, ReconnectCause};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use support::raw_ws::{Accept, event_json, frame, handshake};
use support::*;

async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", l.local_addr().expect("addr"));
    (l, url)
}

fn start_cursor() -> Cursor {
    Cursor::new(format!("cur_{:010}", 0))
}

#[tokio::test]
async fn a_silent_server_is_detected_and_replaced() {
    let (listener, url) = listener().await;
    let (heads_tx, mut heads) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut sock, _)) = listener.accept().await {
            let head = handshake(&mut sock, Accept::Correct).await;
            let _ = heads_tx.send(head);
            // Never read, never write: pings go unanswered.
            held.push(sock);
        }
    });
    let mut stream = builder(client(&url, "ccb_test"), WorkspaceId::new("wsp_raw"))
        .start_after(start_cursor())
        .ping_interval(Duration::from_millis(30), 2)
        .start()
        .await
        .expect("start");
    assert_eq!(next_connected(&mut stream).await, start_cursor());
    let head = heads.recv().await.expect("request");
    assert!(
        head.starts_with(
            "GET /api/realtime/ws?workspace_id=wsp_raw&after_cursor=cur_0000000000 HTTP/1.1"
        ),
        "{head}"
    );
    assert!(
        head.contains("authorization: Bearer ccb_test")
            || head.contains("Authorization: Bearer ccb_test")
    );
    match next_item(&mut stream).await {
        Some(Ok(RealtimeItem::Reconnecting {
            cause: ReconnectCause::Unresponsive { silent_for, .. },
            ..
        })) => assert!(silent_for >= Duration::from_millis(60)),
        other => panic!("expected an unresponsive reconnect, got {other:?}"),
    }
    next_connected(&mut stream).await;
    assert!(heads.recv().await.is_some());
}

#[tokio::test]
async fn malformed_frames_are_reported_and_skipped() {
    let (listener, url) = listener().await;
    tokio::spawn(async move {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        handshake(&mut sock, Accept::Correct).await;
        let mut out = Vec::new();
        out.extend(frame(true, 0x1, b"this is not json"));
        out.extend(frame(true, 0x2, b"\x00\x01binary"));
        out.extend(frame(true, 0x1, &[0xff, 0xfe, 0xfd])); // invalid UTF-8
        out.extend(frame(true, 0x1, b"[1,2,3]")); // JSON, but not an event
        out.extend(frame(true, 0x1, event_json(1, None).as_bytes()));
        let _ = sock.write_all(&out).await;
        // Hold the socket open until the client goes away.
        let mut buf = [0u8; 64];
        while sock.read(&mut buf).await.unwrap_or(0) > 0 {}
    });
    let mut stream = builder(client(&url, "ccb_test"), WorkspaceId::new("wsp_raw"))
        .start_after(start_cursor())
        .start()
        .await
        .expect("start");
    next_connected(&mut stream).await;
    let mut malformed = 0;
    let event = loop {
        match next_item(&mut stream).await {
            Some(Err(Error::MalformedFrame { reason, .. })) => {
                assert!(!reason.is_empty());
                malformed += 1;
            }
            Some(Ok(RealtimeItem::Event(e))) => break e,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(event.cursor().as_str(), "cur_0000000001");
    assert!(malformed >= 3, "only {malformed} malformed items");
    let stats = stream.stats();
    assert_eq!(stats.malformed_frames, malformed);
    assert_eq!(stats.reconnects, 0);
}

#[tokio::test]
async fn a_wrong_accept_key_is_refused_and_retried() {
    let (listener, url) = listener().await;
    let attempts = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&attempts);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            let accept = if n == 0 {
                Accept::Wrong
            } else {
                Accept::Correct
            };
            handshake(&mut sock, accept).await;
            tokio::spawn(async move {
                let mut buf = [0u8; 64];
                while sock.read(&mut buf).await.unwrap_or(0) > 0 {}
            });
        }
    });
    let mut stream = builder(client(&url, "ccb_test"), WorkspaceId::new("wsp_raw"))
        .start_after(start_cursor())
        .start()
        .await
        .expect("start");
    let reason = connect_failure(&mut stream).await;
    assert!(reason.contains("Sec-WebSocket-Accept"), "{reason}");
    next_connected(&mut stream).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_handshake_that_never_answers_times_out() {
    let (listener, url) = listener().await;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock); // accept TCP, never answer the upgrade
        }
    });
    let mut stream = builder(client(&url, "ccb_test"), WorkspaceId::new("wsp_raw"))
        .start_after(start_cursor())
        .handshake_timeout(Duration::from_millis(100))
        .start()
        .await
        .expect("start");
    let reason = connect_failure(&mut stream).await;
    assert!(reason.contains("timed out"), "{reason}");
}

#[tokio::test]
async fn a_slow_consumer_pushes_back_on_the_server() {
    let (listener, url) = listener().await;
    let written = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&written);
    let (blocked_tx, blocked_rx) = oneshot::channel::<u64>();
    tokio::spawn(async move {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        handshake(&mut sock, Accept::Correct).await;
        let mut blocked_tx = Some(blocked_tx);
        let mut n = 0u64;
        loop {
            n += 1;
            let bytes = frame(true, 0x1, event_json(n, None).as_bytes());
            let mut off = 0;
            while off < bytes.len() {
                // `write` is cancel-safe: a timed-out call wrote nothing.
                match tokio::time::timeout(Duration::from_millis(300), sock.write(&bytes[off..]))
                    .await
                {
                    Ok(Ok(0)) | Ok(Err(_)) => return,
                    Ok(Ok(k)) => off += k,
                    Err(_) => {
                        // No room for 300 ms: the client stopped reading.
                        if let Some(tx) = blocked_tx.take() {
                            let _ = tx.send(n - 1);
                        }
                    }
                }
            }
            counter.store(n, Ordering::SeqCst);
        }
    });
    let mut stream = builder(client(&url, "ccb_test"), WorkspaceId::new("wsp_raw"))
        .start_after(start_cursor())
        .buffer(8)
        .start()
        .await
        .expect("start");
    next_connected(&mut stream).await;
    // Take one event, then stop reading until the server is blocked.
    assert_eq!(
        next_event(&mut stream).await.cursor().as_str(),
        "cur_0000000001"
    );
    let at_block = tokio::time::timeout(GUARD, blocked_rx)
        .await
        .expect("the server was never blocked: no backpressure")
        .expect("server task");
    // Bounded: our buffers plus the kernel's socket buffers, nowhere near unbounded.
    assert!(
        at_block < 200_000,
        "server wrote {at_block} events before blocking"
    );
    // Reading resumes in order.
    for n in 2..=200u64 {
        let e = next_event(&mut stream).await;
        assert_eq!(e.cursor().as_str(), format!("cur_{n:010}"));
    }
    assert!(written.load(Ordering::SeqCst) >= 200);
}

#[tokio::test]
async fn an_https_base_url_speaks_tls_and_a_failed_tls_handshake_is_retried() {
    let (listener, url) = listener().await;
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut first = [0u8; 1];
            let _ = sock.read_exact(&mut first).await;
            let _ = seen_tx.send(first[0]);
            let _ = sock.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let https = url.replacen("http://", "https://", 1);
    let mut stream = builder(client(&https, "ccb_test"), WorkspaceId::new("wsp_raw"))
        .start_after(start_cursor())
        .start()
        .await
        .expect("start");
    let reason = connect_failure(&mut stream).await;
    assert!(reason.contains("TLS"), "{reason}");
    // 0x16: a TLS handshake record (ClientHello), not plain HTTP.
    assert_eq!(seen.recv().await, Some(0x16));
}

#[tokio::test]
async fn retry_after_on_the_upgrade_is_honoured_for_429_and_503_and_capped() {
    // (status line, Retry-After, the delay the stream must wait)
    let cap = clickclack_client::RetryPolicy::default().max_retry_after();
    let cases: [(&str, &str, Option<Duration>); 4] = [
        ("429 Too Many Requests", "7", Some(Duration::from_secs(7))),
        ("503 Service Unavailable", "5", Some(Duration::from_secs(5))),
        // A huge Retry-After is capped like the REST client's.
        ("429 Too Many Requests", "86400", Some(cap)),
        // Other statuses: Retry-After is not a promise; plain backoff.
        ("500 Internal Server Error", "9", None),
    ];
    for (status, retry_after, want) in cases {
        let (listener, url) = listener().await;
        let response = format!(
            "HTTP/1.1 {status}\r\nRetry-After: {retry_after}\r\ncontent-type: application/json\r\ncontent-length: 21\r\n\r\n{{\"error\":\"slow down\"}}"
        );
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = sock.read(&mut buf).await;
                let _ = sock.write_all(response.as_bytes()).await;
            }
        });
        let client = Client::builder(&url)
            .token("ccb_test".to_owned())
            .retry_policy(clickclack_client::RetryPolicy::default())
            .build()
            .expect("client");
        let mut stream = builder(client, WorkspaceId::new("wsp_raw"))
            .start_after(start_cursor())
            .start()
            .await
            .expect("start");
        match next_item(&mut stream).await {
            Some(Ok(RealtimeItem::Reconnecting {
                delay,
                cause: ReconnectCause::ConnectFailed(reason),
                ..
            })) => {
                match want {
                    Some(want) => assert_eq!(delay, want, "{status} {retry_after}"),
                    None => assert!(delay < Duration::from_secs(1), "{status}: {delay:?}"),
                }
                assert!(reason.contains(&status[..3]), "{reason}");
                assert!(!reason.contains("ccb_test"));
            }
            other => panic!("{status}: expected a retry, got {other:?}"),
        }
    }
}
