//! Token redaction, origin-bound credentials, correlation ids and size caps.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use clickclack_client::proto::requests::CreateMessage;
use clickclack_client::proto::{EventPayload, MessageId};
use clickclack_client::{
    Client, ErrorKind, MAX_ERROR_BODY_BYTES, PageRequest, RequestBody, UploadRequest,
};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{Full, StreamBody};

use crate::common::{client_for, env};

const SECRET: &str = "ccb_01supersecrettokenvalue";

#[tokio::test]
async fn token_never_appears_in_debug_display_or_errors() {
    let builder = Client::builder("http://127.0.0.1:9").token(SECRET);
    assert!(!format!("{builder:?}").contains("supersecret"));
    let c = builder.build().unwrap();
    let dbg = format!("{c:?}");
    assert!(!dbg.contains("supersecret"), "{dbg}");
    assert!(!format!("{:?}", c.token().unwrap()).contains("supersecret"));
    assert!(!format!("{}", c.token().unwrap()).contains("supersecret"));
    assert_eq!(c.token().unwrap().expose_secret(), SECRET);

    // A real 401 from the testkit with this (unknown) token.
    let env = env().await;
    let c = client_for(&env.server, SECRET);
    let e = c.me().await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthorized);
    for s in [e.to_string(), format!("{e:?}"), format!("{c:?}")] {
        assert!(!s.contains("supersecret"), "{s}");
    }
}

/// Records the headers of every request that reaches the transport.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<(String, HeaderMap)>>>,
}

type Seen = Arc<Mutex<Vec<(String, HeaderMap)>>>;

fn recorder_transport(
    seen: Seen,
) -> impl tower::Service<
    Request<RequestBody>,
    Response = Response<Full<Bytes>>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(move |req: Request<RequestBody>| {
        let seen = seen.clone();
        async move {
            if let Ok(mut s) = seen.lock() {
                s.push((req.uri().to_string(), req.headers().clone()));
            }
            Ok(Response::new(Full::new(Bytes::from_static(
                    br#"{"user":{"id":"usr_1","kind":"bot","display_name":"b","handle":"b","avatar_url":"","created_at":"2026-01-01T00:00:00Z"}}"#,
                ))))
        }
    })
}

#[tokio::test]
async fn authorization_only_goes_to_the_configured_origin() {
    let rec = Recorder::default();
    // A user layer that (maliciously or by mistake) points requests elsewhere.
    let redirect = tower::layer::layer_fn(|inner: clickclack_client::Transport| {
        tower::ServiceExt::map_request(inner, |mut req: Request<RequestBody>| {
            if req.uri().path() == "/prefix/api/workspaces" {
                *req.uri_mut() = "http://evil.invalid/steal".parse().unwrap();
            }
            req
        })
    });
    let c = Client::builder("http://chat.invalid/prefix/")
        .token(SECRET)
        .layer(redirect)
        .transport(recorder_transport(rec.seen.clone()))
        .build()
        .unwrap();
    assert_eq!(c.base_url(), "http://chat.invalid/prefix");
    c.me().await.unwrap();
    let _ = c.list_workspaces().await;
    let seen = rec.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].0, "http://chat.invalid/prefix/api/me");
    let auth = seen[0].1.get(http::header::AUTHORIZATION).unwrap();
    assert!(auth.is_sensitive(), "marked sensitive");
    assert_eq!(auth.to_str().unwrap(), format!("Bearer {SECRET}"));
    assert_eq!(seen[1].0, "http://evil.invalid/steal");
    assert!(seen[1].1.get(http::header::AUTHORIZATION).is_none());
}

#[tokio::test]
async fn correlation_id_per_client_and_per_call() {
    let rec = Recorder::default();
    let c = Client::builder("http://chat.invalid")
        .token(SECRET)
        .correlation_id("client-wide")
        .transport(recorder_transport(rec.seen.clone()))
        .build()
        .unwrap();
    c.me().await.unwrap();
    c.with_correlation_id("per-call.1")
        .unwrap()
        .me()
        .await
        .unwrap();
    let seen = rec.seen.lock().unwrap().clone();
    assert_eq!(seen[0].1["x-correlation-id"], "client-wide");
    assert_eq!(seen[1].1["x-correlation-id"], "per-call.1");
    assert!(c.with_correlation_id("bad id!").is_err());
    assert!(
        Client::builder("http://x.invalid")
            .correlation_id("")
            .build()
            .is_err()
    );

    // The server echoes it into the message.created payload.
    let env = env().await;
    let c = client_for(&env.server, &env.seed.bot.token);
    c.with_correlation_id("corr-42")
        .unwrap()
        .send_message(&env.seed.general.id, CreateMessage::new("traced"))
        .await
        .unwrap();
    let found = env.server.events(&env.seed.workspace.id).iter().any(|e| {
        matches!(e.payload(), EventPayload::MessageCreated(p) if p.correlation_id.as_deref() == Some("corr-42"))
    });
    assert!(found);
}

#[tokio::test]
async fn json_success_bodies_are_capped_at_16_mib() {
    let env = env().await;
    let c = env.bot();
    let big = "x".repeat(1 << 20);
    for _ in 0..17 {
        env.server
            .post_message(&env.seed.owner.user.id, &env.seed.general.id, &big);
    }
    let e = c
        .list_messages(&env.seed.general.id, &PageRequest::latest().with_limit(100))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Decode);
    assert!(e.to_string().contains("16777216"), "{e}");
    // Under the cap it works.
    let ok = c
        .list_messages(&env.seed.general.id, &PageRequest::latest().with_limit(10))
        .await
        .unwrap();
    assert_eq!(ok.messages.len(), 10);
}

#[tokio::test]
async fn error_bodies_are_read_up_to_8_kib_only() {
    let pulled = Arc::new(AtomicUsize::new(0));
    let p = pulled.clone();
    let svc = tower::service_fn(move |_req: Request<RequestBody>| {
        let p = p.clone();
        async move {
            // 1 MiB of error body in 1 KiB chunks, counting what is pulled.
            let chunks = futures_util::stream::iter((0..1024).map(move |_| {
                p.fetch_add(1, Ordering::SeqCst);
                Ok::<_, std::convert::Infallible>(http_body::Frame::data(Bytes::from(vec![
                    b'e';
                    1024
                ])))
            }));
            let mut resp = Response::new(StreamBody::new(chunks));
            *resp.status_mut() = StatusCode::BAD_GATEWAY;
            Ok::<_, std::convert::Infallible>(resp)
        }
    });
    let c = Client::builder("http://proxy.invalid")
        .retry_policy(clickclack_client::RetryPolicy::none())
        .transport(svc)
        .build()
        .unwrap();
    let e = c.me().await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unavailable);
    assert!(e.server_message().unwrap().len() <= 512);
    let chunks = pulled.load(Ordering::SeqCst);
    assert!(
        chunks * 1024 <= MAX_ERROR_BODY_BYTES + 1024,
        "pulled {chunks} KiB"
    );
}

#[tokio::test]
async fn malformed_success_body_names_the_json_path() {
    let svc = tower::service_fn(|_req: Request<RequestBody>| async {
        Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from_static(
            br#"{"user":{"id":42}}"#,
        ))))
    });
    let c = Client::builder("http://bad.invalid")
        .transport(svc)
        .build()
        .unwrap();
    let e = c.me().await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Decode);
    assert!(e.to_string().contains("user.id"), "{e}");
    assert!(e.to_string().starts_with("GET /api/me"), "{e}");
}

#[tokio::test]
async fn downloads_are_capped() {
    let env = env().await;
    let c = Client::builder(env.server.base_url())
        .token(env.seed.bot.token.as_str())
        .max_download_bytes(10_000)
        .build()
        .unwrap();
    let up = c
        .upload(UploadRequest::bytes(
            env.seed.workspace.id.clone(),
            "big.bin",
            vec![1u8; 50_000],
        ))
        .await
        .unwrap();
    let e = c.download_upload(&up.id).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Decode);
    let small = c
        .upload(UploadRequest::bytes(
            env.seed.workspace.id.clone(),
            "small.bin",
            vec![2u8; 5_000],
        ))
        .await
        .unwrap();
    assert_eq!(
        c.download_upload(&small.id)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len(),
        5_000
    );
}

#[tokio::test]
async fn empty_ids_are_rejected_before_sending() {
    let env = env().await;
    let c = env.bot();
    let e = c.get_message(&MessageId::new("")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidRequest);
    assert_eq!(env.server.request_count("GET", "/api/messages"), 0);
}

/// A `MakeWriter` collecting log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn spans_carry_method_and_path_but_no_query_or_token() {
    use tracing_subscriber::fmt::format::FmtSpan;
    let env = env().await;
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::NEW)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let c = client_for(&env.server, &env.seed.bot.token);
    c.message_by_nonce(&env.seed.workspace.id, "secretnonce123")
        .await
        .unwrap();
    let bad = client_for(&env.server, SECRET);
    let _ = bad.me().await;
    drop(_guard);
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("clickclack.http"), "{text}");
    assert!(text.contains("method=GET"), "{text}");
    assert!(text.contains("path=/api/messages/by-nonce"), "{text}");
    assert!(text.contains("path=/api/me"), "{text}");
    assert!(!text.contains("secretnonce123"), "{text}");
    assert!(!text.contains("supersecret"), "{text}");
    assert!(!text.contains(env.seed.bot.token.as_str()), "{text}");
}

#[test]
fn client_is_send_sync_clone_and_tls_configs_build() {
    fn assert_traits<T: Send + Sync + Clone + 'static>() {}
    assert_traits::<Client>();
    assert_traits::<clickclack_client::Backoff>();
    fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}
    assert_error::<clickclack_client::Error>();
    assert!(clickclack_client::tls_config(clickclack_client::TlsRoots::WebPki).is_ok());
}
