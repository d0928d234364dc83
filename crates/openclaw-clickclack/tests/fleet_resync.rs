//! A forced resync racing a handover must not move the stored cursor past an
//! unanswered message (the silent loss of `cargo xtask chaos --fleet 3
//! --minutes 10 --seed 1129`).
//!
//! The sequence, on the testkit and a real PostgreSQL cluster:
//!
//! 1. replica `a` owns the account; a message arrives and its model call is
//!    held, so the message is in flight and the finished work (the stored
//!    cursor) is before it;
//! 2. the server closes the socket with 4001 twice, with no event in
//!    between: both resyncs anchor at the same tail, after the message;
//! 3. the stored cursor must still be before the message (the anchor is not
//!    finished work);
//! 4. replica `a` stops while the model call is still held; replica `b`
//!    takes the account over from the stored cursor and answers the message
//!    — once.
//!
//! A second test checks `/healthz` on a standby: a replica that holds no
//! account (the other one holds it) answers 200 and says it is a standby.
//!
//! Before the fix the second resync persisted the anchor (it compared the
//! anchor with the first, unpersisted anchor instead of the finished work),
//! so `b` resumed after the message and it was never answered, without a
//! trace.

#[path = "support/pg_cluster.rs"]
mod pg_cluster;
#[path = "gateway_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use openclaw_clickclack::config::MapEnv;
use openclaw_clickclack::gateway::{Gateway, GatewayOptions, Lifecycle};
use openclaw_clickclack::state::StateLocation;
use support::*;
use tokio::sync::Semaphore;

/// Starts a replica and waits until it owns the account and is connected
/// (a first start begins at the server's tail: a message posted before that
/// is not the bot's to answer).
async fn start_replica(fx: &Fixture, config: &str, url: &str, replica: &str) -> Gateway {
    let gateway = start_gateway(
        config,
        &MapEnv::new(),
        GatewayOptions {
            shutdown_grace: Duration::from_millis(200),
            ..fx.replica_options(url, replica)
        },
    )
    .await;
    let status = gateway.status().clone();
    wait_until(
        "the replica owns the account and is connected",
        WAIT,
        || {
            status.all().iter().any(|s| {
                s.account_id == "default" && s.lifecycle == Lifecycle::Ready && s.connected
            })
        },
    )
    .await;
    gateway
}

/// Closes the account's socket with 4001 once it is connected and waits
/// until the gateway has taken the resync (`n` resyncs in all).
async fn force_resync(fx: &Fixture, gateway: &Gateway, n: u64) {
    let faults = fx.server.faults();
    wait_until("a realtime socket is open", WAIT, || {
        faults.open_realtime_connections() > 0
    })
    .await;
    faults.close_realtime(4001, "realtime replay limit exceeded; resync required");
    let metrics = gateway.metrics().account("default");
    wait_until("the resync is taken", WAIT, || {
        metrics.resyncs.load(Ordering::Relaxed) >= n
    })
    .await;
}

#[tokio::test]
async fn a_repeated_resync_during_a_handover_loses_no_message() {
    let cluster = pg_cluster::shared();
    let url = cluster.schema_url("resync_handover").expect("schema");
    let gate = Arc::new(Semaphore::new(0));
    let fx = Fixture::with_model(holding_model(Arc::clone(&gate)).await).await;
    let config = fx.model_config("", "");
    let backend = url
        .parse::<StateLocation>()
        .expect("url")
        .open()
        .await
        .expect("open the state database");
    let key = format!("default.{}", fx.seed.workspace.id);

    // 1. Replica a owns the account; the message's model call is held.
    let a = start_replica(&fx, &config, &url, "a").await;
    let warm = fx.post("warm up");
    wait_until("warm-up answered", WAIT, || fx.replies_to(&warm).len() == 1).await;
    let held = fx.post("hold this one");
    let held_cursor = event_cursor(&fx, &held);
    wait_until("the model call is in flight", WAIT, || {
        fx.model.request_count() >= 2
    })
    .await;

    // 2. Two resyncs anchored at the same tail.
    force_resync(&fx, &a, 1).await;
    force_resync(&fx, &a, 2).await;

    // 3. The stored cursor is still before the unanswered message.
    let stored = backend.load_cursor("default", &key).await.expect("load");
    assert!(
        stored.as_ref().is_some_and(|c| c < &held_cursor),
        "the stored cursor {stored:?} is at or past the unanswered message {held_cursor}"
    );

    // 4. a stops with the call still held; b takes over and answers once.
    a.shutdown().await;
    assert!(fx.replies_to(&held).is_empty(), "a never answered");
    gate.add_permits(1_000);
    let b = start_replica(&fx, &config, &url, "b").await;
    wait_until("the new owner answers the message", WAIT, || {
        !fx.replies_to(&held).is_empty()
    })
    .await;
    let after = fx.post("after the handover");
    wait_until("live answered", WAIT, || fx.replies_to(&after).len() == 1).await;
    b.shutdown().await;
    assert_eq!(fx.replies_to(&held).len(), 1, "answered exactly once");
    assert_eq!(fx.replies_to(&warm).len(), 1);
}

/// `GET path` on `addr` with a plain HTTP/1.0 request: (status, body).
fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").expect("write");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let code = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    let body = raw.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (code, body)
}

#[tokio::test]
async fn a_standby_replica_is_healthy_and_says_so() {
    let cluster = pg_cluster::shared();
    let url = cluster.schema_url("standby_health").expect("schema");
    let fx = Fixture::new().await;
    let config = fx.model_config("", "");
    let a = start_replica(&fx, &config, &url, "a").await;
    let b = start_gateway(
        &config,
        &MapEnv::new(),
        GatewayOptions {
            metrics_addr: Some("127.0.0.1:0".parse().expect("addr")),
            ..fx.replica_options(&url, "b")
        },
    )
    .await;
    wait_until("b sees both replicas", WAIT, || {
        b.fleet()
            .is_some_and(|f| f.live_replicas == 2 && f.held.is_empty())
    })
    .await;
    let addr = b.metrics_addr().expect("metrics endpoint");
    let (code, body) = tokio::task::spawn_blocking(move || http_get(addr, "/healthz"))
        .await
        .expect("join");
    assert_eq!(code, 200, "a standby is healthy: {body}");
    assert!(
        body.contains("standby: replica b holds no account"),
        "{body}"
    );
    b.shutdown().await;
    a.shutdown().await;
}
