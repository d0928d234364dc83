//! The stream against the in-process ClickClack test server.

mod support;

use std::sync::Arc;
use std::time::Duration;

use clickclack_client::ErrorKind;
use clickclack_proto::Cursor;
use clickclack_realtime::{
    CursorStore as _, Error, FileCursorStore, MemoryCursorStore, RealtimeItem, RealtimeStream,
    ReconnectCause, ResyncReason,
};
use clickclack_testkit::Seed;

use support::*;

/// A stream with the default settings, started and connected.
async fn live_stream(client: clickclack_client::Client, seed: &Seed) -> RealtimeStream {
    let mut stream = builder(client, seed.workspace.id.clone())
        .start()
        .await
        .expect("start");
    next_connected(&mut stream).await;
    stream
}

#[tokio::test]
async fn fresh_start_anchors_at_tail_then_replays_and_goes_live() {
    let (server, seed, client) = setup().await;
    // History before the first start is skipped: the stream anchors at the tail.
    post(&server, &seed, "old");
    let tail = server.latest_cursor(&seed.workspace.id).expect("tail");
    let mut stream = builder(client.clone(), seed.workspace.id.clone())
        .start()
        .await
        .expect("start");
    assert_eq!(stream.committed_cursor(), Some(tail.clone()));
    assert!(stream.started_at_tail(), "no cursor: anchored at the tail");
    assert_eq!(next_connected(&mut stream).await, tail);
    let live = post(&server, &seed, "live");
    assert_eq!(message_id(&next_event(&mut stream).await), live);
    drop(stream);

    // Replay then live: start after `tail`, with messages already waiting.
    let mut expected = Vec::new();
    for i in 0..5 {
        expected.push(post(&server, &seed, &format!("replayed {i}")));
    }
    let mut stream = builder(client, seed.workspace.id.clone())
        .start_after(tail)
        .start()
        .await
        .expect("start");
    assert!(!stream.started_at_tail(), "resumed after a given cursor");
    let mut got = vec![message_id(&next_event(&mut stream).await)]; // `live`
    for _ in 0..5 {
        got.push(message_id(&next_event(&mut stream).await));
    }
    for i in 0..5 {
        let id = post(&server, &seed, &format!("live {i}"));
        expected.push(id);
        got.push(message_id(&next_event(&mut stream).await));
    }
    assert_eq!(got[0], live);
    assert_eq!(&got[1..], &expected[..]);
    let stats = stream.stats();
    assert_eq!(stats.events, 11);
    assert_eq!(stats.duplicates_skipped, 0);
    assert_eq!(stats.connections, 1);
}

#[tokio::test]
async fn abrupt_drops_during_a_burst_deliver_every_event_once_in_order() {
    let (server, seed, client) = setup().await;
    let server = Arc::new(server);
    let mut stream = live_stream(client, &seed).await;
    let producer = {
        let server = Arc::clone(&server);
        let seed_owner = seed.owner.user.id.clone();
        let channel = seed.general.id.clone();
        tokio::task::spawn_blocking(move || {
            (0..1_000)
                .map(|i| {
                    server
                        .post_message(&seed_owner, &channel, &format!("burst {i}"))
                        .id
                        .as_str()
                        .to_owned()
                })
                .collect::<Vec<_>>()
        })
    };
    let mut got = Vec::with_capacity(1_000);
    let mut last_cursor: Option<Cursor> = None;
    while got.len() < 1_000 {
        match next_item(&mut stream).await {
            Some(Ok(RealtimeItem::Event(event))) => {
                let cursor = event.cursor().clone();
                assert!(
                    last_cursor.as_ref().is_none_or(|l| &cursor > l),
                    "cursor went back"
                );
                last_cursor = Some(cursor.clone());
                got.push(message_id(&event));
                stream.commit(&cursor).await.expect("commit");
                if [100, 250, 500, 750, 900].contains(&got.len()) {
                    server.faults().drop_realtime();
                }
            }
            Some(Ok(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let posted = producer.await.expect("producer");
    assert_eq!(got, posted);
    let stats = stream.stats();
    assert!(stats.reconnects >= 1, "{stats:?}");
    assert_eq!(stats.events, 1_000);
}

#[tokio::test]
async fn close_1013_reconnects_with_backoff_from_the_committed_cursor() {
    let (server, seed, client) = setup().await;
    let mut stream = builder(client, seed.workspace.id.clone())
        .start()
        .await
        .expect("start");
    let first = next_connected(&mut stream).await;
    let id = post(&server, &seed, "one");
    let event = next_event(&mut stream).await;
    assert_eq!(message_id(&event), id);
    stream.commit(event.cursor()).await.expect("commit");

    server.faults().close_realtime(
        1013,
        "realtime buffer overflow; reconnect with after_cursor to replay",
    );
    match next_item(&mut stream).await {
        Some(Ok(RealtimeItem::Reconnecting {
            attempt,
            delay,
            cause: ReconnectCause::Closed { code, reason, .. },
            ..
        })) => {
            assert_eq!(attempt, 1);
            assert!(delay <= fast_backoff().ceiling(1));
            assert_eq!(code, Some(1013));
            assert!(reason.contains("buffer overflow"));
        }
        other => panic!("expected Reconnecting, got {other:?}"),
    }
    let resumed = next_connected(&mut stream).await;
    assert_ne!(resumed, first);
    assert_eq!(&resumed, event.cursor());
    let two = post(&server, &seed, "two");
    assert_eq!(message_id(&next_event(&mut stream).await), two);
    assert_eq!(server.realtime_connection_attempts(), 2);
    assert_eq!(stream.stats().reconnects, 1);
}

#[tokio::test]
async fn close_4001_from_a_pruned_cursor_resyncs_then_goes_live() {
    let (server, seed, client) = setup().await;
    let old = server.latest_cursor(&seed.workspace.id).expect("cursor");
    post(&server, &seed, "a");
    post(&server, &seed, "b");
    let newest = server.latest_cursor(&seed.workspace.id).expect("cursor");
    server.prune_events_before(&seed.workspace.id, &newest);

    let mut stream = builder(client, seed.workspace.id.clone())
        .start_after(old.clone())
        .start()
        .await
        .expect("start");
    assert_eq!(next_connected(&mut stream).await, old);
    match next_item(&mut stream).await {
        Some(Ok(RealtimeItem::Resync {
            reason: ResyncReason::ResyncRequired { code, .. },
            previous,
            anchor,
            ..
        })) => {
            assert_eq!(code, 4001);
            assert_eq!(previous, Some(old.clone()));
            assert_eq!(anchor, newest);
        }
        other => panic!("expected Resync, got {other:?}"),
    }
    assert_eq!(next_connected(&mut stream).await, newest);
    let live = post(&server, &seed, "after resync");
    assert_eq!(message_id(&next_event(&mut stream).await), live);
    assert_eq!(stream.stats().resyncs, 1);
    // The anchor replaced the pruned cursor.
    assert_eq!(stream.committed_cursor(), Some(newest));
}

#[tokio::test]
async fn close_1008_on_revoke_is_terminal_without_reconnects() {
    let (server, seed, client) = setup().await;
    let mut stream = live_stream(client, &seed).await;
    server.revoke_token(&seed.bot.token_id);
    match next_item(&mut stream).await {
        Some(Err(Error::AccessRevoked { code, reason, .. })) => {
            assert_eq!(code, 1008);
            assert!(reason.contains("revoked"), "{reason}");
        }
        other => panic!("expected AccessRevoked, got {other:?}"),
    }
    assert!(next_item(&mut stream).await.is_none());
    assert_eq!(server.realtime_connection_attempts(), 1);
    assert_eq!(stream.stats().reconnects, 0);
}

#[tokio::test]
async fn upgrade_401_is_terminal_and_5xx_is_retried() {
    let (server, seed, _) = setup().await;
    let tail = server.latest_cursor(&seed.workspace.id).expect("tail");

    let bad = client(&server.base_url(), "ccb_not_a_real_token");
    let mut stream = builder(bad, seed.workspace.id.clone())
        .start_after(tail.clone())
        .start()
        .await
        .expect("start");
    match next_item(&mut stream).await {
        Some(Err(Error::Api(e))) => assert_eq!(e.kind(), &ErrorKind::Unauthorized),
        other => panic!("expected a 401, got {other:?}"),
    }
    assert!(next_item(&mut stream).await.is_none());
    assert_eq!(server.realtime_connection_attempts(), 1);

    server.faults().fail_next("GET", "/api/realtime/ws", 2, 503);
    let good = client(&server.base_url(), &seed.bot.token);
    let mut stream = builder(good, seed.workspace.id.clone())
        .start_after(tail)
        .start()
        .await
        .expect("start");
    for attempt in 1..=2 {
        match next_item(&mut stream).await {
            Some(Ok(RealtimeItem::Reconnecting {
                attempt: a,
                cause: ReconnectCause::ConnectFailed(reason),
                ..
            })) => {
                assert_eq!(a, attempt);
                assert!(
                    reason.contains("503") || reason.contains("unavailable"),
                    "{reason}"
                );
            }
            other => panic!("expected Reconnecting, got {other:?}"),
        }
    }
    next_connected(&mut stream).await;
}

#[tokio::test]
async fn the_bearer_subprotocol_also_authenticates() {
    let (server, seed, client) = setup().await;
    let mut stream = builder(client, seed.workspace.id.clone())
        .auth_mode(clickclack_realtime::AuthMode::Subprotocol)
        .start()
        .await
        .expect("start");
    next_connected(&mut stream).await;
    let id = post(&server, &seed, "hello");
    assert_eq!(message_id(&next_event(&mut stream).await), id);
}

#[tokio::test]
async fn an_uncommitted_event_is_redelivered_after_a_reconnect() {
    let (server, seed, client) = setup().await;
    let mut stream = live_stream(client, &seed).await;
    let ids: Vec<String> = (0..3)
        .map(|i| post(&server, &seed, &format!("m{i}")))
        .collect();
    let first = next_event(&mut stream).await;
    stream.commit(first.cursor()).await.expect("commit");
    // Received, not committed.
    assert_eq!(message_id(&next_event(&mut stream).await), ids[1]);
    assert_eq!(message_id(&next_event(&mut stream).await), ids[2]);

    server.faults().drop_realtime();
    assert_eq!(&next_connected(&mut stream).await, first.cursor());
    assert_eq!(message_id(&next_event(&mut stream).await), ids[1]);
    let redelivered = next_event(&mut stream).await;
    assert_eq!(message_id(&redelivered), ids[2]);
    stream.commit(redelivered.cursor()).await.expect("commit");
    let four = post(&server, &seed, "m3");
    assert_eq!(message_id(&next_event(&mut stream).await), four);
}

#[tokio::test]
async fn a_committed_event_is_not_redelivered_after_a_reconnect() {
    let (server, seed, client) = setup().await;
    let mut stream = live_stream(client, &seed).await;
    let a = post(&server, &seed, "a");
    let event = next_event(&mut stream).await;
    assert_eq!(message_id(&event), a);
    // Drop the socket first, commit afterwards (before asking for more):
    // the replay of `a` on the new connection is dropped.
    server.faults().drop_realtime();
    stream.commit(event.cursor()).await.expect("commit");
    let b = post(&server, &seed, "b");
    assert_eq!(message_id(&next_event(&mut stream).await), b);
}

#[tokio::test]
async fn file_cursor_store_resumes_after_the_stream_is_rebuilt() {
    let (server, seed, client) = setup().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(FileCursorStore::new(dir.path()));
    let key = format!("acct.{}", seed.workspace.id);
    let mut stream = builder(client.clone(), seed.workspace.id.clone())
        .cursor_store(store.clone())
        .cursor_key(key.clone())
        .start()
        .await
        .expect("start");
    next_connected(&mut stream).await;
    post(&server, &seed, "one");
    post(&server, &seed, "two");
    let _one = next_event(&mut stream).await;
    let two = next_event(&mut stream).await;
    stream.commit(two.cursor()).await.expect("commit");
    drop(stream);

    let three = post(&server, &seed, "three");
    let four = post(&server, &seed, "four");
    // A new store instance over the same directory, as after a restart.
    let store = Arc::new(FileCursorStore::new(dir.path()));
    let saved = store.load(&key).await.expect("cursor file");
    assert_eq!(saved.as_ref(), Some(two.cursor()));
    let mut stream = builder(client, seed.workspace.id.clone())
        .cursor_store(store)
        .cursor_key(key)
        .start()
        .await
        .expect("start");
    assert_eq!(&next_connected(&mut stream).await, two.cursor());
    assert_eq!(message_id(&next_event(&mut stream).await), three);
    assert_eq!(message_id(&next_event(&mut stream).await), four);
}

#[tokio::test]
async fn memory_store_is_shared_by_rebuilt_streams() {
    let (server, seed, client) = setup().await;
    let store = MemoryCursorStore::new();
    let mut stream = builder(client.clone(), seed.workspace.id.clone())
        .cursor_store(Arc::new(store.clone()))
        .start()
        .await
        .expect("start");
    next_connected(&mut stream).await;
    post(&server, &seed, "one");
    let one = next_event(&mut stream).await;
    stream
        .committer()
        .commit(one.cursor())
        .await
        .expect("commit");
    assert_eq!(
        store.get(seed.workspace.id.as_str()).as_ref(),
        Some(one.cursor())
    );
}

#[tokio::test]
async fn pings_keep_an_idle_connection_alive() {
    let (server, seed, client) = setup().await;
    let mut stream = builder(client, seed.workspace.id.clone())
        .ping_interval(Duration::from_millis(100), 5)
        .start()
        .await
        .expect("start");
    next_connected(&mut stream).await;
    // Idle for 3 silence windows (15 pings): no item (no reconnect) may appear.
    let idle = tokio::time::timeout(Duration::from_millis(1_500), stream.next_event()).await;
    assert!(idle.is_err(), "idle stream produced {idle:?}");
    assert_eq!(stream.stats().reconnects, 0);
    assert_eq!(server.realtime_connection_attempts(), 1);
    let id = post(&server, &seed, "still here");
    assert_eq!(message_id(&next_event(&mut stream).await), id);
}

#[tokio::test]
async fn ephemeral_events_pass_through() {
    let (server, seed, client) = setup().await;
    let mut stream = live_stream(client, &seed).await;
    for _ in 0..2 {
        server.publish_ephemeral(
            &seed.workspace.id,
            "typing.started",
            serde_json::json!({ "channel_id": seed.general.id.as_str() }),
        );
    }
    for _ in 0..2 {
        let e = next_event(&mut stream).await;
        assert!(e.cursor().as_str().is_empty());
        assert_eq!(e.event_type(), "typing.started");
    }
}

#[tokio::test]
async fn next_event_is_cancel_safe_in_select() {
    let (server, seed, client) = setup().await;
    let mut stream = live_stream(client, &seed).await;
    let posted: Vec<String> = (0..50)
        .map(|i| post(&server, &seed, &format!("c{i}")))
        .collect();
    let mut got = Vec::new();
    let mut cancelled = 0u32;
    let deadline = tokio::time::Instant::now() + GUARD;
    while got.len() < posted.len() {
        assert!(tokio::time::Instant::now() < deadline, "stalled");
        // `yield_now` is pending on its first poll and ready on the next, so it
        // often wins after `next_event` was polled: `next_event` is dropped mid-wait.
        tokio::select! {
            _ = tokio::task::yield_now() => { cancelled += 1; }
            item = stream.next_event() => {
                match item {
                    Some(Ok(RealtimeItem::Event(e))) => got.push(message_id(&e)),
                    Some(Ok(_)) => {}
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }
    assert_eq!(got, posted);
    assert!(cancelled > 0, "next_event was never cancelled");
}

#[tokio::test]
async fn backfill_pages_the_gap_up_to_the_anchor() {
    let (server, seed, client) = setup().await;
    let from = server.latest_cursor(&seed.workspace.id).expect("cursor");
    let ids: Vec<String> = (0..7)
        .map(|i| post(&server, &seed, &format!("g{i}")))
        .collect();
    let anchor = server.latest_cursor(&seed.workspace.id).expect("cursor");
    post(&server, &seed, "after the anchor");
    let mut gap = clickclack_realtime::Backfill::new(client, seed.workspace.id.clone(), from)
        .until(anchor.clone())
        .page_size(3);
    let mut got = Vec::new();
    while let Some(page) = gap.next_page().await.expect("page") {
        assert!(page.len() <= 3);
        got.extend(page.iter().map(message_id));
    }
    assert_eq!(got, ids);
    assert_eq!(gap.position(), &anchor);
}

#[tokio::test]
async fn an_empty_log_is_polled_until_a_tail_exists() {
    let (server, seed, client) = setup().await;
    server.faults().prune_log();
    let mut stream = builder(client, seed.workspace.id.clone())
        .start()
        .await
        .expect("start");
    assert_eq!(stream.committed_cursor(), None);
    match next_item(&mut stream).await {
        Some(Ok(RealtimeItem::Reconnecting {
            cause: ReconnectCause::NoTailYet,
            ..
        })) => {}
        other => panic!("expected NoTailYet, got {other:?}"),
    }
    // Nothing connects while there is no cursor.
    assert_eq!(server.realtime_connection_attempts(), 0);
    post(&server, &seed, "first");
    let tail = server.latest_cursor(&seed.workspace.id).expect("tail");
    assert_eq!(next_connected(&mut stream).await, tail);
    assert_eq!(stream.committed_cursor(), Some(tail));
    let live = post(&server, &seed, "second");
    assert_eq!(message_id(&next_event(&mut stream).await), live);
}

#[tokio::test]
async fn max_attempts_ends_the_stream_with_gave_up() {
    let (server, seed, client) = setup().await;
    server.faults().refuse_connections(GUARD);
    let mut stream = builder(client, seed.workspace.id.clone())
        .backoff(fast_backoff().with_max_attempts(Some(3)))
        .start()
        .await
        .expect("start");
    let mut notices = 0;
    loop {
        match next_item(&mut stream).await {
            Some(Ok(RealtimeItem::Reconnecting { attempt, .. })) => {
                notices += 1;
                assert_eq!(attempt, notices);
            }
            Some(Err(Error::GaveUp { attempts, .. })) => {
                assert_eq!(attempts, 3);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(next_item(&mut stream).await.is_none());
    assert_eq!(server.realtime_connection_attempts(), 4);
}

#[tokio::test]
async fn the_token_never_shows_in_debug_output() {
    let (_server, seed, client) = setup().await;
    let builder = builder(client, seed.workspace.id.clone());
    assert!(!format!("{builder:?}").contains(&seed.bot.token));
    let stream = builder.start().await.expect("start");
    assert!(!format!("{stream:?}").contains(&seed.bot.token));
}

#[tokio::test]
async fn attempts_reset_after_a_healthy_connection() {
    let (server, seed, client) = setup().await;
    for (healthy_after, second_attempt) in [(Duration::ZERO, 1), (Duration::from_secs(3600), 2)] {
        let mut stream = builder(client.clone(), seed.workspace.id.clone())
            .backoff(fast_backoff().with_healthy_after(healthy_after))
            .start()
            .await
            .expect("start");
        next_connected(&mut stream).await;
        for expected in [1, second_attempt] {
            server.faults().drop_realtime();
            match next_item(&mut stream).await {
                Some(Ok(RealtimeItem::Reconnecting { attempt, .. })) => {
                    assert_eq!(attempt, expected)
                }
                other => panic!("expected Reconnecting, got {other:?}"),
            }
            next_connected(&mut stream).await;
        }
    }
}

#[tokio::test]
async fn a_replay_over_the_server_cap_resyncs_and_backfill_recovers_the_gap() {
    let (server, seed, client) = setup().await;
    let from = server.latest_cursor(&seed.workspace.id).expect("cursor");
    let ids: Vec<String> = (0..5_100)
        .map(|i| post(&server, &seed, &format!("r{i}")))
        .collect();
    let mut stream = builder(client.clone(), seed.workspace.id.clone())
        .start_after(from.clone())
        .start()
        .await
        .expect("start");
    let (previous, anchor) = loop {
        match next_item(&mut stream).await {
            Some(Ok(RealtimeItem::Resync {
                previous, anchor, ..
            })) => break (previous, anchor),
            Some(Ok(RealtimeItem::Connected { .. })) => {}
            // The server may stream part of the replay before giving up.
            Some(Ok(RealtimeItem::Event(_))) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(previous, Some(from.clone()));
    let mut gap =
        clickclack_realtime::Backfill::new(client, seed.workspace.id.clone(), from).until(anchor);
    let mut got = Vec::new();
    while let Some(page) = gap.next_page().await.expect("page") {
        got.extend(page.iter().map(message_id));
    }
    assert_eq!(got, ids);
    next_connected(&mut stream).await;
    let live = post(&server, &seed, "live");
    assert_eq!(message_id(&next_event(&mut stream).await), live);
}

#[tokio::test]
async fn a_token_without_realtime_read_is_refused_for_good() {
    let (server, seed, _) = setup().await;
    let tail = server.latest_cursor(&seed.workspace.id).expect("tail");
    let bot = server.create_bot(
        clickclack_testkit::BotSpec::new(&seed.workspace.id, "No Realtime")
            .scopes(["messages:read"]),
    );
    let mut stream = builder(
        client(&server.base_url(), &bot.token),
        seed.workspace.id.clone(),
    )
    .start_after(tail)
    .start()
    .await
    .expect("start");
    match next_item(&mut stream).await {
        Some(Err(Error::Api(e))) => {
            assert!(matches!(e.kind(), ErrorKind::MissingScope { .. }), "{e}");
            assert_eq!(e.status().map(|s| s.as_u16()), Some(403));
        }
        other => panic!("expected a 403, got {other:?}"),
    }
    assert!(next_item(&mut stream).await.is_none());
    assert_eq!(server.realtime_connection_attempts(), 1);
}

/// Paused clock: the jittered delay is really waited, and never exceeds the ceiling.
/// (Server and client share this runtime, so loopback I/O is ready whenever a
/// task polls it; auto-advance only jumps over the backoff sleep.)
#[tokio::test(start_paused = true)]
async fn close_1013_waits_the_jittered_delay_on_a_paused_clock() {
    let (server, seed, client) = setup().await;
    let policy =
        clickclack_realtime::BackoffPolicy::new(Duration::from_secs(10), Duration::from_secs(60));
    let mut stream = builder(client, seed.workspace.id.clone())
        .backoff(policy)
        .handshake_timeout(Duration::from_secs(3600))
        .start()
        .await
        .expect("start");
    next_connected(&mut stream).await;
    for expected_attempt in 1..=3u32 {
        server.faults().close_realtime(
            1013,
            "realtime replay interrupted; reconnect with after_cursor",
        );
        let (attempt, delay) = match stream.next_event().await {
            Some(Ok(RealtimeItem::Reconnecting { attempt, delay, .. })) => (attempt, delay),
            other => panic!("expected Reconnecting, got {other:?}"),
        };
        assert_eq!(attempt, expected_attempt);
        assert!(delay <= policy.ceiling(attempt), "{delay:?}");
        let before = tokio::time::Instant::now();
        match stream.next_event().await {
            Some(Ok(RealtimeItem::Connected { .. })) => {}
            other => panic!("expected Connected, got {other:?}"),
        }
        assert!(before.elapsed() + Duration::from_millis(1) >= delay);
    }
    assert_eq!(server.realtime_connection_attempts(), 4);
}
