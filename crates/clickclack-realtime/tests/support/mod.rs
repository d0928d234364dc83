//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod raw_ws;

use std::time::Duration;

use clickclack_client::Client;
use clickclack_proto::event::Event;
use clickclack_proto::{Cursor, WorkspaceId};
use clickclack_realtime::{
    BackoffPolicy, Error, RealtimeItem, RealtimeStream, RealtimeStreamBuilder,
};

/// An upper bound for any single wait in a test (a hang guard, not a sleep).
pub const GUARD: Duration = Duration::from_secs(20);

/// A client for `base_url` with `token` that does not retry on its own.
pub fn client(base_url: &str, token: &str) -> Client {
    Client::builder(base_url)
        .token(token.to_owned())
        .retry_policy(clickclack_client::RetryPolicy::none())
        .build()
        .expect("client")
}

/// Tiny real backoff durations, so reconnect tests run fast on real sockets.
pub fn fast_backoff() -> BackoffPolicy {
    BackoffPolicy::new(Duration::from_millis(5), Duration::from_millis(40))
}

/// A builder with fast backoff and a short handshake timeout.
pub fn builder(client: Client, workspace: WorkspaceId) -> RealtimeStreamBuilder {
    RealtimeStream::builder(client, workspace)
        .backoff(fast_backoff())
        .handshake_timeout(Duration::from_secs(5))
}

/// The next item, with a hang guard.
pub async fn next_item(stream: &mut RealtimeStream) -> Option<Result<RealtimeItem, Error>> {
    tokio::time::timeout(GUARD, stream.next_event())
        .await
        .expect("stream produced nothing in time")
}

/// The next event, skipping connection notices; panics on errors or end.
pub async fn next_event(stream: &mut RealtimeStream) -> Event {
    loop {
        match next_item(stream).await {
            Some(Ok(RealtimeItem::Event(e))) => return e,
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("unexpected error item: {e}"),
            None => panic!("stream ended"),
        }
    }
}

/// The next `Connected` notice, skipping `Reconnecting` ones; panics on events.
pub async fn next_connected(stream: &mut RealtimeStream) -> Cursor {
    loop {
        match next_item(stream).await {
            Some(Ok(RealtimeItem::Connected { after_cursor, .. })) => return after_cursor,
            Some(Ok(RealtimeItem::Reconnecting { .. })) => continue,
            other => panic!("expected Connected, got {other:?}"),
        }
    }
}

/// The `message_id` of a `message.created` event.
pub fn message_id(event: &Event) -> String {
    match event.payload() {
        clickclack_proto::event::EventPayload::MessageCreated(p) => {
            p.message_id.as_str().to_owned()
        }
        other => panic!("expected message.created, got {other:?}"),
    }
}

/// The reason of the next item, which must be a `Reconnecting` after a failed
/// connect (refused upgrade, TLS failure, timeout); panics otherwise.
pub async fn connect_failure(stream: &mut RealtimeStream) -> String {
    match next_item(stream).await {
        Some(Ok(RealtimeItem::Reconnecting {
            cause: clickclack_realtime::ReconnectCause::ConnectFailed(reason),
            ..
        })) => reason,
        other => panic!("expected a failed connect, got {other:?}"),
    }
}

/// A testkit server, its seed, and a client for the seeded bot.
pub async fn setup() -> (
    clickclack_testkit::TestServer,
    clickclack_testkit::Seed,
    Client,
) {
    let server = clickclack_testkit::TestServer::start().await;
    let seed = server.seed();
    let client = client(&server.base_url(), &seed.bot.token);
    (server, seed, client)
}

/// Posts `body` as the seeded owner in `#general`; returns the message id.
pub fn post(
    server: &clickclack_testkit::TestServer,
    seed: &clickclack_testkit::Seed,
    body: &str,
) -> String {
    server
        .post_message(&seed.owner.user.id, &seed.general.id, body)
        .id
        .as_str()
        .to_owned()
}
