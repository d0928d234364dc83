//! Hostile REST responses from the testkit (`Faults::respond_next`): each
//! becomes a typed error within the configured time, with bounded reading,
//! and credentials never follow a redirect to another host.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clickclack_client::{Client, ErrorKind, MAX_JSON_BODY_BYTES, RetryPolicy};
use clickclack_testkit::{RawResponse, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The per-attempt timeout every test configures.
const TIMEOUT: Duration = Duration::from_millis(800);
/// How long past [`TIMEOUT`] an error may take (slow CI, 2 shared cores).
const SLACK: Duration = Duration::from_secs(3);

struct Env {
    server: TestServer,
    client: Client,
}

async fn env() -> Env {
    let server = TestServer::start().await;
    let seed = server.seed();
    let client = Client::builder(server.base_url())
        .token(seed.bot.token.as_str())
        .retry_policy(RetryPolicy::none())
        .request_timeout(TIMEOUT)
        .build()
        .expect("client builds");
    Env { server, client }
}

/// Runs `GET /api/me` against `response` and returns the error and how long it took.
async fn me_against(response: RawResponse) -> (clickclack_client::Error, Duration, Env) {
    let env = env().await;
    env.server.faults().respond_next("GET", "/api/me", response);
    let started = Instant::now();
    let result = env.client.me().await;
    let took = started.elapsed();
    let err = match result {
        Ok(user) => panic!("expected an error, got {user:?}"),
        Err(e) => e,
    };
    assert!(took < TIMEOUT + SLACK, "took {took:?}: {err}");
    // The client still works afterwards.
    env.client.me().await.expect("the next request succeeds");
    (err, took, env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_json_is_a_decode_error() {
    let (e, _, _) = me_against(RawResponse::json(200, r#"{"user":{"id":"usr_1","#)).await;
    assert_eq!(e.kind(), &ErrorKind::Decode, "{e}");
    assert!(e.to_string().starts_with("GET /api/me"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_cut_short_is_a_transport_error() {
    let (e, _, _) =
        me_against(RawResponse::json(200, r#"{"user":{"id":"usr_1","#).cut_at_length(4096)).await;
    assert_eq!(e.kind(), &ErrorKind::Transport, "{e}");
    assert!(e.is_ambiguous(), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_types_are_decode_errors_or_keep_the_status() {
    let html = "<html><body><h1>Welcome to nginx!</h1></body></html>";
    let (e, _, _) = me_against(
        RawResponse::new(200)
            .header("content-type", "text/html")
            .body(html),
    )
    .await;
    assert_eq!(e.kind(), &ErrorKind::Decode, "{e}");
    // JSON content type, not JSON at all.
    let (e, _, _) = me_against(RawResponse::json(200, "not json")).await;
    assert_eq!(e.kind(), &ErrorKind::Decode, "{e}");
    // Valid JSON of the wrong shape names the path.
    let (e, _, _) = me_against(RawResponse::json(200, r#"{"user":[1,2]}"#)).await;
    assert_eq!(e.kind(), &ErrorKind::Decode, "{e}");
    assert!(e.to_string().contains("user"), "{e}");
    // A proxy's HTML error page: the status decides, the text is kept short.
    let page = format!("<html>{}</html>", "bad gateway ".repeat(1000));
    let (e, _, _) = me_against(
        RawResponse::new(502)
            .header("content-type", "text/html")
            .body(page),
    )
    .await;
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e}");
    assert!(e.server_message().is_some_and(|m| m.len() <= 512), "{e}");
    // Deeply nested JSON hits the decoder's depth limit, not the stack.
    let (e, _, _) = me_against(RawResponse::json(200, "[".repeat(100_000))).await;
    assert_eq!(e.kind(), &ErrorKind::Decode, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_chunked_body_is_cut_at_the_cap() {
    let env = env().await;
    let total: u64 = 256 << 20;
    env.server.faults().respond_next(
        "GET",
        "/api/me",
        RawResponse::json(200, "").repeat_body(" ", total),
    );
    let client = Client::builder(env.server.base_url())
        .retry_policy(RetryPolicy::none())
        .request_timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let e = client.me().await.expect_err("too large");
    assert_eq!(e.kind(), &ErrorKind::Decode, "{e}");
    assert!(
        e.to_string().contains(&MAX_JSON_BODY_BYTES.to_string()),
        "{e}"
    );
    let sent = env.server.faults().raw_body_bytes_sent();
    // The client stops at 16 MiB and hangs up. How far the server gets ahead
    // before it notices depends on scheduling (socket buffers, a loaded CI
    // machine), so the bound only proves the body was not read to the end.
    assert!(sent < total / 4, "the server produced {sent} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_huge_body_is_refused_before_reading() {
    let env = env().await;
    env.server.faults().respond_next(
        "GET",
        "/api/me",
        RawResponse::json(200, "")
            .repeat_body("x", 1 << 30)
            .announce_length(true),
    );
    let started = Instant::now();
    let e = env.client.me().await.expect_err("too large");
    assert!(started.elapsed() < TIMEOUT + SLACK);
    assert_eq!(e.kind(), &ErrorKind::Decode, "{e}");
    let sent = env.server.faults().raw_body_bytes_sent();
    assert!(sent < 8 << 20, "the server produced {sent} bytes");
    env.client.me().await.expect("the next request succeeds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_error_body_is_read_up_to_8_kib() {
    let env = env().await;
    env.server.faults().respond_next(
        "GET",
        "/api/me",
        RawResponse::json(500, "").repeat_body("e", 512 << 20),
    );
    let e = env.client.me().await.expect_err("server error");
    assert_eq!(e.kind(), &ErrorKind::Server, "{e}");
    let sent = env.server.faults().raw_body_bytes_sent();
    assert!(sent < 8 << 20, "the server produced {sent} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_loris_bodies_time_out_in_the_configured_time() {
    let body = r#"{"user":{"id":"usr_1","kind":"bot","display_name":"b","handle":"b"}}"#;
    let (e, took, _) =
        me_against(RawResponse::json(200, body).trickle(1, Duration::from_millis(100))).await;
    assert_eq!(e.kind(), &ErrorKind::Timeout, "{e}");
    assert!(took >= TIMEOUT, "took {took:?}");
    // An error body that trickles: the status still decides, in time.
    let (e, took, _) = me_against(
        RawResponse::json(
            503,
            r#"{"error":"session verification unavailable; retry later"}"#,
        )
        .trickle(1, Duration::from_millis(100)),
    )
    .await;
    assert_eq!(e.kind(), &ErrorKind::Unavailable, "{e}");
    assert!(took < TIMEOUT + SLACK, "took {took:?}");
}

/// A loopback listener that records the raw head of every request it gets.
async fn recording_listener() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let rec = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let rec = Arc::clone(&rec);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                rec.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let body = r#"{"user":{"id":"usr_evil","kind":"bot","display_name":"e","handle":"e","avatar_url":"","created_at":"2026-01-01T00:00:00Z"}}"#;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_and_never_carry_the_token() {
    let env = env().await;
    let (other, seen) = recording_listener().await;
    for status in [301, 302, 303, 307, 308] {
        env.server.faults().respond_next(
            "GET",
            "/api/me",
            RawResponse::redirect(status, &format!("{other}/api/me")),
        );
        let e = env
            .client
            .me()
            .await
            .expect_err("a redirect is not a success");
        assert_eq!(e.status().map(|s| s.as_u16()), Some(status), "{e}");
        assert!(
            matches!(e.kind(), ErrorKind::Server | ErrorKind::InvalidRequest),
            "{e}"
        );
    }
    // Give a (wrongly) following client time to have connected.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(
        seen.iter()
            .all(|head| !head.to_ascii_lowercase().contains("authorization")),
        "{seen:?}"
    );
    assert!(
        seen.is_empty(),
        "the redirect target was contacted: {seen:?}"
    );
    // Sanity check of the recorder: a direct client does reach it.
    let direct = Client::builder(other.clone())
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client");
    direct.me().await.expect("the recorder answers");
}
