//! Nonces, retries, reconciliation and fail-fast.

use std::time::Duration;

use clickclack_client::proto::EventPayload;
use clickclack_client::proto::requests::{CreateMessage, CreateThreadReply};
use clickclack_client::{Backoff, Client, ErrorKind, RetryPolicy};

use crate::common::{client_for, env};

#[tokio::test]
async fn nonce_replay_returns_the_same_message() {
    let env = env().await;
    let c = env.bot();
    let chn = &env.seed.general.id;
    let a = c
        .send_message(chn, CreateMessage::new("once").with_nonce("same-nonce"))
        .await
        .unwrap();
    let b = c
        .send_message(chn, CreateMessage::new("once").with_nonce("same-nonce"))
        .await
        .unwrap();
    assert_eq!(a.id(), b.id());
    assert!(a.has_event());
    assert!(!b.has_event(), "a replay carries no event");
    // The full response of a replay: the message, no event.
    let replay = b.into_response().unwrap();
    assert_eq!(&replay.message.id, a.id());
    assert!(replay.event.is_none());
    assert_eq!(env.server.channel_messages(chn).len(), 1);
    // Same nonce, different body: a conflict.
    let e = c
        .send_message(
            chn,
            CreateMessage::new("different").with_nonce("same-nonce"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Conflict, "{e}");
}

#[tokio::test]
async fn every_create_carries_a_nonce() {
    let env = env().await;
    let c = env.bot();
    let sent = c
        .send_message(&env.seed.general.id, CreateMessage::new("no nonce given"))
        .await
        .unwrap();
    let stored = env.server.message(sent.id()).unwrap();
    assert!(
        stored.nonce.as_deref().is_some_and(|n| !n.is_empty()),
        "server saw a nonce"
    );
    let reply = c
        .reply_in_thread(sent.id(), CreateThreadReply::new("r"))
        .await
        .unwrap();
    assert!(
        env.server
            .message(&reply.message.id)
            .unwrap()
            .nonce
            .is_some()
    );
    let dm = c
        .open_dm(&env.seed.workspace.id, &env.seed.owner.user.id)
        .await
        .unwrap();
    let d = c.send_dm(&dm.id, CreateMessage::new("d")).await.unwrap();
    assert!(env.server.message(d.id()).unwrap().nonce.is_some());
    // The event payloads carry it too.
    let events = env.server.events(&env.seed.workspace.id);
    let with_nonce = events
        .iter()
        .filter(|e| match e.payload() {
            EventPayload::MessageCreated(p) => p.nonce.is_some(),
            EventPayload::ThreadReplyCreated(p) => p.nonce.is_some(),
            _ => false,
        })
        .count();
    assert_eq!(with_nonce, 3);
}

#[tokio::test]
async fn lost_response_produces_exactly_one_message() {
    let env = env().await;
    let c = env.bot();
    let chn = &env.seed.general.id;
    env.server
        .faults()
        .lose_next_response("POST", "/api/channels/");
    let sent = c
        .send_message(chn, CreateMessage::new("exactly once"))
        .await
        .unwrap();
    assert!(!sent.has_event(), "reconciled through by-nonce");
    assert!(sent.json().is_none(), "reconciled: no response body");
    assert_eq!(sent.message().unwrap().body, "exactly once");
    let msgs = env.server.channel_messages(chn);
    assert_eq!(msgs.len(), 1);
    assert_eq!(&msgs[0].id, sent.id());
    assert_eq!(env.server.request_count("POST", "/api/channels/"), 1);
    assert!(env.server.request_count("GET", "/api/messages/by-nonce") >= 1);
}

#[tokio::test]
async fn lost_response_on_thread_reply_and_dm() {
    let env = env().await;
    let c = env.bot();
    let root = env
        .server
        .post_message(&env.seed.owner.user.id, &env.seed.general.id, "root");
    env.server
        .faults()
        .lose_next_response("POST", "/api/messages/");
    let r = c
        .reply_in_thread(&root.id, CreateThreadReply::new("reply once"))
        .await
        .unwrap();
    assert_eq!(env.server.thread_replies(&root.id).len(), 1);
    assert_eq!(r.thread_state.reply_count, 1);
    assert!(r.is_replay());

    let dm = c
        .open_dm(&env.seed.workspace.id, &env.seed.owner.user.id)
        .await
        .unwrap();
    env.server.faults().lose_next_response("POST", "/api/dms/");
    c.send_dm(&dm.id, CreateMessage::new("dm once"))
        .await
        .unwrap();
    assert_eq!(env.server.dm_messages(&dm.id).len(), 1);
}

#[tokio::test]
async fn timeout_after_commit_is_reconciled() {
    let env = env().await;
    let c = Client::builder(env.server.base_url())
        .token(env.seed.bot.token.as_str())
        .retry_policy(crate::common::fast_retry())
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    env.server
        .faults()
        .delay("POST", "/api/channels/", Duration::from_secs(3), 1);
    let sent = c
        .send_message(&env.seed.general.id, CreateMessage::new("slow"))
        .await
        .unwrap();
    assert_eq!(env.server.channel_messages(&env.seed.general.id).len(), 1);
    assert_eq!(
        &env.server.channel_messages(&env.seed.general.id)[0].id,
        sent.id()
    );
}

#[tokio::test]
async fn retries_injected_503s_with_backoff() {
    let env = env().await;
    let c = env.bot();
    env.server.faults().fail_next("GET", "/api/me", 2, 503);
    c.me().await.unwrap();
    assert_eq!(env.server.request_count("GET", "/api/me"), 3);

    // Nonce-keyed creates are retried too, and still post once.
    env.server
        .faults()
        .fail_next("POST", "/api/channels/", 2, 503);
    c.send_message(&env.seed.general.id, CreateMessage::new("retried"))
        .await
        .unwrap();
    assert_eq!(env.server.request_count("POST", "/api/channels/"), 3);
    assert_eq!(env.server.channel_messages(&env.seed.general.id).len(), 1);

    // 429 and 502/504 too.
    env.server
        .faults()
        .fail_next("GET", "/api/workspaces", 1, 429);
    env.server
        .faults()
        .fail_next("GET", "/api/workspaces", 1, 502);
    env.server
        .faults()
        .fail_next("GET", "/api/workspaces", 1, 504);
    c.list_workspaces().await.unwrap();
    assert_eq!(env.server.request_count("GET", "/api/workspaces"), 4);
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let env = env().await;
    let c = client_for(&env.server, &env.seed.bot.token);
    env.server.faults().fail_next("GET", "/api/me", 10, 503);
    let e = c.me().await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
    assert!(e.is_retryable());
    assert_eq!(env.server.request_count("GET", "/api/me"), 4);
}

#[tokio::test]
async fn does_not_retry_client_errors_or_500() {
    let env = env().await;
    let c = env.bot();
    env.server.faults().fail_next("GET", "/api/me", 1, 500);
    assert_eq!(c.me().await.unwrap_err().kind(), &ErrorKind::Server);
    assert_eq!(env.server.request_count("GET", "/api/me"), 1);
    env.server
        .faults()
        .fail_next("PATCH", "/api/messages/", 3, 503);
    let m = c
        .send_message(&env.seed.general.id, CreateMessage::new("x"))
        .await
        .unwrap();
    let e = c.edit_message(m.id(), "y").await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable);
    assert_eq!(
        env.server.request_count("PATCH", "/api/messages/"),
        1,
        "PATCH is not retried"
    );
}

#[tokio::test]
async fn backoff_waits_between_attempts() {
    let env = env().await;
    let c = Client::builder(env.server.base_url())
        .token(env.seed.bot.token.as_str())
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(3)
                .with_backoff(Backoff::new(
                    Duration::from_millis(40),
                    Duration::from_millis(40),
                )),
        )
        .build()
        .unwrap();
    // Retry-After: the server sends none, so the delay is the jittered backoff;
    // assert only the attempt count (jitter may be ~0).
    env.server.faults().fail_next("GET", "/api/me", 2, 503);
    c.me().await.unwrap();
    assert_eq!(env.server.request_count("GET", "/api/me"), 3);
}

#[tokio::test]
async fn unauthorized_fails_fast_until_rebuilt() {
    let env = env().await;
    let (bot, c) = env.bot_with("revoked", &["bot:write"]);
    c.me().await.unwrap();
    env.server.revoke_token(&bot.token_id);
    let e = c.me().await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthorized);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(401));
    assert!(c.is_token_rejected());
    let before = env.server.request_count("GET", "");
    let before_post = env.server.request_count("POST", "");
    let e2 = c.me().await.unwrap_err();
    assert_eq!(e2.kind(), &ErrorKind::Unauthorized);
    assert!(e2.to_string().contains("rejected"), "{e2}");
    let e3 = c
        .send_message(&env.seed.general.id, CreateMessage::new("x"))
        .await
        .unwrap_err();
    assert_eq!(e3.kind(), &ErrorKind::Unauthorized);
    let clone = c.clone();
    assert!(clone.list_workspaces().await.is_err());
    assert_eq!(
        env.server.request_count("GET", ""),
        before,
        "nothing was sent"
    );
    assert_eq!(
        env.server.request_count("POST", ""),
        before_post,
        "nothing was sent"
    );
    // A rebuilt client with a valid token works.
    let fresh = client_for(&env.server, &env.seed.bot.token);
    fresh.me().await.unwrap();
}

#[tokio::test]
async fn by_nonce_without_supported_header_means_server_too_old() {
    // A server that answers every request with a bare 404.
    let env = env().await;
    let _ = &env;
    let svc = tower::service_fn(
        |_req: http::Request<clickclack_client::RequestBody>| async {
            let mut resp = http::Response::new(http_body_util::Full::new(
                bytes::Bytes::from_static(br#"{"error":"route not found"}"#),
            ));
            *resp.status_mut() = http::StatusCode::NOT_FOUND;
            Ok::<_, std::convert::Infallible>(resp)
        },
    );
    let c = Client::builder("http://old.invalid")
        .token("ccb_x")
        .transport(svc)
        .build()
        .unwrap();
    let e = c.message_by_nonce(&"wsp_1".into(), "n").await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unsupported);
    assert!(e.to_string().contains("too old"), "{e}");
}

#[tokio::test]
async fn rate_limit_surfaces_retry_after_when_too_long() {
    let svc = tower::service_fn(
        |_req: http::Request<clickclack_client::RequestBody>| async {
            let mut resp = http::Response::new(http_body_util::Full::new(
                bytes::Bytes::from_static(br#"{"error":"slow down"}"#),
            ));
            *resp.status_mut() = http::StatusCode::TOO_MANY_REQUESTS;
            resp.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("120"),
            );
            Ok::<_, std::convert::Infallible>(resp)
        },
    );
    let c = Client::builder("http://rl.invalid")
        .token("ccb_x")
        .transport(svc)
        .build()
        .unwrap();
    let e = c.me().await.unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::RateLimited { retry_after, .. }
            if *retry_after == Some(Duration::from_secs(120))),
        "{e:?}"
    );
    assert_eq!(e.server_message(), Some("slow down"));
}

#[tokio::test]
async fn connect_errors_are_retried_and_not_ambiguous() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A port with nothing listening.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let count_layer = tower::layer::layer_fn(move |inner: clickclack_client::Transport| {
        let counter = counter.clone();
        tower::ServiceExt::map_request(
            inner,
            move |req: http::Request<clickclack_client::RequestBody>| {
                counter.fetch_add(1, Ordering::SeqCst);
                req
            },
        )
    });
    let c = Client::builder(format!("http://{addr}"))
        .token("ccb_x")
        .retry_policy(crate::common::fast_retry().with_max_attempts(3))
        .layer(count_layer)
        .workspace("wsp_1")
        .build()
        .unwrap();
    let e = c.me().await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Transport);
    assert!(!e.is_ambiguous());
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        3,
        "user layers run once per attempt"
    );
    attempts.store(0, Ordering::SeqCst);
    let e = c
        .send_message(&"chn_1".into(), CreateMessage::new("x"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Transport);
    assert!(!e.is_ambiguous(), "a connect failure never sent the create");
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        3,
        "no by-nonce lookup after an unambiguous failure"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_on_the_paused_clock() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    // No sockets: a transport that answers 503 + Retry-After: 2 twice, then 200.
    let svc = tower::service_fn(move |_req: http::Request<clickclack_client::RequestBody>| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        async move {
            let mut resp = if n < 2 {
                let mut r =
                    http::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(
                        br#"{"error":"session verification unavailable; retry later"}"#,
                    )));
                *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                r
            } else {
                http::Response::new(http_body_util::Full::new(bytes::Bytes::from_static(
                    br#"{"workspaces":[]}"#,
                )))
            };
            if n < 2 {
                resp.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static("2"),
                );
            }
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let c = Client::builder("http://paused.invalid")
        .token("ccb_x")
        .retry_policy(RetryPolicy::default().with_backoff(Backoff::new(
            Duration::from_millis(10),
            Duration::from_millis(10),
        )))
        .transport(svc)
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    assert!(c.list_workspaces().await.unwrap().is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let waited = start.elapsed();
    assert!(waited >= Duration::from_secs(4), "waited {waited:?}");
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_exponentially_on_the_paused_clock() {
    use std::sync::{Arc, Mutex};
    let stamps = Arc::new(Mutex::new(Vec::new()));
    let seen = stamps.clone();
    let svc = tower::service_fn(move |_req: http::Request<clickclack_client::RequestBody>| {
        if let Ok(mut s) = seen.lock() {
            s.push(tokio::time::Instant::now());
        }
        async move {
            let mut r = http::Response::new(http_body_util::Full::new(bytes::Bytes::new()));
            *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
            Ok::<_, std::convert::Infallible>(r)
        }
    });
    let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
    let c = Client::builder("http://paused.invalid")
        .retry_policy(
            RetryPolicy::default()
                .with_max_attempts(5)
                .with_backoff(backoff)
                .with_total_deadline(None),
        )
        .transport(svc)
        .build()
        .unwrap();
    assert_eq!(c.me().await.unwrap_err().kind(), &ErrorKind::Unavailable);
    let stamps = stamps.lock().unwrap().clone();
    assert_eq!(stamps.len(), 5);
    for (i, pair) in stamps.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        assert!(gap <= backoff.ceiling(i as u32), "gap {i}: {gap:?}");
    }
}
