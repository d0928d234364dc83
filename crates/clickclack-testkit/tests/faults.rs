//! Fault injection and counters.

mod common;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn close_realtime_with_code() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let mut sock = ws_live(&server, seed.workspace.id.as_str(), &seed.bot.token).await;
    assert_eq!(server.open_realtime_connections(), 1);
    server.faults().close_realtime(1013, "try later");
    assert_eq!(next(&mut sock).await, Next::Close(1013, "try later".into()));
}

#[tokio::test]
async fn drop_realtime_without_close_frame() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let mut sock = ws_live(&server, seed.workspace.id.as_str(), &seed.bot.token).await;
    server.faults().drop_realtime();
    assert_eq!(next(&mut sock).await, Next::Eof);
}

#[tokio::test]
async fn refuse_connections_counts_attempts() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let q = format!("workspace_id={}", seed.workspace.id);
    server
        .faults()
        .refuse_connections(Duration::from_secs(3600));
    let before = server.realtime_connection_attempts();
    assert!(
        ws_connect(&server, &q, WsAuth::Header(&seed.bot.token))
            .await
            .is_err()
    );
    assert!(
        ws_connect(&server, &q, WsAuth::Header(&seed.bot.token))
            .await
            .is_err()
    );
    assert_eq!(server.realtime_connection_attempts(), before + 2);
    // REST still works; clearing faults lets sockets in again.
    assert_eq!(get(&server, "/api/me", &seed.bot.token).await.status, 200);
    server.faults().clear();
    let t = tail(&server, seed.workspace.id.as_str(), &seed.bot.token)
        .await
        .unwrap();
    assert!(
        ws_connect(
            &server,
            &format!("{q}&after_cursor={t}"),
            WsAuth::Header(&seed.bot.token)
        )
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn fail_next_n_requests() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let path = format!("/api/channels/{}/messages", seed.general.id);
    server.faults().fail_next("post", "/api/channels/", 2, 503);
    for _ in 0..2 {
        let r = post(&server, &path, &seed.bot.token, json!({ "body": "x" })).await;
        assert_eq!((r.status, r.error().as_str()), (503, "injected fault"));
        assert!(r.header("x-correlation-id").is_some());
    }
    assert!(
        server.channel_messages(&seed.general.id).is_empty(),
        "not handled"
    );
    let r = post(&server, &path, &seed.bot.token, json!({ "body": "x" })).await;
    assert_eq!(r.status, 201);
    assert_eq!(server.request_count("POST", "/api/channels/"), 3);
    assert_eq!(server.request_count("GET", "/api/channels/"), 0);
}

#[tokio::test]
async fn delay_holds_the_response() {
    let server = TestServer::start().await;
    let seed = server.seed();
    server
        .faults()
        .delay("GET", "/api/me", Duration::from_millis(300), 1);
    let start = Instant::now();
    assert_eq!(get(&server, "/api/me", &seed.bot.token).await.status, 200);
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn lose_next_response_commits_then_drops() {
    let server = TestServer::start().await;
    let seed = server.seed();
    server.faults().lose_next_response("POST", "/api/channels/");
    let body = json!({ "body": "lost?", "nonce": "lost-1" }).to_string();
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let req = format!(
        "POST /api/channels/{}/messages HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}",
        seed.general.id,
        seed.bot.token,
        body.len(),
        body
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "no response bytes");
    // Committed: recover by nonce, and a retry replays with 200.
    let r = get(
        &server,
        &format!(
            "/api/messages/by-nonce?workspace_id={}&nonce=lost-1",
            seed.workspace.id
        ),
        &seed.bot.token,
    )
    .await;
    assert_eq!(r.status, 200);
    let r = post(
        &server,
        &format!("/api/channels/{}/messages", seed.general.id),
        &seed.bot.token,
        json!({ "body": "lost?", "nonce": "lost-1" }),
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn prune_log_makes_cursors_unknown() {
    let server = TestServer::start().await;
    let seed = server.seed();
    let ws_id = seed.workspace.id.as_str();
    let t = tail(&server, ws_id, &seed.bot.token).await.unwrap();
    server.faults().prune_log();
    // Go sends `tail_cursor: ""` when nothing is visible.
    let after = tail(&server, ws_id, &seed.bot.token).await;
    assert!(after.as_deref().is_none_or(str::is_empty), "{after:?}");
    let mut sock = ws(&server, ws_id, &seed.bot.token, Some(&t)).await;
    assert_eq!(
        next(&mut sock).await,
        Next::Close(
            4001,
            "realtime replay limit exceeded; resync required".into()
        )
    );
    // After a new event there is a fresh tail to resume from.
    server.post_message(&seed.owner.user.id, &seed.general.id, "fresh");
    let fresh = tail(&server, ws_id, &seed.bot.token).await.unwrap();
    assert!(fresh > t);
}

#[tokio::test]
async fn fail_next_with_custom_body_and_retry_after() {
    let server = TestServer::start().await;
    let seed = server.seed();
    server.faults().fail_next_with(
        "GET",
        "/api/me",
        1,
        Failure::new(503)
            .message("session verification unavailable; retry later")
            .retry_after(2),
    );
    let r = get(&server, "/api/me", &seed.bot.token).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (503, "session verification unavailable; retry later")
    );
    assert_eq!(r.header("retry-after"), Some("2"));
    server.faults().fail_next("GET", "/api/realtime/ws", 1, 503);
    let q = format!("workspace_id={}", seed.workspace.id);
    assert!(
        ws_connect(&server, &q, WsAuth::Header(&seed.bot.token))
            .await
            .is_err()
    );
    assert_eq!(get(&server, "/api/me", &seed.bot.token).await.status, 200);
}
